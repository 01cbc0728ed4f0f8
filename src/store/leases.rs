//! Claims and the instance row: who holds what, and until when.
//!
//! A claimed message (`processing`) or reply (`sending`) carries the run id
//! of the process that claimed it and an expiry, which the owner's heartbeat
//! extends while it works (`crate::instance`). Another process takes over
//! only claims that ran out, or whose owner is known to be gone; no CLI
//! command changes a claim. The `instances` table holds the one `serve` of
//! a SQLite database the same way: an owner and an expiry.
//!
//! Owns: the SQL of claims' ownership and of the instance row. Does not
//! own: claiming itself (`messages`, `outbox`) or the heartbeat's timing.

use std::sync::Arc;
use std::time::Duration;

use super::{now_ms, Engine, QueryContext, Store, StoreError};
use crate::state::{MessageState, ReplyState};

/// The run that owns this store's claims, and how long a claim lasts
/// without being extended.
#[derive(Debug)]
pub struct Lease {
    pub run_id: String,
    pub duration: Duration,
}

impl Lease {
    /// A new random run id, claims lasting `duration`.
    pub fn new(duration: Duration) -> Lease {
        Lease {
            run_id: format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            ),
            duration,
        }
    }

    /// When a claim made or extended now runs out (ms since the epoch).
    pub fn expiry(&self) -> i64 {
        now_ms() + self.duration.as_millis() as i64
    }
}

/// How long a claim lasts unless configured (`database.lease_secs`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The process holding the instance row (the running `serve`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InstanceHolder {
    pub run_id: String,
    pub host: String,
    pub pid: i64,
    pub process_start: i64,
    pub started_at: i64,
    pub expires_at: i64,
}

/// What asking for the instance row gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceClaim {
    /// Ours now; `replaced` is the run that held it before and is gone.
    Held { replaced: Option<String> },
    /// Another process holds it and has not been seen to be gone.
    Refused(InstanceHolder),
}

/// The role of the one `serve` per database.
const SERVE: &str = "serve";

impl Store {
    /// This store's run id and lease length.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The same store with claims lasting `duration`.
    pub fn with_lease(mut self, duration: Duration) -> Store {
        self.lease = Arc::new(Lease::new(duration));
        self
    }

    /// Extends every claim this run holds; how many messages and replies.
    pub async fn extend_claims(&self) -> Result<(u64, u64), StoreError> {
        let mut tx = self.write().await?;
        let until = self.lease.expiry();
        let messages = sqlx::query(&self.extend_sql("messages"))
            .bind(until)
            .bind(&self.lease.run_id)
            .bind(MessageState::Processing)
            .execute(&mut *tx)
            .await
            .during("extending message claims")?
            .rows_affected();
        let replies = sqlx::query(&self.extend_sql("outbox"))
            .bind(until)
            .bind(&self.lease.run_id)
            .bind(ReplyState::Sending)
            .execute(&mut *tx)
            .await
            .during("extending reply claims")?
            .rows_affected();
        tx.commit().await.during("committing extended claims")?;
        Ok((messages, replies))
    }

    /// The statement extending this run's claims in `table`. On PostgreSQL
    /// it passes over rows another of our transactions holds: those are
    /// being finished right now (a processing batch marking its messages
    /// processed), and waiting for them while holding others deadlocked
    /// against that batch. A row passed over is extended next time.
    fn extend_sql(&self, table: &str) -> String {
        match self.engine {
            Engine::Sqlite => format!(
                "UPDATE {table} SET claim_expires_at = $1 WHERE claimed_by = $2 AND state = $3"
            ),
            Engine::Postgres => format!(
                "UPDATE {table} SET claim_expires_at = $1 WHERE id IN
                   (SELECT id FROM {table} WHERE claimed_by = $2 AND state = $3
                    ORDER BY id FOR UPDATE SKIP LOCKED)"
            ),
        }
    }

