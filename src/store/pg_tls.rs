//! TLS to PostgreSQL: what `database.url` asks for, `database.ca_file`
//! applied to it, and failures explained in terms of what to check.
//!
//! The connection itself is sqlx's (rustls with ring, the system roots plus
//! the URL's `sslrootcert`). The modes are libpq's: `disable`, `prefer`
//! (sqlx's default: TLS when the server offers it, certificate not checked),
//! `require` (TLS, certificate not checked), `verify-ca` (signed by a
//! trusted CA; sqlx 0.8.6 with rustls 0.23.46 checks the host name too, as
//! it fails to excuse rustls's `NotValidForNameContext`) and `verify-full`
//! (signed, and naming the host of the URL). As libpq
//! does, `require` with an `sslrootcert` verifies the certificate
//! (`verify-ca`): sqlx alone would not.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// The query keys sqlx takes for the mode and the CA file.
const MODE_KEYS: [&str; 2] = ["sslmode", "ssl-mode"];
const ROOT_CERT_KEYS: [&str; 3] = ["sslrootcert", "ssl-root-cert", "ssl-ca"];

/// libpq's `sslmode` values (sqlx's `PgSslMode`, comparable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl From<PgSslMode> for SslMode {
    fn from(mode: PgSslMode) -> SslMode {
        match mode {
            PgSslMode::Disable => SslMode::Disable,
            PgSslMode::Allow => SslMode::Allow,
            PgSslMode::Prefer => SslMode::Prefer,
            PgSslMode::Require => SslMode::Require,
            PgSslMode::VerifyCa => SslMode::VerifyCa,
            PgSslMode::VerifyFull => SslMode::VerifyFull,
        }
    }
}

/// What a PostgreSQL URL asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    /// `sslmode` of the URL, else `PGSSLMODE`, else `prefer`.
    pub mode: SslMode,
    /// `sslrootcert` of the URL, else `PGSSLROOTCERT`.
    pub root_cert: Option<PathBuf>,
    /// The host the certificate must name under `verify-full`.
    pub host: String,
}

impl PgTls {
    /// What `url` (a `postgres://` URL) asks for; `None` when it does not parse.
    pub fn of_url(url: &str) -> Option<PgTls> {
        let options = PgConnectOptions::from_str(url).ok()?;
        let parsed = url::Url::parse(url).ok()?;
        let param = |keys: &[&str]| {
            parsed
                .query_pairs()
                .find(|(k, _)| keys.contains(&k.as_ref()))
                .map(|(_, v)| v.into_owned())
        };
        let root_cert = param(&ROOT_CERT_KEYS)
            .or_else(|| std::env::var("PGSSLROOTCERT").ok())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        Some(PgTls {
            mode: options.get_ssl_mode().into(),
            root_cert,
            host: options.get_host().to_string(),
        })
    }

    /// True when the server's certificate is checked against trusted CAs.
    pub fn verifies(&self) -> bool {
        matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull)
    }

    /// The mode as written in a URL.
    pub fn mode_name(&self) -> &'static str {
        mode_name(self.mode)
    }

    /// One line for `check-config`: the mode and what it guarantees, a
    /// warning when the server's identity goes unchecked across a network.
    pub fn describe(&self) -> TlsNote {
        let ca = match &self.root_cert {
            Some(path) => format!("the system roots and {}", path.display()),
            None => "the system roots".to_string(),
        };
        let advice = "set database.ca_file to the CA of the server's certificate \
                      (sslmode=verify-full is then implied)";
        match self.mode {
            SslMode::VerifyFull => TlsNote::fine(format!(
                "PostgreSQL TLS: verify-full (certificate signed by {ca} and naming {})",
                self.host
            )),
            // sqlx 0.8.6 with rustls 0.23.46 checks the name under
            // verify-ca too (see README, Database).
            SslMode::VerifyCa => TlsNote::fine(format!(
                "PostgreSQL TLS: verify-ca (certificate signed by {ca}; with this build the \
                 host name {} is checked too)",
                self.host
            )),
            SslMode::Require => TlsNote::warning(format!(
                "PostgreSQL TLS: require encrypts but does not check the server's \
                 certificate, so whoever can reach the network path can pose as the server: {advice}"
            )),
            SslMode::Prefer | SslMode::Allow if loopback(&self.host) => TlsNote::fine(format!(
                "PostgreSQL TLS: {} (TLS when the server offers it, unverified; {} is this machine)",
                self.mode_name(),
                self.host
            )),
            SslMode::Prefer | SslMode::Allow => TlsNote::warning(format!(
                "PostgreSQL TLS: {} falls back to plain text when the server offers no \
                 TLS and never checks its certificate: {advice}",
                self.mode_name()
            )),
            SslMode::Disable if loopback(&self.host) => TlsNote::fine(format!(
                "PostgreSQL TLS: disable ({} is this machine)",
                self.host
            )),
            SslMode::Disable => TlsNote::warning(format!(
                "PostgreSQL TLS: disable, so passwords and data cross the network \
                 in plain text: {advice}"
            )),
        }
    }
}

