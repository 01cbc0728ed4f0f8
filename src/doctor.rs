//! `supplyline doctor`: checks an installation the way `serve` will use it
//! and prints each check, with a fix when it fails.
//!
//! Owns: the list of checks and their fixes. Covers the database (opens,
//! migrations current, takes a write), the rules and templates, the modes
//! of data files, IMAP (connect, TLS, login, the mailbox, IDLE) and SMTP
//! (connect and EHLO, STARTTLS, AUTH). Changes nothing: no claim is reset,
//! no message flagged or sent.

use std::time::Duration;

use crate::config::{Config, ImapConfig, Security};
use crate::error_text::error_text;
use crate::fetch::connect::{connect, tls_config, with_timeout};
use crate::fetch::FetchError;
use crate::outbox::{SmtpStep, Transport};

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Works, but worth knowing (IDLE missing): does not fail the doctor.
    Warn(String),
    /// Broken: what happened and how to fix it.
    Fail(String),
}

/// One check: what was checked and how it came out.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
}

impl Check {
    fn new(name: impl Into<String>, verdict: Verdict) -> Check {
        Check {
            name: name.into(),
            verdict,
        }
    }

    /// The line `doctor` prints.
    pub fn line(&self) -> String {
        match &self.verdict {
            Verdict::Ok => format!("ok    {}", self.name),
            Verdict::Warn(note) => format!("warn  {}: {note}", self.name),
            Verdict::Fail(fix) => format!("FAIL  {}: {fix}", self.name),
        }
    }
}

/// Every check, in order.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = files(config).await;
    match &config.imap {
        Some(imap) => checks.extend(imap_checks(imap).await),
        None => checks.push(Check::new(
            "IMAP",
            Verdict::Warn("no [imap] section: `serve` fetches nothing".into()),
        )),
    }
    checks.extend(smtp_checks(config).await);
    checks
}

/// The database, rules, templates and data file modes.
async fn files(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let fail = |e: anyhow::Error| Verdict::Fail(format!("{e:#}"));
    let busy = Duration::from_secs(config.database.busy_timeout_secs);
    if let Some(note) = crate::daemon::postgres_tls_line(config) {
        let verdict = match note.warning {
            true => Verdict::Warn(note.text),
            false => Verdict::Ok,
        };
        checks.push(Check::new(
            "PostgreSQL connection is TLS, certificate verified",
            verdict,
        ));
    }
    let url = config
        .database
        .connect_url()
        .unwrap_or_else(|_| config.database.url.clone());
    // Opened without recovery: a running `serve`'s claims stay as they are.
    match crate::store::Store::open_with(&url, busy).await {
        Ok(store) => {
            checks.push(Check::new(
                "database opens and its migrations are current",
                Verdict::Ok,
            ));
            let write = match store.probe_write().await {
                Ok(()) => Verdict::Ok,
                Err(e) => Verdict::Fail(format!(
                    "{}: free disk space, check the file's owner and mode",
                    error_text(&e)
                )),
            };
            checks.push(Check::new("database takes a write", write));
            store.close().await;
        }
        Err(e) => checks.push(Check::new(
            "database opens and its migrations are current",
            fail(anyhow::Error::from(e)),
        )),
    }
    let rules = crate::daemon::load_rules(config)
        .err()
        .map_or(Verdict::Ok, fail);
    checks.push(Check::new("rules load", rules));
    let templates = crate::daemon::load_composer(config)
        .err()
        .map_or(Verdict::Ok, fail);
    checks.push(Check::new("reply templates load", templates));
    if let Some(settings) = &config.oauth2 {
        let source = crate::oauth::TokenSource::new(settings.clone());
        let token = match source.access_token().await {
            Ok(_) => Verdict::Ok,
            Err(e) => {
                let fix = match e.needs_login() {
                    true => "",
                    false => " (check the [oauth2] section)",
                };
                Verdict::Fail(format!("{}{fix}", error_text(&e)))
            }
        };
        checks.push(Check::new("an OAuth2 access token can be had", token));
    }
    let open = crate::files::open_to_others(&crate::files::data_paths(config));
    let modes: Vec<String> = open
        .iter()
        .map(|(p, mode)| format!("{} is {mode:04o}: chmod go-rwx it", p.display()))
        .collect();
    let modes = match modes.is_empty() {
        true => Verdict::Ok,
        false => Verdict::Fail(modes.join("; ")),
    };
    checks.push(Check::new(
        "data files are readable by their owner only",
        modes,
    ));
    checks
}

/// What to do about a failed IMAP connection, by how it failed.
fn imap_fix(cfg: &ImapConfig, e: &FetchError) -> String {
    let port = cfg
        .port
        .map_or("the default port".to_string(), |p| format!("port {p}"));
    let fix = match e {
        FetchError::Config { .. } => "fix the [imap] section".to_string(),
        FetchError::Connect { .. } => format!(
            "check imap.host and imap.port ({port}; 993 for security = \"tls\", 143 for \
             \"starttls\" or \"none\") and that this machine can reach the server"
        ),
        FetchError::Tls { .. } => "the server's certificate is not trusted or does not name \
             imap.host: set imap.ca_file to its CA, or check that imap.security matches the \
             port (\"tls\" on 993, \"starttls\" on 143)"
            .to_string(),
        FetchError::Login { .. } => "the server refused imap.username with this password: \
             check imap.password (or imap.password_file, or SUPPLYLINE_IMAP_PASSWORD)"
            .to_string(),
        FetchError::Timeout(_) => format!(
            "no answer within imap.timeout_secs ({} s): is {port} an IMAP port, and does \
             imap.security match it (a TLS port with \"none\" waits forever)?",
            cfg.timeout_secs
        ),
        FetchError::OAuth(_) => "no OAuth2 access token: see `supplyline oauth check` and the \
             [oauth2] section"
            .to_string(),
        FetchError::Protocol { .. } | FetchError::Store(_) => {
            "the server answered in a way supplyline does not understand".to_string()
        }
    };
    format!("{}; {fix}", error_text(e))
}

