//! What the socket loops share: the outcome of one turn of a loop, sending a frame,
//! and the close frame for a code.

use axum::extract::ws::{CloseFrame, Message};
use futures_util::SinkExt;

use super::protocol::ServerFrame;
use super::CloseCode;

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
