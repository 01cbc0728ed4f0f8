//! One transaction for one staff decision ([`DecisionTx`]): the offer's
//! status and decision columns, the audit rows, any reply to the donor, and
//! held replies sent on or discarded, written together and committed once.
//! Mirrors `crate::decide`, which says what a decision may do and in what
//! order; this module only says how each step is written.

use sqlx::{Any, Transaction};

use super::outbox::NewReply;
use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::{OfferStatus, ReplyState};

/// An open decision. Dropped without [`commit`](Self::commit), it rolls back.
pub struct DecisionTx {
    pub(super) tx: Transaction<'static, Any>,
    /// When replies this decision queues fall due (the end of its undo
    /// window); `None`: now.
    not_before: Option<i64>,
    /// The last reply this decision queued.
    pub(super) last_reply: Option<i64>,
}

/// A reply as a decision about it sees it.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ReplyStanding {
    pub state: ReplyState,
    pub offer_id: Option<i64>,
}

impl Store {
    /// Starts a decision (holding the write lock until commit), so what it
    /// reads cannot change before it writes.
    pub async fn begin_decision(&self) -> Result<DecisionTx, StoreError> {
        Ok(DecisionTx {
            tx: self.write().await?,
            not_before: None,
            last_reply: None,
        })
    }
}

impl DecisionTx {
    /// The offer's status now.
    pub async fn offer_status(&mut self, offer_id: i64) -> Result<OfferStatus, StoreError> {
        sqlx::query_scalar("SELECT status FROM offers WHERE id = $1")
            .bind(offer_id)
            .fetch_optional(&mut *self.tx)
            .await
            .during("reading an offer's status")?
            .ok_or(StoreError::NotFound("offer"))
    }

    /// Sets the offer's status (and its `updated_at`).
    pub async fn set_status(
        &mut self,
        offer_id: i64,
        status: OfferStatus,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE offers SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(now_ms())
            .bind(offer_id)
            .execute(&mut *self.tx)
            .await
            .during("changing an offer's status")?;
        Ok(())
    }

    /// Records the pickup slot staff chose.
    pub async fn set_pickup(
        &mut self,
        offer_id: i64,
        site: &str,
        window: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE offers SET pickup_site = $1, pickup_window = $2 WHERE id = $3")
            .bind(site)
            .bind(window)
            .bind(offer_id)
            .execute(&mut *self.tx)
            .await
            .during("recording a pickup slot")?;
        Ok(())
    }

    pub async fn set_decline_reason(
        &mut self,
        offer_id: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE offers SET decline_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(offer_id)
            .execute(&mut *self.tx)
            .await
            .during("recording a decline reason")?;
        Ok(())
    }

    /// Points a duplicate at the offer it was merged into, and moves its
    /// messages into that offer's thread.
    pub async fn fold_into(&mut self, offer_id: i64, into: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE offers SET merged_into = $1 WHERE id = $2")
            .bind(into)
            .bind(offer_id)
            .execute(&mut *self.tx)
            .await
            .during("merging an offer")?;
        sqlx::query("UPDATE messages SET offer_id = $1 WHERE offer_id = $2")
            .bind(into)
            .bind(offer_id)
            .execute(&mut *self.tx)
            .await
            .during("moving a merged offer's messages")?;
        Ok(())
    }

    /// Records what arrived of one item line; its name, or `None` when the
    /// line is not the offer's.
    pub async fn set_received(
        &mut self,
        offer_id: i64,
        item_id: i64,
        quantity: f64,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "UPDATE offer_items SET received_quantity = $1 WHERE id = $2 AND offer_id = $3 RETURNING item",
        )
        .bind(quantity)
        .bind(item_id)
        .bind(offer_id)
        .fetch_optional(&mut *self.tx)
        .await
        .during("recording a received quantity")
    }

    /// Writes an audit row about `offer_id` by `actor`.
    pub async fn audit(
        &mut self,
        actor: &str,
        offer_id: Option<i64>,
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        Store::audit_in(&mut self.tx, actor, offer_id, None, action, detail).await
    }

    /// Holds back every reply this decision queues until `at` (ms since the
    /// epoch): the sender does not claim it before, so an undo within the
    /// window can still discard it.
    pub fn hold_replies_until(&mut self, at: Option<i64>) {
        self.not_before = at;
    }

    /// Enqueues a reply about `offer_id`, due now (or when
    /// [`hold_replies_until`](Self::hold_replies_until) said). False when the
    /// same reply (its dedup key) is already there.
    pub async fn enqueue(&mut self, offer_id: i64, reply: &NewReply) -> Result<bool, StoreError> {
        let due = self.not_before.unwrap_or_else(now_ms);
        let queued = Store::enqueue_due_in(&mut self.tx, Some(offer_id), reply, due).await?;
        if queued {
            let id: i64 = sqlx::query_scalar(
                "SELECT id FROM outbox WHERE rfc_message_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(&reply.rfc_message_id)
            .fetch_one(&mut *self.tx)
            .await
            .during("reading a queued reply's id")?;
            self.last_reply = Some(id);
        }
        Ok(queued)
    }

    /// A reply's state and offer.
    pub async fn reply(&mut self, reply_id: i64) -> Result<ReplyStanding, StoreError> {
        sqlx::query_as("SELECT state, offer_id FROM outbox WHERE id = $1")
            .bind(reply_id)
            .fetch_optional(&mut *self.tx)
            .await
            .during("reading a reply's state")?
            .ok_or(StoreError::NotFound("reply"))
    }

    /// Moves a reply to `state`; a `pending` one is due now.
    pub async fn set_reply_state(
        &mut self,
        reply_id: i64,
        state: ReplyState,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET state = $1,
                    next_attempt_at = CASE WHEN $1 = $2 THEN $3 ELSE next_attempt_at END
             WHERE id = $4",
        )
        .bind(state)
        .bind(ReplyState::Pending)
        .bind(now_ms())
        .bind(reply_id)
        .execute(&mut *self.tx)
        .await
        .during("changing a reply's state")?;
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.during("committing a decision")
    }
}
