//! Delivering due replies: claim one, hand it to the transport, record the
//! outcome. 4xx and network errors retry with capped, jittered backoff;
//! 5xx fails the row visibly. lettre does not retry; that is this module's job.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use rand::Rng;
use secrecy::ExposeSecret;

use crate::backoff::backoff_delay;
use crate::config::{read_secret, OutboxConfig, Security, SmtpConfig};
use crate::error_text::error_text;
use crate::oauth::sasl::{initial_response, smtp_auth, SmtpAuthError};
use crate::oauth::{AuthMethod, Mechanism, TokenSource};
use crate::store::{now_ms, OutboxRow, Store, StoreError};
use crate::telemetry::Telemetry;

/// Where replies go.
pub enum Transport {
    Smtp(SmtpServer),
    /// Writes each reply as `ID.eml` into a folder (the demo, dry runs).
    Directory(PathBuf),
}

/// An SMTP server and how to open a session with it.
pub struct SmtpServer {
    host: String,
    port: u16,
    /// `host:port`, to name the server in errors.
    name: String,
    security: Security,
    tls: TlsParameters,
    auth: SmtpAuth,
    hello: ClientId,
    /// For opening a session, and for each reply sent in it.
    timeout: Duration,
    /// Replies per session before it is closed and a new one opened.
    max_messages: u32,
    /// Sessions sending side by side (`smtp.connections`).
    connections: usize,
}

/// How a session logs in.
enum SmtpAuth {
    /// No AUTH (a relay that trusts the address).
    None,
    /// AUTH PLAIN or LOGIN.
    Password(Credentials),
    /// XOAUTH2 or OAUTHBEARER with an access token.
    OAuth2 {
        user: String,
        mechanism: Mechanism,
        tokens: Arc<TokenSource>,
    },
}

/// One open SMTP session, kept between replies.
struct Session {
    conn: AsyncSmtpConnection,
    /// Replies the server accepted in this session.
    sent: u32,
    last_used: Instant,
}

/// A sending worker's own link to the transport: the SMTP session it keeps
/// open between replies (none for a folder, or before the first reply).
/// Each worker has one, so sessions are never shared.
#[derive(Default)]
pub struct Connection {
    session: Option<Session>,
}

/// A session idle longer than this is checked (NOOP) before it is used:
/// servers close idle sessions, and a reply must not pay for that.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(5);

/// A transport failure: what failed, sorted by what to do about it, with
/// the transport's own error as its `source()`. Recorded on the reply as
/// [`error_text`] gives it: this message, then the causes.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct TransportError {
    pub fate: Fate,
    what: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// What to do about a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Try again later: 4xx, timeouts, connection failures.
    Transient,
    /// Never try again: 5xx, an address the server refuses.
    Permanent,
    /// Try again later, but someone must look: the TLS handshake failed,
    /// most often because the server's certificate was refused.
    Tls,
}

impl TransportError {
    fn new(
        fate: Fate,
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> TransportError {
        TransportError {
            fate,
            what: what.into(),
            source: source.into(),
        }
    }
}

impl Transport {
    /// An SMTP transport from the config, with TLS verified unless the config says otherwise.
    pub fn smtp(cfg: &SmtpConfig) -> anyhow::Result<Transport> {
        use anyhow::Context;
        let port = cfg.port.unwrap_or(match cfg.security {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::None => 25,
        });
        let auth = match (&cfg.username, cfg.auth) {
            (Some(user), AuthMethod::Oauth2) => SmtpAuth::OAuth2 {
                user: user.clone(),
                mechanism: cfg.oauth2_mechanism,
                tokens: cfg
                    .tokens
                    .clone()
                    .context("smtp.auth = \"oauth2\" needs an [oauth2] section")?,
            },
            (Some(user), AuthMethod::Password) => {
                let secret = read_secret(&cfg.password, &cfg.password_file)
                    .context("reading the SMTP password")?
                    .map(|s| s.expose_secret().to_string())
                    .unwrap_or_default();
                SmtpAuth::Password(Credentials::new(user.clone(), secret))
            }
            (None, _) => SmtpAuth::None,
        };
        Ok(Transport::Smtp(SmtpServer {
            host: cfg.host.clone(),
            port,
            name: format!("{}:{port}", cfg.host),
            security: cfg.security,
            tls: smtp_tls(cfg).context("setting up TLS for SMTP")?,
            auth,
            hello: ClientId::default(),
            timeout: Duration::from_secs(cfg.timeout_secs),
            max_messages: cfg.max_messages_per_session.max(1),
            connections: cfg.connections.max(1),
        }))
    }

