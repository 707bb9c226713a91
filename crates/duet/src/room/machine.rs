//! The room state machine: it decides, never does. [`RoomState::on_event`] takes an
//! event and `now` and returns the effects to apply (pushes to send, the end to
//! store); [`RoomState::next_deadline`] says when the room next needs a
//! [`RoomEvent::Tick`]. Every timer is derived from stored timestamps, so a room
//! reloaded after a restart resumes its timers and fires overdue ones in order.

use std::time::Duration;

use super::call::{Call, CallAction, CallChange, CallEndReason, CallTimers};
use crate::clock::Timestamp;
use crate::ids::UserId;
pub use crate::types::{EndReason, LikeOutcome};

/// Which participant: the room stores its two users in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Side {
    fn index(self) -> usize {
        self as usize
    }

    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Whether a participant has a chat socket open, or since when not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Open,
    ClosedSince(Timestamp),
}

/// The timers of SPEC 5, from configuration.
#[derive(Clone, Copy, Debug)]
pub struct RoomTimers {
    pub like_after: Duration,
    pub like_answer_window: Duration,
    pub inactivity_timeout: Duration,
    pub room_max_age: Duration,
    pub abandon_grace: Duration,
    pub call: CallTimers,
}

/// The highest reveal level: photos are clear.
pub const MAX_REVEAL: u8 = 2;
/// Consecutive no-match rounds that end a room that is not kept.
const NO_MATCH_LIMIT: u8 = 2;

/// An open like round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LikeRound {
    pub number: u32,
    pub deadline: Timestamp,
    pub answers: [Option<bool>; 2],
}

/// Everything the rules need to know about a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomState {
    pub participants: [UserId; 2],
    pub start: Timestamp,
    pub reveal_level: u8,
    pub keep: [bool; 2],
    /// Rounds opened so far; the open one, if any, is `round`.
    pub rounds_opened: u32,
    pub round: Option<LikeRound>,
    /// When the next round opens; None once photos are clear.
    pub next_like_at: Option<Timestamp>,
    pub no_match_streak: u8,
    /// The last activity: a message, or a call's start, answer or end.
    pub last_message_at: Timestamp,
    pub presence: [Presence; 2],
    /// When each participant's chat socket closed (None while one is open). Unlike
    /// `presence`, an HTTP call (`Seen`) does not move it: a call's reconnect grace
    /// is about the socket.
    pub socket_closed_at: [Option<Timestamp>; 2],
    pub ended: Option<(Timestamp, EndReason)>,
    /// The participant who ended the room with *End* (None for every other end).
    pub ended_by: Option<UserId>,
    /// The call ringing or active, if any.
    pub call: Option<Call>,
    /// Calls started so far; the next one's number follows.
    pub calls_started: u32,
}

/// Something that happened to a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomEvent {
    /// Time passed: fire what is due.
    Tick,
    Message {
        from: UserId,
    },
    LikeAnswer {
        from: UserId,
        yes: bool,
    },
    Keep {
        from: UserId,
        keep: bool,
    },
    SocketOpened {
        user: UserId,
    },
    SocketClosed {
        user: UserId,
    },
    /// The participant used the room without a socket (an HTTP call): counts as a
    /// socket opened and closed now, for the abandonment rule.
    Seen {
        user: UserId,
    },
    End {
        reason: EndReason,
        /// The participant who pressed *End*, if one did.
        by: Option<UserId>,
    },
    /// A participant starts, answers, ends or mutes the room's call, or relays a
    /// signal of it.
    Call {
        from: UserId,
        action: CallAction,
    },
}

/// What the owner of the room must do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    LikePrompt {
        round: u32,
        deadline: Timestamp,
    },
    LikeAnswered {
        user: UserId,
    },
    LikeResult {
        round: u32,
        outcome: LikeOutcome,
        reveal_level: u8,
    },
    ImageReveal {
        reveal_level: u8,
    },
    Kept,
    /// The call rang, was answered or ended.
    Call(CallChange),
    /// A participant muted or unmuted their microphone in the call.
    CallMute {
        user: UserId,
        muted: bool,
    },
    Ended {
        reason: EndReason,
        /// The participant who pressed *End*, if one did.
        by: Option<UserId>,
    },
}

/// Why the rules refuse an event (the room runtime's [`super::RoomError`] adds what
/// can fail around the rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
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
}

