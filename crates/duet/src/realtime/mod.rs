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
pub mod connections;
pub mod fanout;
pub mod protocol;
mod socket;
pub mod status;

use std::ops::Deref;
use std::sync::Arc;

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
}

impl Deref for Realtime {
    type Target = RealtimeDeps;

    fn deref(&self) -> &RealtimeDeps {
        &self.0
    }
}

/// Close codes of SPEC 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum CloseCode {
    Normal = 1000,
    GoingAway = 1001,
    TooBig = 1009,
    Unauthorized = 4001,
    Banned = 4002,
    NotParticipant = 4003,
    RoomNotFound = 4004,
    RoomEnded = 4005,
    Replaced = 4007,
    Policy = 4008,
    /// The server failed (its store did not answer); the client may retry.
    Internal = 1011,
}

impl CloseCode {
    pub fn reason(self) -> &'static str {
        match self {
            CloseCode::Normal => "closing",
            CloseCode::GoingAway => "server shutting down",
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

    pub fn from_u16(code: u16) -> CloseCode {
        [
            CloseCode::Normal,
            CloseCode::GoingAway,
            CloseCode::TooBig,
            CloseCode::Unauthorized,
            CloseCode::Banned,
            CloseCode::NotParticipant,
            CloseCode::RoomNotFound,
            CloseCode::RoomEnded,
            CloseCode::Replaced,
            CloseCode::Policy,
            CloseCode::Internal,
        ]
        .into_iter()
        .find(|c| *c as u16 == code)
        .unwrap_or(CloseCode::GoingAway)
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
            RoomError::Unavailable => CloseCode::GoingAway,
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

/// How a read error ends a socket: a frame over the size limit closes with 1009;
/// anything else means the connection is gone (None: nothing more to send).
fn read_error(error: axum::Error) -> Option<CloseCode> {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(e) if matches!(*e, tungstenite::Error::Capacity(_)) => Some(CloseCode::TooBig),
        _ => None,
    }
}
