//! Accounts and sessions: argon2id password hashes (checked on blocking
//! threads, a few at a time, so a burst of logins does not stall the
//! pages), login slowed down after failures ([`super::throttle`]), session cookies, CSRF tokens, roles, logout. A request without
//! a session goes to login and, once logged in, back to the page it asked
//! for when that is a path on this site ([`super::return_to`]).
//!
//! The session cookie holds 32 random bytes; the database keeps only their
//! SHA-256. Each session has its own CSRF token, sent in every form and
//! compared on every POST. The login form, which comes before any session,
//! is protected by a double-submit cookie instead.

use std::net::SocketAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use axum_extra::extract::Form;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::WebError;
use super::return_to::{local_path, DEFAULT_PAGE};
use super::{throttle, AppState, Page};
pub use crate::state::Role;
use crate::store::{now_ms, LoginSlot, User};

pub const SESSION_COOKIE: &str = "sl_session";
const LOGIN_CSRF_COOKIE: &str = "sl_login";

/// Password checks running at once. Each takes about 19 MiB and tens of
/// milliseconds of a core; more would only queue on the cores anyway.
static PASSWORD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The shortest password an account of `role` may have: admins can do
/// the most, so theirs is longer.
pub fn min_password_chars(role: Role) -> usize {
    match role {
        Role::Admin => 12,
        Role::Triager | Role::Viewer => 10,
    }
}

/// Refuses a password shorter than [`min_password_chars`] for `role`.
pub fn check_password_length(password: &str, role: Role) -> Result<(), String> {
    let min = min_password_chars(role);
    if password.chars().count() < min {
        return Err(format!("the password must have at least {min} characters"));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// Checks a password against a throwaway hash, so that an unknown account
/// takes as long to refuse as a wrong password.
fn burn_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    verify_password(password, phc);
}

/// Checks `password` against `phc` (or, for an unknown account, against a
/// throwaway hash) on a blocking thread, at most [`PASSWORD_CHECKS`] at once.
async fn check_password(password: String, phc: Option<String>) -> Result<bool, WebError> {
    let _turn = PASSWORD_CHECKS
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("password check slots closed: {e}"))?;
    let check = tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_password(&password, &phc),
        None => {
            burn_time(&password);
            false
        }
    });
    Ok(check
        .await
        .map_err(|e| anyhow::anyhow!("checking a password: {e}"))?)
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The logged-in person, extracted from the session cookie. A handler that
/// takes a `Session` cannot run without one: the browser is sent to login.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

impl Session {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Refuses unless the person's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), WebError> {
        if self.role() >= role {
            Ok(())
        } else {
            Err(WebError::Forbidden(self.user.role.to_string()))
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), WebError> {
        if !sent.is_empty() && same(sent, &self.csrf) {
            Ok(())
        } else {
            Err(WebError::BadCsrf)
        }
    }

    /// Both checks every changing handler makes first.
    pub fn may_change(&self, csrf: &str, role: Role) -> Result<(), WebError> {
        self.check_csrf(csrf)?;
        self.require(role)
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let unauthenticated = || WebError::Unauthenticated {
            next: return_path(parts),
        };
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_string())
            .ok_or_else(unauthenticated)?;
        let row = state
            .store
            .session(&token_hash(&token))
            .await?
            .ok_or_else(unauthenticated)?;
        Ok(Session {
            user: row.user,
            csrf: row.csrf_token,
        })
    }
}

/// The page a GET asked for (path and query), to come back to after login.
/// A form sent without a session has nothing worth returning to.
fn return_path(parts: &Parts) -> Option<String> {
    if parts.method != Method::GET {
        return None;
    }
    parts.uri.path_and_query().map(|p| p.as_str().to_string())
}