impl RoomState {
    /// A room that starts now; the first like round opens `like_after` later, and the
    /// participants have `abandon_grace` to open their chat sockets.
    pub fn new(participants: [UserId; 2], start: Timestamp, timers: &RoomTimers) -> Self {
        RoomState {
            participants,
            start,
            reveal_level: 0,
            keep: [false; 2],
            rounds_opened: 0,
            round: None,
            next_like_at: Some(start.plus(timers.like_after)),
            no_match_streak: 0,
            last_message_at: start,
            presence: [Presence::ClosedSince(start); 2],
            socket_closed_at: [Some(start); 2],
            ended: None,
            ended_by: None,
            call: None,
            calls_started: 0,
        }
    }

    pub fn is_kept(&self) -> bool {
        self.keep[0] && self.keep[1]
    }

    pub fn side_of(&self, user: UserId) -> Option<Side> {
        if self.participants[0] == user {
            Some(Side::A)
        } else if self.participants[1] == user {
            Some(Side::B)
        } else {
            None
        }
    }

    /// The next instant at which a [`RoomEvent::Tick`] has something to do.
    pub fn next_deadline(&self, timers: &RoomTimers) -> Option<Timestamp> {
        self.next_timer(timers).map(|(at, _)| at)
    }

    /// The next timer to fire, and when.
    pub fn next_timer(&self, timers: &RoomTimers) -> Option<(Timestamp, Timer)> {
        if self.ended.is_some() {
            return None;
        }
        self.due(timers)
    }

    /// Applies `event` at `now`, after firing the timers due by then. When the event is
    /// refused, the timers that fired stay fired; callers that must not lose their
    /// effects tick first (as the room owner does).
    pub fn on_event(
        &mut self,
        event: RoomEvent,
        now: Timestamp,
        timers: &RoomTimers,
    ) -> Result<Vec<Effect>, Refusal> {
        if self.ended.is_some() {
            return Err(Refusal::Ended);
        }
        let mut effects = Vec::new();
        // Timers that fell due before this event happened first: a message sent after
        // the inactivity deadline does not save the room.
        self.fire_due(now, timers, &mut effects);
        if self.ended.is_some() {
            return match event {
                RoomEvent::Tick | RoomEvent::End { .. } => Ok(effects),
                _ => Err(Refusal::Ended),
            };
        }
        match event {
            RoomEvent::Tick => {}
            RoomEvent::Message { from } => {
                self.side(from)?;
                self.last_message_at = now;
            }
            RoomEvent::LikeAnswer { from, yes } => {
                let side = self.side(from)?;
                let round = self.round.as_mut().ok_or(Refusal::NoOpenRound)?;
                if round.answers[side.index()].is_some() {
                    return Err(Refusal::AlreadyAnswered);
                }
                round.answers[side.index()] = Some(yes);
                effects.push(Effect::LikeAnswered { user: from });
                if round.answers.iter().all(Option::is_some) {
                    self.close_round(now, timers, &mut effects);
                }
            }
            RoomEvent::Keep { from, keep } => {
                let side = self.side(from)?;
                let was_kept = self.is_kept();
                self.keep[side.index()] = keep;
                if self.is_kept() && !was_kept {
                    effects.push(Effect::Kept);
                }
                if was_kept && !self.is_kept() {
                    // Inactivity counts again from now, not from a message long ago.
                    self.last_message_at = self.last_message_at.max(now);
                }
            }
            RoomEvent::SocketOpened { user } => {
                let side = self.side(user)?;
                self.presence[side.index()] = Presence::Open;
                self.socket_closed_at[side.index()] = None;
            }
            RoomEvent::SocketClosed { user } => {
                let side = self.side(user)?;
                self.presence[side.index()] = Presence::ClosedSince(now);
                self.socket_closed_at[side.index()] = Some(now);
            }
            RoomEvent::Seen { user } => {
                let side = self.side(user)?;
                if let Presence::ClosedSince(since) = self.presence[side.index()] {
                    self.presence[side.index()] = Presence::ClosedSince(since.max(now));
                }
            }
            RoomEvent::End { reason, by } => self.end(now, reason, by, &mut effects),
            RoomEvent::Call { from, action } => {
                let side = self.side(from)?;
                self.on_call(from, side, action, now, &mut effects)?;
            }
        }
        Ok(effects)
    }

    fn side(&self, user: UserId) -> Result<Side, Refusal> {
        self.side_of(user).ok_or(Refusal::NotParticipant)
    }