    /// How many workers send side by side, each with its own [`Connection`].
    pub fn connections(&self) -> usize {
        match self {
            Transport::Smtp(server) => server.connections,
            Transport::Directory(_) => 1,
        }
    }

    async fn send(
        &self,
        link: &mut Connection,
        from: &Address,
        row: &OutboxRow,
    ) -> Result<(), TransportError> {
        match self {
            Transport::Smtp(server) => {
                let to: Address = row.to_address.parse().map_err(|e| {
                    let what = format!("invalid recipient {:?}", row.to_address);
                    TransportError::new(Fate::Permanent, what, e)
                })?;
                let envelope = Envelope::new(Some(from.clone()), vec![to])
                    .map_err(|e| TransportError::new(Fate::Permanent, "no envelope", e))?;
                server.send(link, &envelope, &row.raw).await
            }
            Transport::Directory(dir) => {
                let path = dir.join(format!("{:06}.eml", row.id));
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&path, &row.raw).await
                };
                write.await.map_err(|e| {
                    TransportError::new(Fate::Transient, format!("writing {}", path.display()), e)
                })
            }
        }
    }
}

impl SmtpServer {
    /// Sends one message in `link`'s session, opening one when there is
    /// none. When the server says the session has sent its share ("too
    /// many messages"), the message goes again at once on a new session:
    /// the server took nothing, and nothing failed.
    async fn send(
        &self,
        link: &mut Connection,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<(), TransportError> {
        loop {
            let mut session = self.session(link).await?;
            let sending = tokio::time::timeout(self.timeout, session.conn.send(envelope, raw));
            let error = match sending.await {
                Ok(Ok(_)) => {
                    session.sent += 1;
                    session.last_used = Instant::now();
                    link.session = Some(session);
                    return Ok(());
                }
                Ok(Err(error)) => error,
                Err(elapsed) => return Err(self.no_answer(elapsed)),
            };
            // lettre has closed the session on any error. A new session
            // that is "full" at once is a real failure, not a limit.
            if session.sent == 0 || !is_session_limit(&error) {
                return Err(classify(error, &self.name));
            }
            tracing::info!(server = %self.name, sent = session.sent, "the SMTP server ended the session's share of messages; opening a new one");
        }
    }

    /// The session to send the next message in: `link`'s own while it is
    /// alive and under `max_messages`, else a new one.
    async fn session(&self, link: &mut Connection) -> Result<Session, TransportError> {
        if let Some(mut session) = link.session.take() {
            if session.sent >= self.max_messages {
                self.quit(session).await;
            } else if session.last_used.elapsed() < IDLE_CHECK_AFTER
                || self.still_open(&mut session).await
            {
                return Ok(session);
            }
        }
        self.open().await
    }

    /// True when the server still answers in `session` (NOOP).
    async fn still_open(&self, session: &mut Session) -> bool {
        let check = tokio::time::timeout(self.timeout, session.conn.test_connected());
        check.await.unwrap_or(false)
    }

    /// Ends a session politely (QUIT), without waiting long for it.
    async fn quit(&self, mut session: Session) {
        let _ = tokio::time::timeout(self.timeout, session.conn.quit()).await;
    }

    /// Connects, secures and logs in, all under `timeout`. The socket sends
    /// each write at once (TCP_NODELAY): lettre writes a message's final
    /// `.` apart from its body, and Nagle's algorithm would hold it back
    /// until the server's delayed ACK, some 40 ms per message.
    async fn open(&self) -> Result<Session, TransportError> {
        let opening = async {
            let mut conn = self.connect().await?;
            if self.security == Security::Starttls {
                conn.starttls(self.tls.clone(), &self.hello)
                    .await
                    .map_err(|e| classify(e, &self.name))?;
            }
            match &self.auth {
                SmtpAuth::None => {}
                SmtpAuth::Password(credentials) => {
                    conn.auth(DEFAULT_MECHANISMS, credentials)
                        .await
                        .map_err(|e| classify(e, &self.name))?;
                }
                SmtpAuth::OAuth2 {
                    user,
                    mechanism,
                    tokens,
                } => {
                    self.oauth_login(&mut conn, user, *mechanism, tokens)
                        .await?
                }
            }
            Ok(Session {
                conn,
                sent: 0,
                last_used: Instant::now(),
            })
        };
        match tokio::time::timeout(self.timeout, opening).await {
            Ok(opened) => opened,
            Err(elapsed) => Err(self.no_answer(elapsed)),
        }
    }

    /// AUTH with the current access token; when the server refuses it, once
    /// more with a new one (it may have been revoked or expired early). A
    /// refusal is transient for the reply: the login failed, not the reply.
    async fn oauth_login(
        &self,
        conn: &mut AsyncSmtpConnection,
        user: &str,
        mechanism: Mechanism,
        tokens: &TokenSource,
    ) -> Result<(), TransportError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = tokens.access_token().await.map_err(|e| {
                TransportError::new(Fate::Transient, "no OAuth2 access token for SMTP", e)
            })?;
            let initial = initial_response(mechanism, user, &self.host, self.port, &token);
            let refused = match smtp_auth(conn, mechanism, &initial).await {
                Ok(()) => return Ok(()),
                Err(SmtpAuthError::Transport { source, .. }) => {
                    return Err(classify(source, &self.name))
                }
                Err(refused) => refused,
            };
            tokens.invalidate(&token).await;
            if attempt >= 2 {
                let what = format!(
                    "the SMTP server {} refused the OAuth2 login of {user}",
                    self.name
                );
                return Err(TransportError::new(Fate::Transient, what, refused));
            }
            tracing::info!(server = %self.name, "the SMTP server refused the access token; retrying with a new one");
        }
    }

    /// TCP, TLS from the first byte for `security = "tls"`, the server's
    /// greeting and EHLO: a session ready for STARTTLS and AUTH. A plain
    /// socket sends each write at once (TCP_NODELAY, see [`Self::open`]).
    async fn connect(&self) -> Result<AsyncSmtpConnection, TransportError> {
        if self.security == Security::Tls {
            return AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(self.tls.clone()),
                None,
            )
            .await
            .map_err(|e| classify(e, &self.name));
        }
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                let what = format!("cannot connect to the SMTP server {}", self.name);
                TransportError::new(Fate::Transient, what, e)
            })?;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on the SMTP socket");
        }
        AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(|e| classify(e, &self.name))
    }

    fn no_answer(&self, elapsed: tokio::time::error::Elapsed) -> TransportError {
        let what = format!(
            "the SMTP server {} did not answer within {} s",
            self.name,
            self.timeout.as_secs()
        );
        TransportError::new(Fate::Transient, what, elapsed)
    }
}

