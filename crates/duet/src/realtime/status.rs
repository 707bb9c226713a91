//! `WS /ws/status`: one per user session, pushing the user's status changes, matches,
//! search timeouts, room ends and bans. The socket loop reads, forwards and writes;
//! what to push is decided by the bridge from the event channel.

use std::future::Future;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::Sink;

use super::broker::{Delivery, Subscription, Topic};
use super::connections::Registration;
use super::protocol::{FrameErrorCode, ServerFrame, StatusClientFrame};
use super::socket::{
    drive, finish, frame_then_close, refuse, send, split, SocketKind, SocketSink, Step, Strikes,
};
use super::{CloseCode, Realtime};
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::profile::StatusView;

/// Runs one status socket until it closes. `token` was taken from the query or the
/// subprotocol before the upgrade. As on the chat socket ([`super::chat::run`]), the
/// steps that run once are boxed, so that an idle socket's task does not carry them.
pub fn run(
    state: Realtime,
    socket: WebSocket,
    token: Option<String>,
) -> impl Future<Output = ()> + Send + 'static {
    let (mut sink, mut stream) = split(socket, state.settings.socket_write_timeout);
    async move {
        let Opened { user_id, expires, mut pushes, mut registration, mut step } =
            match Box::pin(open(&state, &mut sink, token)).await {
                Ok(opened) => opened,
                Err(code) => return refuse(&mut sink, &mut stream, code).await,
            };
        if let Step::Continue = step {
            let stops = state.stops(&mut registration.replaced, expires);
            let mut kind = StatusSocket::new(state.settings.max_invalid_frames);
            step = drive(&mut sink, &mut stream, &mut pushes.receiver, stops, &mut kind).await;
        }
        // Offline once the close frame is on its way, before the closing handshake.
        let closing = async {
            state.connections.unregister_status(user_id, registration.id);
            drop(pushes);
        };
        Box::pin(finish(&mut sink, &mut stream, step, closing)).await;
        state.metrics.sockets.with_label_values(&["status"]).dec();
    }
}

/// A status socket past its checks.
struct Opened {
    user_id: UserId,
    expires: Timestamp,
    pushes: Subscription,
    registration: Registration,
    /// How sending the first frame went.
    step: Step,
}

/// Everything before the loop: the token (its refusal as a close code), the
/// subscription, the registration and the first frame, the user's status.
async fn open(state: &Realtime, sink: &mut SocketSink, token: Option<String>) -> Result<Opened, CloseCode> {
    let token = token.ok_or(CloseCode::Unauthorized)?;
    let (user, expires) = state.accounts.authenticate_until(&token).await.map_err(|e| CloseCode::from(&e))?;
    let user_id = user.user_id();
    tracing::Span::current().record("user_id", user_id.0);
    // Subscribe before reading the status, so no change between the two is lost.
    let pushes = state.broker.subscribe(Topic::User(user_id));
    let registration = state.connections.register_status(user_id);
    state.metrics.sockets.with_label_values(&["status"]).inc();
    let first = match state.store.ticket(user_id).await {
        Ok(ticket) => StatusView::new(&user, ticket, true).into(),
        Err(_) => ServerFrame::error(FrameErrorCode::Internal, "status unavailable"),
    };
    let step = send(sink, &first).await;
    Ok(Opened { user_id, expires, pushes, registration, step })
}

/// The status socket's side of the loop: pushes are written as they come (a close
/// code ends the socket after its frame); the client may only send heartbeats, and
/// anything else counts toward the invalid-frame budget.
pub(super) struct StatusSocket {
    strikes: Strikes,
}

impl StatusSocket {
    pub(super) fn new(max_invalid_frames: u32) -> Self {
        StatusSocket { strikes: Strikes::new(max_invalid_frames) }
    }
}

impl SocketKind for StatusSocket {
    async fn on_push<S>(&mut self, sink: &mut S, delivery: Option<Arc<Delivery>>) -> Step
    where
        S: Sink<Message> + Unpin + Send,
    {
        // Dropped by the broker as too slow: close; the client reconnects.
        let Some(delivery) = delivery else {
            tracing::warn!("status socket fell behind its push queue; closing it");
            return Step::Close(CloseCode::FellBehind);
        };
        frame_then_close(sink, &delivery).await
    }

