//! The `[oauth2]` config section and the `auth` keys of `[imap]` and
//! `[smtp]`: which provider, which grant, where the secrets are, and the
//! endpoints and scopes each provider preset stands for.
//!
//! Owns: the shape of these keys, their defaults and checks (each problem
//! names its key). Does not own: talking to the provider (see
//! [`super::token`] and [`super::login`]).

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// How a mail connection logs in (`imap.auth`, `smtp.auth`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// LOGIN (IMAP) or AUTH PLAIN/LOGIN (SMTP) with `password` or `password_file`.
    #[default]
    Password,
    /// A SASL bearer-token mechanism with an access token from `[oauth2]`.
    Oauth2,
}

/// The SASL mechanism that carries the access token
/// (`imap.oauth2_mechanism`, `smtp.oauth2_mechanism`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// Google's and Microsoft's XOAUTH2, which both providers accept.
    #[default]
    Xoauth2,
    /// The standard mechanism of RFC 7628.
    Oauthbearer,
}

impl Mechanism {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }
}

/// Whose endpoints and scopes the defaults are.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft 365 (Entra ID), `tenant` in the endpoints.
    Microsoft,
    /// Google Workspace and Gmail.
    Google,
    /// Any other: `token_url` (and `device_url` for `oauth login`) given.
    Generic,
}

/// How supplyline gets access tokens.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// A refresh token that `supplyline oauth login` stored in
    /// `refresh_token_file`, on behalf of the mailbox's user.
    #[default]
    RefreshToken,
    /// The application's own identity (Microsoft 365 app-only access):
    /// `client_secret` needed, no user involved.
    ClientCredentials,
}

/// The `[oauth2]` section as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    pub provider: Provider,
    /// Microsoft's directory: a tenant id or domain; `organizations` (any
    /// work account) by default, which client credentials cannot use.
    pub tenant: Option<String>,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub grant: Grant,
    /// Where the refresh token is kept (created 0600 by `oauth login`).
    pub refresh_token_file: Option<PathBuf>,
    /// The token endpoint; set by the preset unless `provider = "generic"`.
    pub token_url: Option<String>,
    /// The device authorization endpoint (RFC 8628) for `oauth login`.
    pub device_url: Option<String>,
    /// The authorization endpoint for `oauth login --browser`.
    pub auth_url: Option<String>,
    /// Scopes to ask for instead of the preset's.
    pub scopes: Option<Vec<String>>,
    /// Seconds allowed for one request to the provider.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_timeout_secs() -> u64 {
    30
}

/// Never shows the client secret.
impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("provider", &self.provider)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_secret_file", &self.client_secret_file)
            .field("grant", &self.grant)
            .field("refresh_token_file", &self.refresh_token_file)
            .field("token_url", &self.token_url)
            .field("device_url", &self.device_url)
            .field("auth_url", &self.auth_url)
            .field("scopes", &self.scopes)
            .finish()
    }
}

const MICROSOFT_LOGIN: &str = "https://login.microsoftonline.com";
/// Delegated access to one user's mailbox, and a refresh token.
pub const MICROSOFT_SCOPES: &[&str] = &[
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    "offline_access",
];
/// App-only access: the application permissions granted in Entra ID.
pub const MICROSOFT_APP_SCOPES: &[&str] = &["https://outlook.office365.com/.default"];
pub const GOOGLE_SCOPES: &[&str] = &["https://mail.google.com/"];
const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_DEVICE_URL: &str = "https://oauth2.googleapis.com/device/code";
const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";

