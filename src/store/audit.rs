//! The `audit_events` table: who did what to which offer or message, and when.

use sqlx::{Any, Transaction};

use super::{now_ms, QueryContext, Store, StoreError};

/// One line of an offer's history.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AuditEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub message_id: Option<i64>,
}

impl Store {
    /// Writes an audit row inside the caller's transaction, so the change and
    /// its record commit together.
    pub(crate) async fn audit_in(
        tx: &mut Transaction<'static, Any>,
        actor: &str,
        offer_id: Option<i64>,
        message_id: Option<i64>,
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_events (at, actor, offer_id, message_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now_ms())
        .bind(actor)
        .bind(offer_id)
        .bind(message_id)
        .bind(action)
        .bind(detail)
        .execute(&mut **tx)
        .await
        .during("writing an audit event")?;
        Ok(())
    }

    /// The history of one offer, oldest first.
    pub async fn offer_history(&self, offer_id: i64) -> Result<Vec<AuditEvent>, StoreError> {
        sqlx::query_as(
            "SELECT at, actor, action, detail, message_id FROM audit_events WHERE offer_id = $1 ORDER BY id",
        )
        .bind(offer_id)
        .fetch_all(&self.reader)
        .await
        .during("reading an offer's history")
    }
}
