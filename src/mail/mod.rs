//! Parsing and clean text: turns the raw bytes of one message into what the
//! rest of supplyline reads (headers that matter, the body as clean text with
//! quoted replies and signatures cut, attachments with inventory text).
//!
//! Owns: MIME parsing (mail-parser, behind `catch_unwind`), HTML to text
//! ([`html`]), quote and signature removal ([`clean`]), attachment reading
//! ([`attachments`]), delivery status notifications ([`dsn`]). Does not own: deciding what the text means (that is
//! `rules`) or whether to reply (`outbox`).

pub mod attachments;
pub mod clean;
pub mod dsn;
pub mod html;
pub mod spam;

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};
use serde::Serialize;

/// Bodies longer than this are cut before cleaning: a donation offer is
/// never megabytes of prose, and the rules must stay linear and fast.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// A mailbox address as written in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub name: Option<String>,
    pub email: String,
}

/// Headers that tell automatic mail from mail written by a person (RFC 3834).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AutoHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: Option<String>,
    /// The Return-Path header as written; `Some("")` for the null path `<>`.
    pub return_path: Option<String>,
    /// X-Autoreply, X-Autorespond, X-Auto-Response-Suppress and similar.
    pub x_autoreply: bool,
    /// The top-level type is multipart/report (a DSN or MDN).
    pub is_report: bool,
}

/// An attachment as listed to staff, with its text when it holds an inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: usize,
    /// Text read from CSV, XLSX, plain-text attachments; `None` for others.
    pub text: Option<String>,
}

/// One message, parsed and cleaned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParsedMessage {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    pub subject: String,
    pub from: Option<Address>,
    pub reply_to: Option<Address>,
    pub to: Vec<Address>,
    /// RFC 3339 date from the Date header, when it parses.
    pub date: Option<String>,
    /// In-Reply-To ids without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References ids without angle brackets.
    pub references: Vec<String>,
    pub auto: AutoHeaders,
    /// Every `Authentication-Results` header value, top first: who the
    /// receiving servers say sent this (`outbox::sender_auth` reads them).
    pub authentication_results: Vec<String>,
    /// The receiving server's spam verdict (headers above the first
    /// `Received:`); the rules use it only when the operator trusts it.
    pub spam: spam::SpamVerdict,
    /// The whole body as text (HTML turned into text), before cleaning.
    pub body_text: String,
    /// The body with quoted replies, signatures and disclaimers cut.
    pub clean_text: String,
    /// The signature or sign-off block cut from the body: where a donor's
    /// name, organization and phone usually are, so `rules` reads it for
    /// contact fields but never for items.
    pub signature: String,
    pub attachments: Vec<Attachment>,
}

/// Why a message could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the message could not be parsed as MIME")]
    Unparseable,
    #[error("the MIME parser panicked on this message: {0}")]
    ParserPanic(String),
}

/// Parses raw RFC 5322 bytes. Never panics: a parser panic becomes an error.
pub fn parse(raw: &[u8]) -> Result<ParsedMessage, MailError> {
    let result = std::panic::catch_unwind(|| parse_unguarded(raw));
    match result {
        Ok(parsed) => parsed,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(MailError::ParserPanic(why))
        }
    }
}

fn parse_unguarded(raw: &[u8]) -> Result<ParsedMessage, MailError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(MailError::Unparseable)?;
    let body_text = body_text(&msg);
    let subject = msg.subject().unwrap_or_default().trim().to_string();
    let cleaned = clean::clean(&body_text, &subject);
    Ok(ParsedMessage {
        message_id: msg.message_id().map(strip_angles),
        subject,
        from: msg.from().and_then(|a| a.first()).and_then(to_address),
        reply_to: msg.reply_to().and_then(|a| a.first()).and_then(to_address),
        to: msg
            .to()
            .map(|a| a.iter().filter_map(to_address).collect())
            .unwrap_or_default(),
        date: msg.date().map(rfc3339),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        auto: auto_headers(&msg),
        authentication_results: raw_headers(&msg, "Authentication-Results"),
        spam: spam::verdict(&msg),
        clean_text: cleaned.text,
        signature: cleaned.signature,
        body_text,
        attachments: attachments::read_all(&msg),
    })
}

fn strip_angles(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn to_address(addr: &mail_parser::Addr<'_>) -> Option<Address> {
    let email = addr.address()?.trim().to_string();
    let name = addr
        .name()
        .map(|n| n.trim().trim_matches('"').trim().to_string())
        .filter(|n| !n.is_empty());
    Some(Address { name, email })
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    value
        .as_text_list()
        .map(|ids| ids.iter().map(|id| strip_angles(id)).collect())
        .unwrap_or_default()
}

/// What `DateTime::to_rfc3339` writes ("2026-12-03T21:30:00+01:00", or
/// "Z" for UTC), without the formatting machinery, which cost more than
/// the rest of reading the date.
fn rfc3339(d: &mail_parser::DateTime) -> String {
    let mut out = String::with_capacity(25);
    let mut field = |sep: Option<char>, value: u32, width: usize| {
        if let Some(c) = sep {
            out.push(c);
        }
        let mut digits = [0u8; 10];
        let (mut n, mut at) = (value, digits.len());
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for _ in digits.len() - at..width {
            out.push('0');
        }
        out.extend(digits[at..].iter().map(|&d| char::from(d)));
    };
    field(None, d.year.into(), 4);
    field(Some('-'), d.month.into(), 2);
    field(Some('-'), d.day.into(), 2);
    field(Some('T'), d.hour.into(), 2);
    field(Some(':'), d.minute.into(), 2);
    field(Some(':'), d.second.into(), 2);
    if d.tz_hour != 0 || d.tz_minute != 0 {
        let sign = match d.tz_before_gmt {
            true => '-',
            false => '+',
        };
        field(Some(sign), d.tz_hour.into(), 2);
        field(Some(':'), d.tz_minute.into(), 2);
    } else {
        out.push('Z');
    }
    out
}

/// The last header `name` (in any case) of the top-level headers, raw,
/// when it is UTF-8: what `Message::header_raw` returns, without parsing
/// `name` into a header name on every call.
fn last_header_raw<'a>(msg: &'a Message<'_>, name: &str) -> Option<&'a str> {
    let h = msg
        .headers()
        .iter()
        .rev()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let raw = msg
        .raw_message()
        .get(h.offset_start as usize..h.offset_end as usize)?;
    std::str::from_utf8(raw).ok()
}

/// Reads a header as trimmed text, whatever form mail-parser gave it.
fn header_text(msg: &Message<'_>, name: &str) -> Option<String> {
    let raw = last_header_raw(msg, name)?;
    let mut text = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(word);
    }
    Some(text)
}

