//! Finding a participant's room. Every change to a room goes through its owner
//! ([`super::Rooms`]).

use super::RoomError;
use crate::ids::{RoomId, UserId};
use crate::store::{RoomRow, Store};

/// The room if `user` is one of its participants; otherwise `NotParticipant` whether or
/// not it exists (the HTTP edge answers 404 for both, so room ids leak nothing).
pub async fn room_of_participant(store: &Store, room_id: RoomId, user: UserId) -> Result<RoomRow, RoomError> {
    store.room(room_id).await?.filter(|room| room.partner_of(user).is_some()).ok_or(RoomError::NotParticipant)
}
