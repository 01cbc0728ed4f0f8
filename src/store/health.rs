//! What monitoring reads from the database: messages and replies by
//! state, the oldest waiting reply, offers waiting for the search index,
//! and a write probe for `/readyz`.
//! Mirrors `crate::telemetry`.

use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::{MessageState, ReplyState};

/// The queues' figures at one moment: every state, zero included.
#[derive(Debug, Default)]
pub struct QueueFigures {
    pub messages: Vec<(String, i64)>,
    pub replies: Vec<(String, i64)>,
    /// When the oldest reply pending or being sent was queued (ms).
    pub oldest_waiting_reply_ms: Option<i64>,
    /// Offers waiting for the search indexer (PostgreSQL; 0 on SQLite).
    pub search_pending: i64,
}

impl Store {
    /// Messages and replies by state, and the oldest waiting reply.
    pub async fn queue_figures(&self) -> Result<QueueFigures, StoreError> {
        let messages: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM messages GROUP BY state")
                .fetch_all(&self.reader)
                .await
                .during("counting messages by state")?;
        let replies: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state")
                .fetch_all(&self.reader)
                .await
                .during("counting replies by state")?;
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(created_at) FROM outbox WHERE state IN ($1, $2)")
                .bind(ReplyState::Pending)
                .bind(ReplyState::Sending)
                .fetch_one(&self.reader)
                .await
                .during("finding the oldest waiting reply")?;
        let count = |rows: &[(String, i64)], state: &str| {
            rows.iter().find(|(s, _)| s == state).map_or(0, |r| r.1)
        };
        Ok(QueueFigures {
            messages: MessageState::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), count(&messages, s.as_str())))
                .collect(),
            replies: ReplyState::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), count(&replies, s.as_str())))
                .collect(),
            oldest_waiting_reply_ms: oldest,
            search_pending: self.search_rows_pending().await?,
        })
    }

    /// Rewrites the probe row in a write transaction: fails when the
    /// database cannot be written (disk full, I/O error, read-only, locked
    /// past the busy timeout).
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO health_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at")
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .during("writing the health probe")?;
        tx.commit().await.during("committing the health probe")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn figures_name_every_state_and_the_probe_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("h.db").display());
        let store = Store::open(&url).await.unwrap();
        let f = store.queue_figures().await.unwrap();
        assert_eq!(f.messages.len(), MessageState::ALL.len());
        assert_eq!(f.replies.len(), ReplyState::ALL.len());
        assert!(f.messages.iter().all(|(_, n)| *n == 0));
        assert_eq!(f.oldest_waiting_reply_ms, None);
        store.probe_write().await.unwrap();
        store.probe_write().await.unwrap();
    }
}
