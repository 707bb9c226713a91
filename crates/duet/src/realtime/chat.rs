//! `WS /ws/chat/{room_id}`: one per participant and room. On connect: checks, the
//! `connection` frame, then every stored message after `after_seq`, then live traffic.
//! The loop reads, parses and forwards: messages and like answers go to the room's
//! owner (which orders and stores them), typing and read marks go to the partner
//! through the broker, and the room's pushes come back through the broker.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use governor::{Quota, RateLimiter};

use super::broker::{Delivery, Topic};
use super::protocol::{ClientFrame, FrameErrorCode, LikeAnswer, LikeRoundInfo, ServerFrame};
use super::socket::{close_frame, keepalive, send, Step, PING_EVERY};
use super::CloseCode;
use crate::app::AppState;
use crate::clock::Timestamp;
use crate::http::error::ErrorCode;
use crate::ids::UserId;
use crate::room::RoomEvent;
use crate::store::{MessageRow, RoomRow};

/// Replayed messages are read from the store in pages of this size.
const REPLAY_PAGE: i64 = 200;

/// Runs one chat socket until it closes.
pub async fn run(
    state: AppState,
    mut socket: WebSocket,
    token: Option<String>,
    room_id: i64,
    after_seq: i64,
) {
    let (user, room) = match admit(&state, token, room_id).await {
        Ok(admitted) => admitted,
        Err(code) => {
            let _ = socket.send(close_frame(code)).await;
            return;
        }
    };
    let user_id = user.user_id();
    tracing::Span::current().record("user_id", user_id.0);
    let partner = room.partner_of(user_id).expect("admitted participants have a partner");
    let nicknames = [
        (user_id, user.nickname.clone()),
        (partner, state.store.user(partner).await.ok().flatten().and_then(|p| p.nickname)),
    ];

    // Subscribe before reading anything, so nothing published meanwhile is lost;
    // replayed messages are skipped when they come again live.
    let mut pushes = state.broker.subscribe(Topic::Room(room_id));
    let mut registration = state.connections.register_chat(user_id, room_id);
    state.metrics.sockets.with_label_values(&["chat"]).inc();
    let (mut sink, mut stream) = socket.split();
    let mut step = match state.rooms.apply(&state, room_id, RoomEvent::SocketOpened { user: user_id }).await {
        Ok(_) => Step::Continue,
        Err(e) if e.code() == ErrorCode::RoomEnded => Step::Close(CloseCode::RoomEnded),
        Err(e) => {
            tracing::warn!(error = %e, "could not open the room for a chat socket");
            Step::Close(CloseCode::Internal)
        }
    };
    if let Step::Continue = step {
        state.broker.publish(
            Topic::Room(room_id),
            Delivery {
                skip: Some(user_id),
                ..Delivery::frame(ServerFrame::Presence { user_id: user_id.0, online: true })
            },
        );
    }
    let mut last_sent = after_seq.max(0);
    let opened = matches!(step, Step::Continue);
    if let Step::Continue = step {
        step = greet(&state, &mut sink, room_id, user_id, &nicknames, &mut last_sent).await;
    }

    let settings = &state.settings.realtime;
    let quota = Quota::per_second(NonZeroU32::new(settings.msg_rate).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(settings.msg_burst).unwrap_or(NonZeroU32::MIN));
    let limiter = RateLimiter::direct(quota);
    let mut invalid: VecDeque<Instant> = VecDeque::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();

    while let Step::Continue = step {
        step = tokio::select! {
            _ = state.shutdown.requested() => Step::Close(CloseCode::GoingAway),
            _ = &mut registration.replaced => Step::Close(CloseCode::Replaced),
            delivery = pushes.receiver.recv() => match delivery {
                Some(delivery) if delivery.is_for(user_id) => {
                    let mut sent = Step::Continue;
                    if let Some(message) = &delivery.message {
                        if message.seq > last_sent {
                            last_sent = message.seq;
                            sent = send(&mut sink, &message_frame(message, &nicknames)).await;
                        }
                    }
                    if let (Step::Continue, Some(frame)) = (&sent, &delivery.frame) {
                        sent = send(&mut sink, frame).await;
                    }
                    match (sent, delivery.close) {
                        (Step::Continue, Some(code)) => Step::Close(CloseCode::from_u16(code)),
                        (sent, _) => sent,
                    }
                }
                Some(_) => Step::Continue,
                // Dropped by the broker as too slow: close; the client resumes with after_seq.
                None => {
                    tracing::warn!("chat socket fell behind its push queue; closing it");
                    Step::Close(CloseCode::GoingAway)
                }
            },
            incoming = stream.next() => {
                last_heard = tokio::time::Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        let reply = if limiter.check().is_err() {
                            state.metrics.rate_limited.with_label_values(&["chat_frames"]).inc();
                            Some(ServerFrame::error(FrameErrorCode::RateLimited, "too many frames; slow down"))
                        } else {
                            match ClientFrame::parse(&text) {
                                Ok(frame) => handle(&state, room_id, user_id, frame).await,
                                Err(e) => {
                                    let now = Instant::now();
                                    invalid.push_back(now);
                                    while invalid.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
                                        invalid.pop_front();
                                    }
                                    if invalid.len() >= settings.max_invalid_frames as usize {
                                        None
                                    } else {
                                        Some(ServerFrame::error(FrameErrorCode::InvalidFrame, e.0))
                                    }
                                }
                            }
                        };
                        match reply {
                            Some(frame) => send(&mut sink, &frame).await,
                            None if invalid.len() >= settings.max_invalid_frames as usize => Step::Close(CloseCode::Policy),
                            None => Step::Continue,
                        }
                    }
                    Some(Ok(Message::Binary(_))) => send(&mut sink, &ServerFrame::error(FrameErrorCode::InvalidFrame, "frames are JSON text")).await,
                    Some(Ok(Message::Close(_))) | None => Step::Gone,
                    Some(Ok(_)) => Step::Continue,
                    Some(Err(e)) => super::read_error(e).into(),
                }
            },
            _ = ping.tick() => keepalive(&mut sink, last_heard).await,
        };
    }
    let replaced = matches!(step, Step::Close(CloseCode::Replaced));
    if let Step::Close(code) = step {
        let _ = sink.send(close_frame(code)).await;
        let _ = sink.close().await;
    }
    state.connections.unregister_chat(user_id, room_id, registration.id);
    state.metrics.sockets.with_label_values(&["chat"]).dec();
    // Closing a socket never ends a room; it starts the abandonment grace (unless a
    // newer socket of the same user took over).
    if opened
        && !replaced
        && state.rooms.apply(&state, room_id, RoomEvent::SocketClosed { user: user_id }).await.is_ok()
    {
        state.broker.publish(
            Topic::Room(room_id),
            Delivery {
                skip: Some(user_id),
                ..Delivery::frame(ServerFrame::Presence { user_id: user_id.0, online: false })
            },
        );
    }
}

