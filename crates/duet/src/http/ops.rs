//! Operational endpoints: liveness, readiness and Prometheus metrics. They are not
//! rate limited (probes and scrapers call them often) and not in the API document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::extract::AppJson;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).route("/metrics", get(metrics))
}

/// The process is up.
async fn health() -> AppJson<serde_json::Value> {
    AppJson(json!({ "status": "ok" }))
}

/// 200 only when the database answers (and the server is not shutting down): on
/// PostgreSQL within `--database-timeout`, and 503 at once while the outage watchdog
/// finds it unreachable, so a probe hears of a short outage too.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if state.shutdown.is_triggered() {
        return (StatusCode::SERVICE_UNAVAILABLE, AppJson(json!({ "status": "shutting_down" })));
    }
    if state.store.ping().await {
        (StatusCode::OK, AppJson(json!({ "status": "ready" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, AppJson(json!({ "status": "database_unavailable" })))
    }
}

/// Every metric in the Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let now = state.clock.now();
    // The account gauges are read from the database at scrape time, so they are right
    // whichever instance created the accounts.
    if let Ok(counts) = state.store.count_accounts(now).await {
        state.metrics.accounts.reset();
        for (role, banned, n) in counts {
            let banned = if banned { "banned" } else { "active" };
            state.metrics.accounts.with_label_values(&[&role, banned]).set(n);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