    async fn on_incoming<S>(&mut self, sink: &mut S, incoming: Option<Result<Message, axum::Error>>) -> Step
    where
        S: Sink<Message> + Unpin + Send,
    {
        let only_heartbeats = || {
            ServerFrame::error(FrameErrorCode::InvalidFrame, "the status socket takes only heartbeat frames")
        };
        match incoming {
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<StatusClientFrame>(&text) {
                Ok(StatusClientFrame::Heartbeat) => send(sink, &ServerFrame::Heartbeat).await,
                Err(_) => self.strikes.refuse(sink, &only_heartbeats()).await,
            },
            Some(Ok(Message::Binary(_))) => self.strikes.refuse(sink, &only_heartbeats()).await,
            Some(Ok(Message::Close(_))) | None => Step::Gone,
            Some(Ok(_)) => Step::Continue,
            Some(Err(e)) => super::read_error(e).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::extract::ws::Message;
    use futures_util::StreamExt;
    use tokio::sync::{mpsc, oneshot};

    use super::super::broker::Delivery;
    use super::super::protocol::ServerFrame;
    use super::super::socket::{drive, Step, Stops};
    use super::super::CloseCode;
    use super::StatusSocket;
    use crate::shutdown::Shutdown;

    fn stops_of<'a>(shutdown: &'a Shutdown, replaced: &'a mut oneshot::Receiver<()>) -> Stops<'a> {
        Stops { shutdown, replaced, token_expires: None, ping_every: std::time::Duration::from_secs(10) }
    }

    fn text(s: &str) -> Result<Message, axum::Error> {
        Ok(Message::Text(s.into()))
    }

    fn texts(sent: &[Message]) -> Vec<String> {
        sent.iter()
            .filter_map(|m| if let Message::Text(t) = m { Some(t.to_string()) } else { None })
            .collect()
    }

    /// The one socket loop, driven with a list of client frames and a Vec as the sink.
    #[tokio::test]
    async fn the_loop_answers_heartbeats_writes_pushes_and_ends_with_the_client() {
        let shutdown = Shutdown::new();
        let (_keep, mut replaced) = oneshot::channel();
        let (push, mut pushes) = mpsc::channel(4);
        push.try_send(Arc::new(Delivery::frame(ServerFrame::SearchTimeout))).unwrap();
        let mut stream = futures_util::stream::iter(vec![
            text(r#"{"type":"heartbeat"}"#),
            text("nonsense"),
            Ok(Message::Close(None)),
        ]);
        let mut sink: Vec<Message> = Vec::new();
        let stops = stops_of(&shutdown, &mut replaced);
        let step = drive(&mut sink, &mut stream, &mut pushes, stops, &mut StatusSocket::new(20)).await;
        assert!(matches!(step, Step::Gone), "the client's close ends the loop");
        let sent = texts(&sink);
        assert_eq!(sent[0], r#"{"type":"search_timeout"}"#, "a queued push goes before the client's frames");
        assert_eq!(sent[1], r#"{"type":"heartbeat"}"#);
        assert!(sent[2].contains("invalid_frame"), "{}", sent[2]);
    }

    /// The silence limit counts from the last frame heard, not from a ping: a peer last
    /// heard 15 s in goes at 35 s (two 10 s intervals later), not at the ping of 40 s.
    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_closed_two_intervals_after_it_was_last_heard() {
        let shutdown = Shutdown::new();
        let (_keep, mut replaced) = oneshot::channel::<()>();
        let (_push, mut pushes) = mpsc::channel(4);
        let started = tokio::time::Instant::now();
        let heard_once = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_secs(15)).await;
            text(r#"{"type":"heartbeat"}"#)
        });
        let mut stream = Box::pin(heard_once.chain(futures_util::stream::pending()));
        let mut sink: Vec<Message> = Vec::new();
        let stops = stops_of(&shutdown, &mut replaced);
        let step = drive(&mut sink, &mut stream, &mut pushes, stops, &mut StatusSocket::new(20)).await;
        assert!(matches!(step, Step::Close(CloseCode::Silent)));
        let closed_at = started.elapsed();
        assert!(
            closed_at >= Duration::from_secs(35) && closed_at < Duration::from_millis(35_100),
            "closed {closed_at:?} after the start"
        );
        let pings = sink.iter().filter(|m| matches!(m, Message::Ping(_))).count();
        assert_eq!(pings, 3, "pinged at 10, 20 and 30 s");
    }

    #[tokio::test]
    async fn shutdown_and_replacement_close_the_socket() {
        let shutdown = Shutdown::new();
        let (_keep, mut replaced) = oneshot::channel::<()>();
        let (_push, mut pushes) = mpsc::channel(4);
        shutdown.trigger();
        let mut stream = futures_util::stream::pending();
        let mut sink: Vec<Message> = Vec::new();
        let stops = stops_of(&shutdown, &mut replaced);
        let step = drive(&mut sink, &mut stream, &mut pushes, stops, &mut StatusSocket::new(20)).await;
        assert!(matches!(step, Step::Close(CloseCode::Shutdown)));

        let shutdown = Shutdown::new();
        let (newer, mut replaced) = oneshot::channel();
        newer.send(()).unwrap();
        let stops = stops_of(&shutdown, &mut replaced);
        let step = drive(&mut sink, &mut stream, &mut pushes, stops, &mut StatusSocket::new(20)).await;
        assert!(matches!(step, Step::Close(CloseCode::Replaced)));
    }

    #[tokio::test]
    async fn a_push_with_a_close_code_ends_the_socket_after_its_frame() {
        let shutdown = Shutdown::new();
        let (_keep, mut replaced) = oneshot::channel();
        let (push, mut pushes) = mpsc::channel(4);
        push.try_send(Arc::new(Delivery {
            close: Some(CloseCode::Banned.code()),
            ..Delivery::frame(ServerFrame::SearchTimeout)
        }))
        .unwrap();
        let mut stream = futures_util::stream::pending();
        let mut sink: Vec<Message> = Vec::new();
        let stops = stops_of(&shutdown, &mut replaced);
        let step = drive(&mut sink, &mut stream, &mut pushes, stops, &mut StatusSocket::new(20)).await;
        assert!(matches!(step, Step::Close(CloseCode::Banned)));
        assert_eq!(texts(&sink), [r#"{"type":"search_timeout"}"#]);
    }
}