/// What [`PgTls::describe`] says: a line, and whether it is a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsNote {
    pub text: String,
    pub warning: bool,
}

impl TlsNote {
    fn fine(text: String) -> TlsNote {
        TlsNote {
            text,
            warning: false,
        }
    }

    fn warning(text: String) -> TlsNote {
        TlsNote {
            text,
            warning: true,
        }
    }
}

/// `warning: ` before a warning's text, as `check-config` prints it.
impl std::fmt::Display for TlsNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.warning {
            true => write!(f, "warning: {}", self.text),
            false => f.write_str(&self.text),
        }
    }
}

fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Allow => "allow",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

/// True for a unix socket directory or a loopback address or name.
fn loopback(host: &str) -> bool {
    host.starts_with('/')
        || host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `url` with `database.ca_file` applied: `sslrootcert=CA_FILE`, and
/// `sslmode=verify-full` unless the URL names a verifying mode. Refused
/// when the URL names a CA of its own or a mode that would not use it.
pub fn with_ca_file(url: &str, ca_file: &Path) -> Result<String, String> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| format!("database.url does not parse: {e}"))?;
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    if pairs
        .iter()
        .any(|(k, _)| ROOT_CERT_KEYS.contains(&k.as_str()))
    {
        return Err(
            "database.ca_file is set and database.url has an sslrootcert too: keep one".into(),
        );
    }
    let mode = pairs
        .iter()
        .find(|(k, _)| MODE_KEYS.contains(&k.as_str()))
        .map(|(_, v)| v.as_str());
    if let Some(mode) = mode.filter(|m| !matches!(*m, "verify-full" | "verify-ca")) {
        return Err(format!(
            "database.ca_file is set but database.url says sslmode={mode}, which does not \
             verify the server's certificate with it: use sslmode=verify-full (or drop sslmode)"
        ));
    }
    let ca = ca_file
        .to_str()
        .ok_or_else(|| format!("database.ca_file {}: not UTF-8", ca_file.display()))?;
    {
        let mut query = parsed.query_pairs_mut();
        if mode.is_none() {
            query.append_pair("sslmode", "verify-full");
        }
        query.append_pair("sslrootcert", ca);
    }
    Ok(parsed.into())
}

/// The URL sqlx is given: as libpq does, `sslmode=require` with an
/// `sslrootcert` verifies the certificate (`verify-ca`).
pub(super) fn libpq_compatible(url: &str) -> String {
    let Some(tls) = PgTls::of_url(url) else {
        return url.to_string();
    };
    if tls.mode != SslMode::Require || tls.root_cert.is_none() {
        return url.to_string();
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| !MODE_KEYS.contains(&k.as_str()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("sslmode", "verify-ca");
    parsed.into()
}

/// Reads the CA file a verifying URL names, so a missing or empty file is
/// named before a connection fails with a bare I/O error.
pub(super) fn check_root_cert(tls: &PgTls) -> Result<(), String> {
    let Some(path) = tls.root_cert.as_ref().filter(|_| tls.verifies()) else {
        return Ok(());
    };
    let what = format!(
        "the PostgreSQL CA file {} (database.ca_file or sslrootcert)",
        path.display()
    );
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    let mut reader = std::io::BufReader::new(pem.as_slice());
    let certs = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} does not parse as PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} holds no PEM certificate"));
    }
    Ok(())
}

