//! The `imports` table and imported messages: each batch of an import is
//! stored together with how far the import got, in one transaction, so an
//! import killed at any moment resumes exactly where its last batch ended.

use super::messages::insert_local;
use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::MessageState;

/// How far an import of one source got.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImportProgress {
    /// In the source's own terms (see [`Store::store_imported`]); empty at the start.
    pub position: String,
    pub stored: i64,
    pub duplicates: i64,
    pub skipped: i64,
    pub finished_at: Option<i64>,
}

impl ImportProgress {
    /// Messages the import has dealt with (stored, already there, skipped).
    pub fn done(&self) -> i64 {
        self.stored + self.duplicates + self.skipped
    }
}

/// The reason imported messages get no automatic reply.
pub const IMPORTED: &str = "imported (supplyline import)";

impl Store {
    /// The progress of importing `source`, created empty when it is new.
    pub async fn start_import(
        &self,
        source: &str,
        kind: &str,
    ) -> Result<ImportProgress, StoreError> {
        let mut tx = self.write().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO imports (source, kind, started_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (source) DO NOTHING",
        )
        .bind(source)
        .bind(kind)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .during("starting an import")?;
        let progress = sqlx::query_as(
            "SELECT position, stored, duplicates, skipped, finished_at FROM imports WHERE source = $1",
        )
        .bind(source)
        .fetch_one(&mut *tx)
        .await
        .during("reading an import's progress")?;
        tx.commit().await.during("committing an import's start")?;
        Ok(progress)
    }

    /// Stores one batch of an import (each message once, whatever else
    /// stored it: the same dedup key as live intake; `received`, never to
    /// be answered) and moves the import to `position`, counting `skipped`
    /// bad inputs, in one transaction. Returns (stored, already stored).
    pub async fn store_imported(
        &self,
        source: &str,
        mailbox: &str,
        raws: &[Vec<u8>],
        position: &str,
        skipped: usize,
    ) -> Result<(usize, usize), StoreError> {
        let mut tx = self.write().await?;
        let now = now_ms();
        let mut stored = 0;
        for raw in raws {
            if insert_local(&mut tx, mailbox, raw, Some(IMPORTED), now)
                .await?
                .is_some()
            {
                stored += 1;
            }
        }
        let duplicates = raws.len() - stored;
        sqlx::query(
            "UPDATE imports SET position = $1, stored = stored + $2, duplicates = duplicates + $3,
             skipped = skipped + $4, updated_at = $5 WHERE source = $6",
        )
        .bind(position)
        .bind(stored as i64)
        .bind(duplicates as i64)
        .bind(skipped as i64)
        .bind(now)
        .bind(source)
        .execute(&mut *tx)
        .await
        .during("recording an import's progress")?;
        tx.commit().await.during("committing an imported batch")?;
        Ok((stored, duplicates))
    }

    /// Marks the import of `source` as read to its end.
    pub async fn finish_import(&self, source: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE imports SET finished_at = $1, updated_at = $2 WHERE source = $3")
            .bind(now_ms())
            .bind(now_ms())
            .bind(source)
            .execute(&mut *tx)
            .await
            .during("finishing an import")?;
        tx.commit().await.during("committing an import's end")
    }

    /// How many messages wait to be processed.
    pub async fn waiting_messages(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE state = $1")
            .bind(MessageState::Received)
            .fetch_one(&self.reader)
            .await
            .during("counting waiting messages")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_and_its_position_are_one_and_a_message_is_stored_once() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        assert_eq!(
            store.start_import("mbox:/a", "mbox").await.unwrap().done(),
            0
        );
        let a = b"Message-ID: <a@x>\r\n\r\nbody\r\n".to_vec();
        store.store_local("INBOX", &a).await.unwrap();
        let b = b"Message-ID: <b@x>\n\nbody\n".to_vec();
        let lf_a = b"Message-ID: <a@x>\n\nbody\n".to_vec();
        let (stored, dups) = store
            .store_imported("mbox:/a", "import", &[b, lf_a], "120", 1)
            .await
            .unwrap();
        assert_eq!(
            (stored, dups),
            (1, 1),
            "a is the live message, whatever its line ends"
        );
        let progress = store.start_import("mbox:/a", "mbox").await.unwrap();
        assert_eq!(progress.position, "120");
        assert_eq!(progress.done(), 3);
    }
}
