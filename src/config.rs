//! The config file: one TOML file, every key overridable by a `SUPPLYLINE_*`
//! environment variable, secrets readable from files.
//!
//! Owns: the shape of the config, defaults, validation with errors that name
//! the file, the key and what was expected. Does not own: connecting to
//! anything (the stages do that with the values found here).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use serde::Deserialize;

use crate::oauth::{AuthMethod, Mechanism, OAuthSettings, TokenSource};

/// Everything supplyline can be told.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub database: DatabaseConfig,
    pub imap: Option<ImapConfig>,
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub donations: DonationsConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub templates: TemplatesConfig,
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// The triage web UI; unset means `serve` runs without it.
    pub web: Option<WebConfig>,
    /// OAuth2 for `imap.auth` or `smtp.auth = "oauth2"` (see src/oauth).
    pub oauth2: Option<OAuthSettings>,
    /// `/healthz`, `/readyz` and `/metrics` (also served on `[web]`).
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub log: LogConfig,
}

/// Health checks and metrics for monitoring (`web::health`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A listener of its own for `/healthz`, `/readyz` and `/metrics`
    /// (without the site's pages); they are on `[web]`'s listener too.
    pub listen: Option<String>,
    /// `/readyz` fails when the last IMAP pass that read the mailbox
    /// through is older than this (a pass runs at least every 4 minutes).
    #[serde(default = "default_imap_max_age_secs")]
    pub imap_max_age_secs: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            imap_max_age_secs: default_imap_max_age_secs(),
        }
    }
}

fn default_imap_max_age_secs() -> u64 {
    600
}

/// How log lines look on stderr.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event (coloured on a terminal).
    #[default]
    Human,
    /// One JSON object per line, fields at the top level.
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where the web UI listens; loopback by default, put a TLS proxy in front for more.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Mark cookies `Secure` (sent over HTTPS only). Unset: `Secure` unless
    /// `listen` is a loopback address; see [`WebConfig::cookies_secure`].
    pub secure_cookies: Option<bool>,
    /// The operators' file of current needs and pickup sites (see examples/needs.toml).
    pub needs_file: Option<PathBuf>,
    /// Hours a login lasts.
    #[serde(default = "default_session_hours")]
    pub session_hours: u64,
    /// Seconds a client has to send a request's headers (and an idle
    /// connection stays open); slower ones are disconnected.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: u64,
    /// Seconds from a request's headers to its answer; past it, 408.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Connections served at once; more wait until one ends.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Proxies (addresses or networks like `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client that login throttling counts;
    /// from anyone else the header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The shared secret of `POST /hooks/new-mail`, the wake-up a mail
    /// server's push (Dovecot's push_notification) calls on delivery; unset,
    /// the hook answers 404 and IDLE alone waits for mail.
    pub new_mail_hook_secret: Option<SecretString>,
    /// The same secret read from a file (one of the two).
    pub new_mail_hook_secret_file: Option<PathBuf>,
    /// Seconds a desk decision can be undone; its email waits as long
    /// before it leaves. 0: no undo, emails leave at once.
    #[serde(default = "default_undo_secs")]
    pub undo_secs: u64,
    /// How soon an offer should be answered ("24h", "90m", "2d"); the
    /// queue marks open offers older than this.
    #[serde(default)]
    pub answer_within: crate::web::ownership::AnswerWithin,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: default_listen(),
            secure_cookies: None,
            needs_file: None,
            session_hours: default_session_hours(),
            header_read_timeout_secs: default_header_read_timeout_secs(),
            request_timeout_secs: default_request_timeout_secs(),
            max_connections: default_max_connections(),
            trusted_proxies: Vec::new(),
            new_mail_hook_secret: None,
            new_mail_hook_secret_file: None,
            undo_secs: default_undo_secs(),
            answer_within: Default::default(),
        }
    }
}