    /// Puts claims whose owner is gone back in the queues: those that ran
    /// out, those without an owner (made before claims had one), and those
    /// of `gone` (a run known to have ended). Messages return to
    /// `received`, replies to `pending`. Claims of live owners are left
    /// alone. Returns how many messages and replies.
    pub async fn release_abandoned_claims(
        &self,
        gone: Option<&str>,
    ) -> Result<(usize, usize), StoreError> {
        let mut tx = self.write().await?;
        let now = now_ms();
        let abandoned = "(claimed_by IS NULL OR claim_expires_at IS NULL OR claim_expires_at < $3
                          OR claimed_by = $4)";
        let messages = sqlx::query(&format!(
            "UPDATE messages SET state = $1, claimed_by = NULL, claim_expires_at = NULL
             WHERE state = $2 AND {abandoned}"
        ))
        .bind(MessageState::Received)
        .bind(MessageState::Processing)
        .bind(now)
        .bind(gone)
        .execute(&mut *tx)
        .await
        .during("releasing abandoned message claims")?
        .rows_affected();
        let replies = sqlx::query(&format!(
            "UPDATE outbox SET state = $1, claimed_by = NULL, claim_expires_at = NULL
             WHERE state = $2 AND {abandoned}"
        ))
        .bind(ReplyState::Pending)
        .bind(ReplyState::Sending)
        .bind(now)
        .bind(gone)
        .execute(&mut *tx)
        .await
        .during("releasing abandoned reply claims")?
        .rows_affected();
        tx.commit().await.during("committing released claims")?;
        Ok((messages as usize, replies as usize))
    }

    /// The instance row's key for this run: the one `serve` on SQLite; on
    /// PostgreSQL, where several `serve` share the database, a row per run.
    fn serve_role(&self) -> String {
        match self.engine {
            Engine::Sqlite => SERVE.to_string(),
            Engine::Postgres => format!("{SERVE} {}", self.lease.run_id),
        }
    }

    /// Takes the instance row for this run. On SQLite the row is the one
    /// `serve`'s, taken when it is free, ran out, or its holder is gone
    /// (`is_gone` says so from its host, PID and start); on PostgreSQL every
    /// run has its own and is never refused.
    pub async fn claim_instance(
        &self,
        me: &InstanceHolder,
        is_gone: impl Fn(&InstanceHolder) -> bool,
    ) -> Result<InstanceClaim, StoreError> {
        let role = self.serve_role();
        let mut tx = self.write().await?;
        let holder: Option<InstanceHolder> = sqlx::query_as(
            "SELECT run_id, host, pid, process_start, started_at, expires_at
             FROM instances WHERE role = $1",
        )
        .bind(&role)
        .fetch_optional(&mut *tx)
        .await
        .during("reading the instance row")?;
        let replaced = match holder {
            Some(h) if h.run_id != me.run_id && h.expires_at >= now_ms() && !is_gone(&h) => {
                return Ok(InstanceClaim::Refused(h));
            }
            Some(h) if h.run_id != me.run_id => Some(h.run_id),
            _ => None,
        };
        sqlx::query(
            "INSERT INTO instances (role, run_id, host, pid, process_start, started_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (role) DO UPDATE SET run_id = excluded.run_id, host = excluded.host,
               pid = excluded.pid, process_start = excluded.process_start,
               started_at = excluded.started_at, expires_at = excluded.expires_at",
        )
        .bind(&role)
        .bind(&me.run_id)
        .bind(&me.host)
        .bind(me.pid)
        .bind(me.process_start)
        .bind(me.started_at)
        .bind(self.lease.expiry())
        .execute(&mut *tx)
        .await
        .during("taking the instance row")?;
        tx.commit().await.during("committing the instance row")?;
        Ok(InstanceClaim::Held { replaced })
    }

    /// Every `serve` run with an instance row other than this one.
    pub async fn other_instances(&self) -> Result<Vec<InstanceHolder>, StoreError> {
        sqlx::query_as(
            "SELECT run_id, host, pid, process_start, started_at, expires_at
             FROM instances WHERE run_id != $1 ORDER BY started_at",
        )
        .bind(&self.lease.run_id)
        .fetch_all(&self.writer)
        .await
        .during("reading the instance rows")
    }

    /// Drops the instance row of `run`, a run known to be gone (its claims
    /// are put back by [`Store::release_abandoned_claims`]).
    pub async fn forget_instance(&self, run: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM instances WHERE run_id = $1")
            .bind(run)
            .execute(&self.writer)
            .await
            .during("dropping a gone run's instance row")?;
        Ok(())
    }

    /// Who holds the instance row (the `serve` of this database, running
    /// or gone), if anyone.
    pub async fn instance_holder(&self) -> Result<Option<InstanceHolder>, StoreError> {
        sqlx::query_as(
            "SELECT run_id, host, pid, process_start, started_at, expires_at
             FROM instances WHERE role = $1",
        )
        .bind(SERVE)
        .fetch_optional(&self.reader)
        .await
        .during("reading the instance row")
    }

    /// Extends this run's hold on the instance row; false when another run
    /// holds it now (this one's lease ran out and was taken over).
    pub async fn renew_instance(&self) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let renewed =
            sqlx::query("UPDATE instances SET expires_at = $1 WHERE role = $2 AND run_id = $3")
                .bind(self.lease.expiry())
                .bind(self.serve_role())
                .bind(&self.lease.run_id)
                .execute(&mut *tx)
                .await
                .during("renewing the instance row")?
                .rows_affected();
        tx.commit().await.during("committing the instance row")?;
        Ok(renewed == 1)
    }

    /// Gives the instance row up (a clean stop), if this run holds it.
    pub async fn release_instance(&self) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM instances WHERE role = $1 AND run_id = $2")
            .bind(self.serve_role())
            .bind(&self.lease.run_id)
            .execute(&mut *tx)
            .await
            .during("releasing the instance row")?;
        tx.commit().await.during("committing the instance row")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(store: &Store, pid: i64) -> InstanceHolder {
        InstanceHolder {
            run_id: store.lease().run_id.clone(),
            host: "here".into(),
            pid,
            process_start: 1,
            started_at: now_ms(),
            expires_at: 0,
        }
    }

    async fn two_stores() -> (tempfile::TempDir, Store, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let a = Store::open(&url).await.unwrap();
        let b = Store::open(&url).await.unwrap();
        (dir, a, b)
    }

    #[tokio::test]
    async fn a_live_claim_is_left_alone_and_an_expired_one_is_released() {
        let (_dir, a, b) = two_stores().await;
        let b = b.with_lease(Duration::from_millis(1));
        for id in ["x", "y"] {
            let raw = format!("Message-ID: <{id}@x>\r\n\r\nbody\r\n");
            a.store_local("INBOX", raw.as_bytes()).await.unwrap();
        }
        assert_eq!(a.claim_received_batch(1, i64::MAX).await.unwrap().len(), 1);
        assert_eq!(b.claim_received_batch(1, i64::MAX).await.unwrap().len(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(a.release_abandoned_claims(None).await.unwrap(), (1, 0));
        assert_eq!(
            a.message_counts().await.unwrap(),
            vec![(MessageState::Processing, 1), (MessageState::Received, 1)]
        );
        // Extended, a's claim outlives its first expiry; released by name when gone.
        assert_eq!(a.extend_claims().await.unwrap(), (1, 0));
        let gone = a.lease().run_id.clone();
        assert_eq!(
            b.release_abandoned_claims(Some(&gone)).await.unwrap(),
            (1, 0)
        );
    }

    #[tokio::test]
    async fn a_run_paused_past_its_claims_cannot_complete_work_another_run_took() {
        let (_dir, a, b) = two_stores().await;
        let a = a.with_lease(Duration::from_millis(1));
        a.store_local("INBOX", b"Message-ID: <p@x>\r\n\r\nbody\r\n")
            .await
            .unwrap();
        let ids: Vec<i64> = a
            .claim_received_batch(1, i64::MAX)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(b.release_abandoned_claims(None).await.unwrap(), (1, 0));
        assert_eq!(b.claim_received_batch(1, i64::MAX).await.unwrap().len(), 1);
        let late = a.begin_processing_claimed(&ids).await;
        assert!(
            matches!(late, Err(StoreError::ClaimLost { lost: 1 })),
            "{:?}",
            late.err()
        );
        assert!(
            b.begin_processing_claimed(&ids).await.is_ok(),
            "the new owner completes it"
        );
    }

    #[tokio::test]
    async fn a_second_instance_is_refused_until_the_first_is_gone_or_ran_out() {
        let (_dir, a, b) = two_stores().await;
        let a = a.with_lease(Duration::from_millis(200));
        assert_eq!(
            a.claim_instance(&holder(&a, 1), |_| false).await.unwrap(),
            InstanceClaim::Held { replaced: None }
        );
        let refused = b.claim_instance(&holder(&b, 2), |_| false).await.unwrap();
        assert!(matches!(refused, InstanceClaim::Refused(h) if h.pid == 1));
        assert!(a.renew_instance().await.unwrap());
        // Its process gone: taken over at once.
        let taken = b.claim_instance(&holder(&b, 2), |h| h.pid == 1).await;
        let a_run = a.lease().run_id.clone();
        assert_eq!(
            taken.unwrap(),
            InstanceClaim::Held {
                replaced: Some(a_run)
            }
        );
        assert!(!a.renew_instance().await.unwrap(), "a lost it");
        b.release_instance().await.unwrap();
        assert_eq!(
            a.claim_instance(&holder(&a, 1), |_| false).await.unwrap(),
            InstanceClaim::Held { replaced: None }
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(matches!(
            b.claim_instance(&holder(&b, 2), |_| false).await.unwrap(),
            InstanceClaim::Held { replaced: Some(_) }
        ));
    }
}
