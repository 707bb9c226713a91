//! `WS /ws/status`: one per user session, pushing the user's status changes, matches,
//! search timeouts, room ends and bans. The socket loop reads, forwards and writes;
//! what to push is decided by the bridge from the event channel.

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};

use super::broker::Topic;
use super::protocol::{FrameErrorCode, ServerFrame, StatusClientFrame};
use super::socket::{close_frame, keepalive, send, Step, PING_EVERY};
use super::CloseCode;
use crate::app::AppState;
use crate::profile;

/// Runs one status socket until it closes. `token` was taken from the query or the
/// subprotocol before the upgrade.
pub async fn run(state: AppState, mut socket: WebSocket, token: Option<String>) {
    let user = match token {
        Some(token) => crate::auth::authenticate(&state, &token).await,
        None => Err(crate::auth::AuthError::Invalid),
    };
    let user = match user {
        Ok(user) => user,
        Err(e) => {
            let _ = socket.send(close_frame(CloseCode::from(&e))).await;
            return;
        }
    };
    let user_id = user.user_id();
    tracing::Span::current().record("user_id", user_id.0);

    // Subscribe before reading the status, so no change between the two is lost.
    let mut pushes = state.broker.subscribe(Topic::User(user_id));
    let mut registration = state.connections.register_status(user_id);
    state.metrics.sockets.with_label_values(&["status"]).inc();
    let first = match profile::status(&state, &user).await {
        Ok(view) => ServerFrame::StatusUpdate {
            status: view.status,
            current_room_id: view.current_room_id,
            search: view.search,
        },
        Err(_) => ServerFrame::error(FrameErrorCode::Internal, "status unavailable"),
    };
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let mut step = send(&mut sink, &first).await;
    while let Step::Continue = step {
        step = tokio::select! {
            _ = state.shutdown.requested() => Step::Close(CloseCode::GoingAway),
            _ = &mut registration.replaced => Step::Close(CloseCode::Replaced),
            delivery = pushes.receiver.recv() => match delivery {
                Some(delivery) => {
                    let sent = match &delivery.frame {
                        Some(frame) => send(&mut sink, frame).await,
                        None => Step::Continue,
                    };
                    match (sent, delivery.close) {
                        (Step::Continue, Some(code)) => Step::Close(CloseCode::from_u16(code)),
                        (sent, _) => sent,
                    }
                }
                // Dropped by the broker as too slow: close; the client reconnects.
                None => {
                    tracing::warn!("status socket fell behind its push queue; closing it");
                    Step::Close(CloseCode::GoingAway)
                }
            },
            incoming = stream.next() => {
                last_heard = tokio::time::Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        let reply = match serde_json::from_str::<StatusClientFrame>(&text) {
                            Ok(StatusClientFrame::Heartbeat) => ServerFrame::Heartbeat,
                            Err(_) => ServerFrame::error(
                                FrameErrorCode::InvalidFrame,
                                "the status socket takes only heartbeat frames",
                            ),
                        };
                        send(&mut sink, &reply).await
                    }
                    Some(Ok(Message::Close(_))) | None => Step::Gone,
                    Some(Ok(_)) => Step::Continue,
                    Some(Err(e)) => super::read_error(e).into(),
                }
            },
            _ = ping.tick() => keepalive(&mut sink, last_heard).await,
        };
    }
    if let Step::Close(code) = step {
        let _ = sink.send(close_frame(code)).await;
        let _ = sink.close().await;
    }
    state.connections.unregister_status(user_id, registration.id);
    state.metrics.sockets.with_label_values(&["status"]).dec();
}
