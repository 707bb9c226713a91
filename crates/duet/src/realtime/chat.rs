//! `WS /ws/chat/{room_id}`: one per participant and room. On connect: checks, the
//! `connection` frame, then every stored message after `after_seq`, then live traffic.
//! The loop reads, parses and forwards: messages and like answers go to the room's
//! owner (which orders and stores them), typing and read marks go to the partner
//! through the broker, and the room's pushes come back through the broker, already
//! rendered by the owner's outbox.
//!
//! Reading never waits for a commit: a message is queued to the owner and its ack is
//! sent when the commit answers, while the loop goes on reading (at most
//! [`MAX_IN_FLIGHT`] messages wait at once). Message pushes carry their `seq`: one
//! already sent (by replay) is skipped, and one past a gap closes the socket with 1001
//! so that the client resumes from what it has, never past what it missed.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::FuturesOrdered;
use futures_util::{Sink, SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::broker::{Delivery, Topic};
use super::fanout::message_frame;
use super::protocol::{
    CallInfo, ClientFrame, FrameErrorCode, LikeAnswer, LikeRoundInfo, ServerFrame, MAX_SIGNAL_BYTES,
    SIGNAL_BURST, SIGNAL_RATE,
};
use super::socket::{drive, finish, frame_then_close, refuse, send, split, SocketKind, Step, Strikes};
use super::{CloseCode, Realtime};
use crate::clock::Timestamp;
use crate::ids::{RoomId, Seq, UserId};
use crate::room::{is_valid_client_id, CallAction, CallPhase, RoomAddress, RoomError, RoomEvent, RoomHandle};
use crate::store::{CallRow, RoomRow};

/// Replayed messages are read from the store in pages of this size.
const REPLAY_PAGE: i64 = 200;

/// Messages of one socket waiting for their commit; past this the socket stops reading
/// until one is answered (the owner's queue is the real bound; this keeps one socket
/// from filling it).
pub const MAX_IN_FLIGHT: usize = 16;

type Answer = Pin<Box<dyn Future<Output = ServerFrame> + Send>>;

/// One open chat socket's state between turns of its loop.
struct Chat {
    state: Realtime,
    user: UserId,
    address: RoomAddress,
    handle: RoomHandle,
    /// The highest `seq` this socket has sent.
    last_sent: Seq,
    limiter: DefaultDirectRateLimiter,
    /// The budget of `rtc_signal` frames, apart from `limiter`.
    signal_limiter: DefaultDirectRateLimiter,
    strikes: Strikes,
    in_flight: FuturesOrdered<Answer>,
    /// When the loop stopped reading because [`MAX_IN_FLIGHT`] messages waited for
    /// their commit (a slow or stalled database).
    held_since: Option<Instant>,
    /// Frames the client may still send beyond `limiter` after a hold: what its rate
    /// allowed during the hold, which waited in TCP because we did not read.
    held_credit: u32,
    msg_rate: u32,
}

/// Runs one chat socket until it closes.
///
/// The socket is split at once, and the steps that run once (the checks, opening the
/// room, the greeting with its replay, the close) are boxed: a task is as large as its
/// future's largest state, and each idle socket's task would otherwise carry theirs for
/// good.
pub fn run(
    state: Realtime,
    socket: WebSocket,
    token: Option<String>,
    room_id: RoomId,
    after_seq: Seq,
) -> impl Future<Output = ()> + Send + 'static {
    let (mut sink, mut stream) = split(socket, state.settings.socket_write_timeout);
    // An async block rather than a function taking the halves: a function's arguments
    // take their room twice in its future.
    async move {
        let (user_id, expires, address) = match Box::pin(admit(&state, token, room_id)).await {
            Ok(admitted) => admitted,
            Err(code) => return refuse(&mut sink, &mut stream, code).await,
        };
        tracing::Span::current().record("user_id", user_id.0);

        // Subscribe before reading anything, so nothing published meanwhile is lost;
        // replayed messages are skipped when they come again live.
        let mut pushes = state.broker.subscribe(Topic::Room(room_id));
        let mut registration = state.connections.register_chat(user_id, room_id);
        state.metrics.sockets.with_label_values(&["chat"]).inc();
        let opened = Box::pin(open(&state, room_id, user_id)).await;
        let mut step = match &opened {
            Ok(_) => Step::Continue,
            Err(code) => Step::Close(*code),
        };
        let mut opened_handle = None;
        if let Ok(handle) = opened {
            let mut chat = Chat::new(state.clone(), user_id, address, handle, after_seq);
            step = Box::pin(greet(&mut chat, &mut sink)).await;
            if let Step::Continue = step {
                let stops = state.stops(&mut registration.replaced, expires);
                step = drive(&mut sink, &mut stream, &mut pushes.receiver, stops, &mut chat).await;
            }
            opened_handle = Some(chat.handle);
        }
        let replaced = matches!(step, Step::Close(CloseCode::Replaced));
        // Once the close frame is on its way, before the closing handshake (which may wait
        // for the client): the socket is away.
        let closing = async {
            state.connections.unregister_chat(user_id, room_id, registration.id);
            drop(pushes);
            // Closing a socket never ends a room; it starts the abandonment grace (unless
            // a newer socket of the same user took over). The owner tells the partner,
            // after this socket is no longer registered, so a partner connecting now reads
            // it as gone.
            if let (Some(handle), false) = (opened_handle, replaced) {
                let _ = handle.apply(RoomEvent::SocketClosed { user: user_id }).await;
            }
        };
        Box::pin(finish(&mut sink, &mut stream, step, closing)).await;
        state.metrics.sockets.with_label_values(&["chat"]).dec();
    }
}