/// The checks before the socket is used, each with its close code.
async fn admit(
    state: &AppState,
    token: Option<String>,
    room_id: i64,
) -> Result<(crate::store::UserRow, RoomRow), CloseCode> {
    let token = token.ok_or(CloseCode::Unauthorized)?;
    let user = crate::auth::authenticate(state, &token).await.map_err(|e| match e.code() {
        ErrorCode::Banned => CloseCode::Banned,
        ErrorCode::InternalError => CloseCode::Internal,
        _ => CloseCode::Unauthorized,
    })?;
    let room =
        state.store.room(room_id).await.map_err(|_| CloseCode::Internal)?.ok_or(CloseCode::RoomNotFound)?;
    if room.partner_of(user.user_id()).is_none() {
        return Err(CloseCode::NotParticipant);
    }
    if !room.is_active() {
        return Err(CloseCode::RoomEnded);
    }
    Ok((user, room))
}

/// The `connection` frame, then every stored message after `last_sent`, in order.
async fn greet<S>(
    state: &AppState,
    sink: &mut S,
    room_id: i64,
    user: UserId,
    nicknames: &[(UserId, Option<String>); 2],
    last_sent: &mut i64,
) -> Step
where
    S: futures_util::Sink<Message> + Unpin,
{
    let room = match state.store.room(room_id).await {
        Ok(Some(room)) => room,
        Ok(None) => return Step::Close(CloseCode::RoomNotFound),
        Err(e) => {
            tracing::warn!(error = %e, "could not load the room for a chat socket");
            return Step::Close(CloseCode::Internal);
        }
    };
    // A client cannot have seen past the room's last message; a larger after_seq would
    // hide the next live ones.
    *last_sent = (*last_sent).min(room.last_seq);
    let mine_is_a = room.user_a == user.0;
    let connection = ServerFrame::Connection {
        room_id,
        user_id: user.0,
        reveal_level: room.reveal_level,
        like_round: room.round_deadline.map(|deadline| LikeRoundInfo {
            round: room.rounds_opened,
            deadline: Timestamp::from_millis(deadline).to_datetime(),
            answered: if mine_is_a { room.answer_a.is_some() } else { room.answer_b.is_some() },
        }),
        last_seq: room.last_seq,
        // Read after this socket subscribed to the room: a partner who comes or goes
        // from now on is told by a `presence` push that follows this frame.
        partner_online: state.connections.has_chat_socket(nicknames[1].0, room_id),
    };
    if let Step::Gone = send(sink, &connection).await {
        return Step::Gone;
    }
    loop {
        let page = match state.store.messages_after(room_id, *last_sent, REPLAY_PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "could not replay messages to a chat socket");
                return Step::Close(CloseCode::Internal);
            }
        };
        for message in &page {
            *last_sent = message.seq;
            if let Step::Gone = send(sink, &message_frame(message, nicknames)).await {
                return Step::Gone;
            }
        }
        if (page.len() as i64) < REPLAY_PAGE {
            return Step::Continue;
        }
    }
}

