//! `WS /ws/status`: one per user session, pushing the user's status changes, matches,
//! search timeouts, room ends and bans. The socket loop reads, forwards and writes;
//! what to push is decided by the bridge from the event channel.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};

use super::broker::Topic;
use super::protocol::{FrameErrorCode, ServerFrame, StatusClientFrame};
use super::CloseCode;
use crate::app::AppState;
use crate::http::error::ErrorCode;
use crate::profile;

/// How often the server pings; a peer silent for two intervals is dropped.
const PING_EVERY: Duration = Duration::from_secs(30);

/// Runs one status socket until it closes. `token` was taken from the query or the
/// subprotocol before the upgrade.
pub async fn run(state: AppState, mut socket: WebSocket, token: Option<String>) {
    let user = match token {
        Some(token) => crate::auth::authenticate(&state, &token).await,
        None => Err(crate::http::error::ApiError::unauthorized("missing token")),
    };
    let user = match user {
        Ok(user) => user,
        Err(e) => {
            let code =
                if e.code() == ErrorCode::Banned { CloseCode::Banned } else { CloseCode::Unauthorized };
            let _ = close(&mut socket, code).await;
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
    let mut outcome = sink.send(Message::Text(first.to_text().into())).await.map(|_| None);
    while let Ok(None) = outcome {
        outcome = tokio::select! {
            _ = state.shutdown.requested() => Ok(Some(CloseCode::GoingAway)),
            _ = &mut registration.replaced => Ok(Some(CloseCode::Replaced)),
            delivery = pushes.receiver.recv() => match delivery {
                Some(delivery) => {
                    let sent = match &delivery.frame {
                        Some(frame) => sink.send(Message::Text(frame.to_text().into())).await,
                        None => Ok(()),
                    };
                    sent.map(|_| delivery.close.map(CloseCode::from_u16))
                }
                // Dropped by the broker as too slow: close; the client reconnects.
                None => Ok(Some(CloseCode::GoingAway)),
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    last_heard = tokio::time::Instant::now();
                    let reply = match serde_json::from_str::<StatusClientFrame>(&text) {
                        Ok(StatusClientFrame::Heartbeat) => ServerFrame::Heartbeat,
                        Err(_) => ServerFrame::error(FrameErrorCode::InvalidFrame, "the status socket takes only heartbeat frames"),
                    };
                    sink.send(Message::Text(reply.to_text().into())).await.map(|_| None)
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Ok(Some(CloseCode::Normal)),
                Some(Ok(_)) => {
                    last_heard = tokio::time::Instant::now();
                    Ok(None)
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > 2 * PING_EVERY {
                    Ok(Some(CloseCode::GoingAway))
                } else {
                    sink.send(Message::Ping(Vec::new().into())).await.map(|_| None)
                }
            }
        };
    }
    if let Ok(Some(code)) = outcome {
        let _ = sink
            .send(Message::Close(Some(CloseFrame { code: code as u16, reason: code.reason().into() })))
            .await;
        let _ = sink.close().await;
    }
    state.connections.unregister_status(user_id, registration.id);
    state.metrics.sockets.with_label_values(&["status"]).dec();
}

async fn close(socket: &mut WebSocket, code: CloseCode) -> Result<(), axum::Error> {
    socket.send(Message::Close(Some(CloseFrame { code: code as u16, reason: code.reason().into() }))).await
}
