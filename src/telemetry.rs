//! What an operator's monitoring sees: the Prometheus metrics registry, the
//! handles the stages count with, and the health facts `/readyz` judges.
//!
//! Owns: metric names and help texts, the readiness verdict and its
//! reasons. Does not own: serving them over HTTP (`web::health`) or the
//! queries behind the figures read at scrape time (`store::health`).
//!
//! One [`Telemetry`] per `serve` (cheap to clone); the stages get it at
//! start. Counters move as work is done; the figures that live in the
//! database (messages and replies by state, the oldest waiting reply) are
//! read when `/metrics` is scraped, so they are never out of date.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::outbox::SendOutcome;
use crate::process::ProcessOutcome;
use crate::store::{now_ms, Store};

/// The stages' counters and the health facts of one running `serve`.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Mutex<Registry>,
    messages_stored: Counter,
    messages_processed: Counter,
    messages_failed: Counter,
    imap_reconnects: Counter,
    imap_last_pass: Gauge<f64, AtomicU64>,
    replies: Family<OutcomeLabels, Counter>,
    send_seconds: Histogram,
    web_seconds: Family<RouteLabels, Histogram>,
    messages_by_state: Family<StateLabels, Gauge>,
    replies_by_state: Family<StateLabels, Gauge>,
    oldest_waiting_reply: Gauge<f64, AtomicU64>,
    search_pending: Gauge,
    health: Health,
}

/// What `/readyz` needs beyond a database probe.
#[derive(Default)]
struct Health {
    /// When the last IMAP pass read the mailbox through (ms; 0: never).
    last_imap_pass_ms: AtomicI64,
    /// Whether `serve` fetches at all (no `[imap]`: the age is not judged).
    fetching: AtomicBool,
    /// Why the IMAP connection failed, until a pass works again.
    imap_lost: Mutex<Option<String>>,
    /// The SMTP server at the last attempt; see [`SmtpSeen`].
    smtp: AtomicU8,
    /// Stages whose last database call failed (bit per stage).
    database_failing: AtomicU8,
}

/// What the last attempt to hand a reply to SMTP showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SmtpSeen {
    /// No reply has been tried since start.
    Unknown = 0,
    /// The server answered (accepted or refused the reply).
    Answered = 1,
    /// The reply was deferred: no connection, a timeout, a 4xx, TLS.
    Deferred = 2,
}

/// A stage that talks to the database, for [`Telemetry::database`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Fetch = 0,
    Process = 1,
    Send = 2,
    /// The search indexer (PostgreSQL).
    Index = 3,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Process => "process",
            Stage::Send => "send",
            Stage::Index => "search index",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