impl WebConfig {
    /// True when `listen` is a loopback address (or does not parse).
    pub fn listens_on_loopback(&self) -> bool {
        self.listen
            .parse::<std::net::SocketAddr>()
            .map_or(true, |a| a.ip().is_loopback())
    }

    /// Whether cookies are `Secure`: as configured, else unless the site
    /// listens on loopback only (where a TLS proxy on the same machine, or
    /// a person on it, reaches it over plain HTTP).
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies
            .unwrap_or_else(|| !self.listens_on_loopback())
    }
}

fn default_true() -> bool {
    true
}
fn default_undo_secs() -> u64 {
    10
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_session_hours() -> u64 {
    12
}
fn default_header_read_timeout_secs() -> u64 {
    10
}
fn default_request_timeout_secs() -> u64 {
    60
}
fn default_max_connections() -> usize {
    256
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` (created when missing) or `postgres://…`.
    #[serde(default = "default_database_url")]
    pub url: String,
    /// Seconds a write waits for a lock another connection or process holds
    /// before it fails (and the stage retries later).
    #[serde(default = "default_busy_timeout_secs")]
    pub busy_timeout_secs: u64,
    /// Seconds a claim on a message or reply (and `serve`'s hold on the
    /// database) lasts unless its owner renews it; another process takes
    /// over only claims that ran out.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// PostgreSQL: the CA (PEM) that signed the server's certificate. Adds
    /// `sslrootcert` to the URL and, unless it names `verify-ca`,
    /// `sslmode=verify-full` (see [`DatabaseConfig::connect_url`]).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl DatabaseConfig {
    /// The URL to open: `url` with `ca_file` applied. Fails when the two
    /// disagree (`Config::load` reports that as a configuration error).
    pub fn connect_url(&self) -> Result<String, String> {
        match &self.ca_file {
            None => Ok(self.url.clone()),
            Some(_) if !self.url.starts_with("postgres") => Err(
                "database.ca_file applies to PostgreSQL only (database.url is not postgres://…)"
                    .into(),
            ),
            Some(ca) => crate::store::pg_tls::with_ca_file(&self.url, ca),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: default_database_url(),
            busy_timeout_secs: default_busy_timeout_secs(),
            lease_secs: default_lease_secs(),
            ca_file: None,
        }
    }
}

fn default_database_url() -> String {
    "sqlite://supplyline.db".into()
}
fn default_busy_timeout_secs() -> u64 {
    crate::store::DEFAULT_BUSY_TIMEOUT.as_secs()
}
fn default_lease_secs() -> u64 {
    crate::store::DEFAULT_LEASE.as_secs()
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No TLS at all; refused unless `allow_insecure = true`.
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: Security,
    /// Must be true for `security = "none"`. Certificates are always checked.
    #[serde(default)]
    pub allow_insecure: bool,
    /// Extra CA certificates (PEM) trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    /// `password` (LOGIN) or `oauth2` (an access token from `[oauth2]`).
    #[serde(default)]
    pub auth: AuthMethod,
    /// The SASL mechanism for `auth = "oauth2"`: `xoauth2` or `oauthbearer`.
    #[serde(default)]
    pub oauth2_mechanism: Mechanism,
    /// Set by [`Config::load`] when `auth = "oauth2"`: shared with SMTP.
    #[serde(skip)]
    pub tokens: Option<Arc<TokenSource>>,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    /// Where a stored message is moved; unset means it is only flagged `\Seen`.
    pub processed_folder: Option<String>,
    /// Messages larger than this are recorded (headers only) but not downloaded.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// Wait for new mail with IDLE when the server offers it (the default);
    /// false polls every `poll_interval_secs` instead, for a server whose
    /// IDLE misbehaves. Either way the new-mail hook wakes the fetcher.
    #[serde(default = "default_true")]
    pub idle: bool,
    /// Seconds between checks when IDLE is not used.
    #[serde(default = "default_poll_secs")]
    pub poll_interval_secs: u64,
    /// Seconds allowed for one IMAP command.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// With several `serve` on one (PostgreSQL) database, one fetches the
    /// mailbox and the others stand by: when the one fetching dies without
    /// a trace, another takes the mailbox over within this many seconds
    /// (at once when it is known to be gone: same host, process ended).
    #[serde(default = "default_takeover_secs")]
    pub takeover_secs: u64,
    /// Only mail received at or after this moment (RFC 3339, e.g.
    /// `2026-12-01T00:00:00Z`) is acknowledged, and never a message the
    /// mailbox already flagged answered or seen when supplyline first read
    /// it. Unset: the moment the mailbox is first read (remembered in the
    /// database), so what was already there is stored and queued, never
    /// answered.
    pub acknowledge_since: Option<String>,
}

impl ImapConfig {
    /// `acknowledge_since` in ms since the epoch (validated at load).
    pub fn acknowledge_since_ms(&self) -> Option<i64> {
        self.acknowledge_since
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: Security,
    /// Must be true for `security = "none"`. Certificates are always checked.
    #[serde(default)]
    pub allow_insecure: bool,
    /// Extra CA certificates (PEM) trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    /// `password` (AUTH PLAIN/LOGIN) or `oauth2` (an access token from `[oauth2]`).
    #[serde(default)]
    pub auth: AuthMethod,
    /// The SASL mechanism for `auth = "oauth2"`: `xoauth2` or `oauthbearer`.
    #[serde(default)]
    pub oauth2_mechanism: Mechanism,
    /// Set by [`Config::load`] when `auth = "oauth2"`: shared with IMAP.
    #[serde(skip)]
    pub tokens: Option<Arc<TokenSource>>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// SMTP sessions sending replies side by side, each one after another.
    #[serde(default = "default_smtp_connections")]
    pub connections: usize,
    /// Messages sent in one session before it is closed and a new one
    /// opened (servers limit this: OpenSMTPD to 100).
    #[serde(default = "default_max_messages_per_session")]
    pub max_messages_per_session: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DonationsConfig {
    /// The public donations address: replies come from it, and mail from it is never answered.
    #[serde(default = "default_address")]
    pub address: String,
    /// The display name on replies.
    #[serde(default = "default_name")]
    pub name: String,
    /// The domain used in the Message-IDs of our replies.
    pub message_id_domain: Option<String>,
    /// At most one automatic reply per sender within this many seconds.
    #[serde(default = "default_reply_window")]
    pub reply_window_secs: u64,
    /// Take the receiving server's spam verdict (X-Spam-Flag, X-Spam-Status,
    /// X-Spamd-Result above the first Received header) as category spam.
    #[serde(default)]
    pub trust_spam_headers: bool,
    /// The authserv-id of our own receiving server: only its
    /// `Authentication-Results` headers are believed (RFC 8601).
    pub trusted_authserv_id: Option<String>,
    /// What happens to an automatic reply for a sender the trusted server
    /// did not authenticate; see [`DonationsConfig::unauthenticated_policy`].
    pub unauthenticated: Option<UnauthenticatedPolicy>,
    /// Automatic replies to one recipient domain per hour; more are held.
    #[serde(default = "default_replies_per_domain")]
    pub replies_per_domain_per_hour: u32,
    /// Automatic replies per hour in all; more are held.
    #[serde(default = "default_replies_per_hour")]
    pub replies_per_hour: u32,
    /// Soft bounces (4.x.x) of replies to one address before no reply goes
    /// to it; a hard bounce (5.x.x) suppresses at once.
    #[serde(default = "default_soft_bounces_to_suppress")]
    pub soft_bounces_to_suppress: u32,
}

fn default_soft_bounces_to_suppress() -> u32 {
    3
}

/// What an automatic reply to an unauthenticated sender does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnauthenticatedPolicy {
    /// The reply waits in the desk until staff send or discard it.
    Hold,
    /// The reply goes out as for an authenticated sender.
    Send,
    /// No automatic reply; the offer is queued as usual.
    Skip,
}

impl DonationsConfig {
    /// The policy in force: as configured, else `hold` when a trusted
    /// authserv-id is set (the server can tell), else `send` (nothing can
    /// tell a forged sender from a real one; `serve` warns about it).
    pub fn unauthenticated_policy(&self) -> UnauthenticatedPolicy {
        match (self.unauthenticated, &self.trusted_authserv_id) {
            (Some(policy), _) => policy,
            (None, Some(_)) => UnauthenticatedPolicy::Hold,
            (None, None) => UnauthenticatedPolicy::Send,
        }
    }
}

impl Default for DonationsConfig {
    fn default() -> Self {
        DonationsConfig {
            address: default_address(),
            name: default_name(),
            message_id_domain: None,
            reply_window_secs: default_reply_window(),
            trust_spam_headers: false,
            trusted_authserv_id: None,
            unauthenticated: None,
            replies_per_domain_per_hour: default_replies_per_domain(),
            replies_per_hour: default_replies_per_hour(),
            soft_bounces_to_suppress: default_soft_bounces_to_suppress(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// A folder of rule files; unset means the rules built into the binary.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TemplatesConfig {
    /// A folder of reply templates; unset means the templates built into the binary.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Attempts before a reply that keeps failing temporarily is marked failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay in seconds; doubled each attempt, capped at `retry_max_secs`.
    #[serde(default = "default_retry_base")]
    pub retry_base_secs: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
    /// Write replies as .eml files into this folder instead of sending them by SMTP.
    pub write_to_dir: Option<PathBuf>,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: default_max_attempts(),
            retry_base_secs: default_retry_base(),
            retry_max_secs: default_retry_max(),
            write_to_dir: None,
        }
    }
}

fn default_security() -> Security {
    Security::Tls
}
fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_max_message_bytes() -> u64 {
    50 * 1024 * 1024
}
fn default_poll_secs() -> u64 {
    30
}
fn default_takeover_secs() -> u64 {
    30
}
fn default_timeout_secs() -> u64 {
    60
}
fn default_smtp_connections() -> usize {
    4
}
fn default_max_messages_per_session() -> u32 {
    100
}
fn default_address() -> String {
    "donations@example.org".into()
}
fn default_name() -> String {
    "Donations".into()
}
fn default_reply_window() -> u64 {
    600
}
fn default_replies_per_domain() -> u32 {
    2_000
}
fn default_replies_per_hour() -> u32 {
    10_000
}
fn default_max_attempts() -> u32 {
    20
}
fn default_retry_base() -> u64 {
    5
}
fn default_retry_max() -> u64 {
    1800
}

/// A config that cannot be used; every problem found is listed.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: String) -> Self {
        ConfigError {
            problems: vec![problem],
        }
    }
}

const ENV_PREFIX: &str = "SUPPLYLINE_";
const SECTIONS: &[&str] = &[
    "database",
    "imap",
    "smtp",
    "donations",
    "rules",
    "templates",
    "outbox",
    "web",
    "metrics",
    "log",
    "oauth2",
];

impl Config {
    /// Reads `path` (a missing file is an empty config when `required` is false),
    /// applies `SUPPLYLINE_SECTION_KEY` environment overrides and validates.
    pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
            Err(err) => {
                return Err(ConfigError::one(format!(
                    "{}: cannot read the config file: {err}",
                    path.display()
                )))
            }
        };
        Self::from_str_with_env(&text, path, std::env::vars())
    }

    /// Parses `text` (named `path` in errors) with the given environment.
    pub fn from_str_with_env(
        text: &str,
        path: &Path,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let mut table: toml::Table = text
            .parse()
            .map_err(|err: toml::de::Error| ConfigError::one(toml_problem(&file, text, &err)))?;
        let mut problems = Vec::new();
        let mut overridden = Vec::new();
        for (name, value) in env {
            if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
                match apply_env(&mut table, &name, rest, &value) {
                    Ok(()) => overridden.push(name),
                    Err(p) => problems.push(p),
                }
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let mut config: Config = if overridden.is_empty() {
            toml::from_str(text).map_err(|err| ConfigError::one(toml_problem(&file, text, &err)))?
        } else {
            // Errors then name the variables too, since a value may come from one of them.
            let merged = toml::to_string(&table).unwrap_or_default();
            toml::from_str(&merged).map_err(|err| {
                let source = format!("{file} with {}", overridden.join(", "));
                ConfigError::one(toml_problem(&source, &merged, &err))
            })?
        };
        config.validate(&file)?;
        config.attach_tokens();
        Ok(config)
    }

    fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Some(imap) = &self.imap {
            self.check_imap(imap, file, &mut problems);
        }
        if let Some(smtp) = &self.smtp {
            self.check_smtp(smtp, file, &mut problems);
        }
        if !self.donations.address.contains('@') {
            problems.push(format!(
                "{file}: donations.address: expected an email address, found {:?}",
                self.donations.address
            ));
        }
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("postgres"))
        {
            problems.push(format!(
                "{file}: database.url: expected sqlite://FILE or postgres://…, found {:?}",
                crate::store::Engine::shown_url(&self.database.url)
            ));
        }
        if let Err(e) = self.database.connect_url() {
            problems.push(format!("{file}: {e}"));
        }
        if self.database.lease_secs < 3 {
            problems.push(format!(
                "{file}: database.lease_secs: expected at least 3, found {}",
                self.database.lease_secs
            ));
        }
        if let Some(imap) = &self.imap {
            if imap.takeover_secs < 3 {
                problems.push(format!(
                    "{file}: imap.takeover_secs: expected at least 3, found {}",
                    imap.takeover_secs
                ));
            }
        }
        if let Some(web) = &self.web {
            check_web(web, file, &mut problems);
        }
        if let Some(listen) = &self.metrics.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                problems.push(format!(
                    "{file}: metrics.listen: expected an address like 127.0.0.1:9090, found {listen:?}"
                ));
            }
        }
        if let Some(oauth2) = &self.oauth2 {
            oauth2.check(file, &mut problems);
        }
        if self.outbox.max_attempts == 0 {
            problems.push(format!(
                "{file}: outbox.max_attempts: expected at least 1, found 0"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The `[imap]` section's problems.
    fn check_imap(&self, imap: &ImapConfig, file: &str, problems: &mut Vec<String>) {
        check_security(file, "imap", imap.security, imap.allow_insecure, problems);
        match imap.auth {
            AuthMethod::Password => check_secret(
                file,
                "imap.password",
                &imap.password,
                &imap.password_file,
                true,
                problems,
            ),
            AuthMethod::Oauth2 => {
                self.check_oauth(file, "imap", &imap.password, &imap.password_file, problems)
            }
        }
        if let Some(since) = &imap.acknowledge_since {
            if chrono::DateTime::parse_from_rfc3339(since).is_err() {
                problems.push(format!(
                    "{file}: imap.acknowledge_since: expected an RFC 3339 time like \
                     2026-12-01T00:00:00Z, found {since:?}"
                ));
            }
        }
        if imap.max_message_bytes < 1024 {
            problems.push(format!(
                "{file}: imap.max_message_bytes: expected at least 1024, found {}",
                imap.max_message_bytes
            ));
        }
    }

    /// The `[smtp]` section's problems.
    fn check_smtp(&self, smtp: &SmtpConfig, file: &str, problems: &mut Vec<String>) {
        check_security(file, "smtp", smtp.security, smtp.allow_insecure, problems);
        let needs = smtp.username.is_some();
        match smtp.auth {
            AuthMethod::Password => check_secret(
                file,
                "smtp.password",
                &smtp.password,
                &smtp.password_file,
                needs,
                problems,
            ),
            AuthMethod::Oauth2 => {
                if !needs {
                    problems.push(format!(
                        "{file}: smtp.username: smtp.auth = \"oauth2\" needs the mailbox's address as username"
                    ));
                }
                self.check_oauth(file, "smtp", &smtp.password, &smtp.password_file, problems)
            }
        }
        if smtp.connections == 0 {
            problems.push(format!(
                "{file}: smtp.connections: expected at least 1, found 0"
            ));
        }
        if smtp.max_messages_per_session == 0 {
            problems.push(format!(
                "{file}: smtp.max_messages_per_session: expected at least 1, found 0"
            ));
        }
    }
}

impl Config {
    /// `section.auth = "oauth2"` needs an `[oauth2]` section and no password.
    fn check_oauth(
        &self,
        file: &str,
        section: &str,
        password: &Option<SecretString>,
        password_file: &Option<PathBuf>,
        problems: &mut Vec<String>,
    ) {
        if self.oauth2.is_none() {
            problems.push(format!(
                "{file}: {section}.auth: \"oauth2\" needs an [oauth2] section (provider, client_id, …)"
            ));
        }
        if password.is_some() || password_file.is_some() {
            problems.push(format!(
                "{file}: {section}.password: not used with {section}.auth = \"oauth2\"; remove it"
            ));
        }
    }

    /// One [`TokenSource`] for every connection with `auth = "oauth2"`,
    /// so IMAP and SMTP share the access token and its renewals.
    fn attach_tokens(&mut self) {
        let Some(settings) = &self.oauth2 else {
            return;
        };
        let source = Arc::new(TokenSource::new(settings.clone()));
        if let Some(imap) = self.imap.as_mut().filter(|i| i.auth == AuthMethod::Oauth2) {
            imap.tokens = Some(source.clone());
        }
        if let Some(smtp) = self.smtp.as_mut().filter(|s| s.auth == AuthMethod::Oauth2) {
            smtp.tokens = Some(source);
        }
    }
}

/// The `[web]` section's problems.
fn check_web(web: &WebConfig, file: &str, problems: &mut Vec<String>) {
    if web.listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "{file}: web.listen: expected an address like 127.0.0.1:8080, found {:?}",
            web.listen
        ));
    }
    for (key, value) in [
        ("header_read_timeout_secs", web.header_read_timeout_secs),
        ("request_timeout_secs", web.request_timeout_secs),
        ("max_connections", web.max_connections as u64),
    ] {
        if value == 0 {
            problems.push(format!("{file}: web.{key}: expected at least 1, found 0"));
        }
    }
    for proxy in &web.trusted_proxies {
        if crate::web::throttle::parse_proxy(proxy).is_none() {
            problems.push(format!(
                "{file}: web.trusted_proxies: expected an address or network like 10.0.0.0/8, found {proxy:?}"
            ));
        }
    }
    check_secret(
        file,
        "web.new_mail_hook_secret",
        &web.new_mail_hook_secret,
        &web.new_mail_hook_secret_file,
        false,
        problems,
    );
    if let Some(path) = web.needs_file.as_ref().filter(|p| !p.exists()) {
        problems.push(format!(
            "{file}: web.needs_file: expected a readable file, {} does not exist",
            path.display()
        ));
    }
}