/// One step of [`SmtpServer::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStep {
    /// TCP, TLS for `security = "tls"`, the greeting and EHLO.
    Connect,
    /// The server offers STARTTLS after EHLO (`security = "starttls"`).
    StarttlsOffered,
    /// The STARTTLS handshake, the certificate verified.
    Starttls,
    /// AUTH with the configured username and password.
    Auth,
}

impl SmtpServer {
    /// For `supplyline doctor`: opens a session step by step as the sender
    /// does (connect and EHLO, STARTTLS, AUTH), each step's outcome in
    /// order, stopping at the first that fails; sends nothing.
    pub async fn check(&self) -> Vec<(SmtpStep, Result<(), String>)> {
        let mut steps = Vec::new();
        let text = |e: lettre::transport::smtp::Error| error_text(&classify(e, &self.name));
        let connecting = async { self.connect().await.map_err(|e| error_text(&e)) };
        let timed_out = || {
            format!(
                "{} did not answer within {} s",
                self.name,
                self.timeout.as_secs()
            )
        };
        let mut conn = match tokio::time::timeout(self.timeout, connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return vec![(SmtpStep::Connect, Err(e))],
            Err(_) => return vec![(SmtpStep::Connect, Err(timed_out()))],
        };
        steps.push((SmtpStep::Connect, Ok(())));
        if self.security == Security::Starttls {
            if !conn.can_starttls() {
                let e = format!("{} answered EHLO without STARTTLS", self.name);
                steps.push((SmtpStep::StarttlsOffered, Err(e)));
                return steps;
            }
            steps.push((SmtpStep::StarttlsOffered, Ok(())));
            let upgrade = conn.starttls(self.tls.clone(), &self.hello);
            match tokio::time::timeout(self.timeout, upgrade).await {
                Ok(Ok(())) => steps.push((SmtpStep::Starttls, Ok(()))),
                Ok(Err(e)) => {
                    steps.push((SmtpStep::Starttls, Err(text(e))));
                    return steps;
                }
                Err(_) => {
                    steps.push((SmtpStep::Starttls, Err(timed_out())));
                    return steps;
                }
            }
        }
        let auth = match &self.auth {
            SmtpAuth::None => None,
            SmtpAuth::Password(credentials) => Some(
                match tokio::time::timeout(self.timeout, conn.auth(DEFAULT_MECHANISMS, credentials))
                    .await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("{}: {}", self.name, error_text(&e))),
                    Err(_) => Err(timed_out()),
                },
            ),
            SmtpAuth::OAuth2 {
                user,
                mechanism,
                tokens,
            } => Some(
                match tokio::time::timeout(
                    self.timeout,
                    self.oauth_login(&mut conn, user, *mechanism, tokens),
                )
                .await
                {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(error_text(&e)),
                    Err(_) => Err(timed_out()),
                },
            ),
        };
        if let Some(outcome) = auth {
            steps.push((SmtpStep::Auth, outcome));
        }
        let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
        steps
    }

    /// Whether AUTH will be tried (a username is set).
    pub fn authenticates(&self) -> bool {
        !matches!(self.auth, SmtpAuth::None)
    }

    /// `host:port`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn security(&self) -> Security {
        self.security
    }
}

