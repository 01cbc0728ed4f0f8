//! The `messages` table: raw messages as fetched, and their processing state.

use sha2::{Digest, Sha256};
use std::collections::HashMap;

use super::QueryBuilder;

use super::sql::{Flag, OwnedBlob};
use super::{now_ms, Engine, FetchLease, QueryContext, Store, StoreError};
use crate::state::MessageState;

/// One message as it came from the mailbox.
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
    /// The whole message, or only its headers when `truncated`.
    pub raw: Vec<u8>,
    /// The size the server reported for the whole message.
    pub size: u64,
    /// Over the size limit: only the headers were downloaded.
    pub truncated: bool,
    /// Why it gets no automatic reply whatever it says (it was in the
    /// mailbox before the first read, or before `imap.acknowledge_since`).
    pub no_reply_reason: Option<String>,
}

/// What storing a fetched message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    Stored(i64),
    /// The same message (Message-ID and content) is already stored.
    Duplicate,
}

/// A message claimed for processing.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedMessage {
    pub id: i64,
    /// Read after the claim, natively (see `store::raw`).
    #[sqlx(skip)]
    pub raw: Vec<u8>,
    #[sqlx(try_from = "Flag")]
    pub truncated: bool,
    /// Why it gets no automatic reply whatever it says (stored before
    /// `imap.acknowledge_since`, already answered, imported).
    pub no_reply_reason: Option<String>,
}

/// A message as listed to operators.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct MessageSummary {
    pub id: i64,
    pub state: MessageState,
    pub category: Option<String>,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    pub error: Option<String>,
    pub offer_id: Option<i64>,
    pub size: i64,
    pub received_at: i64,
}

/// The columns of a [`MessageSummary`], for `SELECT … FROM messages`.
pub(super) const MESSAGE_COLUMNS: &str =
    "id, state, category, from_address, subject, error, offer_id, size, received_at";

/// The Message-ID (without brackets) and the key that makes a redelivery the
/// same row: Message-ID + body hash, so the trace headers a second delivery
/// adds do not make it a new message; the whole-message hash without an ID.
pub fn message_identity(raw: &[u8]) -> (Option<String>, String, String) {
    let content_hash = hex::encode(Sha256::digest(raw));
    let (headers, body) = split_header(raw);
    let message_id = header_value(headers, "message-id")
        .map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
                .to_string()
        })
        .filter(|v| !v.is_empty());
    let dedup_key = match &message_id {
        Some(id) => {
            let mut h = Sha256::new();
            h.update(id.as_bytes());
            h.update([0]);
            h.update(normalise_line_ends(body));
            format!("mid:{}", hex::encode(h.finalize()))
        }
        None => format!("raw:{content_hash}"),
    };
    (message_id, dedup_key, content_hash)
}

fn split_header(raw: &[u8]) -> (&[u8], &[u8]) {
    for (i, w) in raw.windows(2).enumerate() {
        if w == b"\n\n" {
            return (&raw[..i + 1], &raw[i + 2..]);
        }
        if i + 4 <= raw.len() && &raw[i..i + 4] == b"\r\n\r\n" {
            return (&raw[..i + 2], &raw[i + 4..]);
        }
    }
    (raw, &[])
}

fn normalise_line_ends(body: &[u8]) -> Vec<u8> {
    body.iter().copied().filter(|&b| b != b'\r').collect()
}

/// The unfolded value of the first header called `name` (lower case).
fn header_value(headers: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(headers);
    let mut value: Option<String> = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.trim().eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}

