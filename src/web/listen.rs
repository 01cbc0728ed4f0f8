//! Serving the site on a TCP listener with limits that keep slow or idle
//! clients from taking it down: a deadline for a request's headers (which
//! also ends idle keep-alive connections), a deadline for the whole
//! request, and at most so many connections at once. Past the limit, new
//! connections wait in the kernel's backlog until one ends, instead of
//! using up file descriptors; the header deadline makes sure one does.
//!
//! Owns: accepting connections and graceful shutdown. Does not own the
//! routes (that is [`super::router`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::TimeoutLayer;

use crate::config::WebConfig;

/// How long the server waits for slow clients, and for how many at once.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// From a connection's first byte (or the end of its last response) to
    /// the end of the request's headers; past it the connection is closed.
    pub header_read_timeout: Duration,
    /// From the end of the headers to the response, body included; past it
    /// the answer is 408.
    pub request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl From<&WebConfig> for ServeLimits {
    fn from(cfg: &WebConfig) -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(cfg.header_read_timeout_secs),
            request_timeout: Duration::from_secs(cfg.request_timeout_secs),
            max_connections: cfg.max_connections,
        }
    }
}

/// A pause after a failed accept (out of file descriptors, say), so the
/// loop does not spin while connections end.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` within `limits` until `shutdown` is
/// cancelled, then lets requests in flight finish (for at most the request
/// timeout).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ServeLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.context("connection slots closed")?,
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "web UI: cannot accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "web UI: connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.request_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("web UI: requests still running at shutdown were cut off");
    }
    Ok(())
}