fn check_security(
    file: &str,
    section: &str,
    security: Security,
    insecure: bool,
    problems: &mut Vec<String>,
) {
    if security == Security::None && !insecure {
        problems.push(format!(
            "{file}: {section}.security: \"none\" sends passwords in clear text; set {section}.allow_insecure = true to allow it"
        ));
    }
}

/// Checks a secret given as `key` or `key_file`: at most one, the file exists.
fn check_secret(
    file: &str,
    key: &str,
    value: &Option<SecretString>,
    value_file: &Option<PathBuf>,
    required: bool,
    problems: &mut Vec<String>,
) {
    match (value, value_file) {
        (Some(_), Some(_)) => problems.push(format!(
            "{file}: {key} and {key}_file: expected one of them, found both"
        )),
        (None, None) if required => problems.push(format!(
            "{file}: {key}: expected a value here or in {key}_file"
        )),
        (None, Some(path)) if !path.exists() => problems.push(format!(
            "{file}: {key}_file: expected a readable file, {} does not exist",
            path.display()
        )),
        _ => {}
    }
}

/// Reads the secret from the value or the file named in the config (trailing newline cut).
pub fn read_secret(
    password: &Option<SecretString>,
    password_file: &Option<PathBuf>,
) -> std::io::Result<Option<SecretString>> {
    if let Some(p) = password {
        return Ok(Some(p.clone()));
    }
    match password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)?;
            Ok(Some(SecretString::from(
                text.trim_end_matches(['\r', '\n']).to_string(),
            )))
        }
        None => Ok(None),
    }
}

