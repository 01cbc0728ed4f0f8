//! `POST /hooks/new-mail`: the mail server's push wake-up.
//!
//! Dovecot delays the IDLE notification of new mail by a fixed 500 ms. Its
//! push_notification plugin (the `ox` driver) can instead call this hook the
//! moment a message is delivered; the hook wakes the fetch stage, which then
//! reads the mailbox at once. The request says only "something arrived": its
//! body is ignored and the fetcher reads the mailbox as always, so a false or
//! repeated call costs one IMAP pass and nothing else. IDLE stays the default
//! and the fallback when no push comes.
//!
//! The caller proves it knows the shared secret (`web.new_mail_hook_secret`)
//! with HTTP Basic authentication (any user name; Dovecot's `ox` driver sends
//! the `user:password@` of its URL that way) or `Authorization: Bearer`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::AppState;

/// The configured hook: its secret and the fetch stage's wake-up.
pub struct NewMailHook {
    secret_digest: [u8; 32],
    wake: Arc<Notify>,
}

impl NewMailHook {
    pub fn new(secret: &SecretString, wake: Arc<Notify>) -> NewMailHook {
        NewMailHook {
            secret_digest: digest(secret.expose_secret()),
            wake,
        }
    }

    /// Whether the request's `Authorization` carries the secret. Digests are
    /// compared, so the time taken says nothing about the secret's prefix.
    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        presented_secret(value).is_some_and(|s| digest(&s) == self.secret_digest)
    }
}

/// The secret in an `Authorization` value: a Bearer token, or the password
/// of Basic credentials.
fn presented_secret(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let credentials = String::from_utf8(decoded).ok()?;
    let (_user, password) = credentials.split_once(':')?;
    Some(password.to_string())
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// `POST` or `PUT /hooks/new-mail`: 204 and the fetcher wakes; 401 without
/// the secret; 404 when no secret is configured.
pub async fn new_mail(State(state): State<AppState>, headers: HeaderMap) -> StatusCode {
    let Some(hook) = &state.new_mail_hook else {
        return StatusCode::NOT_FOUND;
    };
    if !hook.admits(&headers) {
        tracing::warn!("a new-mail hook call without the shared secret was refused");
        return StatusCode::UNAUTHORIZED;
    }
    tracing::debug!("new-mail hook: waking the fetch stage");
    hook.wake.notify_one();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> NewMailHook {
        NewMailHook::new(&SecretString::from("s3cret"), Arc::new(Notify::new()))
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn basic_credentials_with_the_secret_as_password_are_admitted() {
        let token = base64::engine::general_purpose::STANDARD.encode("dovecot:s3cret");
        assert!(hook().admits(&with_auth(&format!("Basic {token}"))));
    }

    #[test]
    fn a_bearer_token_equal_to_the_secret_is_admitted() {
        assert!(hook().admits(&with_auth("Bearer s3cret")));
    }

    #[test]
    fn a_wrong_or_missing_secret_is_refused() {
        let wrong = base64::engine::general_purpose::STANDARD.encode("dovecot:s3cre");
        assert!(!hook().admits(&with_auth(&format!("Basic {wrong}"))));
        assert!(!hook().admits(&with_auth("Bearer nope")));
        assert!(!hook().admits(&with_auth("Digest s3cret")));
        assert!(!hook().admits(&HeaderMap::new()));
    }
}
