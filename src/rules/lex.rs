//! Turning text into tokens the item grammar reads: item names (with model
//! names), units, small words (of, per, each) and numbers (digits, Chinese
//! numerals, number words, "5k", "1.5 million", ranges as their lower bound).
//!
//! Text matched by a `never` rule (phones, years, sizes, prices, street
//! numbers...) yields no number, and digits glued to letters ("N95", "3M",
//! "8am", "40gsm") are not quantities either.

use std::cell::OnceCell;
use std::collections::HashSet;

use super::compile::{Lex, Role, Rules};
use super::numbers::{
    ascii_digits, cjk_count_suffix, cjk_power, parse_cjk, parse_digits, space_groups, WordNumber,
};
use super::spans::{Occupied, SpanIndex};

/// An item name found in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemHit {
    pub item: usize,
    pub generic: bool,
    pub model: Option<String>,
    /// The term or pattern that matched, for `--explain`.
    pub rule: String,
}

/// One token: a span of the text and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct Tok {
    pub start: usize,
    pub end: usize,
    pub num: Option<f64>,
    pub item: Option<ItemHit>,
    pub unit: Option<usize>,
    pub role: Option<Role>,
    /// The table column this word names in a header row.
    pub column: Option<Role>,
    /// A counter glued to the number before it ("1,000장", "50병", "一万个").
    pub glued: bool,
    /// The number is an article ("a", "una"): it counts only what follows at once.
    pub article: bool,
}

impl Tok {
    fn new(start: usize, end: usize) -> Tok {
        Tok {
            start,
            end,
            num: None,
            item: None,
            unit: None,
            role: None,
            column: None,
            glued: false,
            article: false,
        }
    }
}

/// Chinese, Japanese and Korean characters, which have no word boundaries.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x9FFF | 0xAC00..=0xD7AF | 0x1100..=0x11FF | 0xF900..=0xFAFF)
}

/// A letter or digit of a script that separates words with spaces.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Tokenizes `text` with the rule set's lexicon and patterns.
pub fn tokenize(rules: &Rules, text: &str) -> Vec<Tok> {
    let mut toks = model_tokens(rules, text);
    // About one token in 16 bytes of text: room for most without regrowing.
    toks.reserve(text.len() / 16 + 8);
    let models = spans_of(&toks);
    // Lexicon matches never overlap one another, only model names.
    let mut words = Vec::new();
    let flat = wrapped_as_spaces(text);
    for m in rules.lexicon.find_iter(flat.as_ref()) {
        let (meanings, term) = &rules.lex[m.pattern().as_usize()];
        // "50pcs/box", "100ct": a unit glued to the digits before it.
        let glued_unit = meanings.iter().all(|l| matches!(l, Lex::Unit(_)))
            && text[..m.start()].ends_with(|c: char| c.is_ascii_digit())
            && !text[m.end()..].starts_with(is_word_char);
        if !(on_boundaries(text, m.start(), m.end()) || glued_unit)
            || models.overlaps(m.start(), m.end())
            || stray_letter_unit(text, m.start(), m.end(), meanings)
        {
            continue;
        }
        let mut tok = Tok::new(m.start(), m.end());
        let modifier = compound_modifier(text, m.end());
        for l in meanings {
            match l {
                // "a wheelchair-accessible van", "mask-making": a word of a compound adjective.
                Lex::Item { .. } if modifier => {}
                Lex::Item { item, generic } => {
                    let rule = term.clone();
                    tok.item = Some(ItemHit {
                        item: *item,
                        generic: *generic,
                        model: None,
                        rule,
                    });
                }
                Lex::Unit(u) => tok.unit = Some(*u),
                Lex::Word(r) if r.is_column() => tok.column = Some(*r),
                Lex::Word(r) => tok.role = Some(*r),
                Lex::NumValue(_) | Lex::NumMult(_) | Lex::NumArticle => {
                    words.push((m.start(), m.end(), l.clone()))
                }
            }
        }
        if tok.item.is_some() || tok.unit.is_some() || tok.role.is_some() || tok.column.is_some() {
            toks.push(tok);
        }
    }
    let taken = Taken {
        never: OnceCell::new(),
        rules,
        text,
        toks: spans_of(&toks),
        unit_starts: toks
            .iter()
            .filter(|t| t.unit.is_some())
            .map(|t| t.start)
            .collect(),
    };
    let mut nums = digit_numbers(text, &taken, &words);
    nums.extend(cjk_numbers(rules, text, &taken));
    let nums_index = spans_of(&nums);
    nums.extend(word_numbers(text, &taken, &words, &nums_index));
    toks.extend(nums);
    toks.sort_by_key(|t| (t.start, std::cmp::Reverse(t.end)));
    toks.dedup_by(|b, a| b.start < a.end);
    mark_glued(text, &mut toks);
    merge_ranges(text, merge_restated(text, toks))
}

