//! The `fetch_leases` table: which `serve` fetches each mailbox, and the
//! fencing token of its hold.
//!
//! Several `serve` instances on one PostgreSQL database all process and
//! send, but only one fetches a given mailbox. It holds the mailbox's row
//! until an expiry its fetcher keeps renewing. The token goes up by one at
//! every takeover; every stored batch checks it (and renews the hold) in
//! its own transaction and writes it on the messages and the cursor, so a
//! fetcher that lost the mailbox while paused stores nothing, and so never
//! flags anything either (flags follow the commit). A hold that ran out, or
//! whose holder is known to be gone, is taken over.
//!
//! Owns: the SQL of the hold and of the fence. Does not own: when to ask,
//! renew or give up (`fetch::lease`), or deciding a holder is gone
//! (`instance`).

use std::time::Duration;

use sqlx::{Any, Transaction};

use super::{now_ms, InstanceHolder, QueryContext, Store, StoreError};

/// A mailbox held for fetching by this run, under `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLease {
    pub mailbox: String,
    pub token: i64,
    /// How long a renewal keeps the hold.
    pub duration: Duration,
}

/// Renews a hold for as long as its token is the mailbox's: the renewal,
/// and the fence of every stored batch.
const RENEW: &str = "UPDATE fetch_leases SET expires_at = $1 WHERE mailbox = $2 AND token = $3";

impl FetchLease {
    fn expiry(&self) -> i64 {
        now_ms() + self.duration.as_millis() as i64
    }
}

/// What asking for a mailbox gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchLeaseClaim {
    /// Ours now; `replaced` held it before (ran out, or gone).
    Held {
        lease: FetchLease,
        replaced: Option<InstanceHolder>,
    },
    /// Another run holds it and has not been seen to be gone.
    Refused(InstanceHolder),
}

impl Store {
    /// The run holding `mailbox` and its token, if any run ever did.
    pub async fn fetch_lease_holder(
        &self,
        mailbox: &str,
    ) -> Result<Option<(i64, InstanceHolder)>, StoreError> {
        let row: Option<(i64, String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT token, run_id, host, pid, process_start, acquired_at, expires_at
             FROM fetch_leases WHERE mailbox = $1",
        )
        .bind(mailbox)
        .fetch_optional(&self.writer)
        .await
        .during("reading the fetch lease")?;
        Ok(row.map(
            |(token, run_id, host, pid, process_start, started_at, expires_at)| {
                let holder = InstanceHolder {
                    run_id,
                    host,
                    pid,
                    process_start,
                    started_at,
                    expires_at,
                };
                (token, holder)
            },
        ))
    }

    /// Takes `mailbox` for `me` when nobody holds it, the hold ran out, or
    /// its holder is gone (`is_gone`); the token goes up by one. Two runs
    /// asking at once: one gets it, the other is refused.
    pub async fn claim_fetch_lease(
        &self,
        mailbox: &str,
        me: &InstanceHolder,
        duration: Duration,
        is_gone: impl Fn(&InstanceHolder) -> bool,
    ) -> Result<FetchLeaseClaim, StoreError> {
        let current = self.fetch_lease_holder(mailbox).await?;
        let (seen_token, replaced) = match current {
            Some((_, h)) if h.run_id != me.run_id && h.expires_at >= now_ms() && !is_gone(&h) => {
                return Ok(FetchLeaseClaim::Refused(h));
            }
            Some((token, h)) => (token, (h.run_id != me.run_id).then_some(h)),
            None => (-1, None),
        };
        let lease = FetchLease {
            mailbox: mailbox.to_string(),
            token: 0,
            duration,
        };
        // Only over the row as it was read: a run that took it meanwhile wins.
        let token: Option<i64> = sqlx::query_scalar(
            "INSERT INTO fetch_leases (mailbox, token, run_id, host, pid, process_start,
                                       acquired_at, expires_at)
             VALUES ($1, 1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (mailbox) DO UPDATE SET token = fetch_leases.token + 1,
               run_id = excluded.run_id, host = excluded.host, pid = excluded.pid,
               process_start = excluded.process_start, acquired_at = excluded.acquired_at,
               expires_at = excluded.expires_at
             WHERE fetch_leases.token = $8
             RETURNING token",
        )
        .bind(mailbox)
        .bind(&me.run_id)
        .bind(&me.host)
        .bind(me.pid)
        .bind(me.process_start)
        .bind(now_ms())
        .bind(lease.expiry())
        .bind(seen_token)
        .fetch_optional(&self.writer)
        .await
        .during("taking the fetch lease")?;
        match token {
            Some(token) => Ok(FetchLeaseClaim::Held {
                lease: FetchLease { token, ..lease },
                replaced,
            }),
            None => match self.fetch_lease_holder(mailbox).await? {
                Some((_, h)) => Ok(FetchLeaseClaim::Refused(h)),
                None => Err(StoreError::NotFound("fetch lease")),
            },
        }
    }

