//! Bulk actions' undo (#16): the undo windows a bulk decline, spam, assign
//! or set-status opens (one per offer, `store::undos`) are one batch, named
//! by the first window's id (`decision_undos.batch_id`, migration 0025).
//! The desk shows the batch as one confirmation and undoes it in one write
//! transaction: every offer put back and every email it held back
//! discarded, as a single undo does, or none of it when the transaction
//! fails.
//!
//! A bulk assign or set-status changes one field and sends nothing: its
//! window keeps that field's [`Change`] (in `before_json`), and its undo
//! puts back only that field, at once.

use sqlx::{Any, Transaction};

use super::undos::undo_in;
use super::{now_ms, DecisionTx, QueryContext, Store, StoreError, UndoError};
use crate::state::OfferStatus;

/// The audit action (and undo window action) of an assignment.
pub const ASSIGNED: &str = "assigned";
/// The audit action (and undo window action) of a status set by hand.
pub const STATUS_SET: &str = "status_set";

/// What a bulk assign or set-status changed of one offer, as its undo
/// window keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Change {
    /// Assigned from `before` to `after` (None: nobody).
    Assignee {
        before: Option<String>,
        after: Option<String>,
    },
    /// Moved from the open status `before` (to the window's `status_after`).
    Status { before: OfferStatus },
}

/// A batch of decisions as its confirmation shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct UndoBatch {
    pub id: i64,
    /// The audit action of its decisions (`declined`, `marked_spam`).
    pub action: String,
    pub actor: String,
    /// How many decisions it holds, and how many of them were undone.
    pub decisions: i64,
    pub undone: i64,
    pub undo_until: i64,
    /// The status its decisions wrote (for a set-status, the one set).
    pub status_after: String,
}

/// What undoing a batch did: the offers put back, and those it could not
/// put back (with why: changed since, email already left).
#[derive(Debug, Default)]
pub struct BatchUndone {
    pub undone: Vec<i64>,
    pub refused: Vec<(i64, String)>,
}

impl Store {
    /// The batch `id`, when there is one.
    pub async fn undo_batch(&self, id: i64) -> Result<Option<UndoBatch>, StoreError> {
        let batch: UndoBatch = sqlx::query_as(
            "SELECT CAST($1 AS BIGINT) AS id, COALESCE(MIN(action), '') AS action, COALESCE(MIN(actor), '') AS actor,
                    COUNT(*) AS decisions, COUNT(undone_at) AS undone,
                    COALESCE(MIN(undo_until), 0) AS undo_until,
                    COALESCE(MIN(status_after), '') AS status_after
             FROM decision_undos WHERE batch_id = $1",
        )
        .bind(id)
        .fetch_one(&self.reader)
        .await
        .during("reading a batch of decisions")?;
        Ok((batch.decisions > 0).then_some(batch))
    }

    /// Undoes every decision of batch `id` for `actor` (the one who made
    /// it), in one transaction. A decision that cannot be undone (its offer
    /// changed since, its email left) is left as it is and named in the
    /// answer; when none can be, the first refusal is the error (the time
    /// is over, already undone, not theirs).
    pub async fn undo_whole_batch(&self, id: i64, actor: &str) -> Result<BatchUndone, UndoError> {
        let mut tx = self.write().await?;
        let windows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, offer_id FROM decision_undos WHERE batch_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .during("reading a batch of decisions")?;
        let note = format!(" (one of {} undone together)", windows.len());
        let now = now_ms();
        let mut done = BatchUndone::default();
        let mut first_refusal = None;
        for (window, offer) in windows {
            match undo_in(&mut tx, window, actor, now, &note).await {
                Ok(offer) => done.undone.push(offer),
                Err(UndoError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    done.refused.push((offer, e.to_string()));
                    first_refusal.get_or_insert(e);
                }
            }
        }
        if done.undone.is_empty() {
            return Err(first_refusal.unwrap_or(UndoError::NotFound));
        }
        tx.commit().await.during("committing a batch undo")?;
        Ok(done)
    }
}

