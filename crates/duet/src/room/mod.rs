//! Room life (SPEC 5): the state machine that decides what happens in a room
//! ([`machine`]) and the deadline queue that wakes the lifecycle for the next due
//! timer ([`deadlines`]), both pure; [`service`] ends rooms atomically and finds a
//! participant's room; [`view`] is what participants see. Driving the machine from
//! the deadline queue (like rounds, inactivity, expiry, abandonment) is the next step.

pub mod deadlines;
pub mod machine;
pub mod service;
pub mod view;

pub use deadlines::DeadlineQueue;
pub use machine::{
    Effect, EndReason, LikeOutcome, Presence, RoomError, RoomEvent, RoomState, RoomTimers, Side,
};
pub use service::{end_room, room_of_participant};
pub use view::{PartnerView, RoomView};
