//! Clean text: what the sender wrote in this message, and nothing else.
//!
//! Cuts quoted replies ("> " lines, "On … wrote:", Outlook's
//! "-----Original Message-----" and "From: … Sent: …" header blocks, a
//! bounce's "Original message follows"), disclaimers, and the signature
//! ("-- " line, a sign-off such as "Best," or "Saludos," near the end, or a
//! trailing block of name/title/phone lines). The signature is returned apart
//! so contact fields can still be read from it.
//!
//! A forwarded message that the sender passes on ("---------- Forwarded
//! message ---------", or an original-message block in a "Fwd:" mail or one
//! introduced with "see below") is kept, minus its header lines: it is the
//! offer.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::html::CELL_SEP;

/// The result of cleaning one body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cleaned {
    pub text: String,
    pub signature: String,
}

/// What a line starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    /// A forwarded message begins; its header block follows.
    Forward,
    /// An earlier message begins (reply): everything from here is cut.
    Reply,
}

const FORWARD_MARKERS: &[&str] = &[
    "forwarded message",
    "begin forwarded message",
    "mensaje reenviado",
    "转发的邮件",
    "原始邮件",
    "전달된 메시지",
];

const REPLY_MARKERS: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-----mensaje original-----",
    "original message follows",
    "-----原始邮件-----",
    "-----원본 메시지-----",
];

/// Phrases by which a sender passes on the message that follows.
const FORWARD_INTROS: &[&str] = &[
    "see below",
    "see the email below",
    "see message below",
    "see their email",
    "below is",
    "forwarding",
    "forwarded",
    "passing along",
    "passing this along",
    "pass this along",
    "ver abajo",
    "ver correo abajo",
    "reenvío",
    "reenvio",
    "见下",
    "如下",
];

const SIGN_OFFS: &[&str] = &[
    "best",
    "best regards",
    "kind regards",
    "regards",
    "warm regards",
    "sincerely",
    "thanks",
    "thank you",
    "many thanks",
    "cheers",
    "blessings",
    "respectfully",
    "stay safe",
    "take care",
    "saludos",
    "atentamente",
    "gracias",
    "muchas gracias",
    "un saludo",
    "cordialmente",
    "salamat",
    "salamat po",
    "maraming salamat",
    "谢谢",
    "此致",
    "敬礼",
    "감사합니다",
];

const DISCLAIMER_STARTS: &[&str] = &[
    "confidentiality notice",
    "disclaimer",
    "this e-mail and any",
    "this email and any",
    "this message and any",
    "this message is intended",
    "this email is intended",
    "the information contained in this",
    "aviso de confidencialidad",
];

/// One automaton per phrase list, built once: a line is read once for
/// all of a list's phrases instead of once per phrase.
fn phrases(list: &[&str]) -> AhoCorasick {
    AhoCorasick::new(list).expect("fixed phrase lists build")
}

static FORWARD_MARKER_SET: LazyLock<AhoCorasick> = LazyLock::new(|| phrases(FORWARD_MARKERS));
static REPLY_MARKER_SET: LazyLock<AhoCorasick> = LazyLock::new(|| phrases(REPLY_MARKERS));
static FORWARD_INTRO_SET: LazyLock<AhoCorasick> = LazyLock::new(|| phrases(FORWARD_INTROS));

/// Whether `s.to_lowercase()` starts with one of `prefixes` (non-empty,
/// without sigma, the one letter lower-cased by context), lower-casing
/// only as much of `s` as the comparison reads, without allocating: most
/// lines fail on their first letter.
fn lower_starts_with_any(s: &str, prefixes: &[&str]) -> bool {
    let mut lower = s.chars().flat_map(char::to_lowercase);
    let Some(first) = lower.next() else {
        return false;
    };
    prefixes.iter().any(|p| {
        let mut want = p.chars();
        want.next() == Some(first) && {
            let mut got = lower.clone();
            want.all(|c| got.next() == Some(c))
        }
    })
}

