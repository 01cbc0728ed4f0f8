//! An error as a person reads it, in a log line or on the outbox page: its
//! message, then each cause in its chain, once.
//!
//! Our errors keep their cause as `source()` and do not repeat it in their
//! own message; some libraries (lettre, async-imap) print their cause in
//! their message and return it as `source()` too, so a cause whose text is
//! already there is not repeated.
//!
//! Also where in a file an error is: [`line_of`], for the `file:line` that
//! config, rule, needs and hours errors name.

use std::error::Error;

/// The 1-based line of byte offset `offset` in `text` (an offset past the
/// end counts as the end).
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `message: cause: cause's cause`, each text once.
pub fn error_text(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("sending to smtp.example:465 failed")]
    struct Ours(#[source] Theirs);

    /// Like lettre's errors: prints its cause and returns it.
    #[derive(Debug, thiserror::Error)]
    #[error("network error: {0}")]
    struct Theirs(#[source] std::io::Error);

    #[test]
    fn every_cause_is_named_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let text = error_text(&Ours(Theirs(io)));
        assert_eq!(
            text,
            "sending to smtp.example:465 failed: network error: refused"
        );
    }
}