impl Store {
    /// Stores a batch of fetched messages and advances the mailbox cursor to
    /// `cursor_through` (the UID below which every message is now stored;
    /// None leaves it), in one transaction: either all of it is on disk or none.
    /// With the fetcher's `lease`, nothing is stored unless it still holds
    /// the mailbox ([`StoreError::FetchLeaseLost`]), and its token is
    /// written on every row.
    pub async fn store_fetched(
        &self,
        batch: Vec<FetchedMessage>,
        cursor_through: Option<u32>,
        lease: Option<&FetchLease>,
    ) -> Result<Vec<StoreOutcome>, StoreError> {
        let last = batch
            .first()
            .zip(cursor_through)
            .map(|(m, uid)| (m.mailbox.clone(), m.uidvalidity, uid));
        let identities: Vec<_> = batch.iter().map(|m| message_identity(&m.raw)).collect();
        let keys: Vec<String> = identities.iter().map(|(_, key, _)| key.clone()).collect();
        let mut tx = self.write().await?;
        if let Some(lease) = lease {
            Self::fence_in(&mut tx, lease).await?;
        }
        let token = lease.map(|l| l.token);
        let mut stored = HashMap::new();
        if !batch.is_empty() {
            // One statement for the whole batch: per-statement overhead, not
            // the disk, was what storing a backlog cost.
            let mut insert = QueryBuilder::new(
                self.engine,
                "INSERT INTO messages (dedup_key, message_id, content_hash, mailbox, uidvalidity, uid,
                                       size, raw, truncated, state, error, no_reply_reason,
                                       received_at, fetch_token) ",
            );
            let now = now_ms();
            let rows = batch.into_iter().zip(identities);
            insert.push("VALUES ");
            for (i, (m, (message_id, dedup_key, content_hash))) in rows.enumerate() {
                let state = if m.truncated {
                    MessageState::Oversize
                } else {
                    MessageState::Received
                };
                let error = m.truncated.then(|| {
                    format!(
                        "{} bytes is over the size limit; only the headers were kept",
                        m.size
                    )
                });
                insert.push(if i == 0 { "(" } else { ", (" });
                insert
                    .push_bind(dedup_key)
                    .push(", ")
                    .push_bind(message_id)
                    .push(", ")
                    .push_bind(content_hash)
                    .push(", ")
                    .push_bind(m.mailbox)
                    .push(", ")
                    .push_bind(m.uidvalidity as i64)
                    .push(", ")
                    .push_bind(m.uid as i64)
                    .push(", ")
                    .push_bind(m.size as i64)
                    .push(", ")
                    // Moved, not copied: see `OwnedBlob`.
                    .push_bind(OwnedBlob(m.raw))
                    .push(", ")
                    .push_bind(i64::from(m.truncated))
                    .push(", ")
                    .push_bind(state)
                    .push(", ")
                    .push_bind(error)
                    .push(", ")
                    .push_bind(m.no_reply_reason)
                    .push(", ")
                    .push_bind(now)
                    .push(", ")
                    .push_bind(token)
                    .push(")");
            }
            insert.push(" ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key, id");
            let rows: Vec<(String, i64)> = insert
                .build_query_as()
                .fetch_all(&mut *tx)
                .await
                .during("storing fetched messages")?;
            stored = rows.into_iter().collect();
        }
        // The first of a dedup key is the one stored; RETURNING has no order.
        let outcomes = keys
            .iter()
            .map(|key| match stored.remove(key) {
                Some(id) => StoreOutcome::Stored(id),
                None => StoreOutcome::Duplicate,
            })
            .collect();
        if let Some((mailbox, uidvalidity, uid)) = last {
            Self::advance_cursor(&mut tx, &mailbox, uidvalidity, uid, token).await?;
        }
        tx.commit().await.during("committing fetched messages")?;
        Ok(outcomes)
    }

    /// Stores one message that did not come from IMAP (the demo, `messages import`).
    pub async fn store_local(&self, mailbox: &str, raw: &[u8]) -> Result<StoreOutcome, StoreError> {
        let mut tx = self.write().await?;
        let stored = insert_local(&mut tx, mailbox, raw, None, now_ms()).await?;
        tx.commit().await.during("committing a message")?;
        Ok(match stored {
            Some(id) => StoreOutcome::Stored(id),
            None => StoreOutcome::Duplicate,
        })
    }

    /// Claims the oldest `received` message for processing.
    pub async fn claim_received(&self) -> Result<Option<ClaimedMessage>, StoreError> {
        Ok(self.claim_received_batch(1, i64::MAX).await?.pop())
    }

    /// What the next [`Store::claim_received_batch`] with the same arguments
    /// would claim: its bytes, and the highest message id in it (0 when
    /// nothing waits). [`Store::claim_received_through`] claims exactly that.
    pub async fn next_claim(&self, limit: i64, max_bytes: i64) -> Result<(i64, i64), StoreError> {
        sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), COALESCE(MAX(id), 0) FROM
               (SELECT id, size, SUM(size) OVER (ORDER BY id) AS running
                FROM messages WHERE state = $1 ORDER BY id LIMIT $2) AS claimable
             WHERE running - size < $3",
        )
        .bind(MessageState::Received)
        .bind(limit)
        .bind(max_bytes)
        .fetch_one(&self.reader)
        .await
        .during("measuring the next claim")
    }

    /// Claims up to `limit` of the oldest `received` messages, oldest first,
    /// stopping once they hold `max_bytes` (the first is always claimed).
    pub async fn claim_received_batch(
        &self,
        limit: i64,
        max_bytes: i64,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        self.claim_received_through(limit, max_bytes, i64::MAX)
            .await
    }

    /// Like [`Store::claim_received_batch`], leaving out messages with an
    /// id above `max_id` (those stored after [`Store::next_claim`] looked).
    pub async fn claim_received_through(
        &self,
        limit: i64,
        max_bytes: i64,
        max_id: i64,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let mut tx = self.write().await?;
        let mut claimed: Vec<ClaimedMessage> = sqlx::query_as(self.claim_messages_sql())
            .bind(MessageState::Processing)
            .bind(&self.lease.run_id)
            .bind(self.lease.expiry())
            .bind(MessageState::Received)
            .bind(max_id)
            .bind(limit)
            .bind(max_bytes)
            .fetch_all(&mut *tx)
            .await
            .during("claiming messages")?;
        tx.commit().await.during("committing a claim")?;
        claimed.sort_by_key(|m| m.id);
        let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
        let raws = match self.raw.messages(&ids).await {
            Ok(raws) => raws,
            Err(e) => {
                // Back in the queue rather than held until the claim expires.
                self.release_claimed(&ids).await?;
                return Err(e).during("reading claimed messages");
            }
        };
        let mut raws: HashMap<i64, Vec<u8>> = raws.into_iter().collect();
        for m in &mut claimed {
            // The claim holds the row; raw bytes never change once stored.
            m.raw = raws.remove(&m.id).ok_or(StoreError::NotFound("message"))?;
        }
        Ok(claimed)
    }

    /// The statement claiming the oldest received messages up to a byte
    /// budget. On PostgreSQL it passes over rows another `serve` is
    /// claiming at the same moment (`SKIP LOCKED`) instead of waiting for
    /// them; the state is checked again on the row itself in both.
    fn claim_messages_sql(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => {
                "UPDATE messages SET state = $1, attempts = attempts + 1, claimed_by = $2,
                                     claim_expires_at = $3
                 WHERE id IN (SELECT id FROM (SELECT id, size, SUM(size) OVER (ORDER BY id) AS running
                                              FROM messages WHERE state = $4 AND id <= $5
                                              ORDER BY id LIMIT $6) AS claimable
                              WHERE running - size < $7)
                   AND state = $4
                 RETURNING id, truncated, no_reply_reason"
            }
            Engine::Postgres => {
                "WITH free AS (SELECT id, size FROM messages WHERE state = $4 AND id <= $5
                               ORDER BY id LIMIT $6 FOR UPDATE SKIP LOCKED),
                      claimable AS (SELECT id, size, SUM(size) OVER (ORDER BY id) AS running FROM free)
                 UPDATE messages SET state = $1, attempts = attempts + 1, claimed_by = $2,
                                     claim_expires_at = $3
                 WHERE id IN (SELECT id FROM claimable WHERE running - size < $7) AND state = $4
                 RETURNING id, truncated, no_reply_reason"
            }
        }
    }

    /// Puts claimed messages whose batch could not be completed back in the
    /// queue, as if never claimed.
    pub async fn release_claimed(&self, ids: &[i64]) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE messages SET state = '{}', attempts = attempts - 1, claimed_by = NULL,
             claim_expires_at = NULL WHERE id = $1 AND state = '{}' AND claimed_by = $2",
            MessageState::Received,
            MessageState::Processing
        );
        self.update_each_owned(&sql, ids, "releasing a claimed message")
            .await
    }

    /// Marks a message failed with its reason; it stays stored and can be retried.
    pub async fn fail_message(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let mut batch = self.begin_processing().await?;
        batch.fail_message(id, reason).await?;
        batch.commit().await
    }

    /// Puts a failed message back in the queue. False when it was not failed.
    pub async fn retry_message(&self, id: i64, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE messages SET state = $1, error = NULL WHERE id = $2 AND state = $3",
        )
        .bind(MessageState::Received)
        .bind(id)
        .bind(MessageState::Failed)
        .execute(&mut *tx)
        .await
        .during("retrying a message")?
        .rows_affected();
        if changed == 1 {
            Self::audit_in(&mut tx, actor, None, Some(id), "message_retry", "").await?;
        }
        tx.commit().await.during("committing a retry")?;
        Ok(changed == 1)
    }

    /// Messages, newest first, optionally only those in `state`.
    pub async fn list_messages(
        &self,
        state: Option<MessageState>,
        limit: i64,
    ) -> Result<Vec<MessageSummary>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
        ))
        .bind(state)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .during("listing messages")
    }

    /// The raw bytes of one message.
    pub async fn message_raw(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        self.raw
            .messages(&[id])
            .await
            .map(|mut rows| rows.pop().map(|(_, raw)| raw))
            .during("reading a message")?
            .ok_or(StoreError::NotFound("message"))
    }

    /// The Message-ID header of a stored message, for threading a reply to it.
    pub async fn rfc_message_id(&self, message_id: i64) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT message_id FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_optional(&self.reader)
            .await
            .during("reading a Message-ID")
            .map(Option::flatten)
    }

    /// One message's summary.
    pub async fn message_summary(&self, id: i64) -> Result<MessageSummary, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .during("reading a message")?
        .ok_or(StoreError::NotFound("message"))
    }

    /// Counts of messages per state.
    pub async fn message_counts(&self) -> Result<Vec<(MessageState, i64)>, StoreError> {
        sqlx::query_as("SELECT state, COUNT(*) FROM messages GROUP BY state ORDER BY state")
            .fetch_all(&self.reader)
            .await
            .during("counting messages")
    }
}

