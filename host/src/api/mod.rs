//! The daemon's HTTP endpoint (loopback by default, runner.yaml's
//! `listen`), behind [`auth`]:
//! - `/metrics` for Prometheus (OpenMetrics or the text format, as the
//!   scrape's `Accept` header asks);
//! - `/status` as JSON, for `runner status` and the page's Checks view;
//! - `/` the Live Processes [`page`], and the JSON behind it ([`live`]).

pub mod auth;
pub mod live;
pub mod page;

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
    /// The host's name and tags (runner.yaml `hostname`, `tags`), as the
    /// page shows them.
    pub hostname: String,
    pub host_tags: Vec<String>,
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
        .route("/", get(page::index))
        .route(page::SCRIPT, get(page::script))
        .route(page::STYLESHEET, get(page::stylesheet))
        .route("/login", get(page::login_form).post(auth::login))
        .route("/api/processes", get(live::processes))
        .route("/api/processes/{pid}", get(live::process))
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
