//! What the socket loops share: the outcome of one turn of a loop, sending a frame,
//! and the close frame for a code.

use axum::extract::ws::{CloseFrame, Message};
use futures_util::SinkExt;

use super::protocol::ServerFrame;
use super::CloseCode;

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

pub(super) fn close_frame(code: CloseCode) -> Message {
    Message::Close(Some(CloseFrame { code: code as u16, reason: code.reason().into() }))
}
