//! The triage site: server-rendered pages for staff, served by `supplyline
//! serve` on the `[web]` address.
//!
//! Owns: routes, accounts and sessions ([`auth`]), where login returns to
//! ([`return_to`]), login throttling ([`throttle`]), limits on slow
//! clients ([`listen`]), the queue ([`queue`]),
//! the offer page ([`offer`]), decisions with the next offer, undo, reopen
//! and confirmations ([`flow`]), held replies ([`replies`]),
//! showing a stored message safely
//! ([`message`]), the dashboard and failed messages ([`dashboard`]),
//! health checks and metrics without a session ([`health`]), addresses
//! suppressed after bounces ([`suppressions`]), the needs admins edit
//! ([`needs`]).
//! suppressed after bounces ([`suppressions`]), requests and inquiries,
//! staff-written replies and snippets ([`inquiries`], [`needed_by`]).
//! Does not own: SQL (that is `store`), the decisions' rules and writes
//! (`decide`), or reply rendering (`outbox`).
//!
//! Pages work without JavaScript; `/static/app.js` only adds keyboard
//! shortcuts (its key map is the desk's, listed by `?`) and hides the undo
//! confirmation when its time is over. Every byte from email reaches a page through a template with
//! HTML autoescaping and bidirectional controls defused ([`bidi`]), and the Content-Security-Policy allows no inline script.

pub mod auth;
pub mod batches;
pub mod bidi;
pub mod dashboard;
pub mod error;
pub mod flow;
pub mod health;
pub mod hooks;
pub mod inquiries;
pub mod listen;
pub mod message;
pub mod needed_by;
pub mod needs;
pub mod offer;
pub mod operations;
pub mod ownership;
pub mod queue;
pub mod replies;
pub mod return_to;
pub mod slots;
pub mod suppressions;
pub mod throttle;

use std::sync::Arc;

use anyhow::Context;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{AutoEscape, Environment};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::WebConfig;
use crate::decide::Desk;
use crate::outbox::Composer;
use crate::rules::catalog::Catalog;
use crate::store::Store;
use error::WebError;
pub use listen::ServeLimits;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub composer: Arc<Composer>,
    pub views: Arc<Views>,
    /// Marks cookies `Secure`; on when the site is reached over HTTPS.
    pub secure_cookies: bool,
    pub session_hours: i64,
    /// Proxies whose `X-Forwarded-For` names the client ([`throttle`]).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Metrics and readiness ([`health`]); a fresh set unless `serve`'s.
    pub telemetry: crate::telemetry::Telemetry,
    /// `metrics.imap_max_age_secs`, for `/readyz`.
    pub imap_max_age: std::time::Duration,
    /// `POST /hooks/new-mail`, when a secret is configured ([`hooks`]).
    pub new_mail_hook: Option<Arc<hooks::NewMailHook>>,
    /// The item catalog staff pick items from ([`needs`], [`offer`]).
    pub catalog: Arc<Catalog>,
    /// `web.undo_secs` in milliseconds: how long a decision can be undone ([`flow`]).
    pub undo_ms: i64,
    /// Who has which offer open ([`ownership::presence`]).
    pub presence: Arc<ownership::Presence>,
    /// `web.answer_within`: open offers older than this are marked.
    pub answer_within: ownership::AnswerWithin,
}

impl AppState {
    pub fn new(store: Store, composer: Arc<Composer>, cfg: &WebConfig) -> anyhow::Result<AppState> {
        Ok(AppState {
            store,
            composer,
            views: Arc::new(Views::new()?),
            secure_cookies: cfg.cookies_secure(),
            session_hours: cfg.session_hours as i64,
            trusted_proxies: cfg
                .trusted_proxies
                .iter()
                .map(|p| {
                    throttle::parse_proxy(p)
                        .with_context(|| format!("web.trusted_proxies: {p:?} is not an address"))
                })
                .collect::<anyhow::Result<_>>()?,
            telemetry: Default::default(),
            imap_max_age: std::time::Duration::from_secs(
                crate::config::MetricsConfig::default().imap_max_age_secs,
            ),
            new_mail_hook: None,
            catalog: Arc::new(Catalog::embedded().context("reading the built-in item catalog")?),
            undo_ms: cfg.undo_secs.saturating_mul(1000).min(i64::MAX as u64) as i64,
            presence: Default::default(),
            answer_within: cfg.answer_within,
        })
    }

