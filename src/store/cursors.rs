//! The `fetch_cursors` table: per mailbox, the UIDVALIDITY and the last UID stored.

use sqlx::{Any, Transaction};

use super::{now_ms, FetchLease, QueryContext, Store, StoreError};

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
    /// Fenced by the fetcher's `lease` as storing is.
    pub async fn reset_cursor(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        lease: Option<&FetchLease>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        if let Some(lease) = lease {
            Self::fence_in(&mut tx, lease).await?;
        }
        sqlx::query(
            "INSERT INTO fetch_cursors (mailbox, uidvalidity, last_uid, updated_at, fetch_token)
             VALUES ($1, $2, 0, $3, $4)
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0,
             updated_at = excluded.updated_at, fetch_token = excluded.fetch_token",
        )
        .bind(mailbox)
        .bind(uidvalidity as i64)
        .bind(now_ms())
        .bind(lease.map(|l| l.token))
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
        token: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO fetch_cursors (mailbox, uidvalidity, last_uid, updated_at, fetch_token)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,
             last_uid = CASE WHEN fetch_cursors.last_uid > excluded.last_uid
               THEN fetch_cursors.last_uid ELSE excluded.last_uid END, updated_at = excluded.updated_at,
             fetch_token = excluded.fetch_token",
        )
        .bind(mailbox)
        .bind(uidvalidity as i64)
        .bind(uid as i64)
        .bind(now_ms())
        .bind(token)
        .execute(&mut **tx)
        .await
        .during("advancing the fetch cursor")?;
        Ok(())
    }
}
