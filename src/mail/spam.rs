//! The receiving server's spam verdict: SpamAssassin's `X-Spam-Flag` and
//! `X-Spam-Status`, rspamd's `X-Spamd-Result` and `X-Rspamd-Action`.
//!
//! Only headers written by our own server count: those above the first
//! `Received:` header, where a filter running at delivery (rspamd or
//! Amavis as a milter, spamc from a Sieve script) prepends them. The same
//! headers further down were written by the sender or an earlier hop and are
//! ignored. Whether the verdict is used at all is the operator's choice
//! (`donations.trust_spam_headers`); the rules read it.

use mail_parser::Message;
use serde::Serialize;

/// What the receiving server said about a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SpamVerdict {
    /// The server marked the message as spam.
    pub spam: bool,
    /// Its score, when it gave one.
    pub score: Option<f64>,
}

/// The headers that carry a verdict, in the order [`verdict`] reads them by.
const VERDICT_HEADERS: [&str; 4] = [
    "x-spam-flag",
    "x-spam-status",
    "x-spamd-result",
    "x-rspamd-action",
];

/// The verdict in the headers above the first `Received:` header.
pub fn verdict(msg: &Message<'_>) -> SpamVerdict {
    let raw = msg.raw_message();
    let mut out = SpamVerdict::default();
    for h in msg.headers() {
        let name = h.name.as_str();
        if name.eq_ignore_ascii_case("Received") {
            break;
        }
        // The name first: most headers are none of these four.
        let Some(kind) = VERDICT_HEADERS
            .iter()
            .position(|k| name.eq_ignore_ascii_case(k))
        else {
            continue;
        };
        let (s, e) = (h.offset_start as usize, h.offset_end as usize);
        let Some(value) = raw.get(s..e).map(String::from_utf8_lossy) else {
            continue;
        };
        let value = value.trim();
        let (spam, score) = match kind {
            0 => (value.eq_ignore_ascii_case("yes"), None),
            1 => spamassassin_status(value),
            2 => rspamd_result(value),
            _ => (is_spam_action(value), None),
        };
        out.spam |= spam;
        out.score = out.score.or(score);
    }
    out
}

/// "Yes, score=7.1 required=5.0 tests=...": the verdict is the first word.
fn spamassassin_status(value: &str) -> (bool, Option<f64>) {
    let spam = value
        .split([',', ' '])
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("yes"));
    (spam, number_after(value, "score="))
}

/// "default: True [15.20 / 15.00]; ...": True when the score reached the
/// spam threshold; else the score against the threshold in brackets.
fn rspamd_result(value: &str) -> (bool, Option<f64>) {
    let head = value.split(';').next().unwrap_or("");
    let flagged = head
        .split_whitespace()
        .any(|w| w.eq_ignore_ascii_case("true"));
    let bracket = head
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(inner, _)| inner);
    let (score, required) = match bracket.and_then(|b| b.split_once('/')) {
        Some((a, b)) => (a.trim().parse::<f64>().ok(), b.trim().parse::<f64>().ok()),
        None => (None, None),
    };
    let over = matches!((score, required), (Some(s), Some(r)) if s >= r);
    (flagged || over, score)
}

/// rspamd's action: anything that is not "no action" or "greylist" marks spam.
fn is_spam_action(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    matches!(
        v.trim(),
        "reject" | "add header" | "rewrite subject" | "soft reject"
    )
}

fn number_after(value: &str, key: &str) -> Option<f64> {
    let at = value.find(key)? + key.len();
    let digits: String = value[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-'))
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn verdict_of(raw: &str) -> SpamVerdict {
        let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
        verdict(&msg)
    }

    #[test]
    fn spamassassin_flag_above_received_counts() {
        let v = verdict_of("X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=7.4 required=5.0\r\nReceived: from a by b\r\nSubject: x\r\n\r\nbody");
        assert!(v.spam);
        assert_eq!(v.score, Some(7.4));
    }

    #[test]
    fn headers_written_below_our_hop_are_ignored() {
        let v = verdict_of("Received: from a by b\r\nX-Spam-Flag: YES\r\nSubject: x\r\n\r\nbody");
        assert!(!v.spam);
        let v = verdict_of("X-Spam-Status: No, score=-1.0 required=5.0\r\nReceived: from a by b\r\nX-Spam-Flag: YES\r\n\r\nbody");
        assert!(!v.spam);
    }

    #[test]
    fn rspamd_result_and_action() {
        assert!(verdict_of("X-Spamd-Result: default: True [16.10 / 15.00]; R_SPF_FAIL(1.00)\r\nReceived: x\r\n\r\nb").spam);
        assert!(verdict_of("X-Spamd-Result: default: False [9.00 / 6.00];\r\n\r\nb").spam);
        assert!(!verdict_of("X-Spamd-Result: default: False [1.20 / 15.00];\r\n\r\nb").spam);
        assert!(verdict_of("X-Rspamd-Action: add header\r\n\r\nb").spam);
        assert!(!verdict_of("X-Rspamd-Action: no action\r\n\r\nb").spam);
    }
}
