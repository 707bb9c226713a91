//! What a room can answer instead of doing what was asked: the rules' refusals, bad
//! message content, and the runtime's own failures. Domain words only: the HTTP edge
//! (`http::error`) and the socket edge (`realtime::protocol`) each map these once.

use super::machine::Refusal;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("the room has ended")]
    Ended,
    #[error("not a participant of this room")]
    NotParticipant,
    #[error("no like round is open")]
    NoOpenRound,
    #[error("this like round is already answered")]
    AlreadyAnswered,
    #[error("a call is already ringing or active in this room")]
    CallBusy,
    #[error("no call is ringing or active in this room")]
    NoCall,
    #[error("the call is not ringing")]
    NotRinging,
    #[error("only the called participant answers a call")]
    NotCallee,
    /// Empty after trimming, or longer than the configured maximum.
    #[error("a message must be 1 to {max} characters after trimming")]
    InvalidContent { max: usize },
    /// The `client_id` is empty, longer than 64 characters, or has characters other
    /// than letters, digits and `-_.:`.
    #[error("a client_id must be 1 to 64 letters, digits or -_.:")]
    InvalidClientId,
    /// The sender used this `client_id` for a message with other content.
    #[error("this client_id was used for another message")]
    ClientIdReused,
    /// The room's owner cannot be reached now (the server is shutting down, or the
    /// owner stopped): not an end; the client retries, here or on another instance.
    #[error("the room is unavailable right now; retry")]
    Unavailable,
    /// Storing the message failed; nothing was stored, the room carries on.
    #[error("storing the message failed: {0}")]
    WriteFailed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Refusal> for RoomError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Ended => RoomError::Ended,
            Refusal::NotParticipant => RoomError::NotParticipant,
            Refusal::NoOpenRound => RoomError::NoOpenRound,
            Refusal::AlreadyAnswered => RoomError::AlreadyAnswered,
            Refusal::CallBusy => RoomError::CallBusy,
            Refusal::NoCall => RoomError::NoCall,
            Refusal::NotRinging => RoomError::NotRinging,
            Refusal::NotCallee => RoomError::NotCallee,
        }
    }
}

crate::store::db_error_into!(RoomError);
