//! Properties of the room machine over random event sequences: messages, like answers,
//! keeps, socket opens and closes, HTTP sightings, calls (start, answer, end, mute,
//! signal), ends, and ticks, from either participant or a stranger, at random instants
//! (seconds apart, sometimes hours, so every timer fires). The owner's order is
//! followed: a tick at `now` before each event. After every event:
//! - an ended room stays ended, refuses everything (`Ended`), changes no more and has
//!   no deadline; it ended once (one `Ended` effect), with no round, next round or call
//!   left, at or before now;
//! - the reveal level only grows, up to `MAX_REVEAL`; at the top no round opens again;
//!   a live room has a round open, a next round scheduled, or clear photos, never
//!   both an open round and a next one; the open round is the last opened and its
//!   deadline is `like_answer_window` after it opened;
//! - at most one call, numbered by `calls_started` (which only grows), answered after
//!   it started, and no later than now;
//! - presence and the socket-closed instant agree; the last activity is not in the
//!   future; a live room has a next deadline, after now (everything due has fired);
//! - a stranger's event is refused as `NotParticipant` (or `Ended`).
//!
//! And the catch-up rule: a room ticked at each of its own deadlines and one ticked
//! only when the next event comes end in the same state with the same effects.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::ids::UserId;

const A: UserId = UserId(1);
const B: UserId = UserId(2);
const STRANGER: UserId = UserId(3);
const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn timers() -> RoomTimers {
    RoomTimers {
        like_after: Duration::from_secs(300),
        like_answer_window: Duration::from_secs(60),
        inactivity_timeout: Duration::from_secs(900),
        room_max_age: Duration::from_secs(6 * 3600),
        abandon_grace: Duration::from_secs(600),
        call: CallTimers { ring_timeout: Duration::from_secs(30), reconnect_grace: Duration::from_secs(15) },
    }
}

fn who() -> impl Strategy<Value = UserId> {
    prop_oneof![10 => Just(A), 10 => Just(B), 1 => Just(STRANGER)]
}

fn call_action() -> impl Strategy<Value = CallAction> {
    prop_oneof![
        Just(CallAction::Start),
        any::<bool>().prop_map(|accept| CallAction::Answer { accept }),
        Just(CallAction::End),
        any::<bool>().prop_map(|muted| CallAction::Mute { muted }),
        Just(CallAction::Signal),
    ]
}

fn event() -> impl Strategy<Value = RoomEvent> {
    prop_oneof![
        3 => Just(RoomEvent::Tick),
        4 => who().prop_map(|from| RoomEvent::Message { from }),
        4 => (who(), any::<bool>()).prop_map(|(from, yes)| RoomEvent::LikeAnswer { from, yes }),
        2 => (who(), any::<bool>()).prop_map(|(from, keep)| RoomEvent::Keep { from, keep }),
        2 => who().prop_map(|user| RoomEvent::SocketOpened { user }),
        2 => who().prop_map(|user| RoomEvent::SocketClosed { user }),
        1 => who().prop_map(|user| RoomEvent::Seen { user }),
        4 => (who(), call_action()).prop_map(|(from, action)| RoomEvent::Call { from, action }),
        1 => prop::sample::select(EndReason::ALL.to_vec()).prop_map(|reason| RoomEvent::End { reason, by: None }),
    ]
}

/// Seconds before the event: mostly short, sometimes long enough for any timer.
fn wait() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0..90u64, 3 => 0..1000u64, 1 => 0..20_000u64]
}

