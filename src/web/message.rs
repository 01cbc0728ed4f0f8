//! Showing a stored message to staff, safely: its text (an HTML body only
//! ever as text), the spans that produced each item marked, and its
//! attachments listed by name and size, downloadable but never shown inline.
//!
//! Everything here is hostile input. This module only cuts text into
//! segments; the templates escape every one of them.

use mail_parser::{MessageParser, MimeHeaders};
use serde::Serialize;

use crate::mail;
use crate::rules::Span;
use crate::store::ItemFull;

/// A message as the offer page shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MessageView {
    pub from: String,
    pub subject: String,
    pub date: String,
    /// The text in pieces; a piece with `item` set is the evidence for that item line.
    pub segments: Vec<Segment>,
    pub attachments: Vec<AttachmentInfo>,
    /// How the text was obtained: `parsed`, `mime` or `raw`.
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Segment {
    pub text: String,
    /// 1-based number of the item line this span produced.
    pub item: Option<usize>,
    pub field: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    pub index: usize,
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

/// Builds the view of one raw message; `items` give the spans to mark.
pub fn view(raw: &[u8], items: &[ItemFull]) -> MessageView {
    let (mut v, text) = match guarded(|| mail::parse(raw).ok()) {
        Some(parsed) => {
            let text = if parsed.clean_text.is_empty() {
                parsed.body_text.clone()
            } else {
                parsed.clean_text.clone()
            };
            let from = parsed.from.map(|a| match a.name {
                Some(n) => format!("{n} <{}>", a.email),
                None => a.email,
            });
            let v = MessageView {
                from: from.unwrap_or_default(),
                subject: parsed.subject,
                date: parsed.date.unwrap_or_default(),
                source: "parsed",
                ..Default::default()
            };
            (v, text)
        }
        None => guarded(|| mime_view(raw)).unwrap_or_else(|| raw_view(raw)),
    };
    v.segments = segments(&text, &spans_of(items));
    v.attachments = guarded(|| Some(attachments(raw))).unwrap_or_default();
    v
}

/// Runs a parser that may panic on crafted input; a panic is `None`.
fn guarded<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .flatten()
}

/// mail-parser directly: the first text body (HTML turned into text by it).
fn mime_view(raw: &[u8]) -> Option<(MessageView, String)> {
    let m = MessageParser::default().parse(raw)?;
    let from = m.from().and_then(|a| a.first()).map(|a| {
        let email = a.address().unwrap_or_default();
        match a.name() {
            Some(n) => format!("{n} <{email}>"),
            None => email.to_string(),
        }
    });
    let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let v = MessageView {
        from: from.unwrap_or_default(),
        subject: m.subject().unwrap_or_default().to_string(),
        date: m.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        source: "mime",
        ..Default::default()
    };
    Some((v, text))
}

/// Last resort: the bytes after the header, as lossy UTF-8.
fn raw_view(raw: &[u8]) -> (MessageView, String) {
    let text = String::from_utf8_lossy(raw);
    let body = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map(|(_, b)| b.to_string())
        .unwrap_or_else(|| text.to_string());
    let v = MessageView {
        source: "raw",
        ..Default::default()
    };
    (v, body)
}

/// Every attachment's name, type and size, numbered as [`attachment`] reads them.
pub fn attachments(raw: &[u8]) -> Vec<AttachmentInfo> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    m.attachments()
        .enumerate()
        .map(|(index, part)| AttachmentInfo {
            index,
            name: part
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", index + 1)),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: part.len(),
        })
        .collect()
}

/// The name and bytes of attachment `index`.
pub fn attachment(raw: &[u8], index: usize) -> Option<(String, Vec<u8>)> {
    guarded(|| {
        let m = MessageParser::default().parse(raw)?;
        let part = m.attachments().nth(index)?;
        let name = part
            .attachment_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("attachment-{}", index + 1));
        Some((name, part.contents().to_vec()))
    })
}

/// A filename safe for a Content-Disposition header: ASCII letters, digits,
/// dot, dash and underscore; everything else becomes `_`.
pub fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "attachment".into()
    } else {
        trimmed.to_string()
    }
}

/// (start, end, item number, field) of every span of every item.
fn spans_of(items: &[ItemFull]) -> Vec<(usize, usize, usize, String)> {
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let spans: Vec<Span> = serde_json::from_str(&item.spans_json).unwrap_or_default();
        for s in spans {
            out.push((s.start, s.end, n + 1, s.field));
        }
    }
    out.sort();
    out
}

/// Cuts `text` at the spans; spans that overlap an earlier one, run past the
/// end or split a character are left out rather than trusted.
pub fn segments(text: &str, spans: &[(usize, usize, usize, String)]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = 0;
    for (start, end, item, field) in spans {
        let (start, end) = (*start, *end);
        let valid = start >= at
            && start < end
            && end <= text.len()
            && text.is_char_boundary(start)
            && text.is_char_boundary(end);
        if !valid {
            continue;
        }
        if start > at {
            out.push(plain(&text[at..start]));
        }
        out.push(Segment {
            text: text[start..end].to_string(),
            item: Some(*item),
            field: Some(field.clone()),
        });
        at = end;
    }
    if at < text.len() {
        out.push(plain(&text[at..]));
    }
    out
}

fn plain(text: &str) -> Segment {
    Segment {
        text: text.to_string(),
        item: None,
        field: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(s: usize, e: usize, n: usize) -> (usize, usize, usize, String) {
        (s, e, n, "quantity".into())
    }

    #[test]
    fn spans_cut_the_text() {
        let segs = segments("we have 200 masks", &[span(8, 11, 1), span(12, 17, 1)]);
        let texts: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["we have ", "200", " ", "masks"]);
        assert_eq!(segs[1].item, Some(1));
        assert_eq!(segs[2].item, None);
    }

    #[test]
    fn bad_spans_are_ignored() {
        let text = "ñandú 5";
        let segs = segments(text, &[span(1, 3, 1), span(4, 99, 2), span(0, 0, 3)]);
        assert_eq!(segs, vec![plain(text)]);
    }

    #[test]
    fn filenames_are_tamed() {
        assert_eq!(
            safe_filename("\"><img onerror=x>.csv"),
            "___img_onerror_x_.csv"
        );
        assert_eq!(safe_filename("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_filename(""), "attachment");
    }

    #[test]
    fn raw_fallback_shows_the_body() {
        let (_, text) = raw_view(b"Subject: x\r\n\r\nhello <b>");
        assert_eq!(text, "hello <b>");
    }
}