impl Change {
    /// The change an undo window of `action` keeps in `json`; None for a
    /// decision's window (which keeps an `OfferBefore`).
    pub(super) fn of(action: &str, json: &str) -> Result<Option<Change>, StoreError> {
        if action != ASSIGNED && action != STATUS_SET {
            return Ok(None);
        }
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| StoreError::Query {
                what: "reading what a bulk action changed",
                source: sqlx::Error::Decode(Box::new(e)),
            })
    }

    /// Puts the field back (the offer's status was checked by the caller);
    /// an assignee changed since is refused. Returns what it is back to,
    /// for the history.
    pub(super) async fn put_back(
        &self,
        tx: &mut Transaction<'static, Any>,
        offer_id: i64,
    ) -> Result<String, UndoError> {
        match self {
            Change::Assignee { before, after } => {
                let now: Option<String> =
                    sqlx::query_scalar("SELECT assigned_to FROM offers WHERE id = $1")
                        .bind(offer_id)
                        .fetch_one(&mut **tx)
                        .await
                        .during("reading an offer's assignee")?;
                if now != *after {
                    return Err(UndoError::Reassigned(who(now.as_deref())));
                }
                set_assignee(tx, offer_id, before.as_deref()).await?;
                Ok(who(before.as_deref()))
            }
            Change::Status { before } => {
                sqlx::query("UPDATE offers SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(before)
                    .bind(now_ms())
                    .bind(offer_id)
                    .execute(&mut **tx)
                    .await
                    .during("putting an offer's status back")?;
                Ok(before.to_string())
            }
        }
    }
}

/// An assignee as the history names it.
pub fn who(assignee: Option<&str>) -> String {
    assignee.unwrap_or("nobody").to_string()
}

async fn set_assignee(
    tx: &mut Transaction<'static, Any>,
    offer_id: i64,
    to: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE offers SET assigned_to = $1, updated_at = $2 WHERE id = $3")
        .bind(to)
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut **tx)
        .await
        .during("assigning an offer")?;
    Ok(())
}

impl DecisionTx {
    /// Who the offer is assigned to now.
    pub async fn assignee(&mut self, offer_id: i64) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT assigned_to FROM offers WHERE id = $1")
            .bind(offer_id)
            .fetch_optional(&mut *self.tx)
            .await
            .during("reading an offer's assignee")?
            .ok_or(StoreError::NotFound("offer"))
    }

    /// Assigns the offer to `to` (None: nobody).
    pub async fn set_assignee(
        &mut self,
        offer_id: i64,
        to: Option<&str>,
    ) -> Result<(), StoreError> {
        set_assignee(&mut self.tx, offer_id, to).await
    }

    /// Opens the undo window of a bulk assign or set-status (`action` is
    /// [`ASSIGNED`] or [`STATUS_SET`]) that made `change`, the offer now
    /// `status_after`. Returns the window's id.
    pub async fn open_change_window(
        &mut self,
        offer_id: i64,
        actor: &str,
        status_after: OfferStatus,
        change: &Change,
        undo_until: i64,
    ) -> Result<i64, StoreError> {
        let action = match change {
            Change::Assignee { .. } => ASSIGNED,
            Change::Status { .. } => STATUS_SET,
        };
        let json = serde_json::to_string(change).map_err(|e| StoreError::Query {
            what: "writing what a bulk action changed",
            source: sqlx::Error::Encode(Box::new(e)),
        })?;
        self.insert_undo_window(offer_id, actor, action, status_after, json, undo_until)
            .await
    }

    /// Puts the undo window `window` (just opened) in batch `batch`.
    pub async fn join_undo_batch(&mut self, window: i64, batch: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE decision_undos SET batch_id = $1 WHERE id = $2")
            .bind(batch)
            .bind(window)
            .execute(&mut *self.tx)
            .await
            .during("adding a decision to its batch")?;
        Ok(())
    }
}
