//! Starting the stages together and stopping them cleanly.
//!
//! Each stage is a loop of its own that talks to the others only through
//! the database; a [`Notify`] per hand-off wakes the next stage at once so a
//! donor's acknowledgement does not wait for a poll interval. Shutdown is an
//! input: every loop selects on the token, and `serve` returns when the last
//! task has been joined.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff::backoff_delay;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::instance::Instance;
use crate::outbox::{
    Composer, Connection, ReplyPolicy, RetryPolicy, SendOutcome, Sender, Transport,
};
use crate::process::{ProcessOutcome, Processor, BATCH_MESSAGES};
use crate::rules::{ReplyNames, Rules};
use crate::store::{Engine, Store};
use crate::telemetry::{Stage, Telemetry};

/// How long an idle stage sleeps when nothing wakes it (a safety net only).
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// How often an idle sender looks for replies queued by other processes or the web UI.
const SEND_IDLE_CHECK: Duration = Duration::from_secs(2);
/// How often the search indexer looks for offers changed by staff or by
/// another `serve` (PostgreSQL; a processed batch wakes it at once).
const INDEX_IDLE_CHECK: Duration = Duration::from_secs(2);
/// Replies claimed at once by the sender (each is still recorded as it goes).
const SEND_BATCH: i64 = 16;

/// Loads the rules named by the config, or the built-in ones.
pub fn load_rules(config: &Config) -> anyhow::Result<Rules> {
    let rules = match &config.rules.dir {
        Some(dir) => {
            Rules::load_dir(dir).with_context(|| format!("loading rules from {}", dir.display()))
        }
        None => Rules::embedded().context("loading the built-in rules"),
    }?;
    Ok(rules.trusting_spam_headers(config.donations.trust_spam_headers))
}

/// Loads the item catalog (base units, pack sizes) of the configured rules,
/// or the built-in one.
pub fn load_catalog(config: &Config) -> anyhow::Result<crate::rules::catalog::Catalog> {
    use crate::rules::catalog::Catalog;
    match &config.rules.dir {
        Some(dir) => Catalog::load_dir(dir)
            .with_context(|| format!("reading the item catalog from {}", dir.display())),
        None => Catalog::embedded().context("reading the built-in item catalog"),
    }
}

/// Loads and checks the reply templates named by the config, with the
/// item names of the configured rules (or the built-in ones).
pub fn load_composer(config: &Config) -> anyhow::Result<Composer> {
    let d = &config.donations;
    let names = match &config.rules.dir {
        Some(dir) => ReplyNames::load_dir(dir)
            .with_context(|| format!("reading item names from {}", dir.display()))?,
        None => ReplyNames::embedded().context("reading the built-in item names")?,
    };
    Composer::with_names(
        config.templates.dir.as_deref(),
        &d.address,
        &d.name,
        d.message_id_domain.as_deref(),
        names,
    )
    .context("loading reply templates")
}

/// The transport the config asks for: a folder, or SMTP.
pub fn transport(config: &Config) -> anyhow::Result<Transport> {
    if let Some(dir) = &config.outbox.write_to_dir {
        return Ok(Transport::Directory(dir.clone()));
    }
    match &config.smtp {
        Some(smtp) => Transport::smtp(smtp),
        None => anyhow::bail!(
            "no [smtp] section and no outbox.write_to_dir: replies would have nowhere to go"
        ),
    }
}

/// The process and send stages, built from one config.
pub struct Stages {
    pub store: Store,
    pub processor: Processor,
    pub sender: Sender,
}

/// Gives the database the catalog's pack sizes, with which it normalises
/// item lines; lines already stored are normalised again when they changed.
pub async fn load_pack_sizes(config: &Config, store: &Store) -> anyhow::Result<()> {
    let changed = store
        .load_pack_sizes(&load_catalog(config)?.pack_sizes())
        .await
        .context("loading the catalog's pack sizes")?;
    if changed > 0 {
        tracing::info!(
            items = changed,
            "pack sizes changed: stored item lines normalised again"
        );
    }
    Ok(())
}

