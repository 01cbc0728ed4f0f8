//! Access tokens for IMAP and SMTP: one [`TokenSource`] per process hands
//! out the current access token, asks the provider for a new one shortly
//! before it expires or after a server refused it, and after a failed
//! request waits (capped exponential backoff) before asking again, so a
//! revoked refresh token costs one request per backoff step, not one per
//! connection attempt.
//!
//! Owns: the token request (refresh token or client credentials), the
//! cached token and its expiry, the backoff state, and writing back a
//! refresh token the provider rotated. Tokens never appear in logs or
//! `Debug` output.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpClientError, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

use super::settings::{Grant, OAuthSettings};
use super::OAuthError;
use crate::backoff::backoff_delay;

/// A client that knows the token endpoint (and maybe the device endpoint).
pub(crate) type TokenClient<HasDeviceUrl = EndpointNotSet> =
    BasicClient<EndpointNotSet, HasDeviceUrl, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// First wait after a failed token request; doubled per failure.
const BACKOFF_MIN: Duration = Duration::from_secs(5);
/// Longest wait between token requests while they keep failing.
const BACKOFF_MAX: Duration = Duration::from_secs(600);
/// A token is renewed when less than this much of its life is left…
const RENEW_BEFORE_MAX: Duration = Duration::from_secs(300);
/// …or less than this part of its whole life, whichever is less.
const RENEW_BEFORE_PART: u32 = 10;

/// Hands out access tokens; share one (`Arc`) between IMAP and SMTP.
pub struct TokenSource {
    settings: OAuthSettings,
    http: OnceLock<reqwest::Client>,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    current: Option<Token>,
    failure: Option<Failure>,
    /// Token requests sent (for tests and `doctor`).
    requests: u64,
}

/// An access token and when to renew it.
struct Token {
    secret: SecretString,
    /// `None` when the provider gave no lifetime: kept until refused.
    renew_at: Option<Instant>,
}

impl Token {
    fn new(secret: SecretString, lifetime: Option<Duration>, now: Instant) -> Token {
        let renew_at = lifetime.map(|life| now + life - renew_before(life));
        Token { secret, renew_at }
    }

    fn fresh_at(&self, now: Instant) -> bool {
        self.renew_at.is_none_or(|at| now < at)
    }
}

/// How long before the end of a token's `life` it is renewed.
fn renew_before(life: Duration) -> Duration {
    (life / RENEW_BEFORE_PART).min(RENEW_BEFORE_MAX)
}

/// The last token request failed: why, and when to ask again.
struct Failure {
    what: String,
    failures: u32,
    retry_at: Instant,
    /// The refresh token file's modification time then: a new login
    /// (a changed file) ends the wait at once.
    file_stamp: Option<SystemTime>,
}

impl TokenSource {
    pub fn new(settings: OAuthSettings) -> TokenSource {
        TokenSource {
            settings,
            http: OnceLock::new(),
            state: Default::default(),
        }
    }

    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// Token requests sent to the provider so far.
    pub async fn requests(&self) -> u64 {
        self.state.lock().await.requests
    }