/// The checks before the socket is used, each with its close code; the user's id, when
/// the token expires, and the room's participants as this socket renders replayed
/// messages.
async fn admit(
    state: &Realtime,
    token: Option<String>,
    room_id: RoomId,
) -> Result<(UserId, Timestamp, RoomAddress), CloseCode> {
    let token = token.ok_or(CloseCode::Unauthorized)?;
    let (user, expires) = state.accounts.authenticate_until(&token).await.map_err(|e| CloseCode::from(&e))?;
    let room: RoomRow =
        state.store.room(room_id).await.map_err(|_| CloseCode::Internal)?.ok_or(CloseCode::RoomNotFound)?;
    let partner = room.partner_of(user.user_id()).ok_or(CloseCode::NotParticipant)?;
    if !room.is_active() {
        return Err(CloseCode::RoomEnded);
    }
    let partner_nickname =
        state.store.user(partner).await.map_err(|_| CloseCode::Internal)?.and_then(|p| p.nickname);
    let users = room.participants();
    let nicknames =
        users.map(|u| if u == partner { partner_nickname.clone() } else { user.nickname.clone() });
    Ok((user.user_id(), expires, RoomAddress { room_id, users, nicknames }))
}

/// The room's owner, told that this user's socket is open.
async fn open(state: &Realtime, room_id: RoomId, user: UserId) -> Result<RoomHandle, CloseCode> {
    let handle = state.rooms.open(room_id).await.map_err(|e| close_code(&e))?;
    handle.apply(RoomEvent::SocketOpened { user }).await.map_err(|e| close_code(&e))?;
    Ok(handle)
}

/// How a room error ends the socket before it is used; a failure of ours is logged.
fn close_code(e: &RoomError) -> CloseCode {
    let code = CloseCode::from(e);
    if code == CloseCode::Internal {
        tracing::warn!(error = %e, "could not open the room for a chat socket");
    }
    code
}