/// `text` with the line breaks a mail client put inside wrapped prose (after
/// a long line, between two letters) as spaces, byte for byte, so that a
/// name split over two lines ("face\nshields") is found where it stands.
fn wrapped_as_spaces(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut line_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let cr = i > 0 && bytes[i - 1] == b'\r';
        let end = if cr { i - 1 } else { i };
        let long = text[line_start..end].chars().count() >= 40;
        let before = text[..end]
            .chars()
            .next_back()
            .is_some_and(char::is_alphabetic);
        let after = text[i + 1..]
            .chars()
            .next()
            .is_some_and(char::is_alphabetic);
        if long && before && after {
            let o = out.get_or_insert_with(|| bytes.to_vec());
            o[i] = b' ';
            if cr {
                o[i - 1] = b' ';
            }
        }
        line_start = i + 1;
    }
    match out {
        // Only ASCII bytes were replaced by ASCII bytes.
        Some(o) => {
            std::borrow::Cow::Owned(String::from_utf8(o).unwrap_or_else(|_| text.to_string()))
        }
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// "Four (4)", "dos (2)": a number restated in digits in parentheses right
/// after it is one number.
fn merge_restated(text: &str, toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    for tok in toks {
        if let Some(prev) = out.last_mut() {
            let restated = prev.num.is_some()
                && prev.num == tok.num
                && text[prev.end..tok.start].trim() == "("
                && text[tok.end..].starts_with(')');
            if restated {
                prev.end = tok.end + 1;
                prev.article = false;
                continue;
            }
        }
        out.push(tok);
    }
    out
}

fn model_tokens(rules: &Rules, text: &str) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::new();
    let mut occupied = Occupied::default();
    for (i, s, e) in rules.models.find_all(text) {
        if occupied.overlaps(s, e) || !on_boundaries(text, s, e) {
            continue;
        }
        occupied.insert(s, e);
        let mut tok = Tok::new(s, e);
        tok.item = Some(ItemHit {
            item: rules.model_item[i],
            generic: false,
            model: Some(text[s..e].to_string()),
            rule: rules.models.list[i].name.clone(),
        });
        toks.push(tok);
    }
    toks
}

/// What numbers may not be read from: `never` matches and the item, unit
/// and word tokens already found.
struct Taken<'a> {
    /// The `never` matches in `text`, found when a number first asks (a
    /// text without numbers needs none).
    never: OnceCell<SpanIndex>,
    rules: &'a Rules,
    text: &'a str,
    toks: SpanIndex,
    /// Where a unit token starts.
    unit_starts: HashSet<usize>,
}

impl Taken<'_> {
    fn overlaps(&self, s: usize, e: usize) -> bool {
        self.toks.overlaps(s, e) || self.never().overlaps(s, e)
    }

    fn never(&self) -> &SpanIndex {
        self.never.get_or_init(|| {
            SpanIndex::new(
                self.rules
                    .never
                    .find_all(self.text)
                    .into_iter()
                    .map(|(_, s, e)| (s, e)),
            )
        })
    }
}

fn spans_of(toks: &[Tok]) -> SpanIndex {
    SpanIndex::new(toks.iter().map(|t| (t.start, t.end)))
}

