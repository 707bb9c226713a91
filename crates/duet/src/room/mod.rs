//! Room life (SPEC 5): the state machine that decides what happens in a room
//! ([`machine`]) and the deadline queue of all rooms' next timers ([`deadlines`]),
//! both pure; [`runtime`] runs one owner task per active room that applies the
//! machine's decisions (store, events, next deadline) and the lifecycle loop that
//! ticks due rooms, pushing each room's traffic through its [`outbox`]; [`writer`]
//! stores messages in batches; [`error`] says what a room answers instead;
//! [`service`] finds a participant's room; [`view`] is what participants see.

pub mod call;
pub mod deadlines;
pub mod error;
pub mod machine;
pub mod outbox;
pub mod runtime;
pub mod service;
pub mod view;
pub mod writer;

pub use call::{Call, CallAction, CallChange, CallEndReason, CallPhase, CallTimers};
pub use deadlines::DeadlineQueue;
pub use error::RoomError;
pub use machine::{
    Effect, EndReason, LikeOutcome, Presence, Refusal, RoomEvent, RoomState, RoomTimers, Side, Timer,
};
pub use outbox::{RoomAddress, RoomOutbox, RoomPush};
pub use runtime::{is_valid_client_id, Notice, RoomDeps, RoomHandle, Rooms};
pub use service::room_of_participant;
pub use view::{MessageView, PartnerView, RoomView};
