//! The fetch stage: IMAP intake.
//!
//! Select the mailbox, read UIDVALIDITY, fetch every UID past the stored
//! cursor in batches; each batch of raw messages is stored and the cursor
//! advanced in one transaction, and only after the commit are the messages
//! flagged `\Seen` (or moved to the processed folder). Nothing is deleted.
//! Caught up, it waits in IDLE (or polls where the server has none) and
//! reconnects with backoff when the connection fails. It fetches only while
//! this run holds the mailbox's fetch lease (`lease`), which fences every
//! stored batch.
//!
//! Owns: the IMAP session and the fetch loop. Does not own: the cursor's
//! storage (`store::cursors`) or what happens to a message next (`process`).

pub mod connect;
pub mod first_start;
pub mod lease;
mod uidset;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff::backoff_delay;
use crate::config::ImapConfig;
use crate::error_text::error_text;
use crate::store::{
    now_ms, FetchLease, FetchedMessage, FirstRead, Store, StoreError, StoreOutcome,
};
use crate::telemetry::{Stage, Telemetry};
use connect::{connect, tls_config, with_timeout, ImapSession};
use first_start::{count_unanswered, first_start_line, is_handled, AckBoundary, Arrival};
use lease::{take_mailbox, LeaseTiming};
pub use uidset::{uid_set, uid_sets};

