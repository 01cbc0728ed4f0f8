//! The `fetch_cursors` table: per mailbox, the UIDVALIDITY and the last UID stored.

use sqlx::{Any, Transaction};

use super::{now_ms, QueryContext, Store, StoreError};

/// Where fetching stopped in one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Cursor {
    #[sqlx(try_from = "i64")]
    pub uidvalidity: u32,
    #[sqlx(try_from = "i64")]
    pub last_uid: u32,
}

impl Store {
    /// The cursor of `mailbox`, if it was ever fetched.
    pub async fn cursor(&self, mailbox: &str) -> Result<Option<Cursor>, StoreError> {
        sqlx::query_as("SELECT uidvalidity, last_uid FROM fetch_cursors WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&self.reader)
            .await
            .during("reading the fetch cursor")
    }

    /// Starts the mailbox over under a new UIDVALIDITY: every UID is fetched
    /// again, and the dedup key keeps what is already stored from a second row.
    pub async fn reset_cursor(&self, mailbox: &str, uidvalidity: u32) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO fetch_cursors (mailbox, uidvalidity, last_uid, updated_at) VALUES ($1, $2, 0, $3)
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0,
             updated_at = excluded.updated_at",
        )
        .bind(mailbox)
        .bind(uidvalidity as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .during("resetting the fetch cursor")?;
        Self::audit_in(
            &mut tx,
            "fetch",
            None,
            None,
            "uidvalidity_changed",
            &format!("{mailbox}: {uidvalidity}"),
        )
        .await?;
        tx.commit().await.during("committing the cursor reset")
    }

    pub(super) async fn advance_cursor(
        tx: &mut Transaction<'static, Any>,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO fetch_cursors (mailbox, uidvalidity, last_uid, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,
             last_uid = CASE WHEN fetch_cursors.last_uid > excluded.last_uid
               THEN fetch_cursors.last_uid ELSE excluded.last_uid END, updated_at = excluded.updated_at",
        )
        .bind(mailbox)
        .bind(uidvalidity as i64)
        .bind(uid as i64)
        .bind(now_ms())
        .execute(&mut **tx)
        .await
        .during("advancing the fetch cursor")?;
        Ok(())
    }
}