/// Cleans a body. `subject` tells whether the whole message is a forward.
pub fn clean(body: &str, subject: &str) -> Cleaned {
    let lines: Vec<&str> = body.lines().collect();
    let forward_subject = is_forward_subject(subject);
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    // Whether a kept line so far introduces what follows as a forward.
    let mut intro_kept = false;
    let mut i = 0;
    let mut lower = String::new();
    while i < lines.len() {
        let line = lines[i];
        // Lower-cased once for the marker and the forward intro, into one
        // buffer; ASCII (most lines) byte for byte.
        lower.clear();
        match line.trim() {
            t if t.is_ascii() => {
                lower.push_str(t);
                lower.make_ascii_lowercase();
            }
            t => lower.push_str(&t.to_lowercase()),
        }
        match marker(&lines, i, &lower, forward_subject || intro_kept) {
            // A "wrote:" line over "> " lines: drop the quote, keep reading,
            // so an answer written below the quote survives.
            Some(Marker::Reply) if quote_follows(&lines, i) => {
                i += if is_wrote_line(&lines, i) && !lines[i].trim_end().ends_with(':') {
                    2
                } else {
                    1
                };
                continue;
            }
            Some(Marker::Reply) => break,
            Some(Marker::Forward) => {
                i = skip_forward_headers(&lines, i + 1);
                kept.push("");
                continue;
            }
            None => {}
        }
        if !line.trim_start().starts_with('>') {
            kept.push(line.trim_end());
            intro_kept = intro_kept || introduces_forward(&lower);
        }
        i += 1;
    }
    cut_disclaimer(&mut kept);
    let signature = cut_signature(&mut kept);
    Cleaned {
        text: columns_to_cells(&join_trimmed(&kept)),
        signature: join_trimmed(&signature),
    }
}

