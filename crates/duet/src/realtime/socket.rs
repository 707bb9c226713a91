//! What the socket loops share: [`drive`], the one loop both sockets run (shutdown,
//! replacement, answers, pushes, the client's frames and the keepalive, in that order
//! of preference), the outcome of one turn of it, sending a frame, and the close frame
//! for a code. What differs between the sockets is a [`SocketKind`]. The loop is generic
//! over the sink and the stream, so tests drive it with plain collections.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::broker::Delivery;
use super::protocol::ServerFrame;
use super::CloseCode;
use crate::shutdown::Shutdown;

/// What one kind of socket does with what comes to it.
pub(super) trait SocketKind: Send {
    /// A push from the broker (None: the broker dropped this socket as too slow).
    fn on_push<S>(
        &mut self,
        sink: &mut S,
        delivery: Option<Arc<Delivery>>,
    ) -> impl Future<Output = Step> + Send
    where
        S: Sink<Message> + Unpin + Send;

    /// What the client sent (None: the connection ended).
    fn on_incoming<S>(
        &mut self,
        sink: &mut S,
        incoming: Option<Result<Message, axum::Error>>,
    ) -> impl Future<Output = Step> + Send
    where
        S: Sink<Message> + Unpin + Send;

    /// The next frame that answers something the client sent earlier (a chat `ack`);
    /// None when nothing is waiting.
    fn next_answer(&mut self) -> impl Future<Output = Option<ServerFrame>> + Send {
        std::future::ready(None)
    }

    /// Whether the loop reads the client's next frame now (a kind may hold back while
    /// too much is waiting).
    fn reading(&self) -> bool {
        true
    }
}

/// Where a socket's loop is stopped from: the server's shutdown, a newer socket of
/// the same user, and the expiry of the access token it was opened with (closed with
/// 4001; the client refreshes and reconnects).
pub(super) struct Stops<'a> {
    pub shutdown: &'a Shutdown,
    pub replaced: &'a mut oneshot::Receiver<()>,
    pub token_expires: Option<tokio::time::Instant>,
}

/// The frames a socket refused as abuse within the last minute: invalid frames,
/// binary frames, frames over the rate (not the status socket's heartbeats). At the
/// budget (`--max-invalid-frames`) the socket closes with 4008.
pub(super) struct Strikes {
    at: VecDeque<Instant>,
    budget: usize,
}

impl Strikes {
    pub fn new(budget: u32) -> Self {
        Strikes { at: VecDeque::new(), budget: budget.max(1) as usize }
    }

    /// Records one; true once the budget is reached.
    pub fn strike(&mut self) -> bool {
        let now = Instant::now();
        self.at.push_back(now);
        while self.at.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
            self.at.pop_front();
        }
        self.at.len() >= self.budget
    }

    /// The answer to a refused frame: close with 4008 once over the budget, else the
    /// `error` frame.
    pub async fn refuse<S>(&mut self, sink: &mut S, error: &ServerFrame) -> Step
    where
        S: futures_util::Sink<Message> + Unpin,
    {
        if self.strike() {
            Step::Close(CloseCode::Policy)
        } else {
            send(sink, error).await
        }
    }
}

/// Runs a socket until a turn does not continue; returns how it ended (the caller
/// sends the close frame). Biased: an answer is written before a push that came after
/// it (the chat socket's `ack` before the sender's own echo).
pub(super) async fn drive<S, R, K>(
    sink: &mut S,
    stream: &mut R,
    pushes: &mut mpsc::Receiver<Arc<Delivery>>,
    stops: Stops<'_>,
    kind: &mut K,
) -> Step
where
    S: Sink<Message> + Unpin + Send,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin + Send,
    K: SocketKind,
{
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let expiry = tokio::time::sleep_until(stops.token_expires.unwrap_or_else(far_future));
    tokio::pin!(expiry);
    let mut step = Step::Continue;
    while let Step::Continue = step {
        step = tokio::select! {
            biased;
            _ = stops.shutdown.requested() => Step::Close(CloseCode::GoingAway),
            _ = &mut *stops.replaced => Step::Close(CloseCode::Replaced),
            _ = &mut expiry, if stops.token_expires.is_some() => Step::Close(CloseCode::Unauthorized),
            Some(answer) = kind.next_answer() => send(sink, &answer).await,
            delivery = pushes.recv() => kind.on_push(sink, delivery).await,
            incoming = stream.next(), if kind.reading() => {
                last_heard = tokio::time::Instant::now();
                kind.on_incoming(sink, incoming).await
            }
            _ = ping.tick() => keepalive(sink, last_heard).await,
        };
    }
    step
}

/// A deadline that never comes (a token with no expiry to watch).
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400)
}

/// How often the server pings; a peer silent for two intervals is dropped.
pub(super) const PING_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What one turn of a socket loop leads to.
pub(super) enum Step {
    Continue,
    /// Close with this code.
    Close(CloseCode),
    /// The peer closed or the connection broke: nothing more to send.
    Gone,
}

impl From<Option<CloseCode>> for Step {
    fn from(code: Option<CloseCode>) -> Self {
        code.map_or(Step::Gone, Step::Close)
    }
}

pub(super) async fn send<S>(sink: &mut S, frame: &ServerFrame) -> Step
where
    S: futures_util::Sink<Message> + Unpin,
{
    match sink.send(Message::Text(frame.to_text().into())).await {
        Ok(()) => Step::Continue,
        Err(_) => Step::Gone,
    }
}

/// Writes a push's frame, if it has one, then ends the socket with the push's close
/// code, if it has one (a ban, a revoke, the room's end).
pub(super) async fn frame_then_close<S>(sink: &mut S, delivery: &Delivery) -> Step
where
    S: futures_util::Sink<Message> + Unpin,
{
    if let Some(frame) = &delivery.frame {
        if let Step::Gone = send(sink, frame).await {
            return Step::Gone;
        }
    }
    delivery.close.map_or(Step::Continue, |code| Step::Close(CloseCode::from_u16(code)))
}

/// The keepalive turn: drop a peer silent for two ping intervals, else ping it.
pub(super) async fn keepalive<S>(sink: &mut S, last_heard: tokio::time::Instant) -> Step
where
    S: futures_util::Sink<Message> + Unpin,
{
    if last_heard.elapsed() > 2 * PING_EVERY {
        // Routine on phones that lose the network, hence info rather than warn.
        tracing::info!("peer silent for two ping intervals; closing the socket");
        Step::Close(CloseCode::GoingAway)
    } else if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
        Step::Gone
    } else {
        Step::Continue
    }
}

pub(super) fn close_frame(code: CloseCode) -> Message {
    Message::Close(Some(CloseFrame { code: code as u16, reason: code.reason().into() }))
}
