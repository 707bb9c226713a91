//! The seam through which a room's owner announces its room's traffic to the sockets:
//! stored messages, like rounds, reveals, keep, presence, the end. The owner is the
//! only publisher of its room, so what it pushes arrives in its own order. The real-time
//! layer implements [`RoomOutbox`] (rendering each push once for the whole room);
//! tests can implement it to watch a room.

use super::machine::Effect;
use crate::clock::Timestamp;
use crate::ids::{RoomId, UserId};
use crate::store::MessageRow;

/// Who is in a room, as its owner loaded them when it started.
#[derive(Clone, Debug)]
pub struct RoomAddress {
    pub room_id: RoomId,
    pub users: [UserId; 2],
    /// Nicknames in the order of `users`, shown with each message.
    pub nicknames: [Option<String>; 2],
}

impl RoomAddress {
    pub fn nickname_of(&self, user: UserId) -> Option<&str> {
        self.users.iter().position(|u| *u == user).and_then(|i| self.nicknames[i].as_deref())
    }
}

/// One push to a room's sockets.
#[derive(Debug)]
pub enum RoomPush<'a> {
    /// A message just committed, with the next `seq` of the room.
    Message(&'a MessageRow),
    /// A decision of the rules (every [`Effect`] but `ImageReveal`, which becomes one
    /// [`RoomPush::Reveal`] per participant).
    Effect(Effect),
    /// The partner's picture at a new level, for `viewer` only.
    Reveal { viewer: UserId, reveal_level: u8, partner_avatar_url: Option<String> },
    /// `user`'s chat socket opened or closed; their partner is told.
    Presence { user: UserId, online: bool },
    /// `user` is banned: their sockets in this room close with the ban, before the
    /// room's end reaches the partner.
    Banned { user: UserId, until: Timestamp },
    /// A WebRTC signal of call number `call`, for the partner of `from` only, as sent.
    Signal { from: UserId, call: u32, payload: &'a serde_json::Value },
}

pub trait RoomOutbox: Send + Sync + 'static {
    /// Hands `push` to the room's local subscribers; never waits (a subscriber too far
    /// behind is dropped and resumes).
    fn push(&self, room: &RoomAddress, push: RoomPush<'_>);
}