/// A match of Latin text must not start or end inside a word.
/// Whether a hyphen and a lower-case word follow `e`: the word before is
/// the first half of a compound ("wheelchair-accessible").
fn compound_modifier(text: &str, e: usize) -> bool {
    let mut rest = text[e..].chars();
    rest.next() == Some('-') && rest.next().is_some_and(|c| c.is_ascii_lowercase())
}

fn on_boundaries(text: &str, s: usize, e: usize) -> bool {
    let ok_start = !word_char_at(text, s) || !word_char_before(text, s);
    let ok_end = !word_char_before(text, e) || !word_char_at(text, e);
    ok_start && ok_end
}

/// Whether the char starting at byte `i` is a word char; an ASCII byte
/// (nearly always) is read without decoding.
fn word_char_at(text: &str, i: usize) -> bool {
    match text.as_bytes().get(i) {
        None => false,
        Some(&b) if b.is_ascii() => b.is_ascii_alphanumeric(),
        Some(_) => text[i..].chars().next().is_some_and(is_word_char),
    }
}

/// Whether the char ending at byte `i` is a word char. A byte below 0x80
/// is a whole char in UTF-8, never the end of a longer one.
fn word_char_before(text: &str, i: usize) -> bool {
    match i.checked_sub(1).map(|j| text.as_bytes()[j]) {
        None => false,
        Some(b) if b.is_ascii() => b.is_ascii_alphanumeric(),
        Some(_) => text[..i].chars().next_back().is_some_and(is_word_char),
    }
}

fn digit_numbers(text: &str, taken: &Taken, words: &[(usize, usize, Lex)]) -> Vec<Tok> {
    let mut out = Vec::new();
    for (s, mut e) in digit_runs(text) {
        let written = &text[s..e];
        if taken.overlaps(s, e) {
            continue;
        }
        let Some(mut value) = parse_digits(written) else {
            continue;
        };
        if written.len() <= 3 && ascii_digits(written).bytes().all(|b| b.is_ascii_digit()) {
            for (group, len) in space_groups(text, e) {
                if taken.overlaps(e, e + len) {
                    break;
                }
                value = value * 1000.0 + f64::from(group);
                e += len;
            }
        }
        let mut back = text[..s].chars().rev();
        let before = back.next();
        let times_prefix =
            matches!(before, Some('x' | 'X' | '×')) && !back.next().is_some_and(is_word_char);
        if before.is_some_and(|c| is_word_char(c) || c == '#' || c == '$') && !times_prefix {
            continue;
        }
        if follows_name(text, s, taken) {
            continue;
        }
        let mut rest = text[e..].chars();
        match rest.next() {
            Some('k' | 'K') if !rest.next().is_some_and(is_word_char) => {
                value *= 1000.0;
                e += 1;
            }
            Some('x' | 'X' | '×') if !rest.next().is_some_and(is_word_char) => {}
            Some(c) if cjk_power(c).is_some() => {
                value *= cjk_power(c).unwrap_or(1.0);
                e += c.len_utf8();
                e += approximate(text, e, &mut value);
            }
            Some(c) if cjk_count_suffix(&text[e..]).is_some() && is_cjk(c) => {
                e += approximate(text, e, &mut value);
            }
            Some(c) if is_word_char(c) && !taken.unit_starts.contains(&e) => continue,
            _ => {
                if let Some((we, mult)) = multiplier_after(text, e, words) {
                    value *= mult;
                    e = we;
                }
            }
        }
        let mut tok = Tok::new(s, e);
        tok.num = Some(value);
        out.push(tok);
    }
    out
}