fn toml_problem(file: &str, text: &str, err: &toml::de::Error) -> String {
    let location = err
        .span()
        .map(|span| format!(":{}", crate::error_text::line_of(text, span.start)))
        .unwrap_or_default();
    format!("{file}{location}: {}", err.message())
}

/// Applies one `SUPPLYLINE_SECTION_KEY=value` override to the table.
fn apply_env(table: &mut toml::Table, name: &str, rest: &str, value: &str) -> Result<(), String> {
    let lower = rest.to_ascii_lowercase();
    let Some((section, key)) = lower.split_once('_') else {
        return Err(format!("{name}: expected SUPPLYLINE_SECTION_KEY"));
    };
    if !SECTIONS.contains(&section) {
        return Err(format!(
            "{name}: unknown section {section:?}, expected one of {}",
            SECTIONS.join(", ")
        ));
    }
    let parsed = if TEXT_KEYS.contains(&key) {
        toml::Value::String(value.to_string())
    } else {
        parse_env_value(value)
    };
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(t) => {
            t.insert(key.to_string(), parsed);
            Ok(())
        }
        _ => Err(format!("{name}: [{section}] in the file is not a table")),
    }
}

/// Keys whose value is text even when it looks like a number: an all-digit
/// password is a password (and, as a string, never shows up in an error
/// about a number where text was expected).
const TEXT_KEYS: &[&str] = &[
    "password",
    "username",
    "client_id",
    "client_secret",
    "tenant",
];