impl Stages {
    pub async fn build(config: &Config, store: Store) -> anyhow::Result<Stages> {
        if let Some(dir) = &config.outbox.write_to_dir {
            crate::files::create_private_dir(dir)
                .with_context(|| format!("creating {} (outbox.write_to_dir)", dir.display()))?;
        }
        let rules = Arc::new(load_rules(config)?);
        let composer = Arc::new(load_composer(config)?);
        load_pack_sizes(config, &store).await?;
        let from = config
            .donations
            .address
            .parse()
            .context("donations.address")?;
        let processor = Processor::new(
            store.clone(),
            rules,
            composer,
            ReplyPolicy::from(&config.donations),
        );
        let sender = Sender::new(
            store.clone(),
            transport(config)?,
            from,
            RetryPolicy::from(&config.outbox),
        );
        Ok(Stages {
            store,
            processor,
            sender,
        })
    }

    /// The same stages counting into `telemetry`.
    pub fn with_telemetry(self, telemetry: Telemetry) -> Stages {
        Stages {
            sender: self.sender.with_telemetry(telemetry),
            ..self
        }
    }

    /// Processes until nothing waits; returns what each step did.
    pub async fn process_all(&self) -> anyhow::Result<Vec<ProcessOutcome>> {
        let mut done = Vec::new();
        loop {
            let batch = self.processor.process_batch(BATCH_MESSAGES).await?;
            if batch.is_empty() {
                return Ok(done);
            }
            done.extend(batch);
        }
    }

    /// Sends every reply that is due now.
    pub async fn send_all(&self) -> anyhow::Result<Vec<SendOutcome>> {
        let mut done = Vec::new();
        loop {
            let sent = self.sender.send_batch(SEND_BATCH).await?;
            if sent.is_empty() {
                return Ok(done);
            }
            done.extend(sent);
        }
    }
}

/// Opens the database named by the config, its claims lasting
/// `database.lease_secs`. Claims are left alone: only `serve`, holding the
/// database, puts back those whose owner is gone ([`take_database`]).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let busy_timeout = Duration::from_secs(config.database.busy_timeout_secs);
    let url = config.database.connect_url().map_err(anyhow::Error::msg)?;
    let store = Store::open_with(&url, busy_timeout)
        .await
        .context("opening the database")?;
    Ok(store.with_lease(Duration::from_secs(config.database.lease_secs)))
}

/// For a PostgreSQL database, its TLS mode and what that guarantees, as
/// `check-config` prints it (a warning when the server is not verified).
pub fn postgres_tls_line(config: &Config) -> Option<crate::store::pg_tls::TlsNote> {
    let url = config.database.connect_url().ok()?;
    if Engine::of_url(&url) != Some(Engine::Postgres) {
        return None;
    }
    Some(crate::store::pg_tls::PgTls::of_url(&url)?.describe())
}

/// Takes the database for `serve` (refused while another `serve` holds
/// it) and puts back the work of runs that are gone.
pub async fn take_database(store: &Store) -> anyhow::Result<Instance> {
    let instance = Instance::acquire(store).await?;
    let (messages, replies) = store
        .release_abandoned_claims(instance.replaced())
        .await
        .context("putting back abandoned claims")?;
    if messages + replies > 0 {
        tracing::info!(
            messages,
            replies,
            "resumed work a previous run left unfinished"
        );
    }
    Ok(instance)
}