/// Inserts a message that did not come from IMAP, `received`, once per
/// dedup key (the key live intake uses); its id, or `None` when a message
/// with the same key is already stored. `no_reply_reason` marks one that is
/// never to be answered (an import).
pub(super) async fn insert_local(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    mailbox: &str,
    raw: &[u8],
    no_reply_reason: Option<&str>,
    received_at: i64,
) -> Result<Option<i64>, StoreError> {
    let (message_id, dedup_key, content_hash) = message_identity(raw);
    sqlx::query_scalar(
        "INSERT INTO messages (dedup_key, message_id, content_hash, mailbox, size, raw, state,
                               no_reply_reason, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
    )
    .bind(&dedup_key)
    .bind(&message_id)
    .bind(&content_hash)
    .bind(mailbox)
    .bind(raw.len() as i64)
    .bind(raw)
    .bind(MessageState::Received)
    .bind(no_reply_reason)
    .bind(received_at)
    .fetch_optional(&mut **tx)
    .await
    .during("storing a message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redelivery_with_new_trace_headers_is_the_same_message() {
        let a = b"Message-ID: <a@x>\r\nSubject: hi\r\n\r\nbody\r\n";
        let b = b"Received: from y\r\nMessage-ID: <a@x>\r\nSubject: hi\r\n\r\nbody\r\n";
        assert_eq!(message_identity(a).1, message_identity(b).1);
        assert_eq!(message_identity(a).0.as_deref(), Some("a@x"));
    }

    #[test]
    fn same_id_other_body_is_another_message() {
        let a = b"Message-ID: <a@x>\n\nbody one\n";
        let b = b"Message-ID: <a@x>\n\nbody two\n";
        assert_ne!(message_identity(a).1, message_identity(b).1);
    }

    #[test]
    fn without_id_the_whole_message_counts() {
        let a = b"Subject: x\n\nbody\n";
        assert!(message_identity(a).1.starts_with("raw:"));
        assert_eq!(message_identity(a).0, None);
    }

    #[test]
    fn folded_message_id_is_read() {
        let a = b"Message-ID:\r\n <folded@x>\r\n\r\nb";
        assert_eq!(message_identity(a).0.as_deref(), Some("folded@x"));
    }
}
