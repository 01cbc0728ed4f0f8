//! Category and language.
//!
//! Category: each `[[signal]]` of the rules that matches adds its weight to
//! its category once; the offer score also gets `items_weight` when the
//! message names items. The decision then goes in a fixed order, each step
//! needing its category's threshold: bounce, auto_reply, spam (without
//! items, or with a score of 8, as the server's trusted verdict gives), sale, request (at least the offer score), inquiry (more than the
//! offer score), then offer when there are items, else inquiry.
//!
//! Language: the script decides for Korean, Chinese, Japanese; otherwise the
//! stop words of `rules/languages.toml`, then whatlang.

use std::collections::BTreeMap;

use super::compile::Rules;
use super::Category;
use crate::mail::ParsedMessage;

/// Scores per category name.
pub type Scores = BTreeMap<String, f64>;

/// The RFC 3834 headers, and the receiving server's spam verdict when the
/// rules trust it, as text the `headers` scope reads.
fn header_text(rules: &Rules, msg: &ParsedMessage) -> String {
    let a = &msg.auto;
    let mut h = String::new();
    let mut line = |k: &str, v: &str| {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push('\n');
    };
    if let Some(v) = &a.auto_submitted {
        line("auto-submitted", v);
    }
    if let Some(v) = &a.precedence {
        line("precedence", v);
    }
    if let Some(v) = &a.list_id {
        line("list-id", v);
    }
    if let Some(v) = &a.return_path {
        line("return-path", &format!("<{v}>"));
    }
    if a.x_autoreply {
        line("x-autoreply", "yes");
    }
    if a.is_report {
        line("content-type", "multipart/report");
    }
    if rules.trust_spam_headers && msg.spam.spam {
        line("x-spam-verdict", "spam");
    }
    h
}

fn from_text(msg: &ParsedMessage) -> String {
    msg.from
        .as_ref()
        .map(|f| {
            let name = f.name.as_deref().unwrap_or_default();
            let mut s = String::with_capacity(name.len() + f.email.len() + 3);
            s.push_str(name);
            s.push_str(" <");
            s.push_str(&f.email);
            s.push('>');
            s
        })
        .unwrap_or_default()
}

/// Prose as written before the mail client wrapped it: a line break after a
/// long line and before a word is a space, so "do you\naccept" reads as
/// "do you accept". Short lines (lists, table rows, signatures) stay.
/// Written at the end of `out`.
fn push_unwrapped(out: &mut String, text: &str) {
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        let Some(next) = lines.peek() else { break };
        let wrapped = line.trim_end().chars().count() >= 40
            && next.chars().next().is_some_and(char::is_alphabetic);
        out.push(if wrapped { ' ' } else { '\n' });
    }
}

/// The subject, a line break, and `text` unwrapped ([`push_unwrapped`]), in one
/// string: the `text` and `message` scopes' haystacks.
fn subject_then(subject: &str, text: &str) -> String {
    let mut out = String::with_capacity(subject.len() + 1 + text.len());
    out.push_str(subject);
    out.push('\n');
    push_unwrapped(&mut out, text);
    out
}

/// Every signal that fires: (name, category, weight), in rule-file order.
pub fn fired(rules: &Rules, msg: &ParsedMessage, text: &str) -> Vec<(String, String, f64)> {
    fired_indexes(rules, msg, text)
        .into_iter()
        .map(|i| &rules.signals[i])
        .map(|s| (s.name.clone(), s.category.clone(), s.weight))
        .collect()
}

/// Scopes of at most this many signals are searched for any before the
/// overlapping scan that says which.
const FEW_SIGNALS: usize = 16;

/// The indexes in `rules.signals` of every signal that fires, in order.
fn fired_indexes(rules: &Rules, msg: &ParsedMessage, text: &str) -> Vec<usize> {
    let headers = header_text(rules, msg);
    let from = from_text(msg);
    let both = subject_then(&msg.subject, text);
    // The body scope reads the unwrapped text alone: the end of `both`.
    let text = &both[msg.subject.len() + 1..];
    let whole = subject_then(&msg.subject, &msg.body_text);
    let mut hits: Vec<usize> = Vec::new();
    for (scope, (set, index)) in &rules.signals_by_scope {
        let hay = match scope.as_str() {
            "subject" => msg.subject.as_str(),
            "body" => text,
            "from" => from.as_str(),
            "headers" => headers.as_str(),
            "message" => whole.as_str(),
            _ => both.as_str(),
        };
        // A scope of a few signals (bounces, auto-replies, spam) fires on
        // few messages: a search that stops at the first match tells most
        // from the others more cheaply than the overlapping scan.
        if index.len() <= FEW_SIGNALS && !set.is_match(hay) {
            continue;
        }
        hits.extend(set.matches(hay).iter().map(|k| index[k]));
    }
    hits.sort_unstable();
    hits
}

