//! Bulk decisions' undo (#16): the undo windows a bulk decline or spam
//! opens (one per offer, `store::undos`) are one batch, named by the first
//! window's id (`decision_undos.batch_id`, migration 0025). The desk shows
//! the batch as one confirmation and undoes it in one write transaction:
//! every offer put back and every email it held back discarded, as a
//! single undo does, or none of it when the transaction fails.

use super::undos::undo_in;
use super::{now_ms, DecisionTx, QueryContext, Store, StoreError, UndoError};

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
                    COALESCE(MIN(undo_until), 0) AS undo_until
             FROM decision_undos WHERE batch_id = $1",
        )
        .bind(id)
        .fetch_one(&self.reader)
        .await
        .during("reading a batch of decisions")?;
        Ok((batch.decisions > 0).then_some(batch))
    }

    /// Undoes every decision of batch `id` for `actor`, in one transaction.
    /// A decision that cannot be undone (its offer changed since, its email
    /// left) is left as it is and named in the answer; when none can be,
    /// the first refusal is the error (the time is over, already undone).
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

impl DecisionTx {
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
