//! OAuth2 for IMAP and SMTP (issue #12): Microsoft 365 and many Google
//! Workspace domains refuse passwords, so the mail connections log in with
//! an access token carried by SASL XOAUTH2 or OAUTHBEARER (RFC 7628).
//!
//! - [`settings`]: the `[oauth2]` section, provider presets, `auth` keys.
//! - [`token`]: [`TokenSource`], access tokens from a refresh token or
//!   client credentials, renewed before expiry and after a refusal, with
//!   backoff after failures.
//! - [`login`]: `supplyline oauth login`, the device-code flow that stores
//!   the refresh token in a 0600 file.
//! - [`sasl`]: the mechanisms' messages, for IMAP and SMTP.

pub mod login;
pub mod sasl;
pub mod settings;
pub mod token;

use std::path::PathBuf;
use std::time::Duration;

pub use settings::{AuthMethod, Grant, Mechanism, OAuthSettings, Provider};
pub use token::TokenSource;

/// Why no access token could be had. Messages name the config key or the
/// endpoint, and say what to do; they never hold a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{key}: {what}")]
    Config { key: &'static str, what: String },
    #[error("{key} {}: {source}{}", path.display(), file_hint(key))]
    File {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", refused_text(grant, url, code, description.as_deref(), refresh_token_file.as_ref()))]
    Refused {
        grant: &'static str,
        url: String,
        /// The provider's error code, such as `invalid_grant`.
        code: String,
        description: Option<String>,
        /// Set when the refresh token itself was refused (revoked, expired).
        refresh_token_file: Option<PathBuf>,
    },
    #[error("cannot reach the token endpoint {url}")]
    Unreachable {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the token endpoint {url} answered something unexpected: {what}")]
    BadAnswer { url: String, what: String },
    #[error("no new OAuth2 token request for {} s after the last failure: {last}", retry_in.as_secs().max(1))]
    Waiting { last: String, retry_in: Duration },
}

impl OAuthError {
    /// True when the refresh token was refused: only a new
    /// `supplyline oauth login` helps.
    pub fn needs_login(&self) -> bool {
        match self {
            OAuthError::Refused {
                refresh_token_file, ..
            } => refresh_token_file.is_some(),
            OAuthError::Waiting { last, .. } => last.contains("supplyline oauth login"),
            _ => false,
        }
    }
}

fn file_hint(key: &str) -> &'static str {
    if key == "oauth2.refresh_token_file" {
        " (`supplyline oauth login` writes it)"
    } else {
        ""
    }
}

fn refused_text(
    grant: &str,
    url: &str,
    code: &str,
    description: Option<&str>,
    refresh_token_file: Option<&PathBuf>,
) -> String {
    let detail = match description {
        Some(d) => format!("{code}: {d}"),
        None => code.to_string(),
    };
    match refresh_token_file {
        Some(file) => format!(
            "the provider refused the refresh token in {} ({detail}): it was revoked or has expired; run `supplyline oauth login` again",
            file.display()
        ),
        None => format!("the token endpoint {url} refused the {grant} request ({detail})"),
    }
}