    /// The current access token, from the provider when the cached one is
    /// due for renewal. While in backoff after a failure, the failure again
    /// ([`OAuthError::Waiting`]) without a request.
    pub async fn access_token(&self) -> Result<SecretString, OAuthError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(token) = state.current.as_ref().filter(|t| t.fresh_at(now)) {
            return Ok(token.secret.clone());
        }
        if let Some(failure) = &state.failure {
            let relogged = failure.file_stamp != self.file_stamp();
            if now < failure.retry_at && !relogged {
                return Err(OAuthError::Waiting {
                    last: failure.what.clone(),
                    retry_in: failure.retry_at - now,
                });
            }
        }
        state.requests += 1;
        match self.request().await {
            Ok(token) => {
                let secret = token.secret.clone();
                state.current = Some(token);
                state.failure = None;
                Ok(secret)
            }
            Err(e) => {
                let failures = state.failure.as_ref().map_or(0, |f| f.failures) + 1;
                let delay = backoff_delay(failures, BACKOFF_MIN, BACKOFF_MAX, rand::random());
                tracing::warn!(error = %crate::error_text::error_text(&e), retry_in = ?delay, "no OAuth2 access token");
                state.current = None;
                state.failure = Some(Failure {
                    what: crate::error_text::error_text(&e),
                    failures,
                    retry_at: Instant::now() + delay,
                    file_stamp: self.file_stamp(),
                });
                Err(e)
            }
        }
    }

    /// A server refused `used`: the next [`access_token`](Self::access_token)
    /// asks the provider for a new one (unless another caller already did).
    pub async fn invalidate(&self, used: &SecretString) {
        let mut state = self.state.lock().await;
        let same = state
            .current
            .as_ref()
            .is_some_and(|t| t.secret.expose_secret() == used.expose_secret());
        if same {
            state.current = None;
        }
    }

    fn file_stamp(&self) -> Option<SystemTime> {
        let path = self.settings.refresh_token_file.as_ref()?;
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    fn http(&self) -> Result<&reqwest::Client, OAuthError> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let client = http_client(&self.settings)?;
        Ok(self.http.get_or_init(|| client))
    }

    async fn request(&self) -> Result<Token, OAuthError> {
        let client = token_client(&self.settings)?;
        let http = self.http()?;
        let url = client.token_uri().to_string();
        let scopes = self.settings.scopes().into_iter().map(Scope::new);
        let started = Instant::now();
        let response = match self.settings.grant {
            Grant::ClientCredentials => client
                .exchange_client_credentials()
                .add_scopes(scopes)
                .request_async(http)
                .await
                .map_err(|e| refused(e, &url, "client credentials", None))?,
            Grant::RefreshToken => {
                let path = self.refresh_token_path()?;
                let refresh = read_refresh_token(path)?;
                let response = client
                    .exchange_refresh_token(&refresh)
                    .add_scopes(scopes)
                    .request_async(http)
                    .await
                    .map_err(|e| refused(e, &url, "refresh token", Some(path)))?;
                if let Some(rotated) = response.refresh_token() {
                    if rotated.secret() != refresh.secret() {
                        super::login::write_refresh_token(path, rotated.secret()).map_err(
                            |source| OAuthError::File {
                                key: "oauth2.refresh_token_file",
                                path: path.to_path_buf(),
                                source,
                            },
                        )?;
                    }
                }
                response
            }
        };
        tracing::info!(grant = ?self.settings.grant, expires_in = ?response.expires_in(), "OAuth2 access token obtained");
        let secret = SecretString::from(response.access_token().secret().to_string());
        Ok(Token::new(secret, response.expires_in(), started))
    }

    fn refresh_token_path(&self) -> Result<&Path, OAuthError> {
        self.settings
            .refresh_token_file
            .as_deref()
            .ok_or(OAuthError::Config {
                key: "oauth2.refresh_token_file",
                what: "not set".into(),
            })
    }
}

/// The reqwest client for token requests: no redirects (a token endpoint
/// that redirects is misconfigured, and following it could leak the
/// secret), a timeout per request.
pub(crate) fn http_client(settings: &OAuthSettings) -> Result<reqwest::Client, OAuthError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(settings.timeout_secs))
        .build()
        .map_err(|e| OAuthError::Config {
            key: "oauth2",
            what: format!("cannot set up HTTPS: {e}"),
        })
}

