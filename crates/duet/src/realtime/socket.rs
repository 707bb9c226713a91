//! What the socket loops share: [`drive`], the one loop both sockets run (shutdown,
//! replacement, answers, pushes, the client's frames and the keepalive, in that order
//! of preference), the outcome of one turn of it, sending a frame, the write deadline
//! ([`WriteDeadline`]) and the closing handshake ([`finish`]). What differs between
//! the sockets is a [`SocketKind`]. The loop is generic over the sink and the stream,
//! so tests drive it with plain collections.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::broker::Delivery;
use super::protocol::ServerFrame;
use super::CloseCode;
use crate::shutdown::Shutdown;

/// How long the server waits for the client's answer to its close frame (reading and
/// discarding whatever else comes first) before it drops the connection.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// The keepalive: a ping this often, and a client heard from neither a frame nor a
    /// pong for two of them is closed (`--ping-interval`).
    pub ping_every: Duration,
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
    let ping_every = stops.ping_every;
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    // The silence limit has a timer of its own, so a silent peer goes two intervals
    // after it was last heard rather than at the ping after that. Nothing re-arms it
    // per frame: when it fires for a peer heard since, it is set from the last time.
    let silence_limit = 2 * ping_every;
    let silence = tokio::time::sleep(silence_limit);
    tokio::pin!(silence);
    let expiry = tokio::time::sleep_until(stops.token_expires.unwrap_or_else(far_future));
    tokio::pin!(expiry);
    let mut step = Step::Continue;
    while let Step::Continue = step {
        step = tokio::select! {
            biased;
            _ = stops.shutdown.requested() => Step::Close(CloseCode::Shutdown),
            _ = &mut *stops.replaced => Step::Close(CloseCode::Replaced),
            _ = &mut expiry, if stops.token_expires.is_some() => Step::Close(CloseCode::Unauthorized),
            Some(answer) = kind.next_answer() => send(sink, &answer).await,
            delivery = pushes.recv() => kind.on_push(sink, delivery).await,
            incoming = stream.next(), if kind.reading() => {
                last_heard = tokio::time::Instant::now();
                // Boxed: the chat socket's handling of a frame is the largest state of
                // this loop, and inline it would sit in every idle socket's task.
                Box::pin(kind.on_incoming(sink, incoming)).await
            }
            _ = &mut silence => {
                let quiet_until = last_heard + silence_limit;
                if tokio::time::Instant::now() >= quiet_until {
                    // Routine on phones that lose the network, hence info rather than warn.
                    tracing::info!("peer silent for two ping intervals; closing the socket");
                    Step::Close(CloseCode::Silent)
                } else {
                    silence.as_mut().reset(quiet_until);
                    Step::Continue
                }
            }
            _ = ping.tick() => ping_peer(sink).await,
        };
    }
    step
}

/// A deadline that never comes (a token with no expiry to watch).
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400)
}

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

/// The keepalive's ping (a peer silent for two of its intervals is closed by `drive`).
pub(super) async fn ping_peer<S>(sink: &mut S) -> Step
where
    S: futures_util::Sink<Message> + Unpin,
{
    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
        Step::Gone
    } else {
        Step::Continue
    }
}

pub(super) fn close_frame(code: CloseCode) -> Message {
    Message::Close(Some(CloseFrame { code: code.code(), reason: code.reason().into() }))
}

/// A sink whose writes must make progress: once one has waited `timeout` for the
/// connection to take it (a client that stopped reading, its TCP window full), it
/// fails with [`WriteError::Stalled`], and so does every write after it. Time counts
/// from the moment a write first has to wait, and starts again once one completes.
pub(super) struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
    stalled: bool,
}