/// What caused a fetch error, kept as its `source()`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why fetching stopped; every arm but `Config` and `Store` is retried.
/// The message says what failed; the cause (an I/O, TLS or IMAP error) is
/// the `source()`, so [`error_text`] shows both.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("IMAP config: {what}")]
    Config {
        what: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("cannot connect to the IMAP server {what}")]
    Connect {
        what: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("TLS handshake with {host} failed (is the server's certificate signed by a trusted CA? see imap.ca_file)")]
    Tls {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("IMAP login failed for {account}")]
    Login {
        account: String,
        #[source]
        source: async_imap::error::Error,
    },
    /// No access token for `imap.auth = "oauth2"`; retried with backoff
    /// (the token source has its own), as a revoked token is fixed by
    /// `supplyline oauth login` while `serve` runs.
    #[error("IMAP login: no OAuth2 access token")]
    OAuth(#[from] crate::oauth::OAuthError),
    #[error("IMAP timeout: {0}")]
    Timeout(String),
    #[error("IMAP: {what}")]
    Protocol {
        what: String,
        #[source]
        source: Option<Cause>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FetchError {
    /// The config cannot work: `what` in it, and why.
    pub fn config(what: impl Into<String>, source: impl Into<Cause>) -> FetchError {
        FetchError::Config {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// The server did something we cannot go on from.
    pub fn protocol(what: impl Into<String>, source: Option<Cause>) -> FetchError {
        FetchError::Protocol {
            what: what.into(),
            source,
        }
    }
}

impl From<async_imap::error::Error> for FetchError {
    fn from(e: async_imap::error::Error) -> Self {
        FetchError::protocol("a command failed", Some(e.into()))
    }
}

/// At most this many messages, and this many bytes, per UID FETCH batch.
const BATCH_MESSAGES: usize = 250;
const BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// A batch larger than this is stored before the next one is downloaded.
const OVERLAP_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Passes a message may be missing from the server's answers before the
/// cursor moves past it.
const MAX_MISSES: u32 = 3;
/// The longest UID set in one STORE or MOVE command, so its line stays
/// well under 8 KiB; consecutive UIDs are one range however many.
const MARK_SET_BYTES: usize = 4000;

/// What a background store of one batch gives back: which were truncated, and the outcomes.
type StoreResult = Result<(Vec<bool>, Vec<StoreOutcome>), FetchError>;
/// Re-issue IDLE at least this often (servers drop IDLE after ~30 min).
const IDLE_RENEW: Duration = Duration::from_secs(4 * 60);

/// What one pass over the mailbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchReport {
    pub stored: usize,
    pub duplicates: usize,
    pub oversize: usize,
    /// Messages listed that the server did not send when asked: asked for
    /// again on the next pass, since the cursor stays below them.
    pub missing: usize,
    /// The server announced new mail while this pass ran.
    pub more_waiting: bool,
}

/// The fetch stage for one mailbox.
pub struct Fetcher {
    store: Store,
    cfg: ImapConfig,
    tls: Arc<rustls::ClientConfig>,
    /// Woken after each stored batch, so processing starts at once.
    stored: Arc<Notify>,
    /// Passes in which a listed message was asked for and not sent, by
    /// (UIDVALIDITY, UID).
    misses: std::sync::Mutex<HashMap<(u32, u32), u32>>,
    /// Passes, stored messages, reconnects and database health.
    telemetry: Telemetry,
    /// Rung by the new-mail hook (a server's push): read the mailbox now,
    /// without waiting for the server's IDLE notification.
    woken: Option<Arc<Notify>>,
    /// The mailbox's fetch lease while this run holds it: every stored
    /// batch is fenced by it.
    lease: std::sync::Mutex<Option<FetchLease>>,
}

/// What one pass has done so far.
#[derive(Default)]
struct Pass {
    report: FetchReport,
    /// The previous batch, still being stored.
    storing: Option<tokio::task::JoinHandle<StoreResult>>,
    /// UIDs downloaded (to flag once all is committed).
    received: Vec<u32>,
    /// UIDs asked for and not sent, not given up on.
    missing: Vec<u32>,
    /// The server announced new mail meanwhile.
    news: bool,
}

impl Fetcher {
    pub fn new(store: Store, cfg: ImapConfig, stored: Arc<Notify>) -> Result<Fetcher, FetchError> {
        let tls = tls_config(&cfg)?;
        Ok(Fetcher {
            store,
            cfg,
            tls,
            stored,
            misses: Default::default(),
            telemetry: Telemetry::default(),
            woken: None,
            lease: Default::default(),
        })
    }

    /// Counts into `serve`'s metrics instead of a set of its own.
    pub fn with_telemetry(mut self, telemetry: Telemetry) -> Fetcher {
        self.telemetry = telemetry;
        self
    }

    /// Also reads the mailbox whenever `wake` is notified (the new-mail hook).
    pub fn woken_by(mut self, wake: Arc<Notify>) -> Fetcher {
        self.woken = Some(wake);
        self
    }

    /// Completes when the new-mail hook rings; never without a hook.
    async fn pushed(&self) {
        match &self.woken {
            Some(wake) => wake.notified().await,
            None => std::future::pending().await,
        }
    }

    /// Opens a session (for tests and `check-config`).
    pub async fn connect(&self) -> Result<ImapSession, FetchError> {
        connect(&self.cfg, self.tls.clone()).await
    }

    /// Runs until `shutdown`: waits until this run holds the mailbox's
    /// fetch lease (several `serve` may share the database; one fetches),
    /// fetches while it holds it, and stands by again if another run takes
    /// it over. A clean stop gives the mailbox up at once.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), FetchError> {
        let timing = LeaseTiming::for_takeover(Duration::from_secs(self.cfg.takeover_secs));
        let mailbox = self.cfg.mailbox.clone();
        while let Some(lease) = take_mailbox(&self.store, &mailbox, timing, &shutdown).await {
            self.telemetry.fetching();
            *self.held() = Some(lease.clone());
            let lost = shutdown.child_token();
            let keeper =
                lease::keep_mailbox(self.store.clone(), lease.clone(), timing, lost.clone());
            let keeper = tokio::spawn(keeper);
            let result = self.fetch_while_held(&lost).await;
            lost.cancel();
            let _ = keeper.await;
            *self.held() = None;
            if shutdown.is_cancelled() || result.is_err() {
                if let Err(e) = self.store.release_fetch_lease(&lease).await {
                    tracing::warn!(error = %error_text(&e), "could not give up the fetch lease");
                }
                return result;
            }
            self.telemetry.standing_by();
        }
        Ok(())
    }

    /// The lease this run holds now, if any.
    fn held(&self) -> std::sync::MutexGuard<'_, Option<FetchLease>> {
        self.lease.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connect, catch up, wait for news, repeat, until `lost` (the lease
    /// lost, or shutdown); reconnects with backoff (which also ends then).
    /// A database locked past its busy timeout is waited out the same way:
    /// nothing was flagged or moved, so the messages are read again.
    async fn fetch_while_held(&self, lost: &CancellationToken) -> Result<(), FetchError> {
        let mut reconnect = Reconnect::default();
        while !lost.is_cancelled() {
            let result = tokio::select! {
                r = self.session_loop(lost, &mut reconnect) => r,
                _ = lost.cancelled() => Ok(()),
            };
            let delay = match result {
                Ok(()) => return Ok(()),
                Err(FetchError::Store(e @ StoreError::FetchLeaseLost { .. })) => {
                    // Nothing of the batch was stored, so nothing is flagged.
                    tracing::warn!(error = %e, "standing by");
                    lost.cancel();
                    return Ok(());
                }
                Err(FetchError::Store(e)) if e.is_busy() => {
                    let delay = reconnect.failed();
                    tracing::error!(error = %e, retry_in = ?delay, "database busy; fetching again later");
                    delay
                }
                Err(FetchError::Store(e)) => {
                    // Disk full, an I/O error: nothing was flagged, so the
                    // messages are read again once the database takes them.
                    self.telemetry.database(Stage::Fetch, false);
                    let delay = reconnect.failed();
                    tracing::error!(error = %error_text(&e), retry_in = ?delay, "database error; fetching again later");
                    delay
                }
                Err(e @ FetchError::Config { .. }) => return Err(e),
                Err(e) => {
                    let error = error_text(&e);
                    self.telemetry.imap_reconnect(error.clone());
                    let delay = reconnect.failed();
                    tracing::warn!(%error, retry_in = ?delay, "IMAP connection lost; reconnecting");
                    delay
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = lost.cancelled() => return Ok(()),
            }
        }
        Ok(())
    }

    async fn session_loop(
        &self,
        shutdown: &CancellationToken,
        reconnect: &mut Reconnect,
    ) -> Result<(), FetchError> {
        let mut session = self.connect().await?;
        let timeout = self.timeout();
        let caps = with_timeout(timeout, "CAPABILITY", session.capabilities()).await??;
        let idle = self.cfg.idle && caps.has_str("IDLE");
        tracing::info!(host = %self.cfg.host, mailbox = %self.cfg.mailbox, idle, "IMAP connected");
        loop {
            let report = self.fetch_new(&mut session).await?;
            reconnect.worked();
            self.telemetry.imap_pass(report.stored);
            self.telemetry.database(Stage::Fetch, true);
            if report.stored + report.oversize > 0 {
                tracing::info!(?report, "fetched");
            }
            let news = report.more_waiting | drain_unsolicited(&mut session);
            if shutdown.is_cancelled() {
                let _ = with_timeout(timeout, "LOGOUT", session.logout()).await;
                return Ok(());
            }
            session = if news {
                // New mail arrived while we were busy: fetch again now.
                session
            } else if idle {
                self.idle(session, shutdown).await?
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(self.cfg.poll_interval_secs)) => {}
                    _ = self.pushed() => {}
                    _ = shutdown.cancelled() => {}
                }
                session
            };
        }
    }

    /// Waits in IDLE until the server reports news, the new-mail hook rings,
    /// IDLE is due for renewal, or shutdown; returns the session ready for
    /// commands again.
    async fn idle(
        &self,
        session: ImapSession,
        shutdown: &CancellationToken,
    ) -> Result<ImapSession, FetchError> {
        let mut handle = session.idle();
        with_timeout(self.timeout(), "IDLE", handle.init()).await??;
        {
            let (wait, stop) = handle.wait_with_timeout(IDLE_RENEW);
            tokio::select! {
                r = tokio::time::timeout(IDLE_RENEW, wait) => {
                    if let Ok(r) = r {
                        r?;
                    }
                }
                _ = self.pushed() => {}
                _ = shutdown.cancelled() => {}
            }
            drop(stop);
        }
        Ok(with_timeout(self.timeout(), "DONE", handle.done()).await??)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.timeout_secs)
    }

    /// One pass: store every message past the cursor, batch by batch.
    pub async fn fetch_new(&self, session: &mut ImapSession) -> Result<FetchReport, FetchError> {
        let mailbox = &self.cfg.mailbox;
        let selected = with_timeout(self.timeout(), "SELECT", session.select(mailbox)).await??;
        let uidvalidity = selected.uid_validity.ok_or_else(|| {
            FetchError::protocol(format!("{mailbox}: the server sent no UIDVALIDITY"), None)
        })?;
        let last_uid = self.cursor_for(uidvalidity).await?;
        let boundary = self.ack_boundary(session, uidvalidity, &selected).await?;
        if selected.exists == 0 {
            return Ok(FetchReport::default());
        }
        let pending = self.list_new(session, last_uid).await?;
        let mut pass = Pass::default();
        for batch in batches(&pending, self.cfg.max_message_bytes) {
            self.fetch_batch(session, batch, (uidvalidity, &boundary), &mut pass)
                .await?;
        }
        if let Some(previous) = pass.storing.take() {
            self.tally(previous, &mut pass.report).await?;
        }
        if !pass.missing.is_empty() {
            tracing::warn!(
                mailbox,
                missing = ?pass.missing,
                "the server did not send every message asked for; asking again next pass"
            );
            pass.report.missing = pass.missing.len();
        }
        // Everything received is committed now: flag or move it.
        for set in uid_sets(&pass.received, MARK_SET_BYTES) {
            self.mark_done(session, &set).await?;
            pass.news |= drain_unsolicited(session);
        }
        pass.report.more_waiting = pass.news;
        Ok(pass.report)
    }

    /// What decides which messages are acknowledged: the mailbox's first
    /// read, recorded now (with one line in the log saying what will
    /// happen) when this is it.
    async fn ack_boundary(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        selected: &async_imap::types::Mailbox,
    ) -> Result<AckBoundary, FetchError> {
        let mailbox = &self.cfg.mailbox;
        let since = self.cfg.acknowledge_since_ms();
        if let Some(first) = self.store.first_read(mailbox).await? {
            return Ok(AckBoundary { first, since });
        }
        // Read before by a version that kept no first read: what arrived
        // past its cursor since is new mail, as it would have been then.
        let earlier = self
            .store
            .cursor(mailbox)
            .await?
            .filter(|c| c.uidvalidity == uidvalidity && c.last_uid > 0);
        let uidnext = match (earlier, selected.uid_next) {
            (Some(cursor), _) => cursor.last_uid + 1,
            (None, Some(next)) => next,
            (None, None) => self.highest_uid(session).await? + 1,
        };
        let read = FirstRead {
            uidvalidity,
            uidnext,
            existing: if earlier.is_some() {
                0
            } else {
                selected.exists as i64
            },
            read_at: now_ms(),
        };
        let (first, recorded) = self.store.record_first_read(mailbox, &read).await?;
        if recorded && earlier.is_some() {
            tracing::info!(
                mailbox,
                "read before: mail past the last message stored is acknowledged as usual"
            );
        } else if recorded {
            let unanswered =
                count_unanswered(session, selected.exists, since, self.timeout()).await?;
            let since_text = self.cfg.acknowledge_since.as_deref();
            tracing::info!(
                "first read: {}",
                first_start_line(mailbox, unanswered, since_text)
            );
        }
        Ok(AckBoundary { first, since })
    }

    /// The highest UID in the selected mailbox (0 when empty), for a server
    /// that sends no UIDNEXT.
    async fn highest_uid(&self, session: &mut ImapSession) -> Result<u32, FetchError> {
        let uids = with_timeout(self.timeout(), "UID SEARCH", session.uid_search("ALL")).await??;
        Ok(uids.into_iter().max().unwrap_or(0))
    }

    /// The last UID stored from this mailbox, 0 when its UIDVALIDITY changed.
    async fn cursor_for(&self, uidvalidity: u32) -> Result<u32, FetchError> {
        let mailbox = &self.cfg.mailbox;
        Ok(match self.store.cursor(mailbox).await? {
            Some(c) if c.uidvalidity == uidvalidity => c.last_uid,
            Some(c) => {
                tracing::warn!(
                    mailbox,
                    old = c.uidvalidity,
                    new = uidvalidity,
                    "UIDVALIDITY changed; reading the mailbox again"
                );
                let lease = self.held().clone();
                self.store
                    .reset_cursor(mailbox, uidvalidity, lease.as_ref())
                    .await?;
                0
            }
            None => 0,
        })
    }

    /// Downloads one batch and starts storing it. Storing batch k overlaps
    /// downloading batch k+1 (the database and the IMAP server work at the
    /// same time), except for large batches, which take their turn.
    async fn fetch_batch(
        &self,
        session: &mut ImapSession,
        batch: &[(u32, u64)],
        (uidvalidity, boundary): (u32, &AckBoundary),
        pass: &mut Pass,
    ) -> Result<(), FetchError> {
        let large = listed_bytes(batch, self.cfg.max_message_bytes) > OVERLAP_MAX_BYTES as u64;
        let turn = match large {
            true => Some(self.store.large_message_turn().await),
            false => None,
        };
        let fetched = self
            .download(session, batch, (uidvalidity, boundary))
            .await?;
        if let Some(previous) = pass.storing.take() {
            self.tally(previous, &mut pass.report).await?;
        }
        let got: Vec<u32> = fetched.iter().map(|m| m.uid).collect();
        let missing: Vec<u32> = batch
            .iter()
            .map(|(uid, _)| *uid)
            .filter(|uid| !got.contains(uid))
            .collect();
        // A message the server keeps not sending stops holding back the cursor.
        let given_up = self.give_up_on(uidvalidity, &missing);
        let passed: Vec<u32> = got.iter().chain(&given_up).copied().collect();
        let through = complete_through(batch, &passed).filter(|_| pass.missing.is_empty());
        pass.missing
            .extend(missing.iter().filter(|uid| !given_up.contains(uid)));
        pass.received.extend(got);
        let store = self.store.clone();
        let lease = self.held().clone();
        let task = tokio::spawn(async move {
            let truncated: Vec<bool> = fetched.iter().map(|m| m.truncated).collect();
            let stored = store
                .store_fetched(fetched, through, lease.as_ref())
                .await?;
            Ok((truncated, stored))
        });
        if turn.is_some() {
            // Stored before the next download starts, so two large
            // messages are never in memory at once.
            self.tally(task, &mut pass.report).await?;
            drop(turn);
        } else {
            pass.storing = Some(task);
        }
        pass.news |= drain_unsolicited(session);
        Ok(())
    }

    /// Counts one more pass in which each of `missing` was asked for and not
    /// sent; returns those missed [`MAX_MISSES`] times, which the cursor may
    /// then pass. They stay in the mailbox, unflagged, named in the log.
    fn give_up_on(&self, uidvalidity: u32, missing: &[u32]) -> Vec<u32> {
        let mut misses = self.misses.lock().unwrap_or_else(|e| e.into_inner());
        let mut given_up = Vec::new();
        for &uid in missing {
            let count = misses.entry((uidvalidity, uid)).or_default();
            *count += 1;
            if *count >= MAX_MISSES {
                misses.remove(&(uidvalidity, uid));
                tracing::error!(
                    mailbox = %self.cfg.mailbox,
                    uid,
                    passes = MAX_MISSES,
                    "the server never sent this message; left in the mailbox unflagged for an operator"
                );
                given_up.push(uid);
            }
        }
        given_up
    }

    /// Waits for one batch's commit, counts it, and wakes the process stage.
    async fn tally(
        &self,
        storing: tokio::task::JoinHandle<StoreResult>,
        report: &mut FetchReport,
    ) -> Result<(), FetchError> {
        let (truncated, outcomes) = storing
            .await
            .map_err(|e| FetchError::protocol("storing a batch stopped", Some(e.into())))??;
        for (truncated, outcome) in truncated.iter().zip(&outcomes) {
            match outcome {
                StoreOutcome::Duplicate => report.duplicates += 1,
                StoreOutcome::Stored(_) if *truncated => report.oversize += 1,
                StoreOutcome::Stored(_) => report.stored += 1,
            }
        }
        self.stored.notify_one();
        Ok(())
    }

    /// (UID, size) of every message past `last_uid`.
    async fn list_new(
        &self,
        session: &mut ImapSession,
        last_uid: u32,
    ) -> Result<Vec<(u32, u64)>, FetchError> {
        let query = format!("{}:*", last_uid.saturating_add(1));
        let list = with_timeout(self.timeout(), "UID FETCH sizes", async {
            let stream = session.uid_fetch(&query, "(UID RFC822.SIZE)").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await??;
        // `n:*` always returns the last message, even below n: filter.
        let mut out: Vec<(u32, u64)> = list
            .iter()
            .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0) as u64)))
            .filter(|(uid, _)| *uid > last_uid)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Downloads one batch: whole messages, or headers only for oversize ones.
    async fn download(
        &self,
        session: &mut ImapSession,
        batch: &[(u32, u64)],
        (uidvalidity, boundary): (u32, &AckBoundary),
    ) -> Result<Vec<FetchedMessage>, FetchError> {
        let limit = self.cfg.max_message_bytes;
        let (small, large): (Vec<_>, Vec<_>) = batch.iter().partition(|(_, size)| *size <= limit);
        let mut out = Vec::with_capacity(batch.len());
        for (set, query, truncated) in [
            (
                small,
                "(UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[])",
                false,
            ),
            (
                large,
                "(UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[HEADER])",
                true,
            ),
        ] {
            if set.is_empty() {
                continue;
            }
            let uids: Vec<u32> = set.iter().map(|(u, _)| *u).collect();
            let mailbox = &self.cfg.mailbox;
            with_timeout(self.timeout() * 4, "UID FETCH bodies", async {
                let mut stream = session.uid_fetch(uid_set(&uids), query).await?;
                // Copy each message out and drop its response at once, so a
                // batch is held in memory once, not twice.
                while let Some(f) = stream.try_next().await? {
                    let Some(uid) = f.uid.filter(|u| uids.contains(u)) else {
                        continue;
                    };
                    let raw = if truncated { f.header() } else { f.body() };
                    let Some(raw) = raw else { continue };
                    let arrival = Arrival {
                        uidvalidity,
                        uid,
                        handled: is_handled(&f),
                        received_at: f.internal_date().map(|t| t.timestamp_millis()),
                    };
                    out.push(FetchedMessage {
                        no_reply_reason: boundary.no_reply_reason(&arrival),
                        mailbox: mailbox.clone(),
                        uidvalidity,
                        uid,
                        raw: raw.to_vec(),
                        size: f.size.map(u64::from).unwrap_or(raw.len() as u64),
                        truncated,
                    });
                }
                Ok::<_, async_imap::error::Error>(())
            })
            .await??;
        }
        out.sort_by_key(|m| m.uid);
        Ok(out)
    }

    /// After the commit: flag `\Seen`, or move to the processed folder.
    async fn mark_done(&self, session: &mut ImapSession, set: &str) -> Result<(), FetchError> {
        match &self.cfg.processed_folder {
            Some(folder) => {
                with_timeout(self.timeout() * 4, "UID MOVE", session.uid_mv(set, folder)).await??
            }
            None => {
                with_timeout(self.timeout() * 4, "UID STORE", async {
                    let stream = session.uid_store(set, "+FLAGS.SILENT (\\Seen)").await?;
                    stream.try_collect::<Vec<_>>().await.map(|_| ())
                })
                .await??
            }
        }
        Ok(())
    }
}