impl Chat {
    fn new(state: Realtime, user: UserId, address: RoomAddress, handle: RoomHandle, after_seq: Seq) -> Self {
        let settings = &state.settings;
        let quota = Quota::per_second(NonZeroU32::new(settings.msg_rate).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(settings.msg_burst).unwrap_or(NonZeroU32::MIN));
        let strikes = Strikes::new(settings.max_invalid_frames);
        let msg_rate = settings.msg_rate;
        Chat {
            state,
            user,
            address,
            handle,
            last_sent: after_seq.max(Seq::ZERO),
            limiter: RateLimiter::direct(quota),
            signal_limiter: RateLimiter::direct(
                Quota::per_second(NonZeroU32::new(SIGNAL_RATE).expect("non-zero"))
                    .allow_burst(NonZeroU32::new(SIGNAL_BURST).expect("non-zero")),
            ),
            strikes,
            in_flight: FuturesOrdered::new(),
            held_since: None,
            held_credit: 0,
            msg_rate,
        }
    }
}

impl SocketKind for Chat {
    /// A push from the room's topic (None: the broker dropped this socket as too slow).
    async fn on_push<S>(&mut self, sink: &mut S, delivery: Option<Arc<Delivery>>) -> Step
    where
        S: Sink<Message> + Unpin + Send,
    {
        let Some(delivery) = delivery else {
            tracing::warn!("chat socket fell behind its push queue; closing it");
            return Step::Close(CloseCode::FellBehind);
        };
        if !delivery.is_for(self.user) {
            return Step::Continue;
        }
        if let Some(message) = &delivery.message {
            if message.seq > self.last_sent.next() {
                // Something between the last sent and this one never reached the socket:
                // close, and the client resumes from what it has.
                tracing::warn!(
                    last_sent = self.last_sent.0,
                    seq = message.seq.0,
                    "gap in a room's messages; closing"
                );
                return Step::Close(CloseCode::Gap);
            }
            if message.seq == self.last_sent.next() {
                self.last_sent = message.seq;
                if sink.send(Message::Text(message.text.clone())).await.is_err() {
                    return Step::Gone;
                }
            }
        }
        frame_then_close(sink, &delivery).await
    }

    /// What the client sent (None: the connection ended).
    async fn on_incoming<S>(&mut self, sink: &mut S, incoming: Option<Result<Message, axum::Error>>) -> Step
    where
        S: Sink<Message> + Unpin + Send,
    {
        let text = match incoming {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                let error = ServerFrame::error(FrameErrorCode::InvalidFrame, "frames are JSON text");
                return self.strikes.refuse(sink, &error).await;
            }
            Some(Ok(Message::Close(_))) | None => return Step::Gone,
            Some(Ok(_)) => return Step::Continue,
            Some(Err(e)) => return super::read_error(e).into(),
        };
        let parsed = ClientFrame::parse(&text);
        // Every error about a message names it, so the client knows which to resend.
        let client_id = match &parsed {
            Ok(ClientFrame::Message { client_id, .. }) => client_id.clone(),
            Ok(_) => None,
            Err(_) => message_client_id(&text),
        };
        let limited = match &parsed {
            Ok(frame) if frame.is_signal() => self.signal_limiter.check().is_err().then_some("rtc_signals"),
            _ if self.held_credit > 0 => {
                self.held_credit -= 1;
                None
            }
            _ => self.limiter.check().is_err().then_some("chat_frames"),
        };
        if let Some(class) = limited {
            // Dropped, and a strike: a client far over the rate is closed with 4008.
            self.state.metrics.rate_limited.with_label_values(&[class]).inc();
            let error = refusal(FrameErrorCode::RateLimited, "too many frames; slow down", client_id);
            return self.strikes.refuse(sink, &error).await;
        }
        match parsed {
            Ok(frame) => match self.on_frame(frame).await {
                Some(reply) => send(sink, &reply).await,
                None => Step::Continue,
            },
            Err(e) => self.strikes.refuse(sink, &refusal(FrameErrorCode::InvalidFrame, e.0, client_id)).await,
        }
    }

    /// The acks (or errors) of messages in flight, in sending order.
    async fn next_answer(&mut self) -> Option<ServerFrame> {
        let answer = self.in_flight.next().await;
        if let Some(since) = self.held_since.take().filter(|_| answer.is_some()) {
            // Reading resumes: what the client's rate allowed while we did not read
            // waited in TCP, and is credited rather than judged as a burst (at most a
            // minute of its rate).
            let allowed = (f64::from(self.msg_rate) * since.elapsed().as_secs_f64()) as u32;
            self.held_credit = self.held_credit.saturating_add(allowed).min(self.msg_rate.saturating_mul(60));
        }
        answer
    }

    fn reading(&self) -> bool {
        self.in_flight.len() < MAX_IN_FLIGHT
    }
}

