//! The real-time layer (SPEC 3): WebSocket endpoints, the fan-out seam and the bridge
//! from the internal event channel to sockets.
//!
//! The HTTP edge upgrades `WS /ws/status` and `WS /ws/chat/{room_id}` (refusing
//! foreign origins) and hands the socket to [`status::run`] or [`chat::run`], which
//! check the token (and the room) before the socket is used, replace an older socket
//! of the same user, keep alive and close on shutdown. Pushes go through
//! the [`broker`] seam (in-process today). Chat messages go to the room's owner, which
//! orders and stores them and pushes its room's traffic through [`fanout`]; the
//! [`bridge`] turns matching and account events into status-socket pushes.

pub mod bridge;
pub mod broker;
pub mod chat;
#[cfg(test)]
mod conformance;
pub mod connections;
pub mod fanout;
pub mod protocol;
mod socket;
pub mod status;

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::WebSocketUpgrade;

use crate::accounts::Accounts;
use crate::auth::AuthError;
use crate::clock::SharedClock;
use crate::config::RealtimeSettings;
use crate::metrics::Metrics;
use crate::room::{RoomError, Rooms};
use crate::shutdown::Shutdown;
use crate::store::Store;

pub use broker::{Broker, InProcessBroker};
pub use connections::Connections;
pub use fanout::Fanout;

/// Socket buffers sized for many idle connections: a few KiB each rather than the
/// library's 128 KiB read buffer.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

/// Every socket's upgrade settings: the small buffers, and the frame and message limit
/// (`--max-frame-bytes`; a larger one closes the socket with 1009).
pub fn sized(ws: WebSocketUpgrade, max_frame_bytes: u64) -> WebSocketUpgrade {
    let max = usize::try_from(max_frame_bytes).unwrap_or(usize::MAX);
    ws.read_buffer_size(READ_BUFFER).write_buffer_size(WRITE_BUFFER).max_message_size(max).max_frame_size(max)
}

/// What the sockets and the bridge need, handed in at start-up.
pub struct RealtimeDeps {
    /// Checks the token a socket opens with.
    pub accounts: Accounts,
    pub store: Store,
    pub clock: SharedClock,
    /// Chat messages and like answers go to the room's owner.
    pub rooms: Rooms,
    pub broker: Arc<dyn Broker>,
    pub connections: Connections,
    pub settings: RealtimeSettings,
    pub metrics: Metrics,
    /// Sockets close with 1001 when it triggers.
    pub shutdown: Shutdown,
}

/// The real-time layer's dependencies; a cheap handle that every socket task holds.
#[derive(Clone)]
pub struct Realtime(Arc<RealtimeDeps>);

impl Realtime {
    pub fn new(deps: RealtimeDeps) -> Realtime {
        Realtime(Arc::new(deps))
    }

    /// When, on the runtime's clock, a token that expires at `expires` runs out.
    fn token_deadline(&self, expires: crate::clock::Timestamp) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.clock.now().until(expires)
    }

    /// What stops the loop of a socket opened with a token that expires at `expires`,
    /// and replaced through `replaced`.
    fn stops<'a>(
        &'a self,
        replaced: &'a mut tokio::sync::oneshot::Receiver<()>,
        expires: crate::clock::Timestamp,
    ) -> socket::Stops<'a> {
        socket::Stops {
            shutdown: &self.shutdown,
            replaced,
            token_expires: Some(self.token_deadline(expires)),
            ping_every: self.settings.ping_interval,
        }
    }
}

impl Deref for Realtime {
    type Target = RealtimeDeps;

    fn deref(&self) -> &RealtimeDeps {
        &self.0
    }
}

/// Why the server closes a socket: the close code of SPEC 3 ([`CloseCode::code`]) and
/// the reason sent with it. Several causes share 1001 ("going away": the client
/// reconnects), each with its own reason, so a client or an operator reading a capture
/// can tell a shutdown from a silent peer, a stalled one or a gap in the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCode {
    Normal,
    /// 1001: the server is shutting down (or a room's owner is, at open).
    Shutdown,
    /// 1001: no frame or pong from the client for two ping intervals.
    Silent,
    /// 1001: the server's writes to the client made no progress for
    /// `--socket-write-timeout` (the client stopped reading).
    Lagging,
    /// 1001: the socket fell behind its queue of pushes.
    FellBehind,
    /// 1001: a message would have been skipped; the client resumes with `after_seq`.
    Gap,
    /// 1002: the client broke the WebSocket protocol.
    Protocol,
    /// 1007: a text frame (or a close reason) that is not UTF-8.
    InvalidData,
    TooBig,
    /// The server failed (its store did not answer); the client may retry.
    Internal,
    Unauthorized,
    Banned,
    NotParticipant,
    RoomNotFound,
    RoomEnded,
    Replaced,
    Policy,
}