/// What a client frame does; the reply to send back, if any.
async fn handle(state: &AppState, room_id: i64, user: UserId, frame: ClientFrame) -> Option<ServerFrame> {
    match frame {
        ClientFrame::Message { content, client_id } => {
            match state.rooms.post_message(state, room_id, user, client_id.clone(), content).await {
                // The message itself reaches both sockets through the room's topic.
                Ok((message, _fresh)) => Some(ServerFrame::Ack {
                    client_id: message.client_id,
                    message_id: message.id,
                    seq: message.seq,
                }),
                Err(e) => Some(error_frame(&e)),
            }
        }
        ClientFrame::Typing { is_typing } => {
            state.broker.publish(
                Topic::Room(room_id),
                Delivery {
                    skip: Some(user),
                    ..Delivery::frame(ServerFrame::Typing { user_id: user.0, is_typing })
                },
            );
            None
        }
        ClientFrame::Read { up_to_seq } => {
            state.broker.publish(
                Topic::Room(room_id),
                Delivery {
                    skip: Some(user),
                    ..Delivery::frame(ServerFrame::Read { user_id: user.0, up_to_seq })
                },
            );
            None
        }
        ClientFrame::LikeResponse { response } => {
            let event = RoomEvent::LikeAnswer { from: user, yes: response == LikeAnswer::Yes };
            state.rooms.apply(state, room_id, event).await.err().map(|e| error_frame(&e))
        }
        ClientFrame::Heartbeat => Some(ServerFrame::Heartbeat),
    }
}

fn error_frame(e: &crate::http::error::ApiError) -> ServerFrame {
    let body = e.body(None);
    let code = match e.code() {
        ErrorCode::RoomEnded => FrameErrorCode::RoomEnded,
        ErrorCode::NoOpenRound => FrameErrorCode::NoOpenRound,
        ErrorCode::AlreadyAnswered => FrameErrorCode::AlreadyAnswered,
        ErrorCode::ValidationError | ErrorCode::BadRequest => FrameErrorCode::InvalidMessage,
        _ => FrameErrorCode::Internal,
    };
    ServerFrame::error(code, body.detail.into_owned())
}

fn message_frame(message: &MessageRow, nicknames: &[(UserId, Option<String>); 2]) -> ServerFrame {
    let nickname = nicknames.iter().find(|(id, _)| id.0 == message.user_id).and_then(|(_, n)| n.clone());
    ServerFrame::Message {
        message_id: message.id,
        seq: message.seq,
        client_id: message.client_id.clone(),
        user_id: message.user_id,
        nickname,
        content: message.content.clone(),
        timestamp: Timestamp::from_millis(message.created_at).to_datetime(),
    }
}
