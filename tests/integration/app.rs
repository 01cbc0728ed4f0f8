//! Runs supplyline's `serve` in-process against the test mail stack, with a
//! fresh database (SQLite, or PostgreSQL with `TEST_DATABASE=postgres`) and
//! a fresh donations mailbox per test; or, for
//! tests that assert something did *not* happen, steps the stages itself
//! until each reports it has nothing left to do ([`App::drain`]).

use std::sync::Arc;
use std::time::Duration;

use supplyline::config::Config;
use supplyline::daemon::Stages;
use supplyline::fetch::{FetchReport, Fetcher};
use supplyline::outbox::SendOutcome;
use supplyline::process::ProcessOutcome;
use supplyline::store::{OutboxSummary, Store};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::common::{append, mail_stack, unique_address};

/// The engine the integration tests run on: `TEST_DATABASE=postgres` runs
/// them on PostgreSQL (a fresh database on the test process's server, see
/// `scripts/pg-stack`), anything else or unset on SQLite. Not a
/// `SUPPLYLINE_*` name: those are config overrides.
pub fn on_postgres() -> bool {
    match std::env::var("TEST_DATABASE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("TEST_DATABASE={other}: expected sqlite or postgres"),
    }
}

/// A fresh database for one test: a file in `dir`, or on PostgreSQL.
pub async fn test_database_url(dir: &std::path::Path) -> String {
    if on_postgres() {
        crate::common::fresh_database("app").await
    } else {
        format!("sqlite://{}", dir.join("supplyline.db").display())
    }
}

/// One number the SQL `sql` reads from the database at `db_url`, on a
/// connection of its own, on either engine (`AnyConnection`: a test that
/// opened a `SqliteConnection` ran on SQLite only).
pub async fn db_number(db_url: &str, sql: &str) -> Result<i64, sqlx::Error> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(db_url).await?;
    let n = sqlx::query_scalar(sql).fetch_one(&mut db).await;
    let _ = db.close().await;
    n
}

/// One running supplyline, and what a test needs to look at it.
pub struct App {
    pub donations: String,
    pub db_url: String,
    pub store: Store,
    dir: tempfile::TempDir,
    running: Option<(CancellationToken, JoinHandle<anyhow::Result<()>>)>,
}

impl App {
    /// A new donations mailbox and database; `serve` started.
    pub async fn start() -> App {
        Self::start_with("").await
    }

    /// Like [`App::start`], with extra TOML appended to the config.
    pub async fn start_with(extra: &str) -> App {
        let mut app = Self::prepare(extra).await;
        app.restart().await;
        app
    }

    /// A config, a database and a donations mailbox, with nothing running.
    pub async fn prepare(extra: &str) -> App {
        Self::prepare_in("INBOX", extra).await
    }

    /// Like [`App::prepare`], fetching from `mailbox` instead of INBOX.
    pub async fn prepare_in(mailbox: &str, extra: &str) -> App {
        Self::prepare_full(
            mailbox,
            mail_stack().imap_port,
            &plain_smtp_section(),
            "",
            extra,
        )
        .await
    }

    /// Like [`App::prepare`], with `keys` (TOML lines) added to the
    /// `[donations]` section, which `extra` cannot repeat.
    pub async fn prepare_donations(keys: &str) -> App {
        let port = mail_stack().imap_port;
        Self::prepare_full("INBOX", port, &plain_smtp_section(), keys, "").await
    }

    /// Like [`App::prepare`], reading IMAP through `imap_port` on loopback
    /// (a proxy in front of Dovecot's plaintext port) instead of Dovecot's.
    pub async fn prepare_via(imap_port: u16, extra: &str) -> App {
        Self::prepare_full("INBOX", imap_port, &plain_smtp_section(), "", extra).await
    }

    /// Like [`App::prepare`], with `keys` (TOML lines) added to the
    /// `[imap]` section, which `extra` cannot repeat.
    pub async fn prepare_imap(keys: &str, extra: &str) -> App {
        // The [smtp] text follows the [imap] keys in the config.
        let smtp = format!("{keys}\n{}", plain_smtp_section());
        Self::prepare_full("INBOX", mail_stack().imap_port, &smtp, "", extra).await
    }

