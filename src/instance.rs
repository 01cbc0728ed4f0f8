//! This process's run on the database: the one `serve` per SQLite database
//! (a row per `serve` on PostgreSQL, where several share it) and the
//! heartbeat that keeps its claims.
//!
//! Every open [`Store`] has a random run id that its claims carry, with an
//! expiry (`database.lease_secs`). `serve` first takes its instance row (on
//! SQLite refused with a clear message while another `serve` holds it and
//! is not known to be gone), then puts back only claims whose owner is
//! gone, and runs a heartbeat that renews the row, extends its claims and
//! puts back the work of runs that died meanwhile. CLI commands never touch
//! claims or the rows.
//!
//! Owns: the run's identity (host, PID, process start), deciding whether a
//! holder is gone, and the heartbeat loop. Does not own: the SQL
//! (`store::leases`).

use tokio_util::sync::CancellationToken;

use crate::error_text::error_text;
use crate::store::{now_ms, Engine, InstanceClaim, InstanceHolder, Store, StoreError};

/// Why `serve` cannot run on this database.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error(
        "another supplyline serve is running on this database (pid {pid} on {host}, since {since}); \
         stop it first. A serve that died is taken over at once on the same host, \
         elsewhere once its lease ran out (database.lease_secs, {left} s from now)"
    )]
    Running {
        pid: i64,
        host: String,
        since: String,
        left: i64,
    },
    #[error("taking the database for serve: {0}")]
    Store(#[from] StoreError),
}

/// The `serve` running on `store`'s database, as the error `serve` itself
/// would give: a holder whose lease has not run out and that is not known
/// to be gone. For commands that must not run beside it (`migrate-db`).
pub async fn running_serve(store: &Store) -> Result<Option<InstanceError>, StoreError> {
    Ok(store
        .instance_holder()
        .await?
        .filter(|h| h.expires_at >= now_ms() && !is_gone(h))
        .map(running))
}

fn running(h: InstanceHolder) -> InstanceError {
    InstanceError::Running {
        pid: h.pid,
        since: chrono::DateTime::from_timestamp_millis(h.started_at)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        host: h.host,
        left: ((h.expires_at - now_ms()) / 1000).max(0),
    }
}

/// The instance row held by this run.
pub struct Instance {
    store: Store,
    replaced: Option<String>,
}

impl Instance {
    /// Takes the instance row for `store`'s run, or says who holds it.
    pub async fn acquire(store: &Store) -> Result<Instance, InstanceError> {
        let me = this_process(store);
        match store.claim_instance(&me, is_gone).await? {
            InstanceClaim::Held { replaced } => {
                if let Some(run) = &replaced {
                    tracing::info!(previous_run = %run, "took over the database from a serve that is gone");
                }
                let instance = Instance {
                    store: store.clone(),
                    replaced,
                };
                instance.sweep().await?;
                Ok(instance)
            }
            InstanceClaim::Refused(h) => Err(running(h)),
        }
    }

    /// The run this one took over from, whose claims are abandoned.
    pub fn replaced(&self) -> Option<&str> {
        self.replaced.as_deref()
    }

    /// Renews the row and extends this run's claims every third of the
    /// lease until `shutdown`. A database error is logged and tried again
    /// (the lease leaves room for it); losing the row to another run is an
    /// error that stops `serve`.
    pub async fn heartbeat(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let every = self.store.lease().duration / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
            match self.beat().await {
                Ok(true) => {}
                Ok(false) => anyhow::bail!(
                    "another serve took this database over after this one's lease ran out \
                     (was it stalled longer than database.lease_secs?); stopping"
                ),
                Err(e) => {
                    tracing::warn!(error = %error_text(&e), "could not renew the lease; trying again")
                }
            }
        }
    }

    async fn beat(&self) -> Result<bool, StoreError> {
        if !self.store.renew_instance().await? {
            if self.store.engine() == Engine::Sqlite {
                return Ok(false);
            }
            // Several serve share PostgreSQL: the others took this run for
            // dead and put its work back. It joins again; what it still
            // holds in hand is refused by the claim and lease checks.
            tracing::warn!("this serve was stalled past database.lease_secs; its claims went back to the queues");
            self.store
                .claim_instance(&this_process(&self.store), |_| false)
                .await?;
        }
        self.store.extend_claims().await?;
        self.sweep().await?;
        Ok(true)
    }

    /// Puts back the work of other runs that are gone: those known to have
    /// ended (same host) or whose row ran out, and any claim that ran out.
    /// With several `serve` on one database, the survivors so finish what a
    /// killed one had claimed.
    async fn sweep(&self) -> Result<(), StoreError> {
        let now = now_ms();
        for run in self.store.other_instances().await? {
            if !is_gone(&run) && run.expires_at >= now {
                continue;
            }
            let (messages, replies) = self
                .store
                .release_abandoned_claims(Some(&run.run_id))
                .await?;
            self.store.forget_instance(&run.run_id).await?;
            tracing::info!(
                run = %run.run_id, pid = run.pid, host = %run.host, messages, replies,
                "another serve is gone: its unfinished work is back in the queues"
            );
        }
        let (messages, replies) = self.store.release_abandoned_claims(None).await?;
        if messages + replies > 0 {
            tracing::info!(
                messages,
                replies,
                "claims that ran out are back in the queues"
            );
        }
        Ok(())
    }

    /// Gives the row up on a clean stop.
    pub async fn release(&self) {
        if let Err(e) = self.store.release_instance().await {
            tracing::warn!(error = %error_text(&e), "could not release the instance row");
        }
    }
}

/// This process, as the instance row records it.
pub fn this_process(store: &Store) -> InstanceHolder {
    let pid = std::process::id() as i64;
    InstanceHolder {
        run_id: store.lease().run_id.clone(),
        host: host_name(),
        pid,
        process_start: proc_stat(pid).map(|(_, start)| start).unwrap_or(0),
        started_at: now_ms(),
        expires_at: 0,
    }
}

/// True when `holder` ran on this host and its process is gone: no such
/// PID, a zombie, or another process with the same PID. Unknown (another
/// host, no `/proc`) is not gone: its lease must run out.
pub fn is_gone(holder: &InstanceHolder) -> bool {
    if holder.host != host_name() || !std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    match proc_stat(holder.pid) {
        None => true,
        Some((state, start)) => {
            matches!(state, 'Z' | 'X')
                || (holder.process_start != 0 && start != holder.process_start)
        }
    }
}

/// The state letter and start time (clock ticks since boot) of `pid`, from
/// `/proc/PID/stat`.
fn proc_stat(pid: i64) -> Option<(char, i64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold anything: read after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the line is the start time; `rest` starts at field 3.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_gone() {
        let me = InstanceHolder {
            run_id: "r".into(),
            host: host_name(),
            pid: std::process::id() as i64,
            process_start: proc_stat(std::process::id() as i64).unwrap().1,
            started_at: 0,
            expires_at: 0,
        };
        assert!(!is_gone(&me));
        let reused = InstanceHolder {
            process_start: me.process_start + 1,
            ..me.clone()
        };
        assert!(is_gone(&reused), "same PID, another process");
        let elsewhere = InstanceHolder {
            host: "another-host".into(),
            pid: i32::MAX as i64,
            ..me.clone()
        };
        assert!(!is_gone(&elsewhere), "another host: wait for the lease");
        let dead = InstanceHolder {
            pid: i32::MAX as i64,
            ..me
        };
        assert!(is_gone(&dead));
    }
}
