//! `/healthz`, `/readyz` and `/metrics`: what a process manager, a load
//! balancer and Prometheus ask, answered without a session, on the site's
//! listener and on `metrics.listen` when that is set.
//!
//! Owns: the three routes and the timing of every site request by route.
//! Does not own: the metrics and the readiness verdict (`crate::telemetry`).

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::store::Store;
use crate::telemetry::Telemetry;

/// What the health routes read.
#[derive(Clone)]
pub struct HealthState {
    pub store: Store,
    pub telemetry: Telemetry,
    /// `metrics.imap_max_age_secs`.
    pub imap_max_age: Duration,
}

/// A write probe that takes longer than this counts as failed: `/readyz`
/// answers within it even when another process holds the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The three routes.
pub fn routes(state: HealthState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 `ready` when the database takes a write, the last IMAP pass is
/// recent and SMTP answered at the last attempt; else 503 with the reasons,
/// one a line.
async fn readyz(State(state): State<HealthState>) -> Response {
    let probe = match tokio::time::timeout(PROBE_TIMEOUT, state.store.probe_write()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(crate::error_text::error_text(&e)),
        Err(_) => Err(format!(
            "a write took over {} s (the database locked elsewhere, or its server unreachable?)",
            PROBE_TIMEOUT.as_secs()
        )),
    };
    let reasons = state.telemetry.unready_reasons(probe, state.imap_max_age);
    if reasons.is_empty() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    tracing::debug!(?reasons, "not ready");
    let text = format!("not ready\n{}\n", reasons.join("\n"));
    (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
}

async fn metrics(State(state): State<HealthState>) -> Response {
    match state.telemetry.render(&state.store).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %crate::error_text::error_text(&e), "metrics: cannot read the queues");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Times each request by its route pattern (`/offers/{id}`, never the
/// path, so ids make no new series). For `Router::route_layer`.
pub async fn time_request(
    State(telemetry): State<Telemetry>,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    telemetry.web_request(&method, route, started.elapsed());
    response
}