impl Chat {
    /// What a client frame does; the reply to send now, if any.
    async fn on_frame(&mut self, frame: ClientFrame) -> Option<ServerFrame> {
        let user = self.user;
        let room = Topic::Room(self.address.room_id);
        match frame {
            ClientFrame::Message { content, client_id } => {
                match self.handle.queue_message(user, client_id.clone(), content).await {
                    // The ack follows the commit; the message itself reaches both sockets
                    // through the room's topic.
                    Ok(pending) => self.in_flight.push_back(Box::pin(async move {
                        match pending.answer().await {
                            Ok((message, _fresh)) => ServerFrame::Ack {
                                client_id: message.client_id,
                                message_id: message.id,
                                seq: message.seq,
                            },
                            Err(e) => error_frame(&e, client_id),
                        }
                    })),
                    Err(e) => return Some(error_frame(&e, client_id)),
                }
                if self.in_flight.len() >= MAX_IN_FLIGHT {
                    self.held_since.get_or_insert_with(Instant::now);
                }
                None
            }
            ClientFrame::Typing { is_typing } => {
                let frame = ServerFrame::Typing { user_id: user.0, is_typing };
                self.state.broker.publish(room, Delivery { skip: Some(user), ..Delivery::frame(frame) });
                None
            }
            ClientFrame::Read { up_to_seq } => {
                let frame = ServerFrame::Read { user_id: user.0, up_to_seq };
                self.state.broker.publish(room, Delivery { skip: Some(user), ..Delivery::frame(frame) });
                None
            }
            ClientFrame::LikeResponse { response } => {
                let event = RoomEvent::LikeAnswer { from: user, yes: response == LikeAnswer::Yes };
                self.handle.apply(event).await.err().map(|e| error_frame(&e, None))
            }
            ClientFrame::Heartbeat => Some(ServerFrame::Heartbeat),
            ClientFrame::CallStart {} => self.call(CallAction::Start).await,
            ClientFrame::CallAnswer { accept } => self.call(CallAction::Answer { accept }).await,
            ClientFrame::CallEnd {} => self.call(CallAction::End).await,
            ClientFrame::CallMute { muted } => self.call(CallAction::Mute { muted }).await,
            ClientFrame::RtcSignal { payload } => {
                let size = serde_json::to_vec(&payload).map_or(usize::MAX, |bytes| bytes.len());
                if !payload.is_object() || size > MAX_SIGNAL_BYTES {
                    let detail =
                        format!("an rtc_signal payload is a JSON object of at most {MAX_SIGNAL_BYTES} bytes");
                    return Some(ServerFrame::error(FrameErrorCode::InvalidSignal, detail));
                }
                self.handle.signal(user, payload).await.err().map(|e| error_frame(&e, None))
            }
        }
    }

    /// A call action through the room's owner; its answer comes as `call_state` (or
    /// `call_mute`) to both, so only a refusal is replied.
    async fn call(&mut self, action: CallAction) -> Option<ServerFrame> {
        let event = RoomEvent::Call { from: self.user, action };
        self.handle.apply(event).await.err().map(|e| error_frame(&e, None))
    }
}

