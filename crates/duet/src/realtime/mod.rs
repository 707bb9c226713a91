//! The real-time layer (SPEC 3): WebSocket endpoints, the fan-out seam and the bridge
//! from the internal event channel to sockets.
//!
//! `WS /ws/status` ([`status`]) and `WS /ws/chat/{room_id}` ([`chat`]) check the
//! token (and the room) before the socket is used, refuse foreign origins, replace an
//! older socket of the same user, keep alive and close on shutdown. Pushes go through
//! the [`broker`] seam (in-process today). Chat messages go to the room's owner, which
//! orders and stores them and pushes its room's traffic through [`fanout`]; the
//! [`bridge`] turns matching and account events into status-socket pushes.

pub mod bridge;
pub mod broker;
pub mod chat;
pub mod connections;
pub mod fanout;
pub mod protocol;
mod socket;
pub mod status;

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tracing::Instrument;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::error::{ApiError, ErrorCode};

pub use broker::{Broker, InProcessBroker};
pub use connections::Connections;
pub use fanout::Fanout;

/// Close codes of SPEC 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum CloseCode {
    Normal = 1000,
    GoingAway = 1001,
    TooBig = 1009,
    Unauthorized = 4001,
    Banned = 4002,
    NotParticipant = 4003,
    RoomNotFound = 4004,
    RoomEnded = 4005,
    Replaced = 4007,
    Policy = 4008,
    /// The server failed (its store did not answer); the client may retry.
    Internal = 1011,
}

impl CloseCode {
    pub fn reason(self) -> &'static str {
        match self {
            CloseCode::Normal => "closing",
            CloseCode::GoingAway => "server shutting down",
            CloseCode::TooBig => "frame too large",
            CloseCode::Unauthorized => "missing, invalid, expired or revoked token",
            CloseCode::Banned => "account banned",
            CloseCode::NotParticipant => "not a participant of this room",
            CloseCode::RoomNotFound => "room not found",
            CloseCode::RoomEnded => "room has ended",
            CloseCode::Replaced => "replaced by a newer connection",
            CloseCode::Policy => "policy violation",
            CloseCode::Internal => "server error",
        }
    }

    pub fn from_u16(code: u16) -> CloseCode {
        [
            CloseCode::Normal,
            CloseCode::GoingAway,
            CloseCode::TooBig,
            CloseCode::Unauthorized,
            CloseCode::Banned,
            CloseCode::NotParticipant,
            CloseCode::RoomNotFound,
            CloseCode::RoomEnded,
            CloseCode::Replaced,
            CloseCode::Policy,
            CloseCode::Internal,
        ]
        .into_iter()
        .find(|c| *c as u16 == code)
        .unwrap_or(CloseCode::GoingAway)
    }
}

/// How a failed authentication closes a socket (both sockets use this one mapping).
impl From<&AuthError> for CloseCode {
    fn from(e: &AuthError) -> Self {
        match e {
            AuthError::Invalid | AuthError::Revoked => CloseCode::Unauthorized,
            AuthError::Banned(_) => CloseCode::Banned,
            AuthError::Store(_) => CloseCode::Internal,
        }
    }
}

/// How a read error ends a socket: a frame over the size limit closes with 1009;
/// anything else means the connection is gone (None: nothing more to send).
fn read_error(error: axum::Error) -> Option<CloseCode> {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(e) if matches!(*e, tungstenite::Error::Capacity(_)) => Some(CloseCode::TooBig),
        _ => None,
    }
}

/// Socket buffers sized for many idle connections: a few KiB each rather than the
/// library's 128 KiB read buffer.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

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
    upgrade(state, ws, &headers, query.token, |state, socket, token| {
        let span = tracing::info_span!("status_socket", user_id = tracing::field::Empty);
        status::run(state, socket, token).instrument(span)
    })
}

async fn chat_socket(
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    Path(room_id): Path<i64>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let after_seq = query.after_seq.unwrap_or(0);
    upgrade(state, ws, &headers, query.token, move |state, socket, token| {
        let span = tracing::info_span!("chat_socket", room_id, user_id = tracing::field::Empty);
        chat::run(state, socket, token, room_id, after_seq).instrument(span)
    })
}

/// The checks and settings every upgrade shares: Origin before the upgrade, the
/// token from the subprotocol (answered with `bearer`) or the query, small buffers,
/// the frame limit.
fn upgrade<F, Fut>(
    state: AppState,
    ws: WebSocketUpgrade,
    headers: &HeaderMap,
    query_token: Option<String>,
    run: F,
) -> Response
where
    F: FnOnce(AppState, axum::extract::ws::WebSocket, Option<String>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if !origin_allowed(&state, headers) {
        return ApiError::new(ErrorCode::Forbidden, "this origin may not open sockets").into_response();
    }
    let from_protocol = protocol_token(headers);
    let max = usize::try_from(state.settings.realtime.max_frame_bytes).unwrap_or(usize::MAX);
    let mut ws = ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max);
    if from_protocol.is_some() {
        ws = ws.protocols(["bearer"]);
    }
    let token = from_protocol.or(query_token);
    // Shutdown waits for socket loops (they close with 1001) before the store closes.
    let shutdown = state.shutdown.clone();
    ws.on_upgrade(move |socket| shutdown.track(run(state, socket, token)))
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
