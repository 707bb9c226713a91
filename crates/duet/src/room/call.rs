//! Voice calls in a room: the call's state as the room's rules see it. A room has at
//! most one call at a time; the server owns its state (ringing, active, ended and why)
//! and relays the peers' WebRTC signalling, while the audio goes peer to peer. The
//! transitions live here, as part of [`RoomState::on_event`]; like every other timer,
//! the ring timeout and the reconnect grace are derived from stored timestamps.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::machine::{Effect, Refusal, RoomState, Side};
use crate::clock::Timestamp;
use crate::ids::UserId;

/// The call of a room, while it rings or is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// The call's number in its room (1 for the first): its `call_id`.
    pub number: u32,
    pub caller: Side,
    pub started: Timestamp,
    /// When the callee accepted; None while it rings.
    pub answered: Option<Timestamp>,
    /// Whether each participant (in the room's order) has muted their microphone.
    pub muted: [bool; 2],
}

impl Call {
    pub fn phase(&self) -> CallPhase {
        if self.answered.is_some() {
            CallPhase::Active
        } else {
            CallPhase::Ringing
        }
    }

    pub fn callee(&self) -> Side {
        self.caller.other()
    }
}

/// Where a call is, as `call_state` frames say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    Ringing,
    Active,
    Ended,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallEndReason {
    /// The callee said no.
    Declined,
    /// Not answered within the ring timeout.
    Missed,
    /// A participant hung up (the caller cancelling a ringing call included).
    Hangup,
    /// The room ended.
    RoomEnded,
    /// A participant's chat socket stayed closed longer than the reconnect grace.
    Disconnected,
}

impl CallEndReason {
    pub const ALL: [CallEndReason; 5] = [
        CallEndReason::Declined,
        CallEndReason::Missed,
        CallEndReason::Hangup,
        CallEndReason::RoomEnded,
        CallEndReason::Disconnected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallEndReason::Declined => "declined",
            CallEndReason::Missed => "missed",
            CallEndReason::Hangup => "hangup",
            CallEndReason::RoomEnded => "room_ended",
            CallEndReason::Disconnected => "disconnected",
        }
    }

    pub fn parse(text: &str) -> Option<CallEndReason> {
        CallEndReason::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A change of a call, for both participants: the call as it is (or was, when it
/// ends), its new phase, who caused it (None when a timer or the room's end did), and
/// when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallChange {
    pub call: Call,
    pub phase: CallPhase,
    pub by: Option<UserId>,
    pub reason: Option<CallEndReason>,
    pub at: Timestamp,
}

/// What a participant does to the room's call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallAction {
    Start,
    Answer {
        accept: bool,
    },
    End,
    Mute {
        muted: bool,
    },
    /// Relaying a WebRTC signal: allowed while a call rings or is active.
    Signal,
}

/// The call timers, from configuration.
#[derive(Clone, Copy, Debug)]
pub struct CallTimers {
    pub ring_timeout: Duration,
    pub reconnect_grace: Duration,
}

impl RoomState {
    /// Applies a participant's call action at `now` (the room has not ended).
    pub(super) fn on_call(
        &mut self,
        user: UserId,
        side: Side,
        action: CallAction,
        now: Timestamp,
        effects: &mut Vec<Effect>,
    ) -> Result<(), Refusal> {
        match (action, self.call) {
            (CallAction::Start, Some(_)) => Err(Refusal::CallBusy),
            (CallAction::Start, None) => {
                self.calls_started += 1;
                let call = Call {
                    number: self.calls_started,
                    caller: side,
                    started: now,
                    answered: None,
                    muted: [false; 2],
                };
                self.call = Some(call);
                self.touch(now);
                effects.push(Effect::Call(CallChange {
                    call,
                    phase: CallPhase::Ringing,
                    by: Some(user),
                    reason: None,
                    at: now,
                }));
                Ok(())
            }
            (_, None) => Err(Refusal::NoCall),
            (CallAction::Answer { .. }, Some(call)) if call.answered.is_some() => Err(Refusal::NotRinging),
            (CallAction::Answer { .. }, Some(call)) if call.callee() != side => Err(Refusal::NotCallee),
            (CallAction::Answer { accept: false }, Some(_)) => {
                self.end_call(now, CallEndReason::Declined, Some(user), effects);
                Ok(())
            }
            (CallAction::Answer { accept: true }, Some(mut call)) => {
                call.answered = Some(now);
                self.call = Some(call);
                self.touch(now);
                effects.push(Effect::Call(CallChange {
                    call,
                    phase: CallPhase::Active,
                    by: Some(user),
                    reason: None,
                    at: now,
                }));
                Ok(())
            }
            (CallAction::End, Some(_)) => {
                self.end_call(now, CallEndReason::Hangup, Some(user), effects);
                Ok(())
            }
            (CallAction::Mute { muted }, Some(mut call)) => {
                if call.muted[side as usize] != muted {
                    call.muted[side as usize] = muted;
                    self.call = Some(call);
                    effects.push(Effect::CallMute { user, muted });
                }
                Ok(())
            }
            (CallAction::Signal, Some(_)) => Ok(()),
        }
    }

    /// Ends the room's call, if any, at `at`: inactivity counts again from then.
    pub(super) fn end_call(
        &mut self,
        at: Timestamp,
        reason: CallEndReason,
        by: Option<UserId>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.call.take() else {
            return;
        };
        self.touch(at);
        effects.push(Effect::Call(CallChange {
            call,
            phase: CallPhase::Ended,
            by,
            reason: Some(reason),
            at,
        }));
    }

    /// A call counts as activity for the inactivity timer.
    fn touch(&mut self, at: Timestamp) {
        self.last_message_at = self.last_message_at.max(at);
    }

    /// When the call rings out, if it is ringing.
    pub(super) fn ring_deadline(&self, timers: &CallTimers) -> Option<Timestamp> {
        self.call.filter(|c| c.answered.is_none()).map(|c| c.started.plus(timers.ring_timeout))
    }

    /// When the call ends because a participant's socket stayed closed, and who: the
    /// grace counts from the socket's close, or from the call's start for a socket
    /// already closed then.
    pub(super) fn disconnect_deadline(&self, timers: &CallTimers) -> Option<(Timestamp, Side)> {
        let call = self.call?;
        [Side::A, Side::B]
            .into_iter()
            .filter_map(|side| {
                let since = self.socket_closed_at[side as usize]?;
                Some((since.max(call.started).plus(timers.reconnect_grace), side))
            })
            .min_by_key(|(at, _)| *at)
    }
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