/// True when the server refused more messages in this session ("421/452
/// Too many messages sent", as OpenSMTPD says after 100): a new session
/// can send at once. Decided by the reply code lettre gives, and the text
/// only to tell this 452 from "insufficient storage".
fn is_session_limit(e: &lettre::transport::smtp::Error) -> bool {
    e.status()
        .is_some_and(|code| names_session_limit(code.into(), &e.to_string()))
}

fn names_session_limit(code: u16, text: &str) -> bool {
    matches!(code, 421 | 452) && text.to_ascii_lowercase().contains("too many messages")
}

/// The TLS settings for SMTP: the system roots (those that parse) plus
/// every certificate of `ca_file`, always verified, as for IMAP
/// (`allow_insecure` only permits no TLS at all).
fn smtp_tls(cfg: &SmtpConfig) -> anyhow::Result<TlsParameters> {
    use anyhow::Context;
    let mut tls =
        TlsParameters::builder(cfg.host.clone()).certificate_store(CertificateStore::Default);
    if let Some(ca) = &cfg.ca_file {
        let context = || format!("smtp.ca_file {}", ca.display());
        let pem = std::fs::read(ca).with_context(context)?;
        let mut found = 0;
        for der in rustls_pemfile::certs(&mut pem.as_slice()) {
            let der = der.with_context(context)?;
            tls = tls.add_root_certificate(Certificate::from_der(der.to_vec())?);
            found += 1;
        }
        anyhow::ensure!(found > 0, "{}: no PEM certificate in the file", context());
    }
    Ok(tls.build_rustls()?)
}

