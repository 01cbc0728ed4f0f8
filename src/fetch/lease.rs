//! The fetch lease seen from the fetcher: wait until this run holds the
//! mailbox, keep holding it while fetching, notice when it is lost, give it
//! up on a clean stop.
//!
//! Several `serve` on one database each run a fetcher; the one holding the
//! mailbox's lease fetches and the others stand by, asking again every
//! sixth of `imap.takeover_secs`. A hold lasts two thirds of it unless
//! renewed, so a holder that died without a trace is replaced within
//! `takeover_secs`; one known to be gone (same host, process ended) at the
//! next ask.
//!
//! Owns: the timing of asking and renewing, and its log lines. Does not
//! own: the SQL or the fence (`store::fetch_leases`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error_text::error_text;
use crate::instance::{is_gone, this_process};
use crate::store::{FetchLease, FetchLeaseClaim, Store};

/// How long a hold lasts, and how often it is renewed or asked for.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    pub hold: Duration,
    pub every: Duration,
}

impl LeaseTiming {
    /// The timing for `imap.takeover_secs`.
    pub fn for_takeover(takeover: Duration) -> LeaseTiming {
        LeaseTiming {
            hold: takeover * 2 / 3,
            every: (takeover / 6).max(Duration::from_millis(100)),
        }
    }
}

/// Waits until this run holds `mailbox`; None on shutdown. Says once who
/// holds it while standing by, and whom it took over from.
pub async fn take_mailbox(
    store: &Store,
    mailbox: &str,
    timing: LeaseTiming,
    shutdown: &CancellationToken,
) -> Option<FetchLease> {
    let mut told: Option<String> = None;
    while !shutdown.is_cancelled() {
        let me = this_process(store);
        match store
            .claim_fetch_lease(mailbox, &me, timing.hold, is_gone)
            .await
        {
            Ok(FetchLeaseClaim::Held { lease, replaced }) => {
                match replaced {
                    Some(h) => tracing::info!(
                        mailbox, token = lease.token, previous_pid = h.pid, previous_host = %h.host,
                        "took over fetching this mailbox from a serve that stopped renewing it"
                    ),
                    None => tracing::info!(mailbox, token = lease.token, "fetching this mailbox"),
                }
                return Some(lease);
            }
            Ok(FetchLeaseClaim::Refused(holder)) => {
                if told.as_deref() != Some(holder.run_id.as_str()) {
                    tracing::info!(
                        mailbox, pid = holder.pid, host = %holder.host,
                        "another serve fetches this mailbox; standing by to take over"
                    );
                    told = Some(holder.run_id);
                }
            }
            Err(e) => tracing::warn!(
                mailbox, error = %error_text(&e), "could not ask for the fetch lease; asking again"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(timing.every) => {}
            _ = shutdown.cancelled() => {}
        }
    }
    None
}

/// Renews `lease` every `timing.every` until `stop`; cancels `lost` once
/// another run holds the mailbox. A database that fails is asked again:
/// the hold may run out meanwhile, and is still ours unless taken over.
pub async fn keep_mailbox(
    store: Store,
    lease: FetchLease,
    timing: LeaseTiming,
    lost: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(timing.every) => {}
            _ = lost.cancelled() => return,
        }
        match store.renew_fetch_lease(&lease).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    mailbox = %lease.mailbox, token = lease.token,
                    "another serve took over fetching this mailbox (this one was stalled past imap.takeover_secs); standing by"
                );
                lost.cancel();
                return;
            }
            Err(e) => tracing::warn!(
                mailbox = %lease.mailbox, error = %error_text(&e),
                "could not renew the fetch lease; trying again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_holder_is_replaced_within_the_takeover_time() {
        let t = LeaseTiming::for_takeover(Duration::from_secs(30));
        assert_eq!(t.hold, Duration::from_secs(20));
        assert_eq!(t.every, Duration::from_secs(5));
        assert!(t.hold + t.every < Duration::from_secs(30));
        assert!(t.every * 3 < t.hold, "a few renewals fit in one hold");
    }
}