/// Runs fetch, process and send (and the web UI when `[web]` is set) until
/// `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let instance = Arc::new(take_database(&store).await?);
    crate::files::warn_about_open_modes(&config);
    if let Some(note) = postgres_tls_line(&config).filter(|note| note.warning) {
        tracing::warn!("{}", note.text);
    }
    if config.donations.trusted_authserv_id.is_none() {
        tracing::warn!(
            "donations.trusted_authserv_id is not set: automatic replies go to whatever \
             address a message claims to be from (see the README, \"Who gets an automatic reply\")"
        );
    }
    let telemetry = Telemetry::new();
    let stages = Stages::build(&config, store.clone()).await?;
    let stages = Arc::new(stages.with_telemetry(telemetry.clone()));
    let stored = Arc::new(Notify::new());
    let queued = Arc::new(Notify::new());
    // The new-mail hook's wake-up for the fetch stage (a mail server's push).
    let new_mail = config.imap.as_ref().map(|_| Arc::new(Notify::new()));
    let mut tasks = tokio::task::JoinSet::new();
    {
        let (instance, token) = (instance.clone(), shutdown.clone());
        tasks.spawn(async move { instance.heartbeat(token).await.context("lease heartbeat") });
    }
    let health = crate::web::health::HealthState {
        store: store.clone(),
        telemetry: telemetry.clone(),
        imap_max_age: Duration::from_secs(config.metrics.imap_max_age_secs),
    };
    if let Some(web) = config.web.clone() {
        let composer = Arc::new(load_composer(&config)?);
        let mut state = crate::web::AppState::new(store.clone(), composer, &web)?
            .with_telemetry(telemetry.clone(), &config.metrics)
            .with_catalog(Arc::new(load_catalog(&config)?));
        if let Some(wake) = new_mail.clone() {
            state = state.with_new_mail_hook(&web, wake)?;
        }
        let run = crate::web::run_site(web, state, shutdown.clone());
        tasks.spawn(async move { run.await.context("web UI") });
    }
    if let Some(listen) = config.metrics.listen.clone() {
        let (health, token) = (health.clone(), shutdown.clone());
        tasks.spawn(async move { crate::web::run_health(&listen, health, token).await });
    }
    if let Some(imap) = config.imap {
        let mut fetcher =
            Fetcher::new(store.clone(), imap, stored.clone())?.with_telemetry(telemetry.clone());
        if let Some(wake) = new_mail {
            fetcher = fetcher.woken_by(wake);
        }
        let token = shutdown.clone();
        tasks.spawn(async move { fetcher.run(token).await.context("fetch stage") });
    } else {
        tracing::warn!("no [imap] section: nothing will be fetched");
    }
    let processed = Arc::new(Notify::new());
    if store.engine() == Engine::Postgres {
        let trouble = DatabaseTrouble::new(Stage::Index, telemetry.clone());
        let run = index_loop(store.clone(), processed.clone(), trouble, shutdown.clone());
        tasks.spawn(async move { run.await.context("search indexer") });
    }
    tasks.spawn(process_loop(
        stages.clone(),
        Wakes {
            stored,
            queued: queued.clone(),
            processed,
        },
        DatabaseTrouble::new(Stage::Process, telemetry.clone()),
        shutdown.clone(),
    ));
    for worker in 0..stages.sender.connections() {
        let trouble = DatabaseTrouble::new(Stage::Send, telemetry.clone());
        let run = send_loop(stages.clone(), queued.clone(), trouble, shutdown.clone());
        tasks.spawn(async move { run.await.with_context(|| format!("send worker {worker}")) });
    }
    tracing::info!("supplyline is running");
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = result {
            tracing::error!(error = format!("{e:#}"), "a stage stopped");
            first_error.get_or_insert(e);
            shutdown.cancel();
        }
    }
    instance.release().await;
    store.close().await;
    tracing::info!("supplyline stopped");
    first_error.map_or(Ok(()), Err)
}

/// The hand-offs around the process stage: woken by `stored`, it wakes
/// the senders (`queued`) and the search indexer (`processed`).
struct Wakes {
    stored: Arc<Notify>,
    queued: Arc<Notify>,
    processed: Arc<Notify>,
}

async fn process_loop(
    stages: Arc<Stages>,
    wakes: Wakes,
    mut trouble: DatabaseTrouble,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    while !shutdown.is_cancelled() {
        let batch = match stages.processor.process_batch(BATCH_MESSAGES).await {
            Ok(batch) => trouble.over(batch),
            Err(e @ crate::store::StoreError::ClaimLost { .. }) => {
                // Paused past its claims: another serve has that work now.
                tracing::warn!(error = %e, "processing batch dropped");
                continue;
            }
            Err(e) => {
                trouble.wait_out(e, &shutdown).await;
                continue;
            }
        };
        trouble.telemetry.processed(&batch);
        batch.iter().for_each(ProcessOutcome::log);
        if batch.is_empty() {
            tokio::select! {
                _ = wakes.stored.notified() => {}
                _ = tokio::time::sleep(IDLE_CHECK) => {}
                _ = shutdown.cancelled() => {}
            }
        } else {
            let acknowledged = batch.iter().any(|o| {
                matches!(
                    o,
                    ProcessOutcome::NewOffer {
                        acknowledged: true,
                        ..
                    }
                )
            });
            if acknowledged {
                wakes.queued.notify_one();
            }
            wakes.processed.notify_one();
        }
    }
    Ok(())
}