    /// Fires every timer due at `now`, earliest first, until none is due or the room
    /// ended. Each firing happens at its own deadline, so effects and the next
    /// deadlines are what they would have been had the server been running.
    fn fire_due(&mut self, now: Timestamp, timers: &RoomTimers, effects: &mut Vec<Effect>) {
        while self.ended.is_none() {
            let Some((at, timer)) = self.due(timers).filter(|(at, _)| *at <= now) else {
                break;
            };
            match timer {
                Timer::Expiry => self.end(at, EndReason::Expired, None, effects),
                Timer::Abandoned => self.end(at, EndReason::Abandoned, None, effects),
                Timer::Inactivity => self.end(at, EndReason::Inactive, None, effects),
                Timer::RingTimeout => self.end_call(at, CallEndReason::Missed, None, effects),
                Timer::CallDisconnect => {
                    let gone = self
                        .disconnect_deadline(&timers.call)
                        .map(|(_, side)| self.participants[side.index()]);
                    self.end_call(at, CallEndReason::Disconnected, gone, effects);
                }
                Timer::AnswerDeadline => self.close_round(at, timers, effects),
                Timer::OpenRound => self.open_round(at, timers, effects),
            }
        }
    }

    /// The earliest pending timer. On equal deadlines the ends come first, in the
    /// order listed.
    fn due(&self, timers: &RoomTimers) -> Option<(Timestamp, Timer)> {
        let abandoned = match self.presence {
            [Presence::ClosedSince(a), Presence::ClosedSince(b)] => Some(a.max(b).plus(timers.abandon_grace)),
            _ => None,
        };
        // A ringing or active call is activity: the room is not idle during it.
        let inactivity = (!self.is_kept() && self.call.is_none())
            .then(|| self.last_message_at.plus(timers.inactivity_timeout));
        let candidates = [
            (Some(self.start.plus(timers.room_max_age)), Timer::Expiry),
            (abandoned, Timer::Abandoned),
            (inactivity, Timer::Inactivity),
            (self.ring_deadline(&timers.call), Timer::RingTimeout),
            (self.disconnect_deadline(&timers.call).map(|(at, _)| at), Timer::CallDisconnect),
            (self.round.map(|r| r.deadline), Timer::AnswerDeadline),
            (if self.round.is_none() { self.next_like_at } else { None }, Timer::OpenRound),
        ];
        candidates
            .into_iter()
            .filter_map(|(at, timer)| at.map(|at| (at, timer)))
            .min_by_key(|(at, timer)| (*at, *timer as u8))
    }

    fn open_round(&mut self, at: Timestamp, timers: &RoomTimers, effects: &mut Vec<Effect>) {
        self.rounds_opened += 1;
        let deadline = at.plus(timers.like_answer_window);
        self.round = Some(LikeRound { number: self.rounds_opened, deadline, answers: [None; 2] });
        self.next_like_at = None;
        effects.push(Effect::LikePrompt { round: self.rounds_opened, deadline });
    }

    fn close_round(&mut self, at: Timestamp, timers: &RoomTimers, effects: &mut Vec<Effect>) {
        let Some(round) = self.round.take() else {
            return;
        };
        let mutual = round.answers == [Some(true), Some(true)];
        if mutual {
            self.reveal_level = (self.reveal_level + 1).min(MAX_REVEAL);
            self.no_match_streak = 0;
        } else {
            self.no_match_streak = self.no_match_streak.saturating_add(1);
        }
        let outcome = if mutual { LikeOutcome::Mutual } else { LikeOutcome::NoMatch };
        effects.push(Effect::LikeResult { round: round.number, outcome, reveal_level: self.reveal_level });
        if mutual {
            effects.push(Effect::ImageReveal { reveal_level: self.reveal_level });
        }
        if !mutual && self.no_match_streak >= NO_MATCH_LIMIT && !self.is_kept() {
            self.end(at, EndReason::NoMutualLike, None, effects);
            return;
        }
        self.next_like_at = (self.reveal_level < MAX_REVEAL).then(|| at.plus(timers.like_after));
    }

    fn end(&mut self, at: Timestamp, reason: EndReason, by: Option<UserId>, effects: &mut Vec<Effect>) {
        // The call's end reaches the participants before the room's.
        self.end_call(at, CallEndReason::RoomEnded, None, effects);
        self.ended = Some((at, reason));
        self.ended_by = by;
        self.round = None;
        self.next_like_at = None;
        effects.push(Effect::Ended { reason, by });
    }
}

/// The timers of a room, in the order they win ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    Expiry,
    Abandoned,
    Inactivity,
    RingTimeout,
    CallDisconnect,
    AnswerDeadline,
    OpenRound,
}

impl Timer {
    pub fn as_str(self) -> &'static str {
        match self {
            Timer::Expiry => "expiry",
            Timer::Abandoned => "abandoned",
            Timer::Inactivity => "inactivity",
            Timer::RingTimeout => "ring_timeout",
            Timer::CallDisconnect => "call_disconnect",
            Timer::AnswerDeadline => "answer_deadline",
            Timer::OpenRound => "open_round",
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "machine_props.rs"]
mod props;
