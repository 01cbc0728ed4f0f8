//! The `outbox` table: replies rendered whole when enqueued, and their
//! delivery state. The sender claims due `pending` rows; retries are
//! scheduled here. A `held` reply waits for staff (`crate::decide` sends it
//! on or discards it) and is never claimed while held.

use sqlx::{Any, Transaction};

use super::audit::PendingAudit;
use super::{now_ms, Engine, QueryContext, Store, StoreError};
use crate::outbox::kinds::ReplyKind;
use crate::outbox::recipient::{normalised_address, recipient_domain};
use crate::state::ReplyState;
use crate::values::OfferRef;

/// A reply to enqueue, already rendered.
#[derive(Debug, Clone)]
pub struct NewReply {
    pub kind: ReplyKind,
    /// Makes a second enqueue of the same reply a no-op (`ack:42`).
    pub dedup_key: Option<String>,
    /// Our Message-ID for it, without brackets.
    pub rfc_message_id: String,
    pub to_address: String,
    pub subject: String,
    pub raw: Vec<u8>,
    /// Sent without a person deciding (counts against the per-sender limit).
    pub automatic: bool,
}

/// A reply claimed for sending.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub to_address: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
    pub rfc_message_id: String,
}

/// A reply as listed on its offer.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct OutboxSummary {
    pub id: i64,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub state: ReplyState,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Why it waits for staff, when it is held.
    pub held_reason: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// A held reply, as the list of held replies shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct HeldReply {
    pub id: i64,
    pub offer_id: Option<i64>,
    pub reference: Option<OfferRef>,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub held_reason: String,
    pub created_at: i64,
}

impl Store {
    /// Enqueues a reply inside the caller's transaction. False when a reply
    /// with the same dedup key is already there.
    pub(crate) async fn enqueue_in(
        tx: &mut Transaction<'static, Any>,
        offer_id: Option<i64>,
        r: &NewReply,
    ) -> Result<bool, StoreError> {
        Self::insert_reply(tx, offer_id, r, None, now_ms()).await
    }

    /// Enqueues a reply inside the caller's transaction, due at `due` (ms
    /// since the epoch). False when a reply with the same dedup key is
    /// already there.
    pub(crate) async fn enqueue_due_in(
        tx: &mut Transaction<'static, Any>,
        offer_id: Option<i64>,
        r: &NewReply,
        due: i64,
    ) -> Result<bool, StoreError> {
        Self::insert_reply(tx, offer_id, r, None, due).await
    }

    /// Enqueues a reply that waits for staff to send or discard it, saying
    /// why (`held_reason`). False when a reply with the same dedup key is
    /// already there.
    pub(crate) async fn hold_in(
        tx: &mut Transaction<'static, Any>,
        offer_id: Option<i64>,
        r: &NewReply,
        reason: &str,
    ) -> Result<bool, StoreError> {
        Self::insert_reply(tx, offer_id, r, Some(reason), now_ms()).await
    }

    /// Enqueues a held reply (as the process stage's `hold_in` does), in a
    /// transaction of its own.
    pub async fn hold_reply(
        &self,
        offer_id: Option<i64>,
        r: &NewReply,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let held = Self::hold_in(&mut tx, offer_id, r, reason).await?;
        tx.commit().await.during("committing a held reply")?;
        Ok(held)
    }

    /// Inserts a reply, `pending` and due at `due`, or `held` when
    /// `held_reason` is given, with its audit row; counted for the limits by
    /// its normalised address and domain.
    async fn insert_reply(
        tx: &mut Transaction<'static, Any>,
        offer_id: Option<i64>,
        r: &NewReply,
        held_reason: Option<&str>,
        due: i64,
    ) -> Result<bool, StoreError> {
        let Some(event) = Self::insert_reply_unaudited(tx, offer_id, r, held_reason, due).await?
        else {
            return Ok(false);
        };
        Self::audit_in(tx, event.actor, offer_id, None, event.action, &event.detail).await?;
        Ok(true)
    }

    /// [`Store::insert_reply`] without its audit row, which it returns for
    /// the caller to write (None: a reply with the same dedup key is
    /// already there).
    pub(super) async fn insert_reply_unaudited(
        tx: &mut Transaction<'static, Any>,
        offer_id: Option<i64>,
        r: &NewReply,
        held_reason: Option<&str>,
        due: i64,
    ) -> Result<Option<PendingAudit>, StoreError> {
        let now = now_ms();
        let key = normalised_address(&r.to_address);
        let state = match held_reason {
            Some(_) => ReplyState::Held,
            None => ReplyState::Pending,
        };
        // The suppression list is read by the INSERT itself (one round trip
        // fewer a reply): a reply to a suppressed address is held with the
        // suppression's reason, whatever `held_reason` says. None: a reply
        // with the same dedup key is already there. (`WHERE 1 = 1`: without
        // a WHERE, SQLite would read `ON CONFLICT` as the join's `ON`.)
        let inserted: Option<Option<String>> = sqlx::query_scalar(
            "INSERT INTO outbox (offer_id, kind, dedup_key, rfc_message_id, to_address, recipient_key,
                                 recipient_domain, subject, raw, automatic, state, held_reason,
                                 next_attempt_at, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                    CASE WHEN s.reason IS NULL THEN $11 ELSE $15 END, COALESCE($16 || s.reason, $12),
                    $13, $14
             FROM (SELECT 1 AS one) AS one
             LEFT JOIN suppressions s ON s.address = $6 AND s.suppressed_at IS NOT NULL
             WHERE 1 = 1
             ON CONFLICT DO NOTHING RETURNING held_reason",
        )
        .bind(offer_id)
        .bind(r.kind)
        .bind(&r.dedup_key)
        .bind(&r.rfc_message_id)
        .bind(&r.to_address)
        .bind(&key)
        .bind(recipient_domain(&r.to_address))
        .bind(&r.subject)
        .bind(r.raw.as_slice())
        .bind(i64::from(r.automatic))
        .bind(state)
        .bind(held_reason)
        .bind(due)
        .bind(now)
        .bind(ReplyState::Held)
        .bind(super::suppressions::held_reason(""))
        .fetch_optional(&mut **tx)
        .await
        .during("enqueueing a reply")?;
        let Some(held_reason) = inserted else {
            return Ok(None);
        };
        let (action, detail) = match held_reason {
            Some(reason) => ("reply_held", format!("{}: {reason}", r.kind)),
            None => ("reply_enqueued", r.kind.to_string()),
        };
        let event = PendingAudit::new("system", offer_id, None, action, detail);
        Ok(Some(event))
    }