    /// Like [`App::prepare`], with `smtp` as the whole `[smtp]` section
    /// instead of the stack's plaintext port.
    pub async fn prepare_with_smtp(smtp: &str, extra: &str) -> App {
        Self::prepare_full("INBOX", mail_stack().imap_port, smtp, "", extra).await
    }

    /// Like [`App::prepare_imap`], on the database at `db_url` whatever
    /// `TEST_DATABASE` says (the tests of several `serve` on one PostgreSQL).
    pub async fn prepare_on(db_url: String, imap_keys: &str, extra: &str) -> App {
        let port = mail_stack().imap_port;
        let smtp = format!("{imap_keys}\n{}", plain_smtp_section());
        Self::prepare_at(Some(db_url), "INBOX", port, &smtp, "", extra).await
    }

    async fn prepare_full(
        mailbox: &str,
        imap_port: u16,
        smtp: &str,
        donations_keys: &str,
        extra: &str,
    ) -> App {
        Self::prepare_at(None, mailbox, imap_port, smtp, donations_keys, extra).await
    }

    async fn prepare_at(
        db_url: Option<String>,
        mailbox: &str,
        imap_port: u16,
        smtp: &str,
        donations_keys: &str,
        extra: &str,
    ) -> App {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let donations = unique_address("donations");
        let db_url = match db_url {
            Some(url) => url,
            None => test_database_url(dir.path()).await,
        };
        let store = Store::open(&db_url).await.unwrap();
        let app = App {
            donations,
            db_url,
            store,
            dir,
            running: None,
        };
        let config = app.config_text(mailbox, imap_port, smtp, donations_keys, extra);
        std::fs::write(app.config_path(), config).unwrap();
        app
    }

    /// Starts `supplyline serve` as a child process, its log in `log`.
    pub fn spawn_process(&self, log: &std::path::Path) -> std::process::Child {
        self.spawn_process_with_env(log, &[])
    }

    /// Like [`App::spawn_process`], with extra environment variables.
    pub fn spawn_process_with_env(
        &self,
        log: &std::path::Path,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> std::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
            .arg("--config")
            .arg(self.config_path())
            .arg("serve")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting supplyline serve")
    }