    /// The same site picking items from `catalog` (the operator's rules).
    pub fn with_catalog(mut self, catalog: Arc<Catalog>) -> AppState {
        self.catalog = catalog;
        self
    }

    /// The same site counting into `serve`'s metrics, judging readiness
    /// by `metrics`.
    pub fn with_telemetry(
        mut self,
        telemetry: crate::telemetry::Telemetry,
        metrics: &crate::config::MetricsConfig,
    ) -> AppState {
        self.telemetry = telemetry;
        self.imap_max_age = std::time::Duration::from_secs(metrics.imap_max_age_secs);
        self
    }

    /// What the health routes need.
    pub fn health(&self) -> health::HealthState {
        health::HealthState {
            store: self.store.clone(),
            telemetry: self.telemetry.clone(),
            imap_max_age: self.imap_max_age,
        }
    }

    /// Arms `POST /hooks/new-mail` to wake `fetcher` when the config sets
    /// its secret; without one the hook stays off (404).
    pub fn with_new_mail_hook(
        mut self,
        cfg: &WebConfig,
        fetcher: Arc<Notify>,
    ) -> anyhow::Result<AppState> {
        let secret =
            crate::config::read_secret(&cfg.new_mail_hook_secret, &cfg.new_mail_hook_secret_file)
                .context("reading web.new_mail_hook_secret_file")?;
        self.new_mail_hook = secret.map(|s| Arc::new(hooks::NewMailHook::new(&s, fetcher)));
        Ok(self)
    }

    /// Decisions ([`crate::decide`]) made by the person of `session`.
    pub fn desk<'a>(&'a self, session: &'a auth::Session) -> Desk<'a> {
        Desk {
            store: &self.store,
            composer: &self.composer,
            actor: &session.user.email,
        }
    }
}

/// A rendered page.
pub type Page = Html<String>;

/// The page templates, built into the binary, HTML-escaped throughout.
pub struct Views {
    env: Environment<'static>,
}

const PAGES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/web/base.html")),
    ("needs.html", include_str!("../../templates/web/needs.html")),
    (
        "item_picker.html",
        include_str!("../../templates/web/item_picker.html"),
    ),
    ("login.html", include_str!("../../templates/web/login.html")),
    ("queue.html", include_str!("../../templates/web/queue.html")),
    ("offer.html", include_str!("../../templates/web/offer.html")),
    ("held.html", include_str!("../../templates/web/held.html")),
    (
        "held_buttons.html",
        include_str!("../../templates/web/held_buttons.html"),
    ),
    // desk-slots: slots and pickups (#16)
    (
        "slots_accept.html",
        include_str!("../../templates/web/slots_accept.html"),
    ),
    (
        "slots_booking.html",
        include_str!("../../templates/web/slots_booking.html"),
    ),
    (
        "slots_preview.html",
        include_str!("../../templates/web/slots_preview.html"),
    ),
    (
        "slots_dashboard.html",
        include_str!("../../templates/web/slots_dashboard.html"),
    ),
    // desk (#16): bulk decisions with Undo
    (
        "batch_banner.html",
        include_str!("../../templates/web/batch_banner.html"),
    ),
    // desk-flow (#16)
    (
        "flow_banner.html",
        include_str!("../../templates/web/flow_banner.html"),
    ),
    (
        "decline_preview.html",
        include_str!("../../templates/web/decline_preview.html"),
    ),
    (
        "merge_confirm.html",
        include_str!("../../templates/web/merge_confirm.html"),
    ),
    (
        "remove_confirm.html",
        include_str!("../../templates/web/remove_confirm.html"),
    ),
    (
        "dashboard.html",
        include_str!("../../templates/web/dashboard.html"),
    ),
    (
        "failed.html",
        include_str!("../../templates/web/failed.html"),
    ),
    (
        "suppressions.html",
        include_str!("../../templates/web/suppressions.html"),
    ),
    (
        "lift_button.html",
        include_str!("../../templates/web/lift_button.html"),
    ),
    (
        "message.html",
        include_str!("../../templates/web/message.html"),
    ),
    // desk-own (#16)
    (
        "offer_own.html",
        include_str!("../../templates/web/offer_own.html"),
    ),
    (
        "queue_own_views.html",
        include_str!("../../templates/web/queue_own_views.html"),
    ),
    (
        "queue_own_filter.html",
        include_str!("../../templates/web/queue_own_filter.html"),
    ),
    (
        "queue_own_head.html",
        include_str!("../../templates/web/queue_own_head.html"),
    ),
    (
        "queue_own_row.html",
        include_str!("../../templates/web/queue_own_row.html"),
    ),
    (
        "queue_own_bulk.html",
        include_str!("../../templates/web/queue_own_bulk.html"),
    ),
    ("text.html", include_str!("../../templates/web/text.html")),
    // desk-replies: requests, inquiries, staff replies and snippets
    ("lane.html", include_str!("../../templates/web/lane.html")),
    (
        "lane_item.html",
        include_str!("../../templates/web/lane_item.html"),
    ),
    (
        "reply_form.html",
        include_str!("../../templates/web/reply_form.html"),
    ),
    (
        "reply_preview.html",
        include_str!("../../templates/web/reply_preview.html"),
    ),
    (
        "snippets.html",
        include_str!("../../templates/web/snippets.html"),
    ),
];