/// Category scores of a message.
pub fn scores(rules: &Rules, msg: &ParsedMessage, text: &str, has_items: bool) -> Scores {
    let mut scores = Scores::new();
    for i in fired_indexes(rules, msg, text) {
        let s = &rules.signals[i];
        match scores.get_mut(&s.category) {
            Some(total) => *total += s.weight,
            None => {
                scores.insert(s.category.clone(), 0.0 + s.weight);
            }
        }
    }
    if has_items {
        *scores.entry("offer".to_string()).or_default() += rules.decision.items_weight;
    }
    scores
}

/// The category from the scores.
pub fn decide(rules: &Rules, scores: &Scores, has_items: bool) -> Category {
    let score = |c: &str| scores.get(c).copied().unwrap_or(0.0);
    let reaches = |c: &str| {
        let t = rules
            .decision
            .threshold
            .get(c)
            .copied()
            .unwrap_or(f64::INFINITY);
        score(c) >= t
    };
    let offer = score("offer");
    if reaches("bounce") {
        Category::Bounce
    } else if reaches("auto_reply") && (!has_items || score("auto_reply") >= 6.0) {
        Category::AutoReply
    } else if reaches("spam") && (!has_items || score("spam") >= 8.0) {
        Category::Spam
    } else if reaches("sale") {
        Category::Sale
    } else if reaches("request") && score("request") >= offer {
        Category::Request
    } else if reaches("inquiry") && score("inquiry") > offer {
        Category::Inquiry
    } else if has_items || reaches("offer") {
        Category::Offer
    } else {
        Category::Inquiry
    }
}

/// The ISO 639-1 language of the message's own text.
pub fn language(rules: &Rules, msg: &ParsedMessage) -> Option<String> {
    let text = [msg.subject.as_str(), &msg.clean_text].join("\n");
    if let Some(lang) = by_script(&text) {
        return Some(lang.to_string());
    }
    by_stop_words(rules, &text).or_else(|| by_whatlang(&text))
}

fn by_script(text: &str) -> Option<&'static str> {
    // No CJK letter in ASCII text: nothing to count.
    if text.is_ascii() {
        return None;
    }
    let (mut hangul, mut han, mut kana, mut latin) = (0, 0, 0, 0);
    for c in text.chars() {
        match c as u32 {
            0xAC00..=0xD7AF | 0x1100..=0x11FF => hangul += 1,
            0x3040..=0x30FF => kana += 1,
            0x4E00..=0x9FFF => han += 1,
            _ if c.is_ascii_alphabetic() => latin += 1,
            _ => {}
        }
    }
    let cjk = hangul + han + kana;
    if cjk == 0 || cjk * 3 < latin / 2 {
        None
    } else if hangul >= han && hangul >= kana {
        Some("ko")
    } else if kana > 0 {
        Some("ja")
    } else {
        Some("zh")
    }
}

fn by_stop_words(rules: &Rules, text: &str) -> Option<String> {
    let mut hits = vec![0usize; rules.languages.len()];
    let mut count = |word: &str| {
        for &lang in rules.stop_words.get(word).into_iter().flatten() {
            hits[lang] += 1;
        }
    };
    // Runs of separators give empty words, which are no stop word.
    if text.is_ascii() {
        // ASCII text (most) lower-cases byte for byte, so each word is
        // lower-cased alone, and only when it has a capital.
        let mut lower = String::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word = &text[start..i];
            if word.bytes().any(|b| b.is_ascii_uppercase()) {
                lower.clear();
                lower.push_str(word);
                lower.make_ascii_lowercase();
                count(&lower);
            } else {
                count(word);
            }
        }
    } else {
        let lower = text.to_lowercase();
        let words = lower.split(|c: char| !c.is_alphanumeric());
        for word in words.filter(|w| !w.is_empty()) {
            count(word);
        }
    }
    let mut best: Option<(usize, usize)> = None;
    for (lang, &n) in hits.iter().enumerate() {
        if n >= 2 && best.is_none_or(|(_, b)| n > b) {
            best = Some((lang, n));
        }
    }
    best.map(|(lang, _)| rules.languages[lang].0.clone())
}

fn by_whatlang(text: &str) -> Option<String> {
    let info = whatlang::detect(text)?;
    let code = match info.lang().code() {
        "eng" => "en",
        "spa" => "es",
        "tgl" => "tl",
        "por" => "pt",
        "fra" => "fr",
        "deu" => "de",
        "ita" => "it",
        "vie" => "vi",
        "rus" => "ru",
        "arb" | "ara" => "ar",
        "hin" => "hi",
        "cmn" => "zh",
        "jpn" => "ja",
        "kor" => "ko",
        "arm" | "hye" => "hy",
        "pes" | "fas" => "fa",
        _ => return Some("en".to_string()),
    };
    Some(code.to_string())
}