/// Sorts an SMTP failure by what to do about it; a failed TLS handshake is
/// named as such, with what to check when the certificate was refused.
fn classify(e: lettre::transport::smtp::Error, server: &str) -> TransportError {
    if e.is_permanent() {
        let what = format!("the SMTP server {server} refused the reply");
        return TransportError::new(Fate::Permanent, what, e);
    }
    let (fate, what) = match tls_failure(&e) {
        Some(rustls::Error::InvalidCertificate(_)) => (
            Fate::Tls,
            format!(
                "TLS handshake with {server} failed, the server's certificate was refused \
                 (its CA must be among the system roots or in smtp.ca_file, and it must name smtp.host)"
            ),
        ),
        Some(_) => (Fate::Tls, format!("TLS handshake with {server} failed")),
        // lettre names this case only in its message.
        None if e.to_string().contains("STARTTLS is not supported") => (
            Fate::Tls,
            format!(
                "the SMTP server {server} does not offer STARTTLS, which smtp.security = \"starttls\" \
                 requires; nothing was sent in clear text"
            ),
        ),
        None => (Fate::Transient, format!("the SMTP server {server} did not take the reply")),
    };
    TransportError::new(fate, what, e)
}

/// The rustls error somewhere in `e`'s chain (tokio-rustls wraps it in an
/// `io::Error`, whose `source()` skips it).
fn tls_failure<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let wrapped = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(tls) = wrapped.and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// What one step of the sender did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    Deferred,
    Failed,
    /// Nothing is due now.
    Idle,
}

/// The send stage: claims due replies and delivers them.
pub struct Sender {
    store: Store,
    transport: Transport,
    from: Address,
    policy: RetryPolicy,
    /// Outcomes not yet in the database (it was locked past its busy
    /// timeout): recorded before anything else is claimed.
    unrecorded: Mutex<Vec<Record>>,
    /// The connection of [`Sender::send_batch`]; the daemon's workers each
    /// bring their own to [`Sender::send_batch_on`].
    own: tokio::sync::Mutex<Connection>,
    /// Outcomes, send latency and whether SMTP answered, for monitoring.
    telemetry: Telemetry,
}

/// What the database must learn about one claimed reply.
#[derive(Debug)]
enum Record {
    /// The server accepted it.
    Sent(i64),
    /// Never to be tried again, and why.
    Failed(i64, String),
    /// To be tried again at this time (ms), and why.
    Retry(i64, i64, String),
    /// Claimed but not handed to the transport: back to the queue.
    Unsent(i64),
}

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl From<&OutboxConfig> for RetryPolicy {
    fn from(c: &OutboxConfig) -> Self {
        RetryPolicy {
            max_attempts: c.max_attempts,
            base: Duration::from_secs(c.retry_base_secs),
            max: Duration::from_secs(c.retry_max_secs),
        }
    }
}

impl Sender {
    pub fn new(store: Store, transport: Transport, from: Address, policy: RetryPolicy) -> Sender {
        Sender {
            store,
            transport,
            from,
            policy,
            unrecorded: Mutex::new(Vec::new()),
            own: tokio::sync::Mutex::new(Connection::default()),
            telemetry: Telemetry::default(),
        }
    }

    /// Counts into `serve`'s metrics instead of a set of its own.
    pub fn with_telemetry(mut self, telemetry: Telemetry) -> Sender {
        self.telemetry = telemetry;
        self
    }

    /// How many workers should send side by side (`smtp.connections`).
    pub fn connections(&self) -> usize {
        self.transport.connections()
    }

    /// Sends the next due reply, if any.
    pub async fn send_next(&self) -> Result<SendOutcome, StoreError> {
        Ok(self.send_batch(1).await?.pop().unwrap_or(SendOutcome::Idle))
    }

    /// Claims up to `limit` due replies and sends them one by one, each
    /// recorded while the next one is sent (at most two await their record
    /// at any moment); empty when nothing is due.
    ///
    /// When an outcome cannot be recorded (the database stayed locked past
    /// its busy timeout), the error is returned and the next call records it
    /// first, with the claimed replies not yet sent put back in the queue: a
    /// reply the server accepted is never sent again by this process.
    pub async fn send_batch(&self, limit: i64) -> Result<Vec<SendOutcome>, StoreError> {
        let mut own = self.own.lock().await;
        self.send_batch_on(&mut own, limit).await
    }