    /// A file in this app's temporary folder.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("supplyline.toml")
    }

    fn config_text(
        &self,
        mailbox: &str,
        imap_port: u16,
        smtp: &str,
        donations_keys: &str,
        extra: &str,
    ) -> String {
        let stack = mail_stack();
        format!(
            r#"
[database]
url = "{db}"

[imap]
host = "127.0.0.1"
port = {imap}
security = "none"
allow_insecure = true
username = "{user}"
password = "{password}"
mailbox = "{mailbox}"
timeout_secs = 20
# The tests' mail is acknowledged even when it waits in the mailbox before
# serve first reads it (tests/integration/first_start.rs removes this line).
acknowledge_since = "2000-01-01T00:00:00Z"

{smtp}
[donations]
address = "{user}"
name = "Test Donations Desk"
{donations_keys}

[outbox]
retry_base_secs = 1
retry_max_secs = 2
{extra}
"#,
            db = self.db_url,
            imap = imap_port,
            user = self.donations,
            password = stack.password,
        )
    }

    /// Starts `serve` (stopping a running one first).
    pub async fn restart(&mut self) {
        self.stop().await;
        let config = Config::load(&self.config_path(), true).unwrap();
        let token = CancellationToken::new();
        let handle = tokio::spawn(supplyline::daemon::serve(config, token.clone()));
        self.running = Some((token, handle));
    }

    /// True while `serve` runs: started, and not stopped by an error.
    pub fn serving(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|(_, handle)| !handle.is_finished())
    }

    /// Stops `serve` the way SIGTERM does, and waits for it.
    pub async fn stop(&mut self) {
        if let Some((token, handle)) = self.running.take() {
            token.cancel();
            let result = tokio::time::timeout(Duration::from_secs(30), handle)
                .await
                .expect("serve did not stop within 30 s of shutdown");
            result.unwrap().unwrap();
        }
    }

    /// Steps fetch, process and send in turn, in this task, until a round
    /// in which none of them had anything to do: every message in the
    /// mailbox is stored, none waits to be processed, no reply is due. What
    /// the stages did is returned, so a test can assert on what was *not*
    /// sent without waiting to see whether it shows up.
    ///
    /// `serve` must not be running: its stages would take work from under
    /// the count.
    pub async fn drain(&self) -> Drained {
        assert!(
            !self.serving(),
            "drain steps the stages itself: stop serve first"
        );
        let mut config = Config::load(&self.config_path(), true).unwrap();
        let stages = Stages::build(&config, self.store.clone()).await.unwrap();
        let imap = config.imap.take().expect("an [imap] section");
        let fetcher = Fetcher::new(self.store.clone(), imap, Arc::new(Notify::new())).unwrap();
        let mut session = fetcher.connect().await.unwrap();
        let mut drained = Drained::default();
        loop {
            let fetched = fetcher.fetch_new(&mut session).await.unwrap();
            let processed = stages.process_all().await.unwrap();
            let sent = stages.send_all().await.unwrap();
            if fetched == FetchReport::default() && processed.is_empty() && sent.is_empty() {
                break;
            }
            drained.stored += fetched.stored;
            drained.processed.extend(processed);
            drained.sent.extend(sent);
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
        drained
    }

    /// Every reply in the outbox addressed to `address`, whatever its state.
    pub async fn replies_to(&self, address: &str) -> Vec<OutboxSummary> {
        let mut replies = self.replies().await;
        replies.retain(|r| r.to_address == address);
        replies
    }

    /// Every reply to an offer (of the first 1000), whatever its state.
    pub async fn replies(&self) -> Vec<OutboxSummary> {
        let mut replies = Vec::new();
        for offer in self.store.list_offers(None, 1000).await.unwrap() {
            replies.extend(self.store.offer(offer.id).await.unwrap().replies);
        }
        replies
    }

    /// A donation with `body` from a new donor address, delivered to the
    /// donations INBOX; the donor's address.
    pub async fn donate(&self, body: &str) -> String {
        let donor = unique_address("donor");
        let raw = donation(&donor, &self.donations, &unique_id(), body);
        append(&self.donations, "INBOX", &raw).await;
        donor
    }

    /// Waits until `n` messages are stored and none waits to be processed.
    pub async fn wait_processed(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let counts = self.store.message_counts().await.unwrap();
            let total: i64 = counts.iter().map(|(_, c)| c).sum();
            let waiting: i64 = counts
                .iter()
                .filter(|(s, _)| s == "received" || s == "processing")
                .map(|(_, c)| c)
                .sum();
            if total as usize >= n && waiting == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} messages not processed in time: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What [`App::drain`] saw the stages do, over all its rounds.
#[derive(Debug, Default)]
pub struct Drained {
    /// Messages fetched and stored.
    pub stored: usize,
    pub processed: Vec<ProcessOutcome>,
    pub sent: Vec<SendOutcome>,
}

impl Drained {
    /// Replies the SMTP server accepted.
    pub fn replies_sent(&self) -> usize {
        self.sent
            .iter()
            .filter(|o| **o == SendOutcome::Sent)
            .count()
    }
}

/// The stack's plaintext SMTP port, as most tests use it.
pub fn plain_smtp_section() -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nallow_insecure = true\ntimeout_secs = 10\n",
        mail_stack().smtp_port
    )
}

/// A donation email from `from` to `to`.
pub fn donation(from: &str, to: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Test Donor <{from}>\r\nTo: {to}\r\nSubject: Donation offer\r\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\r\nMessage-ID: <{id}@donor.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

/// A unique Message-ID local part.
pub fn unique_id() -> String {
    format!("m{:016x}", rand::random::<u64>())
}

/// Stops a `serve` child process the way an operator does (SIGTERM) and
/// waits for it.
/// `supplyline --config CONFIG ARGS`, run to the end; its output.
pub fn cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running supplyline")
}

pub fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

/// Polls until `check` is true, at most `limit`; panics naming `what`.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
