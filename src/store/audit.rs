//! The `audit_events` table: who did what to which offer or message, and when.

use sqlx::{Any, Transaction};

use super::{now_ms, Engine, QueryBuilder, QueryContext, Store, StoreError};

/// One line of an offer's history.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AuditEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub message_id: Option<i64>,
}

/// An audit row kept by a transaction to be written with the others of
/// its kind in one statement ([`Store::audit_all_in`]); `at` is when it
/// happened, not when it is written.
#[derive(Debug)]
pub(crate) struct PendingAudit {
    pub at: i64,
    pub actor: &'static str,
    pub offer_id: Option<i64>,
    pub message_id: Option<i64>,
    pub action: &'static str,
    pub detail: String,
}

impl PendingAudit {
    pub fn new(
        actor: &'static str,
        offer_id: Option<i64>,
        message_id: Option<i64>,
        action: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        PendingAudit {
            at: now_ms(),
            actor,
            offer_id,
            message_id,
            action,
            detail: detail.into(),
        }
    }
}

/// Rows one statement of [`Store::audit_all_in`] writes: 6 values a row,
/// about as many values as a statement of item lines binds on SQLite
/// (`offers::insert_items`), past which binding through sqlx costs SQLite
/// more than the round trips it saves.
const AUDIT_ROWS_PER_STATEMENT: usize = 100;

impl Store {
    /// Writes audit rows inside the caller's transaction, in their order,
    /// a hundred to a statement.
    pub(crate) async fn audit_all_in(
        tx: &mut Transaction<'static, Any>,
        engine: Engine,
        events: &[PendingAudit],
    ) -> Result<(), StoreError> {
        for chunk in events.chunks(AUDIT_ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(
                engine,
                "INSERT INTO audit_events (at, actor, offer_id, message_id, action, detail) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                insert.push(if i == 0 { "(" } else { ", (" });
                insert
                    .push_bind(e.at)
                    .push(", ")
                    .push_bind(e.actor)
                    .push(", ")
                    .push_bind(e.offer_id)
                    .push(", ")
                    .push_bind(e.message_id)
                    .push(", ")
                    .push_bind(e.action)
                    .push(", ")
                    .push_bind(e.detail.as_str())
                    .push(")");
            }
            insert
                .build()
                .execute(&mut **tx)
                .await
                .during("writing audit events")?;
        }
        Ok(())
    }

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