/// The search indexer (PostgreSQL only): computes the search vectors of
/// offers after their batch is committed ([`Store::index_pending`]), so
/// an acknowledgement never waits for the text parser. Every `serve` runs
/// one; they skip each other's rows.
async fn index_loop(
    store: Store,
    processed: Arc<Notify>,
    mut trouble: DatabaseTrouble,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    while !shutdown.is_cancelled() {
        let indexed = match store.index_pending().await {
            Ok(indexed) => trouble.over(indexed),
            Err(e) => {
                trouble.wait_out(e, &shutdown).await;
                continue;
            }
        };
        if indexed == 0 {
            tokio::select! {
                _ = processed.notified() => {}
                _ = tokio::time::sleep(INDEX_IDLE_CHECK) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
    Ok(())
}

/// One send worker with its own SMTP session (`smtp.connections` of them
/// run side by side); the store's claim gives each reply to one worker.
async fn send_loop(
    stages: Arc<Stages>,
    queued: Arc<Notify>,
    mut trouble: DatabaseTrouble,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut link = Connection::default();
    let sending = send_with(&stages, &mut link, &queued, &mut trouble, &shutdown).await;
    stages.sender.close(link).await;
    sending
}

async fn send_with(
    stages: &Stages,
    link: &mut Connection,
    queued: &Notify,
    trouble: &mut DatabaseTrouble,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    while !shutdown.is_cancelled() {
        // A send in flight is finished, not cancelled: cutting it between the
        // server's 250 and our commit would send the reply twice.
        let sent = match stages.sender.send_batch_on(link, SEND_BATCH).await {
            Ok(sent) => trouble.over(sent),
            Err(e) => {
                trouble.wait_out(e, shutdown).await;
                continue;
            }
        };
        if !sent.is_empty() {
            // More may wait: wake a sibling worker (one wake-up reaches one).
            queued.notify_one();
        } else {
            // Replies staff queue from the web UI wake nobody: look again soon.
            let wait = match stages.sender.wait_hint(SEND_IDLE_CHECK).await {
                Ok(wait) => wait,
                Err(e) => {
                    trouble.wait_out(e, shutdown).await;
                    continue;
                }
            };
            tokio::select! {
                _ = queued.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
    Ok(())
}

/// A stage's patience with a database that fails: locked by another
/// process past the busy timeout, full, or failing with an I/O error. The
/// stage logs, waits (1 s doubling to 30 s) and tries again; work it had
/// claimed goes back to the queue (the stages see to that), and `/readyz`
/// fails while the database does. `serve` keeps running.
struct DatabaseTrouble {
    stage: Stage,
    failures: u32,
    telemetry: Telemetry,
}

impl DatabaseTrouble {
    fn new(stage: Stage, telemetry: Telemetry) -> Self {
        DatabaseTrouble {
            stage,
            failures: 0,
            telemetry,
        }
    }

    /// The stage got through to the database: the next wait starts short.
    fn over<T>(&mut self, done: T) -> T {
        if self.failures > 0 {
            tracing::info!(stage = self.stage.name(), "database available again");
        }
        self.failures = 0;
        self.telemetry.database(self.stage, true);
        done
    }

    /// Waits after a database error (or until shutdown).
    async fn wait_out(&mut self, error: crate::store::StoreError, shutdown: &CancellationToken) {
        self.failures += 1;
        let delay = backoff_delay(
            self.failures,
            Duration::from_secs(1),
            Duration::from_secs(30),
            rand::random(),
        );
        let stage = self.stage.name();
        if error.is_busy() {
            tracing::error!(stage, error = %error, retry_in = ?delay, "database busy; will try again");
        } else {
            self.telemetry.database(self.stage, false);
            let error = crate::error_text::error_text(&error);
            tracing::error!(stage, %error, retry_in = ?delay, "database error; will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

/// A token cancelled on SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        t.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        t.cancel();
    });
    token
}
