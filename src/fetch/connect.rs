//! Opening an authenticated IMAP session: TCP, implicit TLS or STARTTLS with
//! rustls (system roots plus an optional CA file), then LOGIN, or
//! AUTHENTICATE XOAUTH2 / OAUTHBEARER with an OAuth2 access token.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use rustls::pki_types::ServerName;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::FetchError;
use crate::config::{read_secret, ImapConfig, Security};
use crate::oauth::sasl::{initial_response, ImapSasl};
use crate::oauth::AuthMethod;

/// Any byte stream an IMAP session can run over (plain TCP or TLS).
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> ImapStream for T {}

pub type ImapSession = Session<Box<dyn ImapStream>>;

/// The TLS settings for IMAP: system roots, plus `ca_file` when set.
pub fn tls_config(cfg: &ImapConfig) -> Result<Arc<rustls::ClientConfig>, FetchError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &cfg.ca_file {
        let what = format!("imap.ca_file {}", path.display());
        let pem = std::fs::read(path).map_err(|e| FetchError::config(&what, e))?;
        let mut found = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| FetchError::config(&what, e))?;
            roots.add(cert).map_err(|e| FetchError::config(&what, e))?;
            found += 1;
        }
        if found == 0 {
            return Err(FetchError::config(what, "no PEM certificate in the file"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::config("TLS setup", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects, secures and logs in, each step under `timeout`.
pub async fn connect(
    cfg: &ImapConfig,
    tls: Arc<rustls::ClientConfig>,
) -> Result<ImapSession, FetchError> {
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let port = cfg.port.unwrap_or(match cfg.security {
        Security::Tls => 993,
        _ => 143,
    });
    let addr = format!("{}:{port}", cfg.host);
    let tcp = with_timeout(timeout, "connecting", TcpStream::connect(&addr))
        .await?
        .map_err(|e| FetchError::Connect {
            what: addr.clone(),
            source: Some(e.into()),
        })?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn ImapStream> = match cfg.security {
        Security::Tls => Box::new(handshake(tcp, &cfg.host, tls, timeout).await?),
        Security::None => Box::new(tcp),
        Security::Starttls => {
            let mut client = Client::new(tcp);
            read_greeting(&mut client, timeout).await?;
            with_timeout(
                timeout,
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?
            .map_err(|e| FetchError::protocol("STARTTLS refused", Some(e.into())))?;
            Box::new(handshake(client.into_inner(), &cfg.host, tls, timeout).await?)
        }
    };
    let mut client = Client::new(stream);
    if cfg.security != Security::Starttls {
        read_greeting(&mut client, timeout).await?;
    }
    if cfg.auth == AuthMethod::Oauth2 {
        return oauth_login(client, cfg, port, &addr, timeout).await;
    }
    let password = read_secret(&cfg.password, &cfg.password_file)
        .map_err(|e| FetchError::config("imap.password_file", e))?
        .ok_or_else(|| FetchError::config("imap.password", "not set"))?;
    with_timeout(
        timeout,
        "LOGIN",
        client.login(&cfg.username, password.expose_secret()),
    )
    .await?
    .map_err(|(source, _)| FetchError::Login {
        account: format!("{} at {addr}", cfg.username),
        source,
    })
}

/// AUTHENTICATE with the current access token; when the server refuses
/// it, once more with a new one (it may have been revoked or expired
/// early), on the same connection.
async fn oauth_login(
    mut client: Client<Box<dyn ImapStream>>,
    cfg: &ImapConfig,
    port: u16,
    addr: &str,
    timeout: Duration,
) -> Result<ImapSession, FetchError> {
    let tokens = cfg
        .tokens
        .as_ref()
        .ok_or_else(|| FetchError::config("imap.auth", "\"oauth2\" needs an [oauth2] section"))?;
    let mechanism = cfg.oauth2_mechanism;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let token = tokens.access_token().await?;
        let initial = initial_response(mechanism, &cfg.username, &cfg.host, port, &token);
        let sasl = ImapSasl::new(mechanism, initial);
        let challenge = sasl.challenge();
        let step = format!("AUTHENTICATE {}", mechanism.name());
        let authenticating = client.authenticate(mechanism.name(), sasl);
        let (source, back) = match with_timeout(timeout, &step, authenticating).await? {
            Ok(session) => return Ok(session),
            Err(failed) => failed,
        };
        tokens.invalidate(&token).await;
        let refused = matches!(source, async_imap::error::Error::No(_));
        if refused && attempt < 2 {
            tracing::info!(account = %cfg.username, "the IMAP server refused the access token; retrying with a new one");
            client = back;
            continue;
        }
        let said = challenge.lock().ok().and_then(|c| c.clone());
        let said = said
            .map(|c| format!(", server said {c}"))
            .unwrap_or_default();
        return Err(FetchError::Login {
            account: format!("{} at {addr} ({}{said})", cfg.username, mechanism.name()),
            source,
        });
    }
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<S>, FetchError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| FetchError::config(format!("imap.host {host:?}"), e))?;
    with_timeout(
        timeout,
        "TLS handshake",
        TlsConnector::from(tls).connect(name, stream),
    )
    .await?
    .map_err(|source| FetchError::Tls {
        host: host.to_string(),
        source,
    })
}

async fn read_greeting<S: ImapStream>(
    client: &mut Client<S>,
    timeout: Duration,
) -> Result<(), FetchError> {
    match with_timeout(timeout, "greeting", client.read_response()).await? {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(FetchError::Connect {
            what: "the server closed the connection before its greeting".into(),
            source: None,
        }),
        Err(e) => Err(FetchError::Connect {
            what: "reading the greeting".into(),
            source: Some(e.into()),
        }),
    }
}

/// Runs `fut` under a deadline; running out names the step.
pub async fn with_timeout<F: std::future::Future>(
    limit: Duration,
    step: &str,
    fut: F,
) -> Result<F::Output, FetchError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| FetchError::Timeout(format!("{step} took longer than {limit:?}")))
}