/// Every instance of header `name`, unfolded, in the order written.
fn raw_headers(msg: &Message<'_>, name: &str) -> Vec<String> {
    let raw = msg.raw_message();
    msg.headers()
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| raw.get(h.offset_start as usize..h.offset_end as usize))
        .map(|value| {
            let value = String::from_utf8_lossy(value);
            value.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

fn auto_headers(msg: &Message<'_>) -> AutoHeaders {
    const AUTORESPONSE: &[&str] = &[
        "X-Autoreply",
        "X-Autorespond",
        "X-Autoresponder",
        "X-Auto-Response-Suppress",
        "X-Autogenerated",
    ];
    let return_path = header_text(msg, "Return-Path").map(|rp| {
        let rp = rp.trim();
        rp.trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .to_string()
    });
    let is_report = msg.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    AutoHeaders {
        auto_submitted: header_text(msg, "Auto-Submitted"),
        precedence: header_text(msg, "Precedence"),
        list_id: header_text(msg, "List-Id"),
        return_path,
        x_autoreply: AUTORESPONSE
            .iter()
            .any(|h| last_header_raw(msg, h).is_some()),
        is_report,
    }
}

/// The body as text: the text/plain parts when there are any, else the
/// HTML parts turned into text. Parts of nested messages (a DSN's returned
/// message, an attached .eml) are not part of the body.
fn body_text(msg: &Message<'_>) -> String {
    let mut out = String::new();
    let plain: Vec<_> = msg.text_bodies().filter(|p| !p.is_text_html()).collect();
    if !plain.is_empty() {
        for part in plain {
            push_part(&mut out, part.text_contents().unwrap_or_default());
        }
    } else {
        for part in msg.html_bodies() {
            push_part(
                &mut out,
                &html::to_text(part.text_contents().unwrap_or_default()),
            );
        }
    }
    truncate_at_char(&mut out, MAX_BODY_BYTES);
    out
}

fn push_part(out: &mut String, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&text.replace("\r\n", "\n"));
}

/// Cuts `s` to at most `max` bytes on a char boundary.
pub(crate) fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers_and_null_return_path() {
        let raw = b"From: Ann Lee <ann@example.com>\r\nTo: a@b.example, c@d.example\r\n\
Subject: Gloves\r\nMessage-ID: <x1@example.com>\r\nIn-Reply-To: <y@example.com>\r\n\
Return-Path: <>\r\nAuto-Submitted: auto-replied\r\nPrecedence: bulk\r\n\r\nWe have gloves.\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.message_id.as_deref(), Some("x1@example.com"));
        assert_eq!(m.from.unwrap().name.as_deref(), Some("Ann Lee"));
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.in_reply_to, vec!["y@example.com"]);
        assert_eq!(m.auto.return_path.as_deref(), Some(""));
        assert_eq!(m.auto.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(m.auto.precedence.as_deref(), Some("bulk"));
        assert_eq!(m.clean_text.trim(), "We have gloves.");
    }

    #[test]
    fn dates_read_as_mail_parser_writes_them() {
        for date in [
            "Thu, 3 Dec 2026 21:30:05 +0100",
            "Thu, 3 Dec 2026 21:30:05 -0430",
            "Thu, 3 Dec 2026 21:30:05 +0000",
            "Thu, 3 Dec 2026 21:30:05 -0000",
            "3 Jan 99 01:02:03 GMT",
            "Mon, 1 Feb 12026 00:00:00 +1200",
        ] {
            let raw = format!("Date: {date}\r\nSubject: x\r\n\r\nbody\r\n");
            let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
            let d = msg.date().expect(date);
            assert_eq!(rfc3339(d), d.to_rfc3339(), "{date}");
        }
    }

    #[test]
    fn html_only_keeps_table_rows() {
        let raw = b"Content-Type: text/html\r\n\r\n<p>We have:</p><table><tr><td>N95</td><td>240</td></tr></table>";
        let m = parse(raw).unwrap();
        assert!(m.body_text.contains("N95 | 240"), "{:?}", m.body_text);
    }

    #[test]
    fn garbage_does_not_panic() {
        for raw in [
            &b""[..],
            b"\0\0\0",
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--",
        ] {
            let _ = parse(raw);
        }
    }
}
