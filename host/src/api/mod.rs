//! The daemon's HTTP endpoint (loopback by default, runner.yaml's
//! `listen`): `/metrics` for Prometheus (OpenMetrics or the text format,
//! as the scrape's `Accept` header asks) and `/status` as JSON for
//! `runner status`, behind [`auth`].

pub mod auth;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::daemon::AccessToken;
use crate::sinks::prometheus::{self, Prometheus};
use crate::snapshot::SnapshotService;
use crate::status::{SnapshotStats, StatusRegistry};

/// What the endpoint reads.
pub struct ApiState {
    pub status: Arc<StatusRegistry>,
    pub prometheus: Arc<Prometheus>,
    pub snapshots: Arc<SnapshotService>,
    /// When set, every request must present it.
    pub access_token: Option<AccessToken>,
}

impl ApiState {
    fn report(&self) -> crate::status::StatusReport {
        self.status.report(SnapshotStats {
            refreshes: self.snapshots.refresh_count(),
            refresh_seconds: self.snapshots.refresh_time().as_secs_f64(),
        })
    }
}

/// Serve the endpoint on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<ApiState>) {
    let app = Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .with_state(state);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("the HTTP endpoint stopped: {e}");
    }
}

async fn index() -> &'static str {
    "runner: GET /metrics (Prometheus, OpenMetrics), GET /status (JSON, read by `runner status`)\n"
}

async fn metrics(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = prometheus::negotiate(accept);
    let body = state.prometheus.render(&state.report(), format);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

async fn status(State(state): State<Arc<ApiState>>) -> Response {
    axum::Json(state.report()).into_response()
}