/// The runs of digits numbers are read from, as (start, end): a digit
/// (ASCII, full-width, Arabic-Indic, Persian), then digits, each perhaps
/// after one separator (`.`, `,`, `٫`, `٬`). What the regex
/// `[0-9０-９٠-٩۰-۹](?:[0-9０-９٠-٩۰-۹]|[.,٫٬][0-9０-９٠-٩۰-۹])*` finds, read
/// byte by byte: no lazy DFA for a class of 40 chars over every byte.
fn digit_runs(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            // Only these bytes start a digit: skip the others quickly.
            match bytes[i..]
                .iter()
                .position(|&b| b.is_ascii_digit() || matches!(b, 0xD9 | 0xDB | 0xEF))
            {
                Some(skip) => i += skip,
                None => {
                    i = bytes.len();
                    break;
                }
            }
            let d = digit_len(bytes, i);
            if d == 0 {
                i += 1;
                continue;
            }
            let start = i;
            i += d;
            loop {
                let d = digit_len(bytes, i);
                if d > 0 {
                    i += d;
                    continue;
                }
                let sep = separator_len(bytes, i);
                let d = if sep > 0 {
                    digit_len(bytes, i + sep)
                } else {
                    0
                };
                if d == 0 {
                    break;
                }
                i += sep + d;
            }
            return Some((start, i));
        }
        None
    })
}

/// The UTF-8 length of the digit starting at byte `i`, or 0. The lead
/// bytes matched here never occur inside another char.
fn digit_len(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i..) {
        Some([b'0'..=b'9', ..]) => 1,
        // U+0660..U+0669, U+06F0..U+06F9
        Some([0xD9, 0xA0..=0xA9, ..] | [0xDB, 0xB0..=0xB9, ..]) => 2,
        // U+FF10..U+FF19
        Some([0xEF, 0xBC, 0x90..=0x99, ..]) => 3,
        _ => 0,
    }
}

/// The UTF-8 length of a separator inside a number at byte `i`, or 0.
fn separator_len(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i..) {
        Some([b'.' | b',', ..]) => 1,
        // U+066B, U+066C
        Some([0xD9, 0xAB | 0xAC, ..]) => 2,
        _ => 0,
    }
}

/// "GE Dash 4000", "Baxter Sigma 3", "Medfusion 3500": digits right after a
/// capitalised word that is no word of the rules, inside a sentence, are
/// part of a product name, not a count.
fn follows_name(text: &str, s: usize, taken: &Taken) -> bool {
    let Some(head) = text[..s].strip_suffix(' ') else {
        return false;
    };
    let word_start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &head[word_start..];
    let mut chars = word.chars();
    let title_case = chars.next().is_some_and(char::is_uppercase)
        && word.chars().any(char::is_lowercase)
        && word.chars().all(char::is_alphabetic);
    if !title_case || taken.toks.overlaps(word_start, head.len()) {
        return false;
    }
    let before = head[..word_start].trim_end_matches([' ', '\t']);
    !before.is_empty()
        && !before.ends_with([
            '.', '!', '?', ':', ';', '\n', '|', '(', '-', '–', '*', '•', '"', '\'',
        ])
}

/// "1.5 million", "2 mil", "3 thousand": a multiplier word right after
/// digits. `words` are in text order.
fn multiplier_after(text: &str, e: usize, words: &[(usize, usize, Lex)]) -> Option<(usize, f64)> {
    let from = words.partition_point(|(ws, _, _)| *ws < e);
    words[from..]
        .iter()
        .take_while(|(ws, _, _)| ws - e <= 2)
        .find_map(|(ws, we, l)| match l {
            Lex::NumMult(m) if text[e..*ws].trim().is_empty() => Some((*we, *m)),
            _ => None,
        })
}

fn cjk_numbers(rules: &Rules, text: &str, taken: &Taken) -> Vec<Tok> {
    let mut out = Vec::new();
    for m in rules.cjk_numerals.find_iter(text) {
        if taken.overlaps(m.start(), m.end()) {
            continue;
        }
        if text[..m.start()]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_digit())
        {
            continue;
        }
        if let Some(mut v) = parse_cjk(m.as_str()) {
            let end = m.end() + approximate(text, m.end(), &mut v);
            let mut tok = Tok::new(m.start(), end);
            tok.num = Some(v);
            out.push(tok);
        }
    }
    out
}

/// "三百多", "1000余", "一打": applies a count suffix at `at` to `value`
/// and returns its byte length (0 when there is none).
fn approximate(text: &str, at: usize, value: &mut f64) -> usize {
    match cjk_count_suffix(&text[at..]) {
        Some((factor, len)) => {
            *value *= factor;
            len
        }
        None => 0,
    }
}