/// Connect, TLS and login; the mailbox; IDLE.
async fn imap_checks(cfg: &ImapConfig) -> Vec<Check> {
    let connect_name = format!(
        "IMAP connects to {} and logs in as {}",
        cfg.host, cfg.username
    );
    let tls = match tls_config(cfg) {
        Ok(tls) => tls,
        Err(e) => return vec![Check::new(connect_name, Verdict::Fail(imap_fix(cfg, &e)))],
    };
    let mut session = match connect(cfg, tls).await {
        Ok(session) => session,
        Err(e) => return vec![Check::new(connect_name, Verdict::Fail(imap_fix(cfg, &e)))],
    };
    let mut checks = vec![Check::new(connect_name, Verdict::Ok)];
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let mailbox = &cfg.mailbox;
    let select = match with_timeout(timeout, "SELECT", session.select(mailbox)).await {
        Ok(Ok(_)) => Verdict::Ok,
        Ok(Err(e)) => Verdict::Fail(format!(
            "{e}; check imap.mailbox (folder names are case-sensitive, except INBOX) or create the folder"
        )),
        Err(e) => Verdict::Fail(error_text(&e)),
    };
    checks.push(Check::new(
        format!("IMAP mailbox {mailbox:?} opens"),
        select,
    ));
    let idle = match with_timeout(timeout, "CAPABILITY", session.capabilities()).await {
        Ok(Ok(caps)) if caps.has_str("IDLE") => Verdict::Ok,
        Ok(Ok(_)) => Verdict::Warn(format!(
            "the server offers no IDLE: new mail is read every imap.poll_interval_secs \
             ({} s); lower it for quicker acknowledgements",
            cfg.poll_interval_secs
        )),
        Ok(Err(e)) => Verdict::Fail(format!("CAPABILITY failed: {e}")),
        Err(e) => Verdict::Fail(error_text(&e)),
    };
    checks.push(Check::new("IMAP server offers IDLE", idle));
    let _ = with_timeout(timeout, "LOGOUT", session.logout()).await;
    checks
}

/// Connect and EHLO, STARTTLS, AUTH, as the sender will.
async fn smtp_checks(config: &Config) -> Vec<Check> {
    let server = match crate::daemon::transport(config) {
        Ok(Transport::Smtp(server)) => server,
        Ok(Transport::Directory(dir)) => {
            let note = format!(
                "replies are written to {} (outbox.write_to_dir), not sent",
                dir.display()
            );
            return vec![Check::new("SMTP", Verdict::Warn(note))];
        }
        Err(e) => {
            let fix = format!("{e:#}; fix the [smtp] section");
            return vec![Check::new("SMTP", Verdict::Fail(fix))];
        }
    };
    let name = server.name().to_string();
    let security = server.security();
    server
        .check()
        .await
        .into_iter()
        .map(|(step, outcome)| {
            let what = match step {
                SmtpStep::Connect if security == Security::Tls => {
                    format!("SMTP connects to {name} over TLS and answers EHLO")
                }
                SmtpStep::Connect => format!("SMTP connects to {name} and answers EHLO"),
                SmtpStep::StarttlsOffered => "SMTP server offers STARTTLS".to_string(),
                SmtpStep::Starttls => "SMTP STARTTLS handshake".to_string(),
                SmtpStep::Auth => "SMTP AUTH with smtp.username".to_string(),
            };
            let verdict = match outcome {
                Ok(()) => Verdict::Ok,
                Err(e) => Verdict::Fail(format!("{e}; {}", smtp_fix(step))),
            };
            Check::new(what, verdict)
        })
        .collect()
}

fn smtp_fix(step: SmtpStep) -> &'static str {
    match step {
        SmtpStep::Connect => {
            "check smtp.host and smtp.port (465 for security = \"tls\", 587 for \"starttls\", \
             25 for \"none\"), that smtp.security matches the port, that the certificate is \
             trusted (smtp.ca_file) and that this machine can reach the server"
        }
        SmtpStep::StarttlsOffered => {
            "this port offers no STARTTLS: use the submission port 587, or security = \"tls\" \
             on 465; supplyline never falls back to clear text"
        }
        SmtpStep::Starttls => {
            "the server's certificate is not trusted or does not name smtp.host: set \
             smtp.ca_file to its CA"
        }
        SmtpStep::Auth => {
            "check smtp.username and smtp.password (or smtp.password_file, or the [oauth2] \
             section for smtp.auth = \"oauth2\"), and that the server offers AUTH on this \
             port (many offer it only after STARTTLS)"
        }
    }
}
