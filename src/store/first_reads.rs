//! The `mailbox_first_reads` table: what each mailbox held when supplyline
//! first read it, so that mail already there is stored but not answered.

use super::{QueryContext, Store, StoreError};

/// A mailbox at its first read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FirstRead {
    #[sqlx(try_from = "i64")]
    pub uidvalidity: u32,
    /// UIDNEXT then: every UID below it was already in the mailbox.
    #[sqlx(try_from = "i64")]
    pub uidnext: u32,
    /// How many messages it held.
    pub existing: i64,
    /// When (ms since the epoch).
    pub read_at: i64,
}

impl Store {
    /// The first read of `mailbox`, if it was ever read.
    pub async fn first_read(&self, mailbox: &str) -> Result<Option<FirstRead>, StoreError> {
        sqlx::query_as(
            "SELECT uidvalidity, uidnext, existing, read_at FROM mailbox_first_reads WHERE mailbox = $1",
        )
        .bind(mailbox)
        .fetch_optional(&self.reader)
        .await
        .during("reading a mailbox's first read")
    }

    /// Records the first read of `mailbox` unless one is recorded already;
    /// returns the one that counts and whether it is this one.
    pub async fn record_first_read(
        &self,
        mailbox: &str,
        read: &FirstRead,
    ) -> Result<(FirstRead, bool), StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO mailbox_first_reads (mailbox, uidvalidity, uidnext, existing, read_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mailbox) DO NOTHING",
        )
        .bind(mailbox)
        .bind(read.uidvalidity as i64)
        .bind(read.uidnext as i64)
        .bind(read.existing)
        .bind(read.read_at)
        .execute(&mut *tx)
        .await
        .during("recording a mailbox's first read")?
        .rows_affected()
            == 1;
        let counts: FirstRead = sqlx::query_as(
            "SELECT uidvalidity, uidnext, existing, read_at FROM mailbox_first_reads WHERE mailbox = $1",
        )
        .bind(mailbox)
        .fetch_one(&mut *tx)
        .await
        .during("reading a mailbox's first read")?;
        if inserted {
            Self::audit_in(
                &mut tx,
                "fetch",
                None,
                None,
                "first_read",
                &format!(
                    "{mailbox}: {} messages, UIDNEXT {}",
                    read.existing, read.uidnext
                ),
            )
            .await?;
        }
        tx.commit().await.during("committing a first read")?;
        Ok((counts, inserted))
    }
}