/// The `connection` frame, then every stored message after `last_sent`, in order.
async fn greet<S>(chat: &mut Chat, sink: &mut S) -> Step
where
    S: futures_util::Sink<Message> + Unpin,
{
    let (state, room_id, user) = (&chat.state, chat.address.room_id, chat.user);
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
    chat.last_sent = chat.last_sent.min(room.last_seq);
    let partner = room.partner_of(user).expect("admitted participants have a partner");
    let call = match state.store.open_call(room_id).await {
        Ok(call) => call.map(|c| call_info(&c, user)),
        Err(e) => {
            tracing::warn!(error = %e, "could not load the room's call for a chat socket");
            return Step::Close(CloseCode::Internal);
        }
    };
    let connection = ServerFrame::Connection {
        room_id,
        user_id: user.0,
        reveal_level: room.reveal_level,
        like_round: room.round_deadline.map(|deadline| LikeRoundInfo {
            round: room.rounds_opened,
            deadline: Timestamp::from_millis(deadline).to_datetime(),
            answered: if room.user_a == user.0 { room.answer_a.is_some() } else { room.answer_b.is_some() },
        }),
        last_seq: room.last_seq,
        // Read after this socket subscribed to the room: a partner who comes or goes
        // from now on is told by a `presence` push that follows this frame.
        partner_online: state.connections.has_chat_socket(partner, room_id),
        call,
    };
    if let Step::Gone = send(sink, &connection).await {
        return Step::Gone;
    }
    loop {
        let page = match state.store.messages_after(room_id, chat.last_sent, REPLAY_PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "could not replay messages to a chat socket");
                return Step::Close(CloseCode::Internal);
            }
        };
        for message in &page {
            chat.last_sent = message.seq;
            if let Step::Gone = send(sink, &message_frame(message, &chat.address)).await {
                return Step::Gone;
            }
        }
        if (page.len() as i64) < REPLAY_PAGE {
            return Step::Continue;
        }
    }
}

/// A stored call that has not ended, as `viewer` sees it in the `connection` frame.
fn call_info(call: &CallRow, viewer: UserId) -> CallInfo {
    let ts = |ms: i64| Timestamp::from_millis(ms).to_datetime();
    let caller = call.caller_id == viewer.0;
    let (mine, theirs) =
        if caller { (call.caller_muted, call.callee_muted) } else { (call.callee_muted, call.caller_muted) };
    CallInfo {
        call_id: u32::try_from(call.number).unwrap_or(u32::MAX),
        state: if call.answered_at.is_some() { CallPhase::Active } else { CallPhase::Ringing },
        caller_id: call.caller_id,
        started_at: ts(call.started_at),
        answered_at: call.answered_at.map(ts),
        muted: mine != 0,
        partner_muted: theirs != 0,
    }
}

/// The `error` frame refusing a frame before it is used; `client_id` when it was a
/// message.
fn refusal(code: FrameErrorCode, detail: impl Into<String>, client_id: Option<String>) -> ServerFrame {
    ServerFrame::Error { code, detail: detail.into(), client_id }
}

/// The `client_id` of a `message` frame that does not parse as one (its content is not
/// text, say), when it has a valid one.
fn message_client_id(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value.get("type")?.as_str()? != "message" {
        return None;
    }
    let client_id = value.get("client_id")?.as_str()?;
    is_valid_client_id(client_id).then(|| client_id.to_owned())
}

/// The `error` frame for a refused message or answer (with the message's `client_id`,
/// so the client knows which, unless the id itself was refused: it is not echoed).
fn error_frame(e: &RoomError, client_id: Option<String>) -> ServerFrame {
    let client_id = client_id.filter(|_| !matches!(e, RoomError::InvalidClientId));
    ServerFrame::Error { code: FrameErrorCode::from(e), detail: e.to_string(), client_id }
}