fn send_histogram() -> Histogram {
    // 5 ms to about 80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

fn web_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

impl Telemetry {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Telemetry {
        let inner = Inner {
            registry: Mutex::new(Registry::with_prefix("supplyline")),
            messages_stored: Counter::default(),
            messages_processed: Counter::default(),
            messages_failed: Counter::default(),
            imap_reconnects: Counter::default(),
            imap_last_pass: Gauge::default(),
            replies: Family::default(),
            send_seconds: send_histogram(),
            web_seconds: Family::new_with_constructor(web_histogram as fn() -> Histogram),
            messages_by_state: Family::default(),
            replies_by_state: Family::default(),
            oldest_waiting_reply: Gauge::default(),
            search_pending: Gauge::default(),
            health: Health::default(),
        };
        inner.register();
        Telemetry {
            inner: Arc::new(inner),
        }
    }

    /// A fetch pass stored `stored` new messages and read the mailbox through.
    pub fn imap_pass(&self, stored: usize) {
        self.inner.messages_stored.inc_by(stored as u64);
        let now = now_ms();
        self.inner
            .health
            .last_imap_pass_ms
            .store(now, Ordering::Relaxed);
        self.inner.imap_last_pass.set(now as f64 / 1000.0);
        *self.imap_lost() = None;
    }

    /// The IMAP connection failed with `error` and is opened again:
    /// `/readyz` fails until a pass reads the mailbox through.
    pub fn imap_reconnect(&self, error: String) {
        self.inner.imap_reconnects.inc();
        *self.imap_lost() = Some(error);
    }

    fn imap_lost(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.inner
            .health
            .imap_lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// `serve` runs a fetch stage: `/readyz` judges the age of its last pass.
    pub fn fetching(&self) {
        self.inner.health.fetching.store(true, Ordering::Relaxed);
    }

    /// Another `serve` holds the mailbox and this one stands by: its own
    /// passes are not due, so `/readyz` does not judge them.
    pub fn standing_by(&self) {
        self.inner.health.fetching.store(false, Ordering::Relaxed);
    }

    /// Counts what one process batch did.
    pub fn processed(&self, batch: &[ProcessOutcome]) {
        for outcome in batch {
            match outcome {
                ProcessOutcome::Failed { .. } => self.inner.messages_failed.inc(),
                _ => self.inner.messages_processed.inc(),
            };
        }
    }

    /// One reply handed to the transport: its outcome and how long it took.
    pub fn reply(&self, outcome: SendOutcome, took: Duration) {
        let (label, seen) = match outcome {
            SendOutcome::Sent => ("sent", SmtpSeen::Answered),
            SendOutcome::Failed => ("failed", SmtpSeen::Answered),
            SendOutcome::Deferred => ("deferred", SmtpSeen::Deferred),
            SendOutcome::Idle => return,
        };
        self.inner
            .replies
            .get_or_create(&OutcomeLabels { outcome: label })
            .inc();
        self.inner.send_seconds.observe(took.as_secs_f64());
        self.inner.health.smtp.store(seen as u8, Ordering::Relaxed);
    }

    /// A web request to `route` (the matched pattern, not the path) took `took`.
    pub fn web_request(&self, method: &str, route: &str, took: Duration) {
        let labels = RouteLabels {
            method: method.to_string(),
            route: route.to_string(),
        };
        self.inner
            .web_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// `stage`'s last database call worked (`ok`) or failed with an error
    /// other than a lock held elsewhere.
    pub fn database(&self, stage: Stage, ok: bool) {
        let bit = 1u8 << stage as u8;
        let failing = &self.inner.health.database_failing;
        match ok {
            true => failing.fetch_and(!bit, Ordering::Relaxed),
            false => failing.fetch_or(bit, Ordering::Relaxed),
        };
    }

    /// What the last attempt to send a reply showed.
    pub fn smtp_seen(&self) -> SmtpSeen {
        match self.inner.health.smtp.load(Ordering::Relaxed) {
            1 => SmtpSeen::Answered,
            2 => SmtpSeen::Deferred,
            _ => SmtpSeen::Unknown,
        }
    }

    /// Why `serve` is not ready, each reason one line; empty when ready.
    /// `database` is the result of a write probe made just now.
    pub fn unready_reasons(
        &self,
        database: Result<(), String>,
        imap_max_age: Duration,
    ) -> Vec<String> {
        let health = &self.inner.health;
        let mut reasons = Vec::new();
        if let Err(e) = database {
            reasons.push(format!("database not writable: {e}"));
        }
        let failing = health.database_failing.load(Ordering::Relaxed);
        for stage in [Stage::Fetch, Stage::Process, Stage::Send, Stage::Index] {
            if failing & (1 << stage as u8) != 0 {
                let name = stage.name();
                reasons.push(format!("the {name} stage's last database call failed"));
            }
        }
        if health.fetching.load(Ordering::Relaxed) {
            let last = health.last_imap_pass_ms.load(Ordering::Relaxed);
            let age = Duration::from_millis((now_ms() - last).max(0) as u64);
            if let Some(error) = self.imap_lost().as_ref() {
                reasons.push(format!("the IMAP connection failed: {error}"));
            } else if last == 0 {
                reasons.push("no IMAP pass has read the mailbox yet".into());
            } else if age > imap_max_age {
                reasons.push(format!(
                    "the last IMAP pass was {} s ago (metrics.imap_max_age_secs = {})",
                    age.as_secs(),
                    imap_max_age.as_secs()
                ));
            }
        }
        if self.smtp_seen() == SmtpSeen::Deferred {
            reasons.push("the SMTP server did not take the last reply (deferred)".into());
        }
        reasons
    }

    /// The metrics in the Prometheus text format (OpenMetrics 1.0), with the
    /// figures kept in the database read now.
    pub async fn render(&self, store: &Store) -> Result<String, crate::store::StoreError> {
        let figures = store.queue_figures().await?;
        let inner = &self.inner;
        for (state, n) in figures.messages {
            inner
                .messages_by_state
                .get_or_create(&StateLabels { state })
                .set(n);
        }
        for (state, n) in figures.replies {
            inner
                .replies_by_state
                .get_or_create(&StateLabels { state })
                .set(n);
        }
        let age = figures
            .oldest_waiting_reply_ms
            .map_or(0.0, |at| (now_ms() - at).max(0) as f64 / 1000.0);
        inner.oldest_waiting_reply.set(age);
        inner.search_pending.set(figures.search_pending);
        let mut text = String::new();
        let registry = inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        Ok(text)
    }
}

impl Inner {
    fn register(&self) {
        let mut r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        r.register(
            "messages_stored",
            "Messages fetched from the mailbox and stored",
            self.messages_stored.clone(),
        );
        r.register(
            "messages_processed",
            "Messages processed (an offer, a joined reply, a bounce or no offer)",
            self.messages_processed.clone(),
        );
        r.register(
            "messages_failed",
            "Messages that could not be processed (kept, state failed)",
            self.messages_failed.clone(),
        );
        r.register(
            "imap_reconnects",
            "Times the IMAP connection failed and was opened again",
            self.imap_reconnects.clone(),
        );
        r.register(
            "imap_last_pass_timestamp_seconds",
            "When an IMAP pass last read the mailbox through (Unix time; 0: never)",
            self.imap_last_pass.clone(),
        );
        r.register(
            "replies",
            "Replies handed to the transport, by outcome (sent, deferred, failed)",
            self.replies.clone(),
        );
        r.register(
            "send_duration_seconds",
            "Time to hand one reply to the transport, whatever the outcome",
            self.send_seconds.clone(),
        );
        r.register(
            "web_request_duration_seconds",
            "Web requests by method and matched route",
            self.web_seconds.clone(),
        );
        r.register(
            "messages_by_state",
            "Stored messages by state (received and processing are waiting)",
            self.messages_by_state.clone(),
        );
        r.register(
            "replies_by_state",
            "Replies by state (held, pending and sending are waiting)",
            self.replies_by_state.clone(),
        );
        r.register(
            "oldest_waiting_reply_age_seconds",
            "Age of the oldest reply pending or being sent (0: none)",
            self.oldest_waiting_reply.clone(),
        );
        r.register(
            "offers_waiting_for_search_index",
            "Offers written or changed since the search indexer last ran over them \
             (PostgreSQL; searches find them meanwhile)",
            self.search_pending.clone(),
        );
    }
}

/// Logs to stderr as `format` says, at `default_level` unless `RUST_LOG`
/// says otherwise. JSON: one object a line, the text in `message` and the
/// event's fields beside it (`message_id` for a stored message's row id,
/// `reply` for a reply's, `offer` for an offer's).
pub fn init_logs(format: crate::config::LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_level.into())
        // The protocol crates log raw commands (LOGIN, AUTH) at debug and
        // trace: never below info, whatever RUST_LOG says, so passwords
        // stay out of logs.
        .add_directive("async_imap=info".parse().expect("a valid directive"))
        .add_directive("lettre=info".parse().expect("a valid directive"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        crate::config::LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        crate::config::LogFormat::Human => {
            // Colour only on a terminal: a log file or journal gets plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            logs.with_ansi(ansi).init()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_names_each_reason_and_clears_when_work_succeeds() {
        let t = Telemetry::new();
        let day = Duration::from_secs(86_400);
        assert!(t.unready_reasons(Ok(()), day).is_empty());
        t.fetching();
        let reasons = t.unready_reasons(Err("disk full".into()), day);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("disk full"));
        assert!(reasons[1].contains("no IMAP pass"));
        t.imap_pass(3);
        t.database(Stage::Process, false);
        t.reply(SendOutcome::Deferred, Duration::from_millis(5));
        let reasons = t.unready_reasons(Ok(()), day);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("process"));
        assert!(reasons[1].contains("SMTP"));
        t.database(Stage::Process, true);
        t.reply(SendOutcome::Failed, Duration::from_millis(5));
        assert!(t.unready_reasons(Ok(()), day).is_empty());
        let reasons = t.unready_reasons(Ok(()), Duration::ZERO);
        assert!(
            reasons.is_empty() || reasons[0].contains("IMAP"),
            "{reasons:?}"
        );
    }
}
