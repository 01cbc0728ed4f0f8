//! One mail stack (Dovecot + OpenSMTPD on loopback) per test process.
//!
//! The first call to [`mail_stack()`] runs `scripts/mail-stack start DIR
//! --watch <this pid>` in a fresh temporary DIR and reads the ports, CA files
//! and password it prints. The script's watcher stops the servers and removes
//! DIR once this process exits, however it exits.
//!
//! Dovecot also takes OAuth2 bearer tokens (XOAUTH2, OAUTHBEARER), valid
//! when the introspection endpoint on [`MailStack::oauth_port`] says so:
//! `common::oauth` serves it with a small provider.
//!
//! Any user name (a full address such as `donor-1a2b@example.test`) logs in
//! with [`MailStack::password`], and its INBOX exists from the first login or
//! delivery: give each test its own address with [`unique_address`].
//!
//! Outages: [`smtp_stop`], [`smtp_start`] and [`dovecot_restart`] affect every
//! test of the process. A test that causes one holds [`stack_exclusive`]; a
//! test that needs the servers up meanwhile can hold [`stack_shared`].
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::scripts::{path_str, run_script, start_stack};

/// The running stack: where to connect and how to log in.
#[derive(Debug, Clone)]
pub struct MailStack {
    /// The directory holding config, mail, logs and `env`.
    pub dir: PathBuf,
    /// Always `127.0.0.1`.
    pub host: String,
    /// IMAP, plaintext with STARTTLS offered.
    pub imap_port: u16,
    /// IMAP over implicit TLS.
    pub imaps_port: u16,
    /// SMTP, plaintext, no auth; delivers any recipient into Dovecot.
    pub smtp_port: u16,
    /// Dovecot's submission service: SMTP with AUTH (the password, or an
    /// OAuth2 token), plaintext, relaying to [`MailStack::smtp_port`].
    pub submission_port: u16,
    /// Where Dovecot asks whether an OAuth2 token is valid
    /// (`POST /introspect`); the test process serves it, see `common::oauth`.
    pub oauth_port: u16,
    /// PEM of the CA that signed the servers' certificate (localhost, 127.0.0.1).
    pub ca_file: PathBuf,
    /// PEM of an unrelated CA: verifying the servers with it must fail.
    pub wrong_ca_file: PathBuf,
    /// The one password every IMAP user logs in with.
    pub password: String,
    /// Every KEY=value line of `DIR/env`.
    pub env: HashMap<String, String>,
}

static STACK: OnceLock<MailStack> = OnceLock::new();
static OUTAGE: RwLock<()> = RwLock::const_new(());

/// The mail stack of this test process, started on first use (about 0.5 s).
///
/// Panics with the script's output when the stack does not come up.
pub fn mail_stack() -> &'static MailStack {
    STACK.get_or_init(|| {
        let env = start_stack("mail-stack", "supplyline-mail");
        MailStack {
            dir: PathBuf::from(env.get("MAIL_STACK_DIR")),
            host: env.get("MAIL_HOST"),
            imap_port: env.port("IMAP_PORT"),
            imaps_port: env.port("IMAPS_PORT"),
            smtp_port: env.port("SMTP_PORT"),
            submission_port: env.port("SUBMISSION_PORT"),
            oauth_port: env.port("OAUTH_PORT"),
            ca_file: PathBuf::from(env.get("CA_FILE")),
            wrong_ca_file: PathBuf::from(env.get("WRONG_CA_FILE")),
            password: env.get("MAIL_PASSWORD"),
            env: env.vars,
        }
    })
}

impl MailStack {
    /// The tail (last `lines` lines) of Dovecot's log, for failure messages.
    pub fn dovecot_log(&self, lines: usize) -> String {
        tail(&self.dir.join("dovecot/dovecot.log"), lines)
    }

    /// The tail (last `lines` lines) of OpenSMTPD's log, for failure messages.
    pub fn smtpd_log(&self, lines: usize) -> String {
        tail(&self.dir.join("smtpd/smtpd.log"), lines)
    }

    fn control(&self, command: &str) {
        run_script("mail-stack", &[command, path_str(&self.dir)]);
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Stop OpenSMTPD: connections to the SMTP port are refused until
/// [`smtp_start`]. Blocks briefly (about 0.1 s).
pub fn smtp_stop() {
    mail_stack().control("smtp-stop");
}

/// Start OpenSMTPD again on the same port; returns once it accepts
/// connections. Blocks briefly (about 0.1 s).
pub fn smtp_start() {
    mail_stack().control("smtp-start");
}

/// Stop and start Dovecot on the same ports, dropping every IMAP session;
/// mail is kept. Returns once it accepts connections (about 1 s).
pub fn dovecot_restart() {
    mail_stack().control("dovecot-restart");
}

/// Hold this while causing an outage ([`smtp_stop`], [`dovecot_restart`]),
/// so tests holding [`stack_shared`] wait.
pub async fn stack_exclusive() -> RwLockWriteGuard<'static, ()> {
    OUTAGE.write().await
}

/// Hold this while the test needs the servers up without interruption.
pub async fn stack_shared() -> RwLockReadGuard<'static, ()> {
    OUTAGE.read().await
}

/// A fresh address at example.test, such as `donor-3f9a0c12d4e5b6a7-1@example.test`:
/// a mailbox no other test uses. Lower case, as Dovecot stores user names.
pub fn unique_address(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random: u64 = rand::random();
    format!(
        "{}-{random:016x}-{n}@example.test",
        prefix.to_ascii_lowercase()
    )
}