/// A unit of one letter ("20 L") that does not follow digits at once, past
/// spaces only: a size ("36 (L/XL)", "size L"), not a unit.
fn stray_letter_unit(text: &str, start: usize, end: usize, meanings: &[Lex]) -> bool {
    let one_letter = end == start + 1 && text.as_bytes()[start].is_ascii_alphabetic();
    one_letter
        && meanings.iter().all(|l| matches!(l, Lex::Unit(_)))
        && !text[..start]
            .trim_end_matches([' ', '\t'])
            .ends_with(|c: char| c.is_ascii_digit())
}

/// Joins runs of number words ("two thousand", "a couple hundred",
/// "doscientos") that no digit number has already used.
fn word_numbers(
    text: &str,
    taken: &Taken,
    words: &[(usize, usize, Lex)],
    nums: &SpanIndex,
) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (start, mut end) = (words[i].0, words[i].1);
        let mut n = WordNumber::default();
        let mut values = 0;
        let mut j = i;
        while j < words.len() {
            let (s, e, l) = &words[j];
            if j > i && !joins(&text[end..*s]) {
                break;
            }
            if nums.overlaps(*s, *e) || taken.overlaps(*s, *e) {
                break;
            }
            match l {
                Lex::NumValue(v) => {
                    n.add(*v);
                    values += 1;
                }
                Lex::NumMult(m) => n.multiply(*m),
                Lex::NumArticle if j == i => {}
                Lex::NumArticle => break,
                _ => {}
            }
            end = *e;
            j += 1;
        }
        // A Korean number word counts only as a word of its own before a
        // counter ("두 박스", "세 대", "백 켤레"): "한" of "한국", "세" of
        // "세상" or "이천" the city are not numbers.
        let rejected = if text[start..end].chars().all(is_hangul) {
            !counted_hangul(text, start, end, taken)
        } else {
            values == 0 && text[start..].starts_with(is_cjk)
        };
        let article = words[i].2 == Lex::NumArticle;
        let value = match n.value() {
            Some(v) => Some(v),
            None if article && j == i + 1 => Some(1.0),
            None => None,
        };
        if let Some(v) = value.filter(|_| j > i && !rejected) {
            let mut tok = Tok::new(start, end);
            tok.num = Some(v);
            tok.article = article && j == i + 1;
            out.push(tok);
        }
        i = j.max(i + 1);
    }
    out
}

/// A Hangul syllable (Korean).
pub fn is_hangul(c: char) -> bool {
    matches!(c as u32, 0xAC00..=0xD7AF)
}

/// A Korean number word standing alone before its counter ("백 켤레", "두
/// 박스", "세개"): not the end of a longer word ("수액백"), and a counter
/// right after it, with or without a space.
fn counted_hangul(text: &str, start: usize, end: usize, taken: &Taken) -> bool {
    let before = text[..start].chars().next_back();
    let rest = text[end..].trim_start_matches([' ', '\t']);
    !before.is_some_and(char::is_alphanumeric)
        && taken.unit_starts.contains(&(text.len() - rest.len()))
}

/// What may sit between two number words of one number.
fn joins(gap: &str) -> bool {
    let g = gap.trim().to_lowercase();
    g.is_empty() || g == "-" || g == "and" || g == "y"
}

/// A unit right after a number with no space is a counter ("50병", "一万个").
fn mark_glued(text: &str, toks: &mut [Tok]) {
    for i in 1..toks.len() {
        if toks[i].unit.is_some() && toks[i - 1].num.is_some() && toks[i - 1].end == toks[i].start {
            let c = text[toks[i].start..].chars().next();
            if c.is_some_and(is_cjk) {
                toks[i].glued = true;
            }
        }
    }
}