/// The delays between reconnects: doubling from [`RECONNECT_MIN`] up to
/// [`RECONNECT_MAX`] while sessions keep failing, back to the minimum once
/// a session has read the mailbox through, so one cut costs one short wait
/// however many came before, and a failure that recurs after every login
/// (a missing mailbox) does not log in again every second.
#[derive(Debug, Default)]
struct Reconnect {
    failures: u32,
}

const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(60);

impl Reconnect {
    /// A session failed or could not be opened: how long to wait.
    fn failed(&mut self) -> Duration {
        self.failures += 1;
        backoff_delay(self.failures, RECONNECT_MIN, RECONNECT_MAX, rand::random())
    }

    /// A session read the mailbox through.
    fn worked(&mut self) {
        self.failures = 0;
    }
}

/// Empties the session's queue of unsolicited responses (it is bounded and
/// blocks the session when full) and tells whether any announced new mail.
fn drain_unsolicited(session: &mut ImapSession) -> bool {
    let mut news = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        news |= matches!(
            response,
            async_imap::types::UnsolicitedResponse::Exists(_)
                | async_imap::types::UnsolicitedResponse::Recent(_)
        );
    }
    news
}

/// The bytes a batch will download: whole messages, headers only (counted
/// as nothing) for those over the size limit.
fn listed_bytes(batch: &[(u32, u64)], max_message: u64) -> u64 {
    batch
        .iter()
        .map(|(_, size)| *size)
        .filter(|size| *size <= max_message)
        .sum()
}