    /// Like [`Sender::send_batch`], on a worker's own connection: several
    /// workers can send at once, each reply claimed by exactly one of them.
    pub async fn send_batch_on(
        &self,
        link: &mut Connection,
        limit: i64,
    ) -> Result<Vec<SendOutcome>, StoreError> {
        self.record_unrecorded().await?;
        let rows = self.store.claim_due_replies(limit).await?;
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter();
        // The previous reply's outcome is committed while the next one is
        // sent: a crash can then resend at most the replies whose acceptance
        // was not yet recorded (the one being sent, the one being recorded).
        let mut recording: Option<Record> = None;
        while let Some(row) = rows.next() {
            let sending = async {
                let started = Instant::now();
                let done = self.send_one(link, &row).await;
                (done, started.elapsed())
            };
            let (((record, outcome), took), recorded) = match &recording {
                Some(previous) => tokio::join!(sending, self.record(previous)),
                None => (sending.await, Ok(())),
            };
            self.telemetry.reply(outcome, took);
            // Where a reply's time goes, for `RUST_LOG=supplyline::outbox=debug`.
            tracing::debug!(reply = row.id, send = ?took, "reply timing");
            if let Err(e) = recorded {
                let mut unrecorded = self.unrecorded.lock().unwrap();
                unrecorded.extend(recording.take());
                unrecorded.push(record);
                unrecorded.extend(rows.map(|row| Record::Unsent(row.id)));
                return Err(e);
            }
            recording = Some(record);
            outcomes.push(outcome);
        }
        if let Some(last) = recording {
            if let Err(e) = self.record(&last).await {
                self.unrecorded.lock().unwrap().push(last);
                return Err(e);
            }
        }
        Ok(outcomes)
    }

    /// Hands one reply to the transport; what to record, and the outcome.
    async fn send_one(&self, link: &mut Connection, row: &OutboxRow) -> (Record, SendOutcome) {
        let error = match self.transport.send(link, &self.from, row).await {
            Ok(()) => {
                tracing::info!(reply = row.id, to = %row.to_address, "reply sent");
                return (Record::Sent(row.id), SendOutcome::Sent);
            }
            Err(error) => error,
        };
        let reason = error_text(&error);
        match error.fate {
            Fate::Permanent => {
                tracing::warn!(reply = row.id, %reason, "reply refused permanently");
                (Record::Failed(row.id, reason), SendOutcome::Failed)
            }
            Fate::Tls => {
                tracing::warn!(reply = row.id, %reason, "reply not sent: TLS to the SMTP server failed");
                self.retry_later(row, reason)
            }
            Fate::Transient => self.retry_later(row, reason),
        }
    }

    /// Another attempt later with backoff, or the reply failed once it has
    /// had `max_attempts`.
    fn retry_later(&self, row: &OutboxRow, reason: String) -> (Record, SendOutcome) {
        let attempts = row.attempts.max(1) as u32;
        if attempts >= self.policy.max_attempts {
            let reason = format!("gave up after {attempts} attempts: {reason}");
            tracing::warn!(reply = row.id, %reason, "reply failed");
            return (Record::Failed(row.id, reason), SendOutcome::Failed);
        }
        let delay = backoff_delay(
            attempts,
            self.policy.base,
            self.policy.max,
            rand::thread_rng().gen(),
        );
        tracing::info!(reply = row.id, %reason, retry_in = ?delay, "reply deferred");
        let due = now_ms() + delay.as_millis() as i64;
        (Record::Retry(row.id, due, reason), SendOutcome::Deferred)
    }

    async fn record(&self, record: &Record) -> Result<(), StoreError> {
        match record {
            Record::Sent(id) => self.store.reply_sent(*id).await,
            Record::Failed(id, reason) => self.store.reply_failed(*id, reason).await,
            Record::Retry(id, due, reason) => self.store.reply_retry(*id, *due, reason).await,
            Record::Unsent(id) => self.store.release_replies(&[*id]).await,
        }
    }

