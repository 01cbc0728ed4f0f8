//! IMAP helpers over the test stack, with async-imap on tokio.
//!
//! The convenience functions ([`append`], [`fetch_all`], [`wait_for_count`],
//! [`create_mailbox`]) log in over plaintext IMAP as `user`, do one job, log
//! out, and panic with a clear message on any failure or after
//! [`IMAP_TIMEOUT`]. For anything else, open a session with [`login`].
#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::mail_stack::mail_stack;

/// The longest any single helper call may take before it panics.
pub const IMAP_TIMEOUT: Duration = Duration::from_secs(30);

/// Any stream an IMAP session can run over (plain TCP or TLS).
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapStream for T {}

/// A logged-in IMAP session over plain TCP or TLS.
pub type ImapSession = async_imap::Session<Box<dyn ImapStream>>;

/// How to reach Dovecot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plaintext on the IMAP port.
    Plain,
    /// STARTTLS on the IMAP port, verified against the stack's CA.
    StartTls,
    /// Implicit TLS on the IMAPS port, verified against the stack's CA.
    Tls,
}

/// Run `fut`, panicking with `what` if it takes longer than [`IMAP_TIMEOUT`].
async fn timed<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(IMAP_TIMEOUT, fut).await {
        Ok(value) => value,
        Err(_) => panic!("IMAP {what}: no answer within {IMAP_TIMEOUT:?}"),
    }
}

/// A TLS connector that trusts only the certificates in the PEM file `ca_file`.
pub fn tls_connector(ca_file: &Path) -> TlsConnector {
    let pem = std::fs::read(ca_file)
        .unwrap_or_else(|e| panic!("cannot read CA file {}: {e}", ca_file.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.unwrap_or_else(|e| panic!("bad PEM in {}: {e}", ca_file.display()));
        roots
            .add(cert)
            .unwrap_or_else(|e| panic!("bad CA in {}: {e}", ca_file.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Connect to `port` on loopback and do a TLS handshake for the name
/// `localhost`, trusting only `ca_file`. The error of a refused certificate
/// wraps a `rustls::Error` (see `std::io::Error::get_ref`).
pub async fn tls_connect(port: u16, ca_file: &Path) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tls_connector(ca_file)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// Connect to the stack (greeting read), not yet logged in.
pub async fn connect(security: Security) -> async_imap::Client<Box<dyn ImapStream>> {
    let stack = mail_stack();
    timed("connect", async {
        let stream: Box<dyn ImapStream> = match security {
            Security::Plain => Box::new(
                TcpStream::connect(("127.0.0.1", stack.imap_port))
                    .await
                    .expect("connect to IMAP port"),
            ),
            Security::Tls => Box::new(
                tls_connect(stack.imaps_port, &stack.ca_file)
                    .await
                    .expect("TLS to IMAPS port"),
            ),
            Security::StartTls => {
                let tcp = TcpStream::connect(("127.0.0.1", stack.imap_port))
                    .await
                    .expect("connect to IMAP port");
                let mut client = async_imap::Client::new(tcp);
                client
                    .read_response()
                    .await
                    .expect("read IMAP greeting")
                    .expect("IMAP greeting");
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .expect("STARTTLS");
                let tcp = client.into_inner();
                Box::new(
                    tls_connector(&stack.ca_file)
                        .connect(ServerName::try_from("localhost").unwrap(), tcp)
                        .await
                        .expect("TLS handshake after STARTTLS"),
                )
            }
        };
        let mut client = async_imap::Client::new(stream);
        if security != Security::StartTls {
            client
                .read_response()
                .await
                .expect("read IMAP greeting")
                .expect("IMAP greeting");
        }
        client
    })
    .await
}

/// Log in as `user` (any address) with the stack's password.
pub async fn login(user: &str, security: Security) -> ImapSession {
    let client = connect(security).await;
    timed("login", client.login(user, &mail_stack().password))
        .await
        .unwrap_or_else(|(e, _)| panic!("IMAP login as {user}: {e}"))
}

/// Log out, ignoring errors: the server may already have gone away.
async fn logout(mut session: ImapSession) {
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
}

/// Append the raw message `raw` to `mailbox` of `user`.
pub async fn append(user: &str, mailbox: &str, raw: &[u8]) {
    let mut session = login(user, Security::Plain).await;
    timed("APPEND", session.append(mailbox, None, None, raw))
        .await
        .unwrap_or_else(|e| panic!("IMAP APPEND to {user}/{mailbox}: {e}"));
    logout(session).await;
}

/// Create `mailbox` for `user`; an existing mailbox is fine.
pub async fn create_mailbox(user: &str, mailbox: &str) {
    let mut session = login(user, Security::Plain).await;
    if let Err(e) = timed("CREATE", session.create(mailbox)).await {
        // Dovecot answers NO [ALREADYEXISTS] for an existing mailbox.
        let exists = timed("SELECT", session.examine(mailbox)).await.is_ok();
        assert!(exists, "IMAP CREATE {user}/{mailbox}: {e}");
    }
    logout(session).await;
}

/// Every message in `mailbox` of `user`, raw, in UID order; empty when the
/// mailbox does not exist. Does not set `\Seen`.
pub async fn fetch_all(user: &str, mailbox: &str) -> Vec<Vec<u8>> {
    let mut session = login(user, Security::Plain).await;
    let messages = fetch_selected(&mut session, user, mailbox).await;
    logout(session).await;
    messages.unwrap_or_default()
}

/// Select `mailbox` and fetch every message; None if it does not exist.
async fn fetch_selected(
    session: &mut ImapSession,
    user: &str,
    mailbox: &str,
) -> Option<Vec<Vec<u8>>> {
    let selected = match timed("SELECT", session.examine(mailbox)).await {
        Ok(selected) => selected,
        Err(async_imap::error::Error::No(_)) => return None,
        Err(e) => panic!("IMAP EXAMINE {user}/{mailbox}: {e}"),
    };
    if selected.exists == 0 {
        return Some(Vec::new());
    }
    let mut fetched: Vec<(u32, Vec<u8>)> = timed("UID FETCH", async {
        session
            .uid_fetch("1:*", "(UID BODY.PEEK[])")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await
    .unwrap_or_else(|e| panic!("IMAP UID FETCH {user}/{mailbox}: {e}"))
    .iter()
    .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
    .collect();
    fetched.sort_by_key(|(uid, _)| *uid);
    // Unsolicited responses queue up in a bounded channel: drain it.
    while session.unsolicited_responses.try_recv().is_ok() {}
    Some(fetched.into_iter().map(|(_, body)| body).collect())
}

/// Poll `mailbox` of `user` until it holds at least `n` messages, then return
/// them all (raw, UID order). Panics after `timeout` with the count seen and
/// the tail of the servers' logs.
pub async fn wait_for_count(
    user: &str,
    mailbox: &str,
    n: usize,
    timeout: Duration,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut seen = 0;
    loop {
        // A fresh session each round: it survives a Dovecot restart.
        let messages = fetch_all(user, mailbox).await;
        if messages.len() >= n {
            return messages;
        }
        seen = seen.max(messages.len());
        if Instant::now() >= deadline {
            let stack = mail_stack();
            panic!(
                "{user}/{mailbox}: {seen} of {n} messages after {timeout:?}\n\
                 --- smtpd log ---\n{}\n--- dovecot log ---\n{}",
                stack.smtpd_log(20),
                stack.dovecot_log(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