/// "200-300", "200 to 300", "200 a 300": one number, the lower bound.
fn merge_ranges(text: &str, toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    for tok in toks {
        let joiner = out
            .last()
            .is_some_and(|t| t.num.is_none() && t.item.is_none() && t.unit.is_none());
        let before_joiner = out.len() >= 2 && out[out.len() - 2].num.is_some();
        if tok.num.is_some() && joiner && before_joiner {
            let a = &out[out.len() - 2];
            let gap = &text[a.end..tok.start];
            let between = after_between_word(text, a.start);
            if is_range_gap(gap) || (between && matches!(gap.trim(), "and" | "y" | "to" | "a")) {
                out.pop();
                if let Some(a) = out.last_mut() {
                    scale_range(text, a, &tok);
                    a.end = tok.end;
                }
                continue;
            }
        }
        if let (Some(prev), Some(_)) = (out.last_mut(), tok.num) {
            let gap = &text[prev.end..tok.start];
            let between = after_between_word(text, prev.start)
                && matches!(gap.trim(), "and" | "y" | "to" | "a");
            if prev.num.is_some() && (is_range_gap(gap) || between) {
                scale_range(text, prev, &tok);
                prev.end = tok.end;
                continue;
            }
        }
        out.push(tok);
    }
    out
}

/// "2-3 thousand", "2-3 libong": the multiplier after the upper bound
/// scales the lower bound too.
fn scale_range(text: &str, low: &mut Tok, high: &Tok) {
    let (Some(a), Some(b)) = (low.num, high.num) else {
        return;
    };
    let written = &text[high.start..high.end];
    let digits: String = written.chars().take_while(char::is_ascii_digit).collect();
    let Ok(lead) = digits.parse::<f64>() else {
        return;
    };
    if digits.len() < written.len() && lead > 0.0 && b / lead >= 100.0 && a < lead {
        low.num = Some(a * (b / lead));
    }
}

/// Whether the text before byte `at` ends with "between", "entre" or "from".
fn after_between_word(text: &str, at: usize) -> bool {
    let tail = lower_tail(text, at, 8);
    ["between", "entre", "from"]
        .iter()
        .any(|w| tail.ends_with(w))
}

/// The last `n` characters before byte `at`, trailing space trimmed, in
/// lower case: what precedes a token, read without lower-casing all the
/// text before it (which made long messages quadratic).
pub fn lower_tail(text: &str, at: usize, n: usize) -> String {
    let head = text[..at].trim_end();
    let from = head
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    head[from..].to_lowercase()
}

fn is_range_gap(gap: &str) -> bool {
    if gap.contains('\n') {
        return false;
    }
    let g = gap.trim();
    matches!(
        g,
        "-" | "–" | "—" | "~" | "to" | "a" | "or" | "o" | "至" | "到" | "-to"
            // Tagalog "100 hanggang 150" (up to), Vietnamese "100 đến 150".
            | "hanggang" | "hangang" | "đến" | "tới"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagalog_and_vietnamese_range_words_join_two_numbers() {
        for gap in [" hanggang ", " hangang ", " đến ", " tới "] {
            assert!(is_range_gap(gap), "{gap:?}");
        }
        assert!(!is_range_gap(" ng "));
    }

    #[test]
    fn digit_runs_are_what_the_digits_regex_finds() {
        let re = regex::Regex::new(r"[0-9０-９٠-٩۰-۹](?:[0-9０-９٠-٩۰-۹]|[.,٫٬][0-9０-９٠-٩۰-۹])*")
            .unwrap();
        for text in [
            "",
            "no digits here",
            "500 masks, 1,200.50 gloves; 3.",
            "1..2 ,,3 4,5,6. 7.8.9,",
            "１２，０００枚 and ١٢٣٫٤٥ or ۱۲۳٬۴۵۶ ٫١",
            "x9y N95 3M 10k 2-3 1.5 million ½ ① ９",
            "テスト１２３、二十 05/06/2026 #12 $3.50",
        ] {
            let want: Vec<(usize, usize)> =
                re.find_iter(text).map(|m| (m.start(), m.end())).collect();
            assert_eq!(digit_runs(text).collect::<Vec<_>>(), want, "{text:?}");
        }
    }
}