impl OAuthSettings {
    fn tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or("organizations")
    }

    /// The token endpoint: as configured, else the preset's.
    pub fn token_url(&self) -> Option<String> {
        self.token_url.clone().or_else(|| match self.provider {
            Provider::Microsoft => Some(format!(
                "{MICROSOFT_LOGIN}/{}/oauth2/v2.0/token",
                self.tenant()
            )),
            Provider::Google => Some(GOOGLE_TOKEN_URL.into()),
            Provider::Generic => None,
        })
    }

    /// The device authorization endpoint: as configured, else the preset's.
    pub fn device_url(&self) -> Option<String> {
        self.device_url.clone().or_else(|| match self.provider {
            Provider::Microsoft => Some(format!(
                "{MICROSOFT_LOGIN}/{}/oauth2/v2.0/devicecode",
                self.tenant()
            )),
            Provider::Google => Some(GOOGLE_DEVICE_URL.into()),
            Provider::Generic => None,
        })
    }

    /// The authorization endpoint (browser sign-in): as configured, else the preset's.
    pub fn auth_url(&self) -> Option<String> {
        self.auth_url.clone().or_else(|| match self.provider {
            Provider::Microsoft => Some(format!(
                "{MICROSOFT_LOGIN}/{}/oauth2/v2.0/authorize",
                self.tenant()
            )),
            Provider::Google => Some(GOOGLE_AUTH_URL.into()),
            Provider::Generic => None,
        })
    }

    /// The scopes to ask for: as configured, else the preset's for the grant.
    pub fn scopes(&self) -> Vec<String> {
        if let Some(scopes) = &self.scopes {
            return scopes.clone();
        }
        let preset: &[&str] = match (self.provider, self.grant) {
            (Provider::Microsoft, Grant::ClientCredentials) => MICROSOFT_APP_SCOPES,
            (Provider::Microsoft, Grant::RefreshToken) => MICROSOFT_SCOPES,
            (Provider::Google, _) => GOOGLE_SCOPES,
            (Provider::Generic, _) => &[],
        };
        preset.iter().map(|s| s.to_string()).collect()
    }

    /// The client secret from the value or the file, if any.
    pub fn client_secret(&self) -> std::io::Result<Option<SecretString>> {
        crate::config::read_secret(&self.client_secret, &self.client_secret_file)
    }

    /// Every problem with the section, each naming its key.
    pub fn check(&self, file: &str, problems: &mut Vec<String>) {
        let mut problem =
            |key: &str, text: String| problems.push(format!("{file}: oauth2.{key}: {text}"));
        if self.client_id.trim().is_empty() {
            problem(
                "client_id",
                "expected the application (client) id, found nothing".into(),
            );
        }
        match (&self.client_secret, &self.client_secret_file) {
            (Some(_), Some(_)) => problem(
                "client_secret",
                "expected client_secret or client_secret_file, found both".into(),
            ),
            (None, Some(path)) if !path.exists() => problem(
                "client_secret_file",
                format!(
                    "expected a readable file, {} does not exist",
                    path.display()
                ),
            ),
            (None, None) if self.grant == Grant::ClientCredentials => problem(
                "client_secret",
                "grant = \"client_credentials\" needs client_secret or client_secret_file".into(),
            ),
            _ => {}
        }
        if self.provider == Provider::Generic && self.token_url.is_none() {
            problem(
                "token_url",
                "provider = \"generic\" needs the token endpoint's URL".into(),
            );
        }
        for (key, url) in [
            ("token_url", &self.token_url),
            ("device_url", &self.device_url),
            ("auth_url", &self.auth_url),
        ] {
            if let Some(url) = url {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    problem(key, format!("expected an http(s) URL, found {url:?}"));
                }
            }
        }
        match self.grant {
            Grant::RefreshToken if self.refresh_token_file.is_none() => problem(
                "refresh_token_file",
                "grant = \"refresh_token\" needs the file `supplyline oauth login` writes the refresh token to".into(),
            ),
            Grant::ClientCredentials if self.provider == Provider::Google => problem(
                "grant",
                "Google has no client credentials grant for Gmail; use grant = \"refresh_token\"".into(),
            ),
            Grant::ClientCredentials
                if self.provider == Provider::Microsoft
                    && matches!(self.tenant(), "organizations" | "common" | "consumers") =>
            {
                problem(
                    "tenant",
                    "grant = \"client_credentials\" needs your tenant's id or domain (app-only access has no \"organizations\" tenant)".into(),
                )
            }
            _ => {}
        }
        if self.timeout_secs == 0 {
            problem("timeout_secs", "expected at least 1, found 0".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use crate::config::{Config, ConfigError};

    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str_with_env(text, Path::new("test.toml"), std::iter::empty())
    }

    const MAIL: &str = "[imap]\nhost = \"outlook.office365.com\"\nusername = \"donations@city.example\"\nauth = \"oauth2\"\n\
        [smtp]\nhost = \"smtp.office365.com\"\nsecurity = \"starttls\"\nusername = \"donations@city.example\"\nauth = \"oauth2\"\n";

    #[test]
    fn microsoft_preset_fills_endpoints_and_scopes_and_both_connections_share_one_token_source() {
        let text = format!(
            "{MAIL}[oauth2]\nprovider = \"microsoft\"\ntenant = \"city.example\"\nclient_id = \"11111111-2222\"\nrefresh_token_file = \"/var/lib/supplyline/refresh-token\"\n"
        );
        let config = load(&text).unwrap();
        let settings = config.oauth2.as_ref().unwrap();
        assert_eq!(
            settings.token_url().unwrap(),
            "https://login.microsoftonline.com/city.example/oauth2/v2.0/token"
        );
        assert_eq!(
            settings.device_url().unwrap(),
            "https://login.microsoftonline.com/city.example/oauth2/v2.0/devicecode"
        );
        assert_eq!(settings.scopes(), MICROSOFT_SCOPES);
        let imap = config.imap.as_ref().unwrap().tokens.clone().unwrap();
        let smtp = config.smtp.as_ref().unwrap().tokens.clone().unwrap();
        assert!(Arc::ptr_eq(&imap, &smtp));
    }

    #[test]
    fn google_preset_and_app_only_microsoft_scopes() {
        let google = format!(
            "{MAIL}[oauth2]\nprovider = \"google\"\nclient_id = \"x.apps.googleusercontent.com\"\nclient_secret = \"s\"\nrefresh_token_file = \"/tmp/t\"\n"
        );
        let config = load(&google).unwrap();
        let settings = config.oauth2.unwrap();
        assert_eq!(settings.scopes(), GOOGLE_SCOPES);
        assert_eq!(settings.token_url().unwrap(), GOOGLE_TOKEN_URL);
        let app = format!(
            "{MAIL}[oauth2]\nprovider = \"microsoft\"\ntenant = \"city.example\"\nclient_id = \"a\"\nclient_secret = \"s\"\ngrant = \"client_credentials\"\n"
        );
        assert_eq!(
            load(&app).unwrap().oauth2.unwrap().scopes(),
            MICROSOFT_APP_SCOPES
        );
    }

    #[test]
    fn each_problem_names_its_key() {
        let cases: &[(&str, &str)] = &[
            (MAIL, "imap.auth: \"oauth2\" needs an [oauth2] section"),
            (
                "[oauth2]\nprovider = \"generic\"\nclient_id = \"a\"\nrefresh_token_file = \"/t\"\n",
                "oauth2.token_url",
            ),
            (
                "[oauth2]\nprovider = \"microsoft\"\nclient_id = \"a\"\nclient_secret = \"s\"\ngrant = \"client_credentials\"\n",
                "oauth2.tenant",
            ),
            (
                "[oauth2]\nprovider = \"microsoft\"\nclient_id = \"a\"\ngrant = \"client_credentials\"\ntenant = \"t\"\n",
                "oauth2.client_secret",
            ),
            (
                "[oauth2]\nprovider = \"microsoft\"\nclient_id = \"a\"\n",
                "oauth2.refresh_token_file",
            ),
            (
                "[oauth2]\nprovider = \"google\"\nclient_id = \"a\"\nclient_secret = \"s\"\ngrant = \"client_credentials\"\n",
                "oauth2.grant",
            ),
            (
                "[oauth2]\nprovider = \"generic\"\nclient_id = \"a\"\ntoken_url = \"ftp://x\"\nrefresh_token_file = \"/t\"\n",
                "oauth2.token_url: expected an http(s) URL",
            ),
            (
                "[imap]\nhost = \"h\"\nusername = \"u\"\nauth = \"oauth2\"\npassword = \"p\"\n[oauth2]\nprovider = \"google\"\nclient_id = \"a\"\nrefresh_token_file = \"/t\"\n",
                "imap.password: not used",
            ),
            (
                "[smtp]\nhost = \"h\"\nauth = \"oauth2\"\n[oauth2]\nprovider = \"google\"\nclient_id = \"a\"\nrefresh_token_file = \"/t\"\n",
                "smtp.username",
            ),
            (
                "[oauth2]\nprovider = \"yahoo\"\nclient_id = \"a\"\n",
                "test.toml:2",
            ),
        ];
        for (text, expected) in cases {
            let err = load(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
    }

    #[test]
    fn the_client_secret_can_come_from_the_environment_and_is_never_shown() {
        let text =
            "[oauth2]\nprovider = \"google\"\nclient_id = \"a\"\nrefresh_token_file = \"/t\"\n";
        let env = [(
            "SUPPLYLINE_OAUTH2_CLIENT_SECRET".to_string(),
            "12345".to_string(),
        )];
        let config =
            Config::from_str_with_env(text, Path::new("test.toml"), env.into_iter()).unwrap();
        let settings = config.oauth2.unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(
            settings.client_secret().unwrap().unwrap().expose_secret(),
            "12345"
        );
        assert!(!format!("{settings:?}").contains("12345"));
    }
}
