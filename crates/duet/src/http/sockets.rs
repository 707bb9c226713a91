//! The sockets' HTTP side: `GET /ws/status` and `GET /ws/chat/{room_id}` check the
//! `Origin`, take the token from the subprotocol (answered with `bearer`) or the
//! query, set small buffers and the frame limit, and upgrade; the socket then belongs
//! to the real-time layer ([`crate::realtime::status::run`], [`crate::realtime::chat::run`]).

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tracing::Instrument;

use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::ids::{RoomId, Seq};
use crate::realtime::{chat, status, Realtime};

pub fn routes() -> Router<AppState> {
    Router::new().route("/ws/status", get(status_socket)).route("/ws/chat/{room_id}", get(chat_socket))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
    /// Chat sockets: resume after this sequence number.
    after_seq: Option<i64>,
}

async fn status_socket(
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    upgrade(&state, ws, &headers, query.token, |realtime, socket, token| {
        let span = tracing::info_span!("status_socket", user_id = tracing::field::Empty);
        status::run(realtime, socket, token).instrument(span)
    })
}

async fn chat_socket(
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    Path(room_id): Path<i64>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let after_seq = Seq(query.after_seq.unwrap_or(0));
    upgrade(&state, ws, &headers, query.token, move |realtime, socket, token| {
        let span = tracing::info_span!("chat_socket", room_id, user_id = tracing::field::Empty);
        chat::run(realtime, socket, token, RoomId(room_id), after_seq).instrument(span)
    })
}

/// The checks and settings every upgrade shares: Origin before the upgrade, the
/// token from the subprotocol (answered with `bearer`) or the query, small buffers,
/// the frame limit.
fn upgrade<F, Fut>(
    state: &AppState,
    ws: WebSocketUpgrade,
    headers: &HeaderMap,
    query_token: Option<String>,
    run: F,
) -> Response
where
    F: FnOnce(Realtime, axum::extract::ws::WebSocket, Option<String>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if !origin_allowed(state, headers) {
        return ApiError::new(ErrorCode::Forbidden, "this origin may not open sockets").into_response();
    }
    let from_protocol = protocol_token(headers);
    let mut ws = crate::realtime::sized(ws, state.settings.realtime.max_frame_bytes);
    if from_protocol.is_some() {
        ws = ws.protocols(["bearer"]);
    }
    let token = from_protocol.or(query_token);
    // Shutdown waits for socket loops (they close with 1001) before the store closes.
    let shutdown = state.shutdown.clone();
    let realtime = state.realtime.clone();
    ws.on_upgrade(move |socket| shutdown.track(run(realtime, socket, token)))
}

/// The token from `Sec-WebSocket-Protocol: bearer, <token>`, which keeps it out of URLs
/// and access logs.
fn protocol_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    let mut parts = value.split(',').map(str::trim);
    (parts.next()? == "bearer").then(|| parts.next().map(str::to_owned)).flatten().filter(|t| !t.is_empty())
}

/// A browser's `Origin` must be the server's own or a configured one; clients that
/// send none (not browsers) are judged by their token alone.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    let own = headers.get(header::HOST).and_then(|v| v.to_str().ok()).is_some_and(|host| {
        let origin_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
        origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host))
    });
    own || state.settings.extra_origins().any(|allowed| allowed == origin)
}