fn check(room: &RoomState, now: Timestamp, t: &RoomTimers) -> Result<(), TestCaseError> {
    prop_assert!(room.reveal_level <= MAX_REVEAL);
    prop_assert!(room.last_message_at <= now);
    for side in 0..2 {
        prop_assert_eq!(room.presence[side] == Presence::Open, room.socket_closed_at[side].is_none());
    }
    if let Some((at, _)) = room.ended {
        prop_assert!(at <= now);
        prop_assert!(room.round.is_none() && room.next_like_at.is_none() && room.call.is_none());
        prop_assert_eq!(room.next_deadline(t), None);
        return Ok(());
    }
    prop_assert!(!(room.round.is_some() && room.next_like_at.is_some()));
    if room.reveal_level == MAX_REVEAL {
        prop_assert!(room.round.is_none() && room.next_like_at.is_none());
    } else {
        prop_assert!(room.round.is_some() || room.next_like_at.is_some(), "no like round ahead");
    }
    if let Some(round) = room.round {
        prop_assert_eq!(round.number, room.rounds_opened);
        prop_assert!(round.deadline > now && round.deadline <= now.plus(t.like_answer_window));
    }
    if let Some(call) = room.call {
        prop_assert_eq!(call.number, room.calls_started);
        prop_assert!(call.started <= now);
        if let Some(answered) = call.answered {
            prop_assert!(call.started <= answered && answered <= now);
        }
    }
    let next = room.next_deadline(t);
    prop_assert!(next.is_some_and(|at| at > now), "next deadline {:?} at {:?}", next, now);
    Ok(())
}

proptest! {
    #[test]
    fn every_event_sequence_ends_in_a_valid_state(steps in prop::collection::vec((wait(), event()), 1..120)) {
        let t = timers();
        let mut room = RoomState::new([A, B], T0, &t);
        // The same room ticked at each of its own deadlines, as a punctual server would.
        let mut punctual = room.clone();
        let (mut effects, mut punctual_effects) = (Vec::new(), Vec::new());
        let mut now = T0;
        let mut ended_effects = 0;
        for (secs, event) in steps {
            now = now.plus(Duration::from_secs(secs));
            let before = room.clone();
            let (reveal, calls) = (room.reveal_level, room.calls_started);

            while let Some(at) = punctual.next_deadline(&t).filter(|at| *at <= now) {
                punctual_effects.extend(punctual.on_event(RoomEvent::Tick, at, &t).unwrap());
            }
            let punctual_result = punctual.on_event(event, now, &t).map(|e| punctual_effects.extend(e));

            let ticked = room.on_event(RoomEvent::Tick, now, &t);
            let result = room.on_event(event, now, &t);
            match &ticked {
                Ok(e) => effects.extend(e.iter().copied()),
                Err(e) => prop_assert_eq!(*e, Refusal::Ended),
            }
            if let Ok(e) = &result {
                effects.extend(e.iter().copied());
            }
            prop_assert_eq!(result.as_ref().map(|_| ()), punctual_result.as_ref().map(|_| ()));
            prop_assert_eq!(&room, &punctual, "late and punctual ticks differ");
            prop_assert_eq!(&effects, &punctual_effects);

            if before.ended.is_some() {
                prop_assert_eq!(&result, &Err(Refusal::Ended));
                prop_assert_eq!(&room, &before, "an ended room changed");
            }
            let is_participant_event = !matches!(event, RoomEvent::Tick | RoomEvent::End { .. });
            let from_stranger = match event {
                RoomEvent::Message { from }
                | RoomEvent::LikeAnswer { from, .. }
                | RoomEvent::Keep { from, .. }
                | RoomEvent::Call { from, .. } => from == STRANGER,
                RoomEvent::SocketOpened { user } | RoomEvent::SocketClosed { user } | RoomEvent::Seen { user } => {
                    user == STRANGER
                }
                RoomEvent::Tick | RoomEvent::End { .. } => false,
            };
            if is_participant_event && from_stranger {
                prop_assert!(matches!(result, Err(Refusal::NotParticipant | Refusal::Ended)), "{:?}", result);
                prop_assert_eq!(room.ended.is_some(), before.ended.is_some() || ticked.as_ref().is_ok_and(|e| e.iter().any(|e| matches!(e, Effect::Ended { .. }))));
            }
            prop_assert!(room.reveal_level >= reveal && room.calls_started >= calls);
            check(&room, now, &t)?;
        }
        for e in &effects {
            if let Effect::Ended { .. } = e {
                ended_effects += 1;
            }
            if let Effect::LikeResult { reveal_level, .. } | Effect::ImageReveal { reveal_level } = e {
                prop_assert!(*reveal_level <= MAX_REVEAL);
            }
        }
        prop_assert_eq!(ended_effects, usize::from(room.ended.is_some()));
    }
}
