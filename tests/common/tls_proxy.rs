//! A TLS-terminating proxy in front of the stack's plaintext OpenSMTPD, so
//! that supplyline's SMTP TLS path meets a real server.
//!
//! Debian 12's OpenSMTPD 6.8 fails every TLS handshake under OpenSSL 3, so
//! the stack's SMTP port is plaintext. [`SmtpTlsProxy::start`] listens on
//! `127.0.0.1:0` with the stack's own server certificate (`DIR/tls/server.crt`,
//! signed by [`MailStack::ca_file`](super::MailStack) for `localhost` and
//! `127.0.0.1`) and relays the decrypted bytes to OpenSMTPD:
//!
//! - [`TlsMode::Implicit`]: TLS from the first byte (SMTPS, port 465 style).
//! - [`TlsMode::Starttls`]: the proxy greets, answers EHLO offering STARTTLS
//!   (and nothing else before it), upgrades, then reads and drops
//!   OpenSMTPD's greeting and relays the rest, from the client's second EHLO
//!   on, unchanged.
//!
//! Every handshake's outcome is recorded ([`SmtpTlsProxy::handshakes`]), so a
//! test can tell "the client refused the certificate" from "never connected".
//! Dropping the proxy stops accepting; open connections run to their end.
#![allow(dead_code)]

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::mail_stack::mail_stack;

/// How the client starts TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (supplyline's `security = "tls"`).
    Implicit,
    /// Plain greeting and EHLO, then STARTTLS (`security = "starttls"`).
    Starttls,
}

impl TlsMode {
    /// The value of `smtp.security` for this mode.
    pub fn security(self) -> &'static str {
        match self {
            TlsMode::Implicit => "tls",
            TlsMode::Starttls => "starttls",
        }
    }
}

/// How one client's TLS handshake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    Completed,
    /// The server side's error, such as `received fatal alert: UnknownCA`.
    Failed(String),
}

/// A running proxy: connect to `127.0.0.1:port` (or `localhost:port`).
pub struct SmtpTlsProxy {
    pub port: u16,
    pub mode: TlsMode,
    handshakes: Arc<Mutex<Vec<Handshake>>>,
    accept_loop: JoinHandle<()>,
}

impl SmtpTlsProxy {
    /// Starts a proxy to the stack's SMTP port with the stack's certificate.
    pub async fn start(mode: TlsMode) -> SmtpTlsProxy {
        let stack = mail_stack();
        let acceptor = TlsAcceptor::from(server_config(&stack.dir.join("tls")));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the TLS proxy on 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let relay = Relay {
            mode,
            acceptor,
            upstream_port: stack.smtp_port,
            handshakes: handshakes.clone(),
        };
        let accept_loop = tokio::spawn(relay.accept_all(listener));
        SmtpTlsProxy {
            port,
            mode,
            handshakes,
            accept_loop,
        }
    }

    /// Every handshake so far, in order.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.handshakes.lock().unwrap().clone()
    }

    /// The handshakes once there are at least `n` (a refused one is
    /// recorded when the proxy reads the client's alert, which may be just
    /// after the client has given up). Panics after 10 s.
    pub async fn wait_for_handshakes(&self, n: usize) -> Vec<Handshake> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.handshakes();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} TLS handshakes expected, saw {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpTlsProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// The stack's server certificate and key (`tls_dir/server.{crt,key}`).
fn server_config(tls_dir: &Path) -> Arc<rustls::ServerConfig> {
    let read = |name: &str| {
        let path = tls_dir.join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    };
    let certs: Vec<_> = rustls_pemfile::certs(&mut read("server.crt").as_slice())
        .collect::<Result<_, _>>()
        .expect("server.crt holds PEM certificates");
    let key = rustls_pemfile::private_key(&mut read("server.key").as_slice())
        .expect("server.key is PEM")
        .expect("server.key holds a private key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the stack's certificate and key match");
    Arc::new(config)
}

/// What each accepted connection needs.
#[derive(Clone)]
struct Relay {
    mode: TlsMode,
    acceptor: TlsAcceptor,
    upstream_port: u16,
    handshakes: Arc<Mutex<Vec<Handshake>>>,
}

impl Relay {
    async fn accept_all(self, listener: TcpListener) {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            let relay = self.clone();
            tokio::spawn(async move {
                if let Err(e) = relay.serve(client).await {
                    eprintln!("SMTP TLS proxy: a connection ended with {e}");
                }
            });
        }
    }

    /// One client: the STARTTLS prelude if any, the handshake, the relay.
    async fn serve(self, client: TcpStream) -> io::Result<()> {
        let client = match self.mode {
            TlsMode::Implicit => client,
            TlsMode::Starttls => match starttls_prelude(client).await? {
                Some(upgrading) => upgrading,
                None => return Ok(()),
            },
        };
        let mut tls = match self.acceptor.accept(client).await {
            Ok(tls) => {
                self.record(Handshake::Completed);
                tls
            }
            Err(e) => {
                self.record(Handshake::Failed(e.to_string()));
                return Ok(());
            }
        };
        let mut upstream =
            BufReader::new(TcpStream::connect(("127.0.0.1", self.upstream_port)).await?);
        if self.mode == TlsMode::Starttls {
            // The client had its greeting before STARTTLS; it sends EHLO next.
            drop_greeting(&mut upstream).await?;
        }
        tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
        Ok(())
    }

    fn record(&self, outcome: Handshake) {
        self.handshakes.lock().unwrap().push(outcome);
    }
}

/// Speaks plain SMTP until the client asks for STARTTLS; returns the
/// connection ready for the handshake, or `None` when the client left.
async fn starttls_prelude(client: TcpStream) -> io::Result<Option<TcpStream>> {
    let mut conn = BufReader::new(client);
    conn.write_all(b"220 localhost ESMTP supplyline test TLS proxy\r\n")
        .await?;
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let verb = line.split_whitespace().next().unwrap_or("");
        let reply: &[u8] = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => b"250-localhost\r\n250 STARTTLS\r\n",
            "HELO" => b"250 localhost\r\n",
            "NOOP" | "RSET" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                conn.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(None);
            }
            "STARTTLS" => {
                conn.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
                if !conn.buffer().is_empty() {
                    return Err(io::Error::other("plaintext sent after STARTTLS"));
                }
                return Ok(Some(conn.into_inner()));
            }
            _ => b"530 5.7.0 Must issue a STARTTLS command first\r\n",
        };
        conn.write_all(reply).await?;
    }
}

/// Reads OpenSMTPD's (possibly multi-line) 220 greeting and drops it.
async fn drop_greeting(upstream: &mut BufReader<TcpStream>) -> io::Result<()> {
    loop {
        let mut line = String::new();
        if upstream.read_line(&mut line).await? == 0 {
            return Err(io::Error::other("OpenSMTPD closed before its greeting"));
        }
        if line.starts_with("220 ") {
            return Ok(());
        }
        if !line.starts_with("220-") {
            return Err(io::Error::other(format!("OpenSMTPD greeted with {line:?}")));
        }
    }
}
