//! A safe first start: mail already in the mailbox is stored and queued,
//! never acknowledged.
//!
//! At the first read of a mailbox its UIDNEXT is recorded (with
//! UIDVALIDITY, the count and the time): every UID below it was already
//! there. With `imap.acknowledge_since` unset, those messages get no
//! automatic reply. With it set, a message gets none when the server
//! received it (INTERNALDATE) before that moment, or when it was already
//! there at the first read flagged `\Answered` or `\Seen` (someone dealt
//! with it by hand). After a UIDVALIDITY change (the mailbox recreated),
//! "already there" is judged by INTERNALDATE against the first read's time.
//!
//! Owns: that decision and the one line saying what a first start will do.
//! Does not own: storing the boundary (`store::first_reads`).

use futures::TryStreamExt;

use super::connect::{with_timeout, ImapSession};
use super::FetchError;
use crate::config::ImapConfig;
use crate::store::{FirstRead, Store};

/// What decides whether a fetched message may be acknowledged.
#[derive(Debug, Clone, Copy)]
pub struct AckBoundary {
    pub first: FirstRead,
    /// `imap.acknowledge_since` (ms), when set.
    pub since: Option<i64>,
}

/// What the fetch stage knows of one message when it downloads it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub uidvalidity: u32,
    pub uid: u32,
    /// Flagged `\Answered` or `\Seen` in the mailbox.
    pub handled: bool,
    /// INTERNALDATE, when the server sent one (ms).
    pub received_at: Option<i64>,
}

impl AckBoundary {
    /// Why `m` gets no automatic reply, or None when it may get one.
    pub fn no_reply_reason(&self, m: &Arrival) -> Option<String> {
        let existed = if m.uidvalidity == self.first.uidvalidity {
            m.uid < self.first.uidnext
        } else {
            m.received_at.is_some_and(|t| t < self.first.read_at)
        };
        match self.since {
            None if existed => Some("already in the mailbox when supplyline first read it".into()),
            None => None,
            Some(_) if existed && m.handled => Some(
                "already flagged answered or seen in the mailbox when supplyline first read it"
                    .into(),
            ),
            Some(since) if m.received_at.is_some_and(|t| t < since) => {
                Some("received before imap.acknowledge_since".into())
            }
            Some(_) => None,
        }
    }
}

/// How many messages in the selected mailbox a first start would store
/// without acknowledgement: all of them without `since`; with it, those
/// received before it or flagged answered or seen. Reads flags and dates
/// only (`UID FETCH 1:* (FLAGS INTERNALDATE)`).
pub async fn count_unanswered(
    session: &mut ImapSession,
    exists: u32,
    since: Option<i64>,
    timeout: std::time::Duration,
) -> Result<u32, FetchError> {
    let Some(since) = since else {
        return Ok(exists);
    };
    if exists == 0 {
        return Ok(0);
    }
    let fetched = with_timeout(timeout * 4, "UID FETCH flags", async {
        let stream = session.uid_fetch("1:*", "(UID FLAGS INTERNALDATE)").await?;
        stream.try_collect::<Vec<_>>().await
    })
    .await??;
    Ok(fetched
        .iter()
        .filter(|f| {
            let date = f.internal_date().map(|t| t.timestamp_millis());
            is_handled(f) || date.is_some_and(|t| t < since)
        })
        .count() as u32)
}