    /// Records what earlier calls could not; stops at the first failure,
    /// keeping it and the rest for the next call.
    async fn record_unrecorded(&self) -> Result<(), StoreError> {
        let records = std::mem::take(&mut *self.unrecorded.lock().unwrap());
        let mut records = records.into_iter();
        while let Some(record) = records.next() {
            if let Err(e) = self.record(&record).await {
                let mut unrecorded = self.unrecorded.lock().unwrap();
                unrecorded.push(record);
                unrecorded.extend(records);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Ends `link`'s session, if it has one (QUIT).
    pub async fn close(&self, mut link: Connection) {
        if let (Transport::Smtp(server), Some(session)) = (&self.transport, link.session.take()) {
            server.quit(session).await;
        }
    }

    /// How long to sleep before something is due (at most `cap`).
    pub async fn wait_hint(&self, cap: Duration) -> Result<Duration, StoreError> {
        Ok(match self.store.next_reply_due().await? {
            Some(due) => {
                Duration::from_millis((due - now_ms()).clamp(0, cap.as_millis() as i64) as u64)
            }
            None => cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ReplyState;

    const S: Duration = Duration::from_secs(5);
    const M: Duration = Duration::from_secs(1800);

    /// A sender writing replies as files into `dir`, three attempts each.
    fn directory_sender(store: &Store, dir: std::path::PathBuf) -> Sender {
        let policy = RetryPolicy {
            max_attempts: 3,
            base: S,
            max: M,
        };
        let from = "donations@example.org".parse().unwrap();
        Sender::new(store.clone(), Transport::Directory(dir), from, policy)
    }

    /// A store holding one processed donation and its pending acknowledgement.
    async fn store_with_one_reply() -> Store {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let raw = b"From: Donor <donor@example.net>\r\nTo: donations@example.org\r\n\
            Subject: Offer\r\nMessage-ID: <offer@example.net>\r\n\r\n200 N95 masks.\r\n";
        store.store_local("INBOX", raw).await.unwrap();
        let desk = "donations@example.org";
        let processor = crate::process::Processor::new(
            store.clone(),
            std::sync::Arc::new(crate::rules::Rules::embedded().unwrap()),
            std::sync::Arc::new(crate::outbox::Composer::new(None, desk, "Desk", None).unwrap()),
            crate::outbox::ReplyPolicy::new(desk, Duration::from_secs(600)),
        );
        processor.process_batch(10).await.unwrap();
        assert_eq!(
            store.reply_counts().await.unwrap(),
            vec![(ReplyState::Pending, 1)]
        );
        store
    }

    #[test]
    fn a_session_limit_is_a_421_or_452_naming_too_many_messages() {
        assert!(names_session_limit(
            452,
            "transient error (452): 4.5.3 Too many messages sent"
        ));
        assert!(names_session_limit(
            421,
            "4.7.0 too many messages in this session"
        ));
        assert!(!names_session_limit(
            452,
            "4.3.1 Insufficient system storage"
        ));
        assert!(!names_session_limit(451, "Too many messages sent"));
        assert!(!names_session_limit(552, "too many messages"));
    }

    #[tokio::test]
    async fn a_reply_sent_but_not_recorded_is_recorded_and_not_sent_again() {
        let store = store_with_one_reply().await;
        let dir = tempfile::tempdir().unwrap();
        let sender = directory_sender(&store, dir.path().join("sent"));
        // As left by a send whose record met a locked database.
        let claimed = store.claim_due_replies(16).await.unwrap();
        sender
            .unrecorded
            .lock()
            .unwrap()
            .push(Record::Sent(claimed[0].id));
        assert!(sender.send_batch(16).await.unwrap().is_empty());
        assert_eq!(
            store.reply_counts().await.unwrap(),
            vec![(ReplyState::Sent, 1)]
        );
        assert!(!dir.path().join("sent").exists(), "sent a second time");
    }

    #[tokio::test]
    async fn claimed_replies_left_unsent_go_back_to_the_queue() {
        let store = store_with_one_reply().await;
        let dir = tempfile::tempdir().unwrap();
        let sender = directory_sender(&store, dir.path().to_path_buf());
        let claimed = store.claim_due_replies(16).await.unwrap();
        sender
            .unrecorded
            .lock()
            .unwrap()
            .push(Record::Unsent(claimed[0].id));
        assert_eq!(
            sender.send_batch(16).await.unwrap(),
            vec![SendOutcome::Sent]
        );
        assert_eq!(
            store.reply_counts().await.unwrap(),
            vec![(ReplyState::Sent, 1)]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