    /// Claims up to `limit` pending replies that are due now, in due order
    /// (held ones wait for staff, whatever their due time). Replies to an
    /// address suppressed since they were queued are held first.
    pub async fn claim_due_replies(&self, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let mut tx = self.write().await?;
        super::suppressions::hold_suppressed_in(&mut tx).await?;
        // PostgreSQL: rows another worker or `serve` is claiming right now
        // are passed over, not waited for. The state is checked again on
        // the row itself: PostgreSQL re-reads a row another worker claimed
        // meanwhile, not the subquery.
        let skip_locked = match self.engine {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let mut claimed: Vec<OutboxRow> = sqlx::query_as(&format!(
            "UPDATE outbox SET state = $1, attempts = attempts + 1, claimed_by = $2,
                               claim_expires_at = $3
             WHERE id IN (SELECT id FROM outbox WHERE state = $4 AND next_attempt_at <= $5
                          ORDER BY next_attempt_at, id LIMIT $6{skip_locked})
               AND state = $4
             RETURNING id, to_address, raw, attempts, rfc_message_id"
        ))
        .bind(ReplyState::Sending)
        .bind(&self.lease.run_id)
        .bind(self.lease.expiry())
        .bind(ReplyState::Pending)
        .bind(now_ms())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .during("claiming replies")?;
        tx.commit().await.during("committing a reply claim")?;
        claimed.sort_by_key(|r| r.id);
        Ok(claimed)
    }

    /// Puts claimed replies that were not handed to the transport back in
    /// the queue, due now, as if never claimed.
    pub async fn release_replies(&self, ids: &[i64]) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE outbox SET state = '{}', attempts = attempts - 1, claimed_by = NULL,
             claim_expires_at = NULL WHERE id = $1 AND state = '{}' AND claimed_by = $2",
            ReplyState::Pending,
            ReplyState::Sending
        );
        self.update_each_owned(&sql, ids, "releasing a claimed reply")
            .await
    }

    /// When the next pending reply falls due, if any is pending.
    pub async fn next_reply_due(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = $1")
            .bind(ReplyState::Pending)
            .fetch_one(&self.reader)
            .await
            .during("reading the next due reply")
    }

    pub async fn reply_sent(&self, id: i64) -> Result<(), StoreError> {
        self.finish_reply(id, ReplyState::Sent, None, None).await
    }

    /// A temporary failure: try again at `next_attempt_at`.
    pub async fn reply_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.finish_reply(id, ReplyState::Pending, Some(next_attempt_at), Some(error))
            .await
    }

    /// A permanent failure, shown on the offer.
    pub async fn reply_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.finish_reply(id, ReplyState::Failed, None, Some(error))
            .await
    }

    async fn finish_reply(
        &self,
        id: i64,
        state: ReplyState,
        next: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let now = now_ms();
        let offer_id: Option<i64> = sqlx::query_scalar(
            "UPDATE outbox SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at),
             last_error = COALESCE($3, last_error), sent_at = COALESCE($4, sent_at)
             WHERE id = $5 RETURNING offer_id",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind((state == ReplyState::Sent).then_some(now))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .during("recording a reply's delivery")?
        .flatten();
        let action = match state {
            ReplyState::Sent => "reply_sent",
            ReplyState::Failed => "reply_failed",
            _ => "reply_deferred",
        };
        Self::audit_in(
            &mut tx,
            "sender",
            offer_id,
            None,
            action,
            error.unwrap_or(""),
        )
        .await?;
        tx.commit().await.during("committing a reply's delivery")
    }

    pub(super) async fn offer_replies(
        &self,
        offer_id: i64,
    ) -> Result<Vec<OutboxSummary>, StoreError> {
        sqlx::query_as(
            "SELECT id, kind, to_address, subject, state, attempts, last_error, held_reason,
                    created_at, sent_at
             FROM outbox WHERE offer_id = $1 ORDER BY id",
        )
        .bind(offer_id)
        .fetch_all(&self.reader)
        .await
        .during("reading an offer's replies")
    }

    /// Counts of replies per state.
    pub async fn reply_counts(&self) -> Result<Vec<(ReplyState, i64)>, StoreError> {
        sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")
            .fetch_all(&self.reader)
            .await
            .during("counting replies")
    }

    /// Every held reply, oldest first.
    pub async fn held_replies(&self) -> Result<Vec<HeldReply>, StoreError> {
        sqlx::query_as(
            "SELECT id, offer_id, offer_id AS reference, kind, to_address, subject,
                    COALESCE(held_reason, '') AS held_reason, created_at
             FROM outbox WHERE state = $1 ORDER BY created_at, id",
        )
        .bind(ReplyState::Held)
        .fetch_all(&self.reader)
        .await
        .during("reading held replies")
    }

    /// How many replies wait for staff.
    pub async fn held_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = $1")
            .bind(ReplyState::Held)
            .fetch_one(&self.reader)
            .await
            .during("counting held replies")
    }
}