/// What the next start will do about mail already in the mailbox, in one
/// line: from the recorded first read when there is one (`store`), else by
/// examining the mailbox (read-only) now.
pub async fn preview(store: Option<&Store>, cfg: &ImapConfig) -> Result<String, FetchError> {
    let mailbox = &cfg.mailbox;
    if let Some(store) = store {
        if let Some(first) = store.first_read(mailbox).await? {
            let at = chrono::DateTime::from_timestamp_millis(first.read_at)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            return Ok(format!(
                "{mailbox} was first read at {at} ({} messages then); mail since then is acknowledged",
                thousands(first.existing.max(0) as u32)
            ));
        }
        if store.cursor(mailbox).await?.is_some() {
            return Ok(format!(
                "{mailbox} was read before; mail past the last message stored is acknowledged"
            ));
        }
    }
    let tls = super::connect::tls_config(cfg)?;
    let mut session = super::connect::connect(cfg, tls).await?;
    let timeout = std::time::Duration::from_secs(cfg.timeout_secs);
    let selected = with_timeout(timeout, "EXAMINE", session.examine(mailbox)).await??;
    let since = cfg.acknowledge_since_ms();
    let unanswered = count_unanswered(&mut session, selected.exists, since, timeout).await?;
    let _ = with_timeout(timeout, "LOGOUT", session.logout()).await;
    Ok(first_start_line(
        mailbox,
        unanswered,
        cfg.acknowledge_since.as_deref(),
    ))
}

/// Flagged `\Answered` or `\Seen`.
pub fn is_handled(f: &async_imap::types::Fetch) -> bool {
    f.flags().any(|flag| {
        matches!(
            flag,
            async_imap::types::Flag::Answered | async_imap::types::Flag::Seen
        )
    })
}

/// The one line a first start (and `check-config`) says about `mailbox`.
pub fn first_start_line(mailbox: &str, unanswered: u32, since: Option<&str>) -> String {
    let n = thousands(unanswered);
    let messages = if unanswered == 1 {
        "message"
    } else {
        "messages"
    };
    match since {
        None => format!(
            "{n} {messages} already in {mailbox} will be stored and queued without acknowledgement"
        ),
        Some(since) => format!(
            "{n} {messages} in {mailbox} (received before {since}, or already answered or seen) \
             will be stored and queued without acknowledgement"
        ),
    }
}

/// 2013 as "2,013".
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ_AT: i64 = 1_000_000;

    fn boundary(since: Option<i64>) -> AckBoundary {
        AckBoundary {
            first: FirstRead {
                uidvalidity: 7,
                uidnext: 201,
                existing: 200,
                read_at: READ_AT,
            },
            since,
        }
    }

    fn arrival(uid: u32, handled: bool, at: i64) -> Arrival {
        Arrival {
            uidvalidity: 7,
            uid,
            handled,
            received_at: Some(at),
        }
    }

    #[test]
    fn by_default_what_was_there_at_the_first_read_is_not_answered() {
        let b = boundary(None);
        assert!(b
            .no_reply_reason(&arrival(200, false, READ_AT + 5))
            .is_some());
        assert!(
            b.no_reply_reason(&arrival(201, false, 0)).is_none(),
            "UID decides, not the date"
        );
        let recreated = Arrival {
            uidvalidity: 8,
            ..arrival(3, false, READ_AT - 1)
        };
        assert!(b.no_reply_reason(&recreated).is_some());
        let recreated_new = Arrival {
            uidvalidity: 8,
            ..arrival(3, false, READ_AT + 1)
        };
        assert!(b.no_reply_reason(&recreated_new).is_none());
    }

    #[test]
    fn an_explicit_time_answers_later_mail_unless_it_was_handled_already() {
        let b = boundary(Some(500));
        assert!(b.no_reply_reason(&arrival(10, false, 499)).is_some());
        assert!(b.no_reply_reason(&arrival(10, false, 500)).is_none());
        assert!(
            b.no_reply_reason(&arrival(10, true, 600)).is_some(),
            "answered by hand"
        );
        assert!(
            b.no_reply_reason(&arrival(300, true, 600)).is_none(),
            "arrived later"
        );
    }

    #[test]
    fn the_line_says_how_many_and_what_happens() {
        assert_eq!(
            first_start_line("INBOX", 2013, None),
            "2,013 messages already in INBOX will be stored and queued without acknowledgement"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert!(first_start_line("INBOX", 1, Some("2026-12-01T00:00:00Z"))
            .starts_with("1 message in INBOX"));
    }
}