/// Environment values are TOML literals when they parse as one (numbers,
/// booleans), strings otherwise.
fn parse_env_value(value: &str) -> toml::Value {
    let doc = format!("v = {value}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_)),
            ) => v,
            _ => toml::Value::String(value.to_string()),
        },
        Err(_) => toml::Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::from_str_with_env(text, Path::new("test.toml"), env)
    }

    #[test]
    fn empty_config_has_defaults() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.database.url, "sqlite://supplyline.db");
        assert!(c.imap.is_none());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = load("[imap]\nhots = \"x\"\n", &[]).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:2:"), "{err}");
        assert!(err.contains("hots"), "{err}");
    }

    #[test]
    fn wrong_type_names_expected() {
        let err = load("[outbox]\nmax_attempts = \"many\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("test.toml:2"), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let text = "[imap]\nhost = \"a\"\nusername = \"u\"\npassword = \"p\"\n";
        let c = load(
            text,
            &[
                ("SUPPLYLINE_IMAP_HOST", "b"),
                ("SUPPLYLINE_IMAP_PORT", "1143"),
            ],
        )
        .unwrap();
        let imap = c.imap.unwrap();
        assert_eq!(imap.host, "b");
        assert_eq!(imap.port, Some(1143));
    }

    #[test]
    fn an_all_digit_password_from_the_environment_is_text_and_never_echoed() {
        let text = "[imap]\nhost = \"a\"\nusername = \"u\"\n[smtp]\nhost = \"b\"\n";
        let env = [
            ("SUPPLYLINE_IMAP_PASSWORD", "123456"),
            ("SUPPLYLINE_SMTP_USERNAME", "4711"),
            ("SUPPLYLINE_SMTP_PASSWORD", "987654321"),
        ];
        let c = load(text, &env).unwrap();
        let imap = c.imap.unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(imap.password.unwrap().expose_secret(), "123456");
        assert_eq!(c.smtp.unwrap().username.as_deref(), Some("4711"));
        // With another problem in the config, the error names it, not the secrets.
        let env = [
            ("SUPPLYLINE_IMAP_PASSWORD", "123456"),
            ("SUPPLYLINE_IMAP_PORT", "many"),
        ];
        let err = load(text, &env).unwrap_err().to_string();
        assert!(err.contains("SUPPLYLINE_IMAP_PORT"), "{err}");
        assert!(!err.contains("123456"), "{err}");
    }

    #[test]
    fn acknowledge_since_is_an_rfc_3339_time_and_the_lease_has_a_floor() {
        let imap = "[imap]\nhost = \"a\"\nusername = \"u\"\npassword = \"p\"\n";
        let c = load(
            &format!("{imap}acknowledge_since = \"2026-12-01T00:00:00Z\"\n"),
            &[],
        );
        let since = c.unwrap().imap.unwrap().acknowledge_since_ms();
        assert_eq!(since, Some(1_796_083_200_000));
        let err = load(&format!("{imap}acknowledge_since = \"yesterday\"\n"), &[]);
        let err = err.unwrap_err().to_string();
        assert!(err.contains("test.toml: imap.acknowledge_since"), "{err}");
        let err = load("[database]\nlease_secs = 1\n", &[]).unwrap_err();
        assert!(err.to_string().contains("database.lease_secs"), "{err}");
    }

    #[test]
    fn insecure_needs_explicit_allow() {
        let text =
            "[imap]\nhost = \"a\"\nusername = \"u\"\npassword = \"p\"\nsecurity = \"none\"\n";
        let err = load(text, &[]).unwrap_err().to_string();
        assert!(err.contains("allow_insecure"), "{err}");
    }

    #[test]
    fn all_problems_are_reported() {
        let text = "[imap]\nhost = \"a\"\nusername = \"u\"\nsecurity = \"none\"\n[donations]\naddress = \"nobody\"\n";
        let err = load(text, &[]).unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
    }

    #[test]
    fn bad_env_section_is_named() {
        let err = load("", &[("SUPPLYLINE_IMPA_HOST", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SUPPLYLINE_IMPA_HOST"), "{err}");
    }

    #[test]
    fn web_section_defaults_and_checks() {
        let c = load("[web]\n", &[]).unwrap();
        let web = c.web.unwrap();
        assert_eq!(web.listen, "127.0.0.1:8080");
        assert!(!web.cookies_secure());
        let open = load("[web]\nlisten = \"0.0.0.0:8080\"\n", &[]).unwrap();
        assert!(open.web.unwrap().cookies_secure());
        let told = "[web]\nlisten = \"0.0.0.0:8080\"\nsecure_cookies = false\n";
        assert!(!load(told, &[]).unwrap().web.unwrap().cookies_secure());
        let err = load(
            "[web]\nlisten = \"everywhere\"\nneeds_file = \"/nonexistent\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert_eq!(
            (web.header_read_timeout_secs, web.max_connections),
            (10, 256)
        );
        let err = load(
            "[web]\nmax_connections = 0\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy\"]\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.to_string().contains("\"proxy\""), "{err}");
        assert!(err.to_string().contains("web.max_connections"), "{err}");
        let c = load("", &[("SUPPLYLINE_WEB_LISTEN", "127.0.0.1:9999")]).unwrap();
        assert_eq!(c.web.unwrap().listen, "127.0.0.1:9999");
    }

    #[test]
    fn example_config_is_clean() {
        let text = include_str!("../examples/supplyline.toml");
        load(text, &[]).unwrap();
    }
}
