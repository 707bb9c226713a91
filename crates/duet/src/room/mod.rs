//! Room life (SPEC 5): the state machine that decides what happens in a room
//! ([`machine`]) and the deadline queue that wakes the lifecycle for the next due
//! timer ([`deadlines`]). Both are pure; the owner that applies their effects (store,
//! event channel, sockets) comes with the room service.

pub mod deadlines;
pub mod machine;

pub use deadlines::DeadlineQueue;
pub use machine::{
    Effect, EndReason, LikeOutcome, Presence, RoomError, RoomEvent, RoomState, RoomTimers, Side,
};