#[derive(Debug)]
pub(super) enum WriteError<E> {
    Stalled,
    Sink(E),
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        WriteDeadline { inner, timeout, waiting: None, stalled: false }
    }

    /// Whether a write waited out the deadline.
    pub fn stalled(&self) -> bool {
        self.stalled
    }

    fn deadline<E>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<Result<(), E>>,
    ) -> Poll<Result<(), WriteError<E>>> {
        match poll {
            Poll::Ready(result) => {
                self.waiting = None;
                Poll::Ready(result.map_err(WriteError::Sink))
            }
            Poll::Pending if self.stalled => Poll::Ready(Err(WriteError::Stalled)),
            Poll::Pending => {
                let timeout = self.timeout;
                let waiting = self.waiting.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if waiting.as_mut().poll(cx).is_ready() {
                    self.stalled = true;
                    Poll::Ready(Err(WriteError::Stalled))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<S: Sink<Message> + Unpin> Sink<Message> for WriteDeadline<S> {
    type Error = WriteError<S::Error>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_ready(cx);
        this.deadline(cx, poll)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        Pin::new(&mut self.get_mut().inner).start_send(item).map_err(WriteError::Sink)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.deadline(cx, poll)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_close(cx);
        this.deadline(cx, poll)
    }
}

/// Ends a socket the way RFC 6455 asks, whatever ended its loop:
/// - the server's close (`Step::Close`): its close frame, then reading and
///   discarding until the client answers with its own, the connection ends or
///   [`CLOSE_TIMEOUT`] passes, so a client that was still sending reads the frame
///   instead of a reset. After an error that leaves the stream unreadable (a frame over
///   the limit, a protocol error, text that is not UTF-8) nothing more can be read; the
///   connection is held open as long instead;
/// - the client's close (`Step::Gone` after its close frame): the answer the
///   WebSocket library queued is flushed;
/// - a stalled connection: one last try at the 1001 close frame, briefly, and the
///   connection is dropped.
///
/// `closing` runs once the close frame is on its way (or at once when there is none
/// to send), before the wait for the client's answer: the socket's user is away from
/// then on, and the client has its close frame without waiting for that bookkeeping.
///
/// The server then drops the TCP connection (it closes first, as the RFC prefers).
pub(super) async fn finish<S, R>(
    sink: &mut WriteDeadline<S>,
    stream: &mut R,
    step: Step,
    closing: impl Future<Output = ()>,
) where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    if sink.stalled() {
        tracing::info!("socket writes stalled past --socket-write-timeout; closing it as lagging");
        let lagging = sink.inner.send(close_frame(CloseCode::Lagging));
        let _ = tokio::time::timeout(Duration::from_secs(1), lagging).await;
        return closing.await;
    }
    let Step::Close(code) = step else {
        closing.await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        return;
    };
    let sent = sink.send(close_frame(code)).await;
    closing.await;
    if sent.is_err() {
        return;
    }
    let readable = !matches!(code, CloseCode::TooBig | CloseCode::Protocol | CloseCode::InvalidData);
    let answered = async {
        if !readable {
            return std::future::pending().await;
        }
        // The client's close ends this (the library then finishes the handshake); so
        // do the connection's end and a read error.
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, answered).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
}

/// A socket's halves, as its loop holds them.
pub(super) type SocketSink = WriteDeadline<SplitSink<WebSocket, Message>>;
pub(super) type SocketStream = SplitStream<WebSocket>;

/// Splits an upgraded socket, its writes under `write_timeout`. The sockets split at
/// once, before their first await: an async function keeps its arguments for its whole
/// life, and the unsplit socket (some 370 bytes) would stay in every idle task.
pub(super) fn split(socket: WebSocket, write_timeout: Duration) -> (SocketSink, SocketStream) {
    let (sink, stream) = socket.split();
    (WriteDeadline::new(sink, write_timeout), stream)
}

/// Closes a socket before it is used (a refused token, room or participation), with
/// the closing handshake of [`finish`].
pub(super) async fn refuse(sink: &mut SocketSink, stream: &mut SocketStream, code: CloseCode) {
    Box::pin(finish(sink, stream, Step::Close(code), async {})).await;
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use axum::extract::ws::Message;
    use futures_util::{Sink, SinkExt};

    use super::{WriteDeadline, WriteError};

    /// A connection that takes `room` writes, then none: a peer that stopped reading.
    struct Clogged {
        room: usize,
    }

    impl Sink<Message> for Clogged {
        type Error = std::convert::Infallible;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.room > 0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }

        fn start_send(mut self: Pin<&mut Self>, _: Message) -> Result<(), Self::Error> {
            self.room -= 1;
            Ok(())
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_write_that_waits_out_the_deadline_fails_and_so_does_every_later_one() {
        let mut sink = WriteDeadline::new(Clogged { room: 2 }, Duration::from_millis(200));
        sink.send(Message::Ping(Vec::new().into())).await.unwrap();
        sink.send(Message::Ping(Vec::new().into())).await.unwrap();
        assert!(!sink.stalled());
        let started = tokio::time::Instant::now();
        let third = sink.send(Message::Ping(Vec::new().into())).await;
        assert!(matches!(third, Err(WriteError::Stalled)));
        assert!(started.elapsed() >= Duration::from_millis(200), "failed at the deadline, not before");
        assert!(sink.stalled());
        // A stalled connection fails at once (no second wait: the test would hang
        // for the deadline again and the timeout below would fire).
        let fourth =
            tokio::time::timeout(Duration::from_millis(100), sink.send(Message::Ping(Vec::new().into())));
        assert!(matches!(fourth.await, Ok(Err(WriteError::Stalled))));
    }
}