/// The client's address, for login throttling: the peer's, or the one a
/// trusted proxy forwarded ("unknown" when not served over TCP).
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(throttle::client_address(
            peer,
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

/// An HttpOnly cookie for the whole site. The session cookie is `Lax`, so a
/// link to an offer pasted in a chat opens it; every POST is guarded by its
/// CSRF token anyway. The login token is `Strict`.
fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(if name == SESSION_COOKIE {
        SameSite::Lax
    } else {
        SameSite::Strict
    });
    c.set_secure(state.secure_cookies);
    c.set_path("/");
    c
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The login form; `?next=` (when a local path) is carried in a hidden field.
/// A query that does not parse is ignored, as if there were none.
pub async fn login_page(
    State(state): State<AppState>,
    query: Result<Query<LoginQuery>, QueryRejection>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let next = query.ok().and_then(|Query(q)| q.next).unwrap_or_default();
    login_form(&state, jar, None, &next)
}

/// The login form again, saying what went wrong.
fn login_form(
    state: &AppState,
    jar: CookieJar,
    error: Option<&str>,
    next: &str,
) -> Result<Response, WebError> {
    let token = random_token();
    let page = state.views.render(
        "login.html",
        minijinja::context! { login_csrf => &token, error => error, next => local_path(next) },
    )?;
    let jar = jar.add(cookie(state, LOGIN_CSRF_COOKIE, token));
    Ok((jar, page).into_response())
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    /// Where to go once logged in; followed only when a local path.
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|e| !form.csrf.is_empty() && same(&e, &form.csrf)) {
        return Err(WebError::BadCsrf);
    }
    let email = form.email.trim().to_lowercase();
    let since = now_ms() - throttle::WINDOW_MS;
    let slot = state
        .store
        .reserve_login_attempt(&email, &client, since, throttle::next_attempt_at)
        .await?;
    let attempt = match slot {
        LoginSlot::Reserved(attempt) => attempt,
        LoginSlot::Wait { until_ms } => {
            let wait = throttle::seconds_until(until_ms, now_ms());
            tracing::warn!(email = ?email, %client, wait, "login slowed down: too many failures");
            let message = format!("Too many attempts: wait {wait} s, then log in again.");
            let mut page = login_form(&state, jar, Some(&message), &form.next)?;
            *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return Ok(page);
        }
    };
    let (user, hash) = state.store.user_for_login(&email).await?.unzip();
    // An unknown account takes as long to refuse as a wrong password.
    let right = check_password(form.password, hash).await?;
    state.store.finish_login_attempt(attempt, right).await?;
    let Some(user) = user.filter(|_| right) else {
        return login_form(&state, jar, Some("Wrong email or password."), &form.next);
    };
    let token = random_token();
    let expires = now_ms() + state.session_hours * 3_600_000;
    state
        .store
        .create_session(&token_hash(&token), user.id, &random_token(), expires)
        .await?;
    tracing::info!(user = ?user.email, "logged in");
    let jar = jar
        .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/"))
        .add(cookie(&state, SESSION_COOKIE, token));
    Ok((jar, Redirect::to(after_login(&form.next))).into_response())
}

/// Where a successful login goes: `next` when it is a local path, else the
/// queue (a refused `next` is logged, as it may be a phishing attempt).
fn after_login(next: &str) -> &str {
    match local_path(next) {
        Some(path) => path,
        None => {
            if !next.is_empty() {
                tracing::info!(next = ?next, "login: return path is not on this site; going to the queue");
            }
            DEFAULT_PAGE
        }
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    jar: CookieJar,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    session.check_csrf(&form.csrf)?;
    if let Some(c) = jar.get(SESSION_COOKIE) {
        state.store.delete_session(&token_hash(c.value())).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}

/// Renders a page for a logged-in person: the layout needs who and the token.
pub fn page(
    state: &AppState,
    session: &Session,
    name: &str,
    ctx: minijinja::Value,
) -> Result<Page, WebError> {
    let ctx = minijinja::context! {
        me => &session.user,
        csrf => &session.csrf,
        can_change => session.role() >= Role::Triager,
        is_admin => session.role() >= Role::Admin,
        ..ctx
    };
    state.views.render(name, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trips_and_is_argon2id() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    /// On a one-thread runtime, other tasks run while a password is being
    /// checked: the check is off the runtime's thread.
    #[tokio::test(flavor = "current_thread")]
    async fn password_checks_leave_the_runtime_free() {
        let phc = hash_password("correct horse").unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        let check = async {
            let ok = check_password("correct horse".into(), Some(phc)).await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            ok
        };
        let others = async {
            let mut turns = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                turns += 1;
                tokio::task::yield_now().await;
            }
            turns
        };
        let (ok, turns) = tokio::join!(check, others);
        assert!(ok.unwrap());
        assert!(turns > 0, "nothing else ran during the check");
        let unknown = check_password("x".into(), None).await.unwrap();
        assert!(!unknown);
    }

    #[test]
    fn admins_need_longer_passwords() {
        assert!(check_password_length("elevenchars", Role::Admin).is_err());
        assert!(check_password_length("twelve chars", Role::Admin).is_ok());
        assert!(check_password_length("ninechars", Role::Triager).is_err());
        assert!(check_password_length("tenchars!!", Role::Viewer).is_ok());
    }

    #[test]
    fn token_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
