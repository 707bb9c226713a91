//! The relay's two sockets, with the buffers and frame limit of Duet's
//! (`crates/duet/src/realtime/mod.rs`): 4 KiB read and write buffers, 16 KiB frames.
//!
//! Chat: the token is checked (4001), then the room (4004) and the participation
//! (4003); `connection` first, then each `message` gets the room's next `seq`, an
//! `ack` to the sender and the `message` frame to both participants' queues; `typing`
//! and `read` go to the partner; `heartbeat` is answered. Status: the token, one
//! `status_update`, heartbeats answered. No storage, no rate limit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{Relay, Room, QUEUE};

const BUFFER: usize = 4 * 1024;
const MAX_FRAME: usize = 16 * 1024;

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

pub fn router() -> Router<Relay> {
    Router::new().route("/ws/status", get(status)).route("/ws/chat/{room_id}", get(chat))
}

fn sized(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
}

async fn status(State(relay): State<Relay>, ws: WebSocketUpgrade, Query(q): Query<TokenQuery>) -> Response {
    sized(ws).on_upgrade(move |mut socket| async move {
        let Some(me) = q.token.as_deref().and_then(|t| relay.check(t)) else {
            return close(socket, 4001, "invalid token").await;
        };
        let room = relay.room_of.get(&me).map(|r| *r);
        let state = if room.is_some() { "connected" } else { "idle" };
        let first = json!({"type": "status_update", "status": state, "current_room_id": room});
        if socket.send(Message::text(first.to_string())).await.is_err() {
            return;
        }
        while let Some(Ok(msg)) = socket.next().await {
            match msg {
                Message::Text(text)
                    if text.contains("\"heartbeat\"")
                        && socket.send(Message::text(r#"{"type":"heartbeat"}"#)).await.is_err() =>
                {
                    return;
                }
                Message::Close(_) => return,
                _ => {}
            }
        }
    })
}

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    content: Option<String>,
    client_id: Option<String>,
    is_typing: Option<bool>,
    up_to_seq: Option<i64>,
}

async fn chat(
    State(relay): State<Relay>,
    ws: WebSocketUpgrade,
    Path(room_id): Path<i64>,
    Query(q): Query<TokenQuery>,
) -> Response {
    sized(ws).on_upgrade(move |socket| async move {
        let Some(me) = q.token.as_deref().and_then(|t| relay.check(t)) else {
            return close(socket, 4001, "invalid token").await;
        };
        let Some(room) = relay.rooms.get(&room_id).map(|r| r.clone()) else {
            return close(socket, 4004, "room not found").await;
        };
        let Some(side) = room.users.iter().position(|&u| u == me) else {
            return close(socket, 4003, "not a participant").await;
        };
        run_chat(relay, socket, room, room_id, me, side).await;
    })
}

async fn run_chat(relay: Relay, socket: WebSocket, room: Arc<Room>, room_id: i64, me: i64, side: usize) {
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(QUEUE);
    let partner_online = {
        let mut sockets = room.sockets.lock().expect("not poisoned");
        sockets[side] = Some(tx);
        sockets[1 - side].is_some()
    };
    let (mut sink, mut stream) = socket.split();
    let connection = json!({
        "type": "connection", "room_id": room_id, "user_id": me, "reveal_level": 0,
        "like_round": null, "last_seq": room.seq.load(Ordering::Relaxed), "partner_online": partner_online,
    });
    if sink.send(Message::text(connection.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            push = rx.recv() => {
                let Some(push) = push else {
                    // Dropped for falling behind, as Duet's broker does: close with 1001.
                    let close = CloseFrame { code: 1001, reason: "falling behind".into() };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    break;
                };
                if sink.send(Message::text(&*push)).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { break };
                let Message::Text(text) = msg else {
                    if matches!(msg, Message::Close(_)) { break }
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<ClientFrame>(&text) else {
                    let err = json!({"type": "error", "code": "invalid_frame", "detail": "not a frame"});
                    if sink.send(Message::text(err.to_string())).await.is_err() { break }
                    continue;
                };
                if let Some(reply) = handle(&relay, &room, me, side, frame) {
                    if sink.send(Message::text(reply)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    room.sockets.lock().expect("not poisoned")[side] = None;
}

/// Acts on one frame; returns the direct answer to the sender, if any.
fn handle(relay: &Relay, room: &Room, me: i64, side: usize, frame: ClientFrame) -> Option<String> {
    match frame.kind.as_str() {
        "message" => {
            let content = frame.content.unwrap_or_default();
            let content = content.trim();
            if content.is_empty() {
                return Some(
                    json!({"type": "error", "code": "invalid_message", "detail": "empty"}).to_string(),
                );
            }
            let seq = room.seq.fetch_add(1, Ordering::Relaxed) + 1;
            let id = relay.next_message.fetch_add(1, Ordering::Relaxed);
            let message: Arc<str> = json!({
                "type": "message", "message_id": id, "seq": seq, "client_id": frame.client_id,
                "user_id": me, "nickname": Value::Null, "content": content,
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })
            .to_string()
            .into();
            // As in Duet, the ack reaches the sender before its own message frame: the
            // answer is written before the loop takes the next push.
            push(room, [0, 1], &message);
            Some(
                json!({"type": "ack", "client_id": frame.client_id, "message_id": id, "seq": seq})
                    .to_string(),
            )
        }
        "typing" => {
            let f = json!({"type": "typing", "user_id": me, "is_typing": frame.is_typing.unwrap_or(false)});
            push(room, [1 - side, 1 - side], &f.to_string().into());
            None
        }
        "read" => {
            let f = json!({"type": "read", "user_id": me, "up_to_seq": frame.up_to_seq.unwrap_or(0)});
            push(room, [1 - side, 1 - side], &f.to_string().into());
            None
        }
        "heartbeat" => Some(r#"{"type":"heartbeat"}"#.to_owned()),
        _ => Some(json!({"type": "error", "code": "invalid_frame", "detail": "unknown type"}).to_string()),
    }
}

/// Queues `frame` for the sockets of the given sides (deduplicated); a socket whose
/// queue is full loses its place, as a slow subscriber of Duet's broker does.
fn push(room: &Room, sides: [usize; 2], frame: &Arc<str>) {
    let mut sockets = room.sockets.lock().expect("not poisoned");
    let targets: &[usize] = if sides[0] == sides[1] { &sides[..1] } else { &sides };
    for &s in targets {
        if let Some(tx) = &sockets[s] {
            if tx.try_send(frame.clone()).is_err() {
                sockets[s] = None;
            }
        }
    }
}