/// What the operator should check when connecting failed on TLS, or
/// `None` when `error` is not about TLS.
pub(super) fn explain(error: &sqlx::Error, tls: &PgTls) -> Option<String> {
    let rustls_error = match error {
        sqlx::Error::Tls(e) => e.downcast_ref::<rustls::Error>(),
        sqlx::Error::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    let ca = match &tls.root_cert {
        Some(path) => format!("{} (database.ca_file or sslrootcert)", path.display()),
        None => "database.ca_file (none is set; only the system roots are trusted)".to_string(),
    };
    if let Some(e) = rustls_error {
        use rustls::CertificateError as C;
        let hint = match e {
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
                "the PostgreSQL server's certificate is not signed by a CA this client trusts: \
                 check that {ca} is the CA that signed the server's certificate \
                 (ssl_cert_file in postgresql.conf)"
            ),
            rustls::Error::InvalidCertificate(C::NotValidForName)
            | rustls::Error::InvalidCertificate(C::NotValidForNameContext { .. }) => format!(
                "the PostgreSQL server's certificate does not name {}: database.url must use \
                 a host name or address the certificate lists (its subjectAltName), or the \
                 certificate must be reissued for {}",
                tls.host, tls.host
            ),
            rustls::Error::InvalidCertificate(
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. },
            ) => "the PostgreSQL server's certificate is outside its validity period: renew it, \
                  or check this machine's clock"
                .to_string(),
            rustls::Error::InvalidCertificate(_) => format!(
                "the PostgreSQL server's certificate was refused: check {ca} and the server's \
                 ssl_cert_file"
            ),
            _ => "the TLS handshake with the PostgreSQL server failed: check that the server's \
                  TLS settings (ssl, ssl_min_protocol_version) accept TLS 1.2 or 1.3"
                .to_string(),
        };
        return Some(format!("TLS: {e}: {hint}"));
    }
    if let sqlx::Error::Tls(e) = error {
        let text = e.to_string();
        let hint = match text.contains("does not support TLS") {
            true => format!(
                "the PostgreSQL server offers no TLS, and sslmode={} requires it: turn on \
                 ssl in postgresql.conf (ssl = on, ssl_cert_file, ssl_key_file)",
                tls.mode_name()
            ),
            false => format!("check {ca} and the server's TLS settings"),
        };
        return Some(format!("TLS: {text}: {hint}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_implies_verify_full_and_refuses_what_would_ignore_it() {
        let ca = Path::new("/etc/pg ca.pem");
        let url = with_ca_file("postgres://u@db.example:5432/s", ca).unwrap();
        let tls = PgTls::of_url(&url).unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull, "{url}");
        assert_eq!(tls.root_cert.as_deref(), Some(ca), "{url}");
        assert_eq!(tls.host, "db.example");

        let url = with_ca_file("postgres://u@db/s?sslmode=verify-ca&x=1", ca).unwrap();
        assert_eq!(PgTls::of_url(&url).unwrap().mode, SslMode::VerifyCa);

        let err = with_ca_file("postgres://u@db/s?sslmode=require", ca).unwrap_err();
        assert!(
            err.contains("sslmode=require") && err.contains("verify-full"),
            "{err}"
        );
        let err = with_ca_file("postgres://u@db/s?sslrootcert=/a.pem", ca).unwrap_err();
        assert!(err.contains("keep one"), "{err}");
    }

    #[test]
    fn require_with_a_root_cert_verifies_as_libpq_does() {
        let url = libpq_compatible("postgres://u@db/s?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(
            PgTls::of_url(&url).unwrap().mode,
            SslMode::VerifyCa,
            "{url}"
        );
        let plain = "postgres://u@db/s?sslmode=require";
        assert_eq!(libpq_compatible(plain), plain);
    }

    #[test]
    fn unverified_modes_warn_unless_the_server_is_this_machine() {
        let line = |url: &str| PgTls::of_url(url).unwrap().describe().to_string();
        assert!(line("postgres://u@db/s?sslmode=require").starts_with("warning:"));
        assert!(line("postgres://u@db.example/s").starts_with("warning:"));
        assert!(!line("postgres://u@127.0.0.1/s?sslmode=prefer").starts_with("warning:"));
        assert!(!line("postgres://u@localhost/s?sslmode=disable").starts_with("warning:"));
        assert!(line("postgres://u@db/s?sslmode=allow").starts_with("warning:"));
        let full = line("postgres://u@db/s?sslmode=verify-full&sslrootcert=/ca.pem");
        assert!(
            full.contains("verify-full") && full.contains("/ca.pem"),
            "{full}"
        );
    }
}
