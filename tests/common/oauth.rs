//! A small OAuth2 provider in the test process, on the mail stack's
//! `OAUTH_PORT`: the token endpoint (refresh token, client credentials and
//! device code grants), the device authorization endpoint, and the RFC 7662
//! introspection endpoint that Dovecot's `oauth2` passdb asks whether a
//! token is valid. Tokens it issued are valid until they expire or a test
//! revokes them; Dovecot then refuses them, as Microsoft's or Google's
//! servers would.
//!
//! It runs on its own thread and runtime (tests each have their own
//! runtime, which ends with the test), started on first use. Each test
//! registers its own [`TestClient`] (a client id) for its mailbox, so
//! counters and revocations never cross tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde_json::json;

use super::mail_stack::mail_stack;

/// The provider's endpoints.
pub struct OAuthProvider {
    pub base: String,
    state: Arc<Mutex<Provider>>,
}

#[derive(Default)]
struct Provider {
    clients: HashMap<String, Client>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, String>,
    devices: HashMap<String, Device>,
    codes: HashMap<String, Code>,
    counter: u64,
}

/// An authorization code the browser sign-in gave, waiting for its exchange.
struct Code {
    client: String,
    challenge: String,
    redirect_uri: String,
}

/// A registered application and what was asked of it.
#[derive(Default)]
struct Client {
    secret: String,
    user: String,
    lifetime: u64,
    rotate: bool,
    /// Token requests by grant type (`refresh_token`, `client_credentials`, `device_code`).
    requests: HashMap<String, usize>,
}

struct Access {
    client: String,
    user: String,
    expires: Instant,
    revoked: bool,
}

struct Device {
    client: String,
    user_code: String,
    approved: bool,
    polls: usize,
}

static PROVIDER: OnceLock<OAuthProvider> = OnceLock::new();

/// The provider of this test process, listening on the stack's `OAUTH_PORT`.
pub fn oauth_provider() -> &'static OAuthProvider {
    PROVIDER.get_or_init(|| {
        let port = mail_stack().oauth_port;
        let state = Arc::new(Mutex::new(Provider::default()));
        let app = Router::new()
            .route("/token", post(token))
            .route("/device", post(device))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap_or_else(|e| panic!("OAuth provider cannot listen on {port}: {e}"));
                ready_tx.send(()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the OAuth provider did not start");
        OAuthProvider {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    })
}

impl OAuthProvider {
    /// A new application whose tokens log `user` in, each valid for an hour.
    pub fn client(&'static self, user: &str) -> TestClient {
        let id = format!("client-{:016x}", rand::random::<u64>());
        let secret = format!("secret-{:016x}", rand::random::<u64>());
        let client = Client {
            secret: secret.clone(),
            user: user.to_string(),
            lifetime: 3600,
            ..Client::default()
        };
        self.state
            .lock()
            .unwrap()
            .clients
            .insert(id.clone(), client);
        TestClient {
            id,
            secret,
            user: user.to_string(),
            provider: self,
        }
    }
}

/// One test's application at the provider.
pub struct TestClient {
    pub id: String,
    pub secret: String,
    pub user: String,
    provider: &'static OAuthProvider,
}

impl TestClient {
    fn with<T>(&self, f: impl FnOnce(&mut Provider) -> T) -> T {
        f(&mut self.provider.state.lock().unwrap())
    }

    /// Seconds each new access token is valid.
    pub fn set_lifetime(&self, secs: u64) {
        self.with(|p| p.clients.get_mut(&self.id).unwrap().lifetime = secs);
    }

    /// Each refresh answers with a new refresh token (as Microsoft does).
    pub fn set_rotate(&self, rotate: bool) {
        self.with(|p| p.clients.get_mut(&self.id).unwrap().rotate = rotate);
    }

    /// A refresh token, as a past sign-in would have left.
    pub fn refresh_token(&self) -> String {
        self.with(|p| p.new_refresh(&self.id))
    }

    /// Revoke every refresh token of this client (a password change, an
    /// administrator's "revoke sessions").
    pub fn revoke_refresh_tokens(&self) {
        self.with(|p| p.refresh.retain(|_, client| *client != self.id));
    }

    /// Access tokens issued so far stop working at once, before their expiry.
    pub fn revoke_access_tokens(&self) {
        self.with(|p| {
            for access in p.access.values_mut().filter(|a| a.client == self.id) {
                access.revoked = true;
            }
        });
    }

    /// Every access and refresh token issued to this client so far.
    pub fn issued(&self) -> Vec<String> {
        self.with(|p| {
            let access = p.access.iter().filter(|(_, a)| a.client == self.id);
            let refresh = p.refresh.iter().filter(|(_, c)| **c == self.id);
            let access = access.map(|(t, _)| t.clone());
            access.chain(refresh.map(|(t, _)| t.clone())).collect()
        })
    }

    /// Token requests of `grant` type so far.
    pub fn requests(&self, grant: &str) -> usize {
        self.with(|p| {
            p.clients[&self.id]
                .requests
                .get(grant)
                .copied()
                .unwrap_or(0)
        })
    }

    /// The user signs in and agrees, in a browser, with `user_code`.
    pub fn approve(&self, user_code: &str) {
        self.with(|p| {
            let device = p
                .devices
                .values_mut()
                .find(|d| d.client == self.id && d.user_code == user_code)
                .unwrap_or_else(|| panic!("no device login waits with code {user_code}"));
            device.approved = true;
        });
    }

    /// The user signs in at the authorization endpoint of a browser
    /// sign-in that asked for `challenge` (PKCE S256) and `redirect_uri`:
    /// the code the browser is sent back with.
    pub fn authorization_code(&self, challenge: &str, redirect_uri: &str) -> String {
        self.with(|p| {
            let code = p.next("code");
            let entry = Code {
                client: self.id.clone(),
                challenge: challenge.to_string(),
                redirect_uri: redirect_uri.to_string(),
            };
            p.codes.insert(code.clone(), entry);
            code
        })
    }

    /// An `[oauth2]` section for this client: provider "generic" with this
    /// provider's endpoints, plus `extra` lines.
    pub fn section(&self, extra: &str) -> String {
        let base = &self.provider.base;
        format!(
            "[oauth2]\nprovider = \"generic\"\nclient_id = \"{}\"\ntoken_url = \"{base}/token\"\n\
             device_url = \"{base}/device\"\nauth_url = \"{base}/authorize\"\nscopes = [\"mail\"]\ntimeout_secs = 10\n{extra}\n",
            self.id
        )
    }
}

impl Provider {
    fn next(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{kind}-{}-{:016x}", self.counter, rand::random::<u64>())
    }

    fn new_refresh(&mut self, client: &str) -> String {
        let token = self.next("refresh");
        self.refresh.insert(token.clone(), client.to_string());
        token
    }

    /// A token answer for `client`, with a refresh token when `refresh` is set.
    fn grant(&mut self, client: &str, refresh: Option<String>) -> Response {
        let (user, lifetime) = {
            let c = &self.clients[client];
            (c.user.clone(), c.lifetime)
        };
        let token = self.next("access");
        self.access.insert(
            token.clone(),
            Access {
                client: client.to_string(),
                user,
                expires: Instant::now() + Duration::from_secs(lifetime),
                revoked: false,
            },
        );
        let mut body = json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
        });
        if let Some(refresh) = refresh {
            body["refresh_token"] = json!(refresh);
        }
        json_response(StatusCode::OK, body)
    }
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = json!({ "error": code, "error_description": description });
    json_response(status, body)
}