impl Views {
    pub fn new() -> anyhow::Result<Views> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_formatter(bidi::formatter);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in PAGES {
            env.add_template(name, source)
                .with_context(|| format!("loading page template {name}"))?;
        }
        env.add_filter("when", when);
        env.add_filter("age", |ms: i64| age(crate::store::now_ms() - ms));
        env.add_filter("qty", |q: Option<f64>| crate::store::fmt_qty(q));
        Ok(Views { env })
    }

    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<Page, WebError> {
        Ok(Html(self.env.get_template(name)?.render(ctx)?))
    }
}

/// Milliseconds since the epoch as `2026-05-01 14:03 UTC`.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A duration in milliseconds as a person reads an age: `5 min`, `3 h`, `2 d`.
fn age(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        0 => "under a minute".into(),
        1..=59 => format!("{minutes} min"),
        60..=2879 => format!("{} h", minutes / 60),
        _ => format!("{} d", minutes / 1440),
    }
}

const CSS: &str = include_str!("../../templates/web/app.css");
const JS: &str = include_str!("../../templates/web/app.js");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every route of the site.
pub fn router(state: AppState) -> Router {
    let static_files = Router::new()
        .route(
            "/static/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], CSS) }),
        )
        .route(
            "/static/app.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], JS) }),
        )
        .route(
            "/static/ownership.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], ownership::JS) }),
        );
    let health = health::routes(state.health());
    Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/", get(queue::queue_page))
        .route("/bulk", post(queue::bulk))
        .route("/export/offers.csv", get(queue::export_offers))
        .route("/export/items.csv", get(queue::export_items))
        .route("/offers/{id}", get(offer::offer_page))
        .route("/offers/{id}/items", post(offer::add_item))
        .route("/offers/{id}/items/{item}", post(offer::update_item))
        .route("/offers/{id}/items/{item}/remove", post(offer::remove_item))
        .route("/offers/{id}/notes", post(offer::add_note))
        // desk-slots: slots and pickups (#16)
        .route("/offers/{id}/slot/cancel", post(slots::cancel))
        .route("/offers/{id}/accept/preview", post(slots::preview))
        .route("/offers/{id}/accept", post(slots::accept))
        .route("/offers/{id}/decline", post(flow::decline))
        .route("/offers/{id}/spam", post(flow::spam))
        .route("/offers/{id}/merge", post(flow::merge))
        .route("/offers/{id}/received", post(flow::received))
        // desk-flow (#16): decline preview, undo, reopen
        .route("/offers/{id}/decline/preview", post(flow::decline_preview))
        .route("/undo/{id}", post(flow::undo))
        // desk (#16): bulk decisions with Undo
        .route("/undo-batch/{id}", post(batches::undo))
        .route("/offers/{id}/reopen", post(flow::reopen))
        .route("/replies/held", get(replies::held_page))
        .route("/replies/{id}/{action}", post(replies::settle))
        .route("/messages/{id}", get(offer::message_page))
        .route("/messages/{id}/attachments/{n}", get(offer::attachment))
        .route("/dashboard", get(dashboard::dashboard_page))
        .route("/failed", get(dashboard::failed_page))
        .route("/failed/{id}/retry", post(dashboard::retry))
        .route(
            "/hooks/new-mail",
            post(hooks::new_mail).put(hooks::new_mail),
        )
        .route("/needs", get(needs::needs_page).post(needs::set_need))
        .route("/needs/{item}/remove", post(needs::remove_need))
        .route("/suppressions", get(suppressions::list_page))
        .route("/suppressions/lift", post(suppressions::lift))
        // desk-own (#16): assignment, presence, saved views.
        .route("/offers/{id}/assign", post(ownership::assign))
        .route("/offers/{id}/presence", post(ownership::ping))
        .route("/views", post(ownership::save_view))
        .route("/views/{id}/delete", post(ownership::delete_view))
        // desk-replies: requests, inquiries, staff replies and snippets
        .route("/requests", get(inquiries::requests_page))
        .route("/inquiries", get(inquiries::inquiries_page))
        .route("/requests/{id}", get(inquiries::request_page))
        .route("/inquiries/{id}", get(inquiries::inquiry_page))
        .route("/offers/{id}/handled", post(inquiries::mark_handled))
        .route("/offers/{id}/lane-notes", post(inquiries::add_note))
        .route("/offers/{id}/reply/preview", post(inquiries::reply_preview))
        .route("/offers/{id}/reply", post(inquiries::reply_send))
        .route(
            "/snippets",
            get(inquiries::snippets_page).post(inquiries::create_snippet),
        )
        .route("/snippets/{id}", post(inquiries::update_snippet))
        .route("/snippets/{id}/delete", post(inquiries::delete_snippet))
        .route_layer(axum::middleware::from_fn_with_state(
            state.telemetry.clone(),
            health::time_request,
        ))
        .fallback(|| async { WebError::NotFound.into_response() })
        .with_state(state)
        .merge(static_files)
        .merge(health)
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(header_layer(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
        .layer(header_layer(header::CACHE_CONTROL, "no-store"))
}

fn header_layer(
    name: header::HeaderName,
    value: &'static str,
) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Loads the operators' file into the database, binds `cfg.listen` and serves
/// until `shutdown` is cancelled. `fetcher`, when there is one, is what the
/// new-mail hook wakes.
pub async fn run(
    cfg: WebConfig,
    store: Store,
    composer: Arc<Composer>,
    fetcher: Option<Arc<Notify>>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut state = AppState::new(store, composer, &cfg)?;
    if let Some(fetcher) = fetcher {
        state = state.with_new_mail_hook(&cfg, fetcher)?;
    }
    run_site(cfg, state, shutdown).await
}

/// Like [`run`], with the state built (`serve` adds its telemetry).
pub async fn run_site(
    cfg: WebConfig,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(path) = &cfg.needs_file {
        operations::load_file(&state.store, path, &state.catalog).await?;
    }
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("listening on {} (web.listen)", cfg.listen))?;
    tracing::info!(address = %cfg.listen, "web UI listening");
    if !cfg.listens_on_loopback() && !cfg.cookies_secure() {
        tracing::warn!(
            address = %cfg.listen,
            "the web UI listens beyond this machine and its cookies are not Secure \
             (web.secure_cookies = false): session cookies can travel in clear text"
        );
    }
    serve_on(listener, state, ServeLimits::from(&cfg), shutdown).await
}

/// Serves the site on a bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    listen::serve(listener, router(state), limits, shutdown)
        .await
        .context("serving the web UI")
}

/// Serves only `/healthz`, `/readyz` and `/metrics` on `listen`
/// (`metrics.listen`) until `shutdown` is cancelled.
pub async fn run_health(
    listen: &str,
    state: health::HealthState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen} (metrics.listen)"))?;
    tracing::info!(address = %listen, "health and metrics listening");
    let limits = ServeLimits::from(&WebConfig::default());
    listen::serve(listener, health::routes(state), limits, shutdown)
        .await
        .context("serving health and metrics")
}