/// The oauth2 client: id, secret (sent in the request body, which
/// Microsoft and Google both take) and token endpoint.
pub(crate) fn token_client(settings: &OAuthSettings) -> Result<TokenClient, OAuthError> {
    let token_url = settings.token_url().ok_or(OAuthError::Config {
        key: "oauth2.token_url",
        what: "not set".into(),
    })?;
    let token_url = TokenUrl::new(token_url).map_err(|e| OAuthError::Config {
        key: "oauth2.token_url",
        what: e.to_string(),
    })?;
    let secret = settings
        .client_secret()
        .map_err(|source| OAuthError::File {
            key: "oauth2.client_secret_file",
            path: settings.client_secret_file.clone().unwrap_or_default(),
            source,
        })?;
    let mut client = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url);
    if let Some(secret) = secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
    }
    Ok(client)
}

fn read_refresh_token(path: &Path) -> Result<RefreshToken, OAuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| OAuthError::File {
        key: "oauth2.refresh_token_file",
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(OAuthError::Config {
            key: "oauth2.refresh_token_file",
            what: format!("{} is empty: run `supplyline oauth login`", path.display()),
        });
    }
    Ok(RefreshToken::new(token.to_string()))
}

/// A failed token request as an [`OAuthError`]: the provider's error code
/// and description, never the response body (it may hold a token).
pub(crate) fn refused<T>(
    e: RequestTokenError<HttpClientError<reqwest::Error>, T>,
    url: &str,
    grant: &'static str,
    refresh_token_file: Option<&Path>,
) -> OAuthError
where
    T: oauth2::ErrorResponse + ProviderError + 'static,
{
    match e {
        RequestTokenError::ServerResponse(answer) => {
            let (code, description) = answer.code_and_description();
            let revoked = code == "invalid_grant" && refresh_token_file.is_some();
            OAuthError::Refused {
                grant,
                url: url.to_string(),
                code,
                description,
                refresh_token_file: revoked
                    .then(|| refresh_token_file.map(PathBuf::from))
                    .flatten(),
            }
        }
        RequestTokenError::Request(source) => OAuthError::Unreachable {
            url: url.to_string(),
            source: Box::new(source),
        },
        RequestTokenError::Parse(source, _body) => OAuthError::BadAnswer {
            url: url.to_string(),
            what: source.to_string(),
        },
        RequestTokenError::Other(what) => OAuthError::BadAnswer {
            url: url.to_string(),
            what,
        },
    }
}

/// The error code and description of a provider's error answer.
pub(crate) trait ProviderError {
    fn code_and_description(&self) -> (String, Option<String>);
}

impl ProviderError for BasicErrorResponse {
    fn code_and_description(&self) -> (String, Option<String>) {
        (
            self.error().as_ref().to_string(),
            self.error_description().cloned(),
        )
    }
}

impl ProviderError for oauth2::DeviceCodeErrorResponse {
    fn code_and_description(&self) -> (String, Option<String>) {
        (
            self.error().as_ref().to_string(),
            self.error_description().cloned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_renewed_a_tenth_of_its_life_before_it_ends_at_most_five_minutes() {
        let now = Instant::now();
        let hour = Token::new(
            SecretString::from("a"),
            Some(Duration::from_secs(3600)),
            now,
        );
        assert!(hour.fresh_at(now + Duration::from_secs(3600 - 301)));
        assert!(!hour.fresh_at(now + Duration::from_secs(3600 - 299)));
        let short = Token::new(SecretString::from("b"), Some(Duration::from_secs(10)), now);
        assert!(short.fresh_at(now + Duration::from_millis(8900)));
        assert!(!short.fresh_at(now + Duration::from_millis(9100)));
        let endless = Token::new(SecretString::from("c"), None, now);
        assert!(endless.fresh_at(now + Duration::from_secs(86_400)));
    }

    #[test]
    fn debug_shows_no_secret() {
        let settings: OAuthSettings = toml::from_str(
            "provider = \"microsoft\"\nclient_id = \"app\"\nclient_secret = \"hunter2-secret\"\ntenant = \"contoso.example\"\ngrant = \"client_credentials\"\n",
        )
        .unwrap();
        let source = TokenSource::new(settings);
        let shown = format!("{source:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("contoso.example"), "{shown}");
    }
}
