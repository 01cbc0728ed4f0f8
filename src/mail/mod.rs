//! Parsing and clean text: turns the raw bytes of one message into what the
//! rest of supplyline reads (headers that matter, the body as clean text with
//! quoted replies and signatures cut, attachments with inventory text).
//!
//! Owns: MIME parsing (mail-parser, behind `catch_unwind`), HTML to text,
//! quote and signature removal, attachment reading. Does not own: deciding
//! what the text means (that is `rules`) or whether to reply (`outbox`).

use serde::Serialize;

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
    /// The whole body as text (HTML turned into text), before cleaning.
    pub body_text: String,
    /// The body with quoted replies, signatures and disclaimers cut.
    pub clean_text: String,
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
    let _ = raw;
    Err(MailError::Unparseable)
}
