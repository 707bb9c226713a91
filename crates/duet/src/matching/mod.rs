//! Matching: pairing compatible strangers fast and fairly (SPEC 4).
//!
//! [`core`] is the pure matcher (tickets in, matches and expiries out, no I/O);
//! [`ticket`] turns profiles into the bitsets it compares; [`icebreakers`] holds the
//! prompts a new room opens with; [`service`] stores tickets and rooms around the core
//! and runs its lifecycle loop.

pub mod core;
pub mod icebreakers;
pub mod service;
pub mod ticket;

pub use self::core::{EnqueueError, Match, MatchConfig, Matcher, TickOutcome};
pub use service::{MatchDeps, Matchmaker, SearchError, SearchOutcome};
pub use ticket::{ChatKind, Gender, GenderSet, Ticket};