impl CloseCode {
    const ALL: [CloseCode; 17] = [
        CloseCode::Normal,
        CloseCode::Shutdown,
        CloseCode::Silent,
        CloseCode::Lagging,
        CloseCode::FellBehind,
        CloseCode::Gap,
        CloseCode::Protocol,
        CloseCode::InvalidData,
        CloseCode::TooBig,
        CloseCode::Internal,
        CloseCode::Unauthorized,
        CloseCode::Banned,
        CloseCode::NotParticipant,
        CloseCode::RoomNotFound,
        CloseCode::RoomEnded,
        CloseCode::Replaced,
        CloseCode::Policy,
    ];

    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::Shutdown
            | CloseCode::Silent
            | CloseCode::Lagging
            | CloseCode::FellBehind
            | CloseCode::Gap => 1001,
            CloseCode::Protocol => 1002,
            CloseCode::InvalidData => 1007,
            CloseCode::TooBig => 1009,
            CloseCode::Internal => 1011,
            CloseCode::Unauthorized => 4001,
            CloseCode::Banned => 4002,
            CloseCode::NotParticipant => 4003,
            CloseCode::RoomNotFound => 4004,
            CloseCode::RoomEnded => 4005,
            CloseCode::Replaced => 4007,
            CloseCode::Policy => 4008,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            CloseCode::Normal => "closing",
            CloseCode::Shutdown => "server shutting down",
            CloseCode::Silent => "no answer to pings",
            CloseCode::Lagging => "lagging: the connection stopped taking writes",
            CloseCode::FellBehind => "fell behind the pushes; reconnect",
            CloseCode::Gap => "missed messages; resume with after_seq",
            CloseCode::Protocol => "protocol error",
            CloseCode::InvalidData => "text is not valid UTF-8",
            CloseCode::TooBig => "frame too large",
            CloseCode::Unauthorized => "missing, invalid, expired or revoked token",
            CloseCode::Banned => "account banned",
            CloseCode::NotParticipant => "not a participant of this room",
            CloseCode::RoomNotFound => "room not found",
            CloseCode::RoomEnded => "room has ended",
            CloseCode::Replaced => "replaced by a newer connection",
            CloseCode::Policy => "policy violation",
            CloseCode::Internal => "server error",
        }
    }

    /// The cause for a code carried by a push (a ban, a revoke, the room's end); an
    /// unknown one reads as a shutdown, so the client reconnects.
    pub fn from_u16(code: u16) -> CloseCode {
        CloseCode::ALL.into_iter().find(|c| c.code() == code).unwrap_or(CloseCode::Shutdown)
    }
}

/// How a failed authentication closes a socket (both sockets use this one mapping).
impl From<&AuthError> for CloseCode {
    fn from(e: &AuthError) -> Self {
        match e {
            AuthError::Invalid | AuthError::Revoked => CloseCode::Unauthorized,
            AuthError::Banned(_) => CloseCode::Banned,
            AuthError::Store(_) => CloseCode::Internal,
        }
    }
}

/// How a room's refusal closes a chat socket before it is used (after that, refusals
/// are `error` frames: [`protocol::FrameErrorCode`]). An owner gone for shutdown is
/// 1001, so the client retries; never "ended".
impl From<&RoomError> for CloseCode {
    fn from(e: &RoomError) -> Self {
        match e {
            RoomError::Ended => CloseCode::RoomEnded,
            RoomError::NotParticipant => CloseCode::NotParticipant,
            RoomError::Unavailable => CloseCode::Shutdown,
            RoomError::NoOpenRound
            | RoomError::AlreadyAnswered
            | RoomError::InvalidContent { .. }
            | RoomError::ClientIdReused
            | RoomError::InvalidClientId
            | RoomError::CallBusy
            | RoomError::NoCall
            | RoomError::NotRinging
            | RoomError::NotCallee
            | RoomError::WriteFailed(_)
            | RoomError::Store(_) => CloseCode::Internal,
        }
    }
}

/// How a read error ends a socket: a frame over the size limit closes with 1009, text
/// that is not UTF-8 with 1007, a broken protocol with 1002; anything else means the
/// connection is gone (None: nothing more to send).
fn read_error(error: axum::Error) -> Option<CloseCode> {
    match error.into_inner().downcast::<tungstenite::Error>().map(|e| *e) {
        Ok(tungstenite::Error::Capacity(_)) => Some(CloseCode::TooBig),
        Ok(tungstenite::Error::Utf8(_)) => Some(CloseCode::InvalidData),
        Ok(tungstenite::Error::Protocol(e)) => {
            tracing::debug!(error = %e, "WebSocket protocol error");
            Some(CloseCode::Protocol)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::CloseCode;

    #[test]
    fn every_cause_round_trips_through_its_code_and_each_1001_names_its_own() {
        for cause in CloseCode::ALL {
            let back = CloseCode::from_u16(cause.code());
            assert_eq!(back.code(), cause.code());
            if cause.code() != 1001 {
                assert_eq!(back, cause);
            }
        }
        let reasons: std::collections::HashSet<_> =
            CloseCode::ALL.iter().filter(|c| c.code() == 1001).map(|c| c.reason()).collect();
        assert_eq!(reasons.len(), 5, "shutdown, silence, lag, falling behind and a gap read apart");
        // A close frame's reason is at most 123 bytes.
        assert!(CloseCode::ALL.iter().all(|c| c.reason().len() <= 123));
    }
}
