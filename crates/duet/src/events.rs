//! The internal event channel: every room and matching event goes out here once, for
//! the real-time layer to tell users on their status sockets (and for tests to
//! observe). A room's own traffic (messages, rounds, presence) does not pass here: its
//! owner pushes that through its outbox. A broadcast
//! channel: each subscriber gets every event; one that falls more than `CAPACITY`
//! behind loses the oldest and is told how many it missed.

use tokio::sync::broadcast;

use crate::clock::Timestamp;
use crate::ids::{RoomId, UserId};
use crate::types::{EndReason, LikeOutcome};

/// Room and matching events, in the order they happened. Room events carry both
/// participants so the real-time layer can route them without a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    MatchFound {
        room_id: RoomId,
        users: [UserId; 2],
        fallback: bool,
    },
    /// A search began and is waiting (a search matched at once is `MatchFound`).
    SearchStarted {
        user: UserId,
    },
    SearchCancelled {
        user: UserId,
    },
    SearchTimeout {
        user: UserId,
    },
    LikePrompt {
        room_id: RoomId,
        users: [UserId; 2],
        round: u32,
        deadline: Timestamp,
    },
    /// `user` answered; the answer itself is revealed only with the result.
    LikeAnswered {
        room_id: RoomId,
        users: [UserId; 2],
        user: UserId,
    },
    LikeResult {
        room_id: RoomId,
        users: [UserId; 2],
        round: u32,
        outcome: LikeOutcome,
        reveal_level: u8,
    },
    ImageReveal {
        room_id: RoomId,
        users: [UserId; 2],
        reveal_level: u8,
    },
    RoomKept {
        room_id: RoomId,
        users: [UserId; 2],
    },
    RoomEnded {
        room_id: RoomId,
        users: [UserId; 2],
        reason: EndReason,
        /// The participant who pressed *End*, if one did.
        by: Option<UserId>,
    },
    /// Published before the banned user's room ends, so their sockets close with 4002
    /// rather than with the room's end.
    Banned {
        user: UserId,
        until: Timestamp,
        room_id: Option<RoomId>,
    },
    /// Every token of the user was revoked (logout, account erased): the user's open
    /// sockets close with 4001.
    TokensRevoked {
        user: UserId,
    },
}

/// Events buffered per subscriber: enough for a burst of ends at a restart.
const CAPACITY: usize = 4096;

#[derive(Clone, Debug)]
pub struct Events(broadcast::Sender<Event>);

impl Events {
    pub fn new() -> Self {
        Events(broadcast::channel(CAPACITY).0)
    }

    /// Sends to every current subscriber; with none, the event is simply not seen.
    pub fn publish(&self, event: Event) {
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}