    /// Keeps the hold for another `lease.duration`; false when another run
    /// took the mailbox over (the token moved on). A hold that ran out but
    /// was not taken over is still ours.
    pub async fn renew_fetch_lease(&self, lease: &FetchLease) -> Result<bool, StoreError> {
        let renewed = sqlx::query(RENEW)
            .bind(lease.expiry())
            .bind(&lease.mailbox)
            .bind(lease.token)
            .execute(&self.writer)
            .await
            .during("renewing the fetch lease")?
            .rows_affected();
        Ok(renewed == 1)
    }

    /// Gives the mailbox up (a clean stop): another run takes it at once.
    pub async fn release_fetch_lease(&self, lease: &FetchLease) -> Result<(), StoreError> {
        sqlx::query("UPDATE fetch_leases SET expires_at = 0 WHERE mailbox = $1 AND token = $2")
            .bind(&lease.mailbox)
            .bind(lease.token)
            .execute(&self.writer)
            .await
            .during("releasing the fetch lease")?;
        Ok(())
    }

    /// The fence: in a transaction that stores fetched mail or moves the
    /// cursor, checks that `lease` still holds the mailbox and renews it.
    /// The row stays locked until the commit, so no takeover lands between.
    pub(super) async fn fence_in(
        tx: &mut Transaction<'static, Any>,
        lease: &FetchLease,
    ) -> Result<(), StoreError> {
        let held = sqlx::query(RENEW)
            .bind(lease.expiry())
            .bind(&lease.mailbox)
            .bind(lease.token)
            .execute(&mut **tx)
            .await
            .during("checking the fetch lease")?
            .rows_affected();
        match held {
            1 => Ok(()),
            _ => Err(StoreError::FetchLeaseLost {
                mailbox: lease.mailbox.clone(),
                token: lease.token,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FetchedMessage;

    fn run(store: &Store, pid: i64) -> InstanceHolder {
        InstanceHolder {
            run_id: store.lease().run_id.clone(),
            host: "here".into(),
            pid,
            process_start: 1,
            started_at: 0,
            expires_at: 0,
        }
    }

    fn fetched(uid: u32) -> FetchedMessage {
        FetchedMessage {
            mailbox: "INBOX".into(),
            uidvalidity: 7,
            uid,
            raw: format!("Message-ID: <{uid}@x>\r\n\r\nbody\r\n").into_bytes(),
            size: 30,
            truncated: false,
            no_reply_reason: None,
        }
    }

    fn held(claim: FetchLeaseClaim) -> FetchLease {
        match claim {
            FetchLeaseClaim::Held { lease, .. } => lease,
            FetchLeaseClaim::Refused(h) => panic!("refused: held by {h:?}"),
        }
    }

    #[tokio::test]
    async fn a_fetcher_that_lost_its_lease_stores_nothing_and_leaves_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("f.db").display());
        let (a, b) = (
            Store::open(&url).await.unwrap(),
            Store::open(&url).await.unwrap(),
        );
        let short = Duration::from_millis(100);
        let first = held(
            a.claim_fetch_lease("INBOX", &run(&a, 1), short, |_| false)
                .await
                .unwrap(),
        );
        assert_eq!(first.token, 1);
        let refused = b
            .claim_fetch_lease("INBOX", &run(&b, 2), short, |_| false)
            .await
            .unwrap();
        assert!(matches!(refused, FetchLeaseClaim::Refused(h) if h.pid == 1));
        a.store_fetched(vec![fetched(1)], Some(1), Some(&first))
            .await
            .unwrap();

        // a pauses past its lease; b takes the mailbox over.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let second = held(
            b.claim_fetch_lease("INBOX", &run(&b, 2), short, |_| false)
                .await
                .unwrap(),
        );
        assert_eq!(second.token, 2);
        b.store_fetched(vec![fetched(2)], Some(2), Some(&second))
            .await
            .unwrap();

        // a, resumed, stores nothing and cannot move the cursor.
        let late = a
            .store_fetched(vec![fetched(3)], Some(3), Some(&first))
            .await;
        assert!(
            matches!(late, Err(StoreError::FetchLeaseLost { token: 1, .. })),
            "{late:?}"
        );
        assert!(!a.renew_fetch_lease(&first).await.unwrap());
        assert_eq!(a.cursor("INBOX").await.unwrap().unwrap().last_uid, 2);
        let tokens: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT uid, fetch_token FROM messages ORDER BY uid")
                .fetch_all(&a.reader)
                .await
                .unwrap();
        assert_eq!(tokens, vec![(1, Some(1)), (2, Some(2))]);

        // A clean stop hands it over at once; a holder known gone is replaced.
        b.release_fetch_lease(&second).await.unwrap();
        let third = held(
            a.claim_fetch_lease("INBOX", &run(&a, 1), short, |_| false)
                .await
                .unwrap(),
        );
        let long = Duration::from_secs(60);
        assert!(a
            .renew_fetch_lease(&FetchLease {
                duration: long,
                ..third
            })
            .await
            .unwrap());
        let taken = b
            .claim_fetch_lease("INBOX", &run(&b, 2), long, |h| h.pid == 1)
            .await
            .unwrap();
        assert!(
            matches!(taken, FetchLeaseClaim::Held { lease, replaced: Some(h) } if lease.token == 4 && h.pid == 1)
        );
    }
}