/// Plain-text tables (a spreadsheet pasted with tabs, columns lined up
/// with spaces) written as HTML tables are: cells separated by
/// [`CELL_SEP`]. A line is a row when it has a tab, or when it and a
/// neighbour both have a run of two or more spaces inside them (not after
/// a full stop: some people type two spaces between sentences).
fn columns_to_cells(text: &str) -> String {
    if !text.contains('\t') && !text.contains("  ") {
        return text.to_string();
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let spaced: Vec<bool> = lines.iter().map(|l| has_column_gap(l)).collect();
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let neighbour = (i > 0 && spaced[i - 1]) || spaced.get(i + 1).copied().unwrap_or(false);
        let row = line.contains('\t') || (spaced[i] && neighbour);
        if row && !line.contains(CELL_SEP) {
            push_cells(&mut out, line);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Whether `line` has a column gap: a run of two or more spaces (a tab
/// counts as two) between text, not right after a sentence end.
fn has_column_gap(line: &str) -> bool {
    let mut run = 0;
    let mut prev = ' ';
    for c in line.trim().chars() {
        if c == ' ' || c == '\t' {
            run += if c == '\t' { 2 } else { 1 };
            continue;
        }
        if run >= 2 && !matches!(prev, '.' | '!' | '?') {
            return true;
        }
        run = 0;
        prev = c;
    }
    false
}

/// One row: its cells joined by [`CELL_SEP`].
fn push_cells(out: &mut String, line: &str) {
    let indent = line.len() - line.trim_start().len();
    out.push_str(&line[..indent]);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut run = 0;
    for c in line.trim().chars() {
        if c == '\t' || c == ' ' {
            run += if c == '\t' { 2 } else { 1 };
            continue;
        }
        if run >= 2 && !cell.ends_with(['.', '!', '?']) {
            cells.push(std::mem::take(&mut cell));
        } else if run > 0 {
            cell.push(' ');
        }
        run = 0;
        cell.push(c);
    }
    cells.push(cell);
    out.push_str(&cells.join(CELL_SEP));
}

/// The first non-blank line after line `i` (or its wrapped second line)
/// is a "> " quote.
fn quote_follows(lines: &[&str], i: usize) -> bool {
    if !is_wrote_line(lines, i) {
        return false;
    }
    lines[i + 1..]
        .iter()
        .find(|l| !l.trim().is_empty() && !l.trim_end().ends_with(':'))
        .is_some_and(|l| l.trim_start().starts_with('>'))
}

fn is_forward_subject(subject: &str) -> bool {
    let s = subject.trim_start().to_lowercase();
    ["fwd:", "fw:", "fwd ", "rv:", "tr:", "转发", "전달"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// Whether a line, trimmed and lower-cased, passes on what follows (no
/// phrase starts or ends with a space, so trimming changes no answer).
fn introduces_forward(lower: &str) -> bool {
    FORWARD_INTRO_SET.is_match(lower)
}

/// What line `i` starts; `lower` is the line trimmed and lower-cased.
fn marker(lines: &[&str], i: usize, lower: &str, forwarding: bool) -> Option<Marker> {
    let dashed = lower.starts_with("---") || lower.starts_with("___") || lower.starts_with("***");
    if (dashed || lower.ends_with(':')) && FORWARD_MARKER_SET.is_match(lower) {
        return Some(Marker::Forward);
    }
    let reply =
        REPLY_MARKER_SET.is_match(lower) || is_wrote_line(lines, i) || is_header_block(lines, i);
    let separator = lower.len() >= 10 && lower.chars().all(|c| c == '_' || c == '-');
    let reply = reply
        || (separator
            && lines.get(i + 1).is_some_and(|l| {
                is_header_block(lines, i + 1) || l.to_lowercase().starts_with("from:")
            }));
    match reply {
        true if forwarding => Some(Marker::Forward),
        true => Some(Marker::Reply),
        false => None,
    }
}

/// "On Mon, Mar 30, 2020 at 9:12 AM Someone <a@b> wrote:", possibly wrapped
/// over two lines; and its Spanish, French, German and Chinese forms.
fn is_wrote_line(lines: &[&str], i: usize) -> bool {
    const STARTS: &[&str] = &["on ", "el ", "le ", "am ", "em ", "在"];
    let line = lines[i].trim();
    // The joined text starts as the line does (an empty line gives a
    // space, which starts none): most lines fail here, before the join.
    if !lower_starts_with_any(line, STARTS) {
        return false;
    }
    let joined = match lines.get(i + 1) {
        Some(next) if !line.ends_with(':') => format!("{line} {}", next.trim()),
        _ => line.to_string(),
    };
    let lower = joined.to_lowercase();
    let starts = STARTS.iter().any(|p| lower.starts_with(p));
    let ends = [
        "wrote:",
        "escribió:",
        "a écrit :",
        "a écrit:",
        "schrieb:",
        "escreveu:",
        "写道：",
        "写道:",
    ]
    .iter()
    .any(|e| lower.ends_with(e));
    starts && ends && lower.len() < 300
}

/// Outlook's header block: "From: …" followed within four lines by
/// "Sent:"/"Date:" and "To:"/"Subject:" (or all on one line).
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let first = lines[i].trim();
    let from = ["from:", "de:", "发件人:", "发件人：", "보낸 사람:"];
    if !lower_starts_with_any(first, &from) {
        return false;
    }
    let block: Vec<String> = lines[i..lines.len().min(i + 5)]
        .iter()
        .map(|l| l.trim().to_lowercase())
        .collect();
    let has = |keys: &[&str]| {
        block.iter().any(|l| {
            keys.iter()
                .any(|k| l.starts_with(k) || l.contains(&format!(" {k}")))
        })
    };
    has(&["sent:", "date:", "enviado:", "fecha:", "发送时间"])
        && has(&["to:", "subject:", "para:", "asunto:", "主题"])
}

/// Skips the From:/Date:/Subject:/To:/Cc: lines after a forward marker.
fn skip_forward_headers(lines: &[&str], mut i: usize) -> usize {
    const KEYS: &[&str] = &[
        "from:", "date:", "sent:", "subject:", "to:", "cc:", "de:", "fecha:", "asunto:", "para:",
        "enviado:",
    ];
    while i < lines.len() {
        let l = lines[i].trim().to_lowercase();
        if KEYS.iter().any(|k| l.starts_with(k))
            || (l.is_empty() && i < lines.len() && header_follows(lines, i))
        {
            i += 1;
        } else {
            break;
        }
    }
    i
}

fn header_follows(lines: &[&str], i: usize) -> bool {
    lines
        .get(i + 1)
        .is_some_and(|l| l.trim().to_lowercase().starts_with("from:"))
}

fn cut_disclaimer(kept: &mut Vec<&str>) {
    let found = kept
        .iter()
        .position(|l| lower_starts_with_any(l.trim(), DISCLAIMER_STARTS));
    if let Some(at) = found {
        kept.truncate(at);
    }
}

/// Moves the signature from the end of `kept` into the returned lines.
fn cut_signature<'a>(kept: &mut Vec<&'a str>) -> Vec<&'a str> {
    let content_end = kept
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |p| p + 1);
    kept.truncate(content_end);
    if let Some(at) = kept
        .iter()
        .position(|l| *l == "--" || *l == "-- " || l.starts_with("Sent from my"))
    {
        return kept.split_off(at);
    }
    let window = kept.len().saturating_sub(8);
    if let Some(at) = (window..kept.len()).rev().find(|&i| is_sign_off(kept[i])) {
        if at > 0 && !kept[at + 1..].iter().any(|l| looks_like_content(l)) {
            return kept.split_off(at);
        }
    }
    let para = kept
        .iter()
        .rposition(|l| l.trim().is_empty())
        .map_or(0, |p| p + 1);
    if para > 0 && kept.len() - para <= 6 && kept[para..].iter().all(|l| is_signature_line(l)) {
        return kept.split_off(para);
    }
    Vec::new()
}

/// A line that carries the offer rather than a signature: long prose, or
/// a count of something ("300 masks", "- 20 boxes of gloves").
fn looks_like_content(line: &str) -> bool {
    let t = line.trim().trim_start_matches(['-', '*', '•']).trim_start();
    let mut words = t.split_whitespace();
    let counted = words.next().is_some_and(|w| {
        w.chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    }) && words
        .next()
        .is_some_and(|w| w.starts_with(char::is_lowercase));
    counted || t.chars().count() > 100
}

fn is_sign_off(line: &str) -> bool {
    let l = line
        .trim()
        .trim_end_matches([',', '!', '.', '，', '！'])
        .to_lowercase();
    if l.is_empty() || l.chars().count() > 32 {
        return false;
    }
    SIGN_OFFS.iter().any(|s| {
        l == *s
            || (l.starts_with(s) && l[s.len()..].starts_with(' ') && line.trim_end().ends_with(','))
    })
}

/// A line that may sit in a trailing signature block: short, not a list
/// item or table row, and any digits look like a phone, not a quantity.
fn is_signature_line(line: &str) -> bool {
    let t = line.trim();
    if t.chars().count() > 60
        || t.contains(" | ")
        || t.starts_with(['-', '*', '•'])
            && t.len() > 2
            && t[1..]
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit())
    {
        return false;
    }
    if t.ends_with(['.', '!', '?']) && t.split_whitespace().count() > 4 {
        return false;
    }
    let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
    digits == 0 || digits >= 7
}

fn join_trimmed(lines: &[&str]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    let mut blank = false;
    for l in lines {
        if l.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        out.push_str(l);
        blank = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_quoted_reply_and_sign_off() {
        let c = clean("It's 400 masks.\n\nBen\n\nOn Mon, Mar 30, 2020 at 9:12 AM X <x@y> wrote:\n> 300 masks\n", "Re: x");
        assert_eq!(c.text, "It's 400 masks.");
        assert_eq!(c.signature, "Ben");
    }

    #[test]
    fn keeps_answer_below_the_quote() {
        let c = clean("On Mon, Mar 30, 2020 X <x@y> wrote:\n> Do you still have the gloves?\n\nYes, 300 boxes of gloves.\n", "Re: x");
        assert_eq!(c.text, "Yes, 300 boxes of gloves.");
    }

    #[test]
    fn cuts_outlook_original() {
        let c = clean("6 boxes.\n\n-----Original Message-----\nFrom: A\nSent: B\nTo: C\nSubject: D\n\n100 masks", "RE: x");
        assert_eq!(c.text, "6 boxes.");
    }

    #[test]
    fn keeps_forwarded_offer() {
        let body = "see below\n\n---------- Forwarded message ---------\nFrom: J <j@x>\nDate: today\nSubject: s\nTo: C <c@x>\n\nI have 8 boxes of masks.\n\nJoan\n";
        let c = clean(body, "Fwd: masks");
        assert_eq!(c.text, "see below\n\nI have 8 boxes of masks.");
        assert_eq!(c.signature, "Joan");
    }

    #[test]
    fn thanks_before_the_offer_is_not_a_signature() {
        let c = clean("Hi,\nThanks!\n300 masks\n20 boxes of gloves", "");
        assert_eq!(c.text, "Hi,\nThanks!\n300 masks\n20 boxes of gloves");
    }

    #[test]
    fn pasted_columns_become_cells() {
        let c = clean(
            "We have:\n\nItem\tQty\tUoM\nNitrile gloves\t40\tBX\n\nDescription     Qty\nGowns, large    Qty 12 ea\nThat is all.  Thanks",
            "",
        );
        assert_eq!(
            c.text,
            "We have:\n\nItem | Qty | UoM\nNitrile gloves | 40 | BX\n\nDescription | Qty\nGowns, large | Qty 12 ea\nThat is all.  Thanks"
        );
    }

    #[test]
    fn sign_off_block_goes_to_signature() {
        let c = clean(
            "We can give 150 gowns.\n\nBest,\nJohn Park\nPark Inc.\nT: 310-555-0111",
            "",
        );
        assert_eq!(c.text, "We can give 150 gowns.");
        assert!(c.signature.starts_with("Best,"));
    }
}