/// The highest UID of `batch` (sorted) up to which every message was
/// received: where the cursor may go. None when the first was not.
fn complete_through(batch: &[(u32, u64)], received: &[u32]) -> Option<u32> {
    batch
        .iter()
        .map(|(uid, _)| *uid)
        .take_while(|uid| received.contains(uid))
        .last()
}

/// Splits (UID, size) pairs into batches bounded by count and bytes; a
/// message over the size limit counts only its headers.
fn batches(pending: &[(u32, u64)], max_message: u64) -> Vec<&[(u32, u64)]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, (_, size)) in pending.iter().enumerate() {
        let size = if *size > max_message { 0 } else { *size };
        if i > start && (i - start >= BATCH_MESSAGES || bytes + size > BATCH_BYTES) {
            out.push(&pending[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < pending.len() {
        out.push(&pending[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_waits_longer_while_failing_and_starts_over_once_a_session_worked() {
        let mut reconnect = Reconnect::default();
        let first = reconnect.failed();
        assert!(first <= RECONNECT_MIN, "{first:?}");
        let waits: Vec<Duration> = (0..3).map(|_| reconnect.failed()).collect();
        assert!(waits[2] > Duration::from_secs(6), "{waits:?}");
        for _ in 0..20 {
            reconnect.failed();
        }
        assert!(reconnect.failed() <= RECONNECT_MAX);
        reconnect.worked();
        assert!(reconnect.failed() <= RECONNECT_MIN);
    }

    #[tokio::test]
    async fn a_message_missing_from_three_passes_stops_holding_back_the_cursor() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let cfg: ImapConfig =
            toml::from_str("host = \"localhost\"\nusername = \"desk@example.org\"\n").unwrap();
        let fetcher = Fetcher::new(store, cfg, Arc::new(Notify::new())).unwrap();
        assert!(fetcher.give_up_on(7, &[4, 9]).is_empty());
        assert!(fetcher.give_up_on(7, &[4]).is_empty());
        assert!(
            fetcher.give_up_on(8, &[4]).is_empty(),
            "another UIDVALIDITY"
        );
        assert_eq!(fetcher.give_up_on(7, &[4, 9]), vec![4]);
        assert_eq!(fetcher.give_up_on(7, &[9]), vec![9]);
    }

    #[test]
    fn the_cursor_stops_below_a_message_the_server_did_not_send() {
        let batch: Vec<(u32, u64)> = [3, 5, 8, 9].iter().map(|&u| (u, 100)).collect();
        assert_eq!(complete_through(&batch, &[3, 5, 8, 9]), Some(9));
        assert_eq!(complete_through(&batch, &[9, 3, 5]), Some(5));
        assert_eq!(complete_through(&batch, &[5, 8, 9]), None);
        assert_eq!(complete_through(&batch, &[]), None);
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let many: Vec<(u32, u64)> = (1..=600).map(|u| (u, 4096)).collect();
        let b = batches(&many, 1 << 30);
        assert_eq!(
            b.iter().map(|x| x.len()).collect::<Vec<_>>(),
            vec![250, 250, 100]
        );
        let big: Vec<(u32, u64)> = (1..=3).map(|u| (u, 20 << 20)).collect();
        assert_eq!(batches(&big, 1 << 30).len(), 3);
        assert_eq!(
            batches(&big, 1 << 20).len(),
            1,
            "oversize ones only fetch headers"
        );
        assert!(batches(&[], 1).is_empty());
    }
}