/// `body` as an `application/json` answer (the crate's axum has no `json` feature).
fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let headers = [(axum::http::header::CONTENT_TYPE, "application/json")];
    (status, headers, body.to_string()).into_response()
}

type Shared = State<Arc<Mutex<Provider>>>;

async fn token(State(state): Shared, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut p = state.lock().unwrap();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    let Some(client) = p.clients.get_mut(&client_id) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client");
    };
    let grant = get("grant_type");
    let short = grant.rsplit(':').next().unwrap_or_default().to_string();
    *client.requests.entry(short.clone()).or_default() += 1;
    let rotate = client.rotate;
    let secret_ok = client.secret == get("client_secret");
    match short.as_str() {
        "refresh_token" => {
            let used = get("refresh_token");
            if p.refresh.get(&used) != Some(&client_id) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The refresh token has expired or been revoked.",
                );
            }
            let next = rotate.then(|| {
                p.refresh.remove(&used);
                p.new_refresh(&client_id)
            });
            p.grant(&client_id, next)
        }
        "client_credentials" if secret_ok => p.grant(&client_id, None),
        "client_credentials" => error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "wrong client secret",
        ),
        "device_code" => {
            let code = get("device_code");
            let Some(device) = p.devices.get_mut(&code) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "expired_token",
                    "unknown device code",
                );
            };
            device.polls += 1;
            if !device.approved {
                return error(
                    StatusCode::BAD_REQUEST,
                    "authorization_pending",
                    "waiting for the user",
                );
            }
            p.devices.remove(&code);
            let refresh = p.new_refresh(&client_id);
            p.grant(&client_id, Some(refresh))
        }
        "authorization_code" => {
            let Some(code) = p.codes.remove(&get("code")) else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
            };
            use base64::Engine;
            use sha2::Digest;
            let verifier = sha2::Sha256::digest(get("code_verifier").as_bytes());
            let derived = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(verifier);
            if code.client != client_id
                || code.redirect_uri != get("redirect_uri")
                || code.challenge != derived
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code, client, redirect or PKCE verifier do not match",
                );
            }
            let refresh = p.new_refresh(&client_id);
            p.grant(&client_id, Some(refresh))
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type", &grant),
    }
}

async fn device(State(state): Shared, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut p = state.lock().unwrap();
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    if !p.clients.contains_key(&client_id) {
        return error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client");
    }
    let device_code = p.next("device");
    let user_code = format!("{:08X}", rand::random::<u32>());
    p.devices.insert(
        device_code.clone(),
        Device {
            client: client_id,
            user_code: user_code.clone(),
            approved: false,
            polls: 0,
        },
    );
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": "https://login.example.test/device",
        "expires_in": 300,
        "interval": 1,
    });
    json_response(StatusCode::OK, body)
}

async fn introspect(State(state): Shared, Form(form): Form<HashMap<String, String>>) -> Response {
    let p = state.lock().unwrap();
    let token = form.get("token").cloned().unwrap_or_default();
    let body = match p.access.get(&token) {
        Some(a) if !a.revoked && Instant::now() < a.expires => {
            json!({ "active": true, "username": a.user })
        }
        _ => json!({ "active": false }),
    };
    json_response(StatusCode::OK, body)
}
