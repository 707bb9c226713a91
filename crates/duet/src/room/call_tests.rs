//! Tests of the call rules: every transition and refusal, the ring timeout, the
//! reconnect grace, the end with the room, and calls as activity.

use std::time::Duration;

use super::*;
use crate::room::machine::{EndReason, RoomEvent, RoomTimers};

const A: UserId = UserId(1);
const B: UserId = UserId(2);
const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn timers() -> RoomTimers {
    RoomTimers {
        like_after: Duration::from_secs(100_000),
        like_answer_window: Duration::from_secs(60),
        inactivity_timeout: Duration::from_secs(900),
        room_max_age: Duration::from_secs(86_400),
        abandon_grace: Duration::from_secs(600),
        call: CallTimers { ring_timeout: Duration::from_secs(30), reconnect_grace: Duration::from_secs(15) },
    }
}

fn at(secs: u64) -> Timestamp {
    T0.plus(Duration::from_secs(secs))
}

fn room() -> RoomState {
    let mut room = RoomState::new([A, B], T0, &timers());
    room.on_event(RoomEvent::SocketOpened { user: A }, T0, &timers()).unwrap();
    room.on_event(RoomEvent::SocketOpened { user: B }, T0, &timers()).unwrap();
    room
}

fn act(room: &mut RoomState, from: UserId, action: CallAction, secs: u64) -> Result<Vec<Effect>, Refusal> {
    room.on_event(RoomEvent::Call { from, action }, at(secs), &timers())
}

fn change(effects: &[Effect]) -> CallChange {
    match effects {
        [Effect::Call(change)] => *change,
        other => panic!("expected one call change, got {other:?}"),
    }
}

/// A rings B at 10 s; B accepts at 12 s.
fn active_call() -> RoomState {
    let mut room = room();
    act(&mut room, A, CallAction::Start, 10).unwrap();
    act(&mut room, B, CallAction::Answer { accept: true }, 12).unwrap();
    room
}

#[test]
fn a_call_rings_is_answered_and_hung_up() {
    let mut room = room();
    let ringing = change(&act(&mut room, A, CallAction::Start, 10).unwrap());
    assert_eq!(
        (ringing.phase, ringing.by, ringing.call.number, ringing.call.caller),
        (CallPhase::Ringing, Some(A), 1, Side::A)
    );
    assert_eq!(room.next_deadline(&timers()), Some(at(40)), "it rings for 30 s");
    let active = change(&act(&mut room, B, CallAction::Answer { accept: true }, 12).unwrap());
    assert_eq!((active.phase, active.by, active.call.answered), (CallPhase::Active, Some(B), Some(at(12))));
    assert_eq!(room.call.map(|c| c.phase()), Some(CallPhase::Active));
    let ended = change(&act(&mut room, B, CallAction::End, 70).unwrap());
    assert_eq!(
        (ended.phase, ended.by, ended.reason, ended.at),
        (CallPhase::Ended, Some(B), Some(CallEndReason::Hangup), at(70))
    );
    assert_eq!(ended.call.answered, Some(at(12)), "the end keeps the answer time, for the duration");
    assert_eq!(room.call, None);
    // The next call has the next number.
    let again = change(&act(&mut room, B, CallAction::Start, 80).unwrap());
    assert_eq!((again.call.number, again.call.caller), (2, Side::B));
}

#[test]
fn a_declined_call_ends_declined_by_the_callee() {
    let mut room = room();
    act(&mut room, A, CallAction::Start, 10).unwrap();
    let ended = change(&act(&mut room, B, CallAction::Answer { accept: false }, 11).unwrap());
    assert_eq!((ended.reason, ended.by, ended.call.answered), (Some(CallEndReason::Declined), Some(B), None));
    assert_eq!(room.call, None);
}

#[test]
fn the_caller_may_cancel_a_ringing_call() {
    let mut room = room();
    act(&mut room, A, CallAction::Start, 10).unwrap();
    let ended = change(&act(&mut room, A, CallAction::End, 11).unwrap());
    assert_eq!((ended.reason, ended.by), (Some(CallEndReason::Hangup), Some(A)));
}

#[test]
fn refusals() {
    let mut room = room();
    assert_eq!(act(&mut room, A, CallAction::Answer { accept: true }, 1), Err(Refusal::NoCall));
    assert_eq!(act(&mut room, A, CallAction::End, 1), Err(Refusal::NoCall));
    assert_eq!(act(&mut room, A, CallAction::Mute { muted: true }, 1), Err(Refusal::NoCall));
    assert_eq!(act(&mut room, A, CallAction::Signal, 1), Err(Refusal::NoCall));
    assert_eq!(act(&mut room, UserId(99), CallAction::Start, 1), Err(Refusal::NotParticipant));
    act(&mut room, A, CallAction::Start, 10).unwrap();
    assert_eq!(act(&mut room, A, CallAction::Start, 11), Err(Refusal::CallBusy));
    assert_eq!(act(&mut room, B, CallAction::Start, 11), Err(Refusal::CallBusy));
    assert_eq!(act(&mut room, A, CallAction::Answer { accept: true }, 11), Err(Refusal::NotCallee));
    assert_eq!(act(&mut room, A, CallAction::Signal, 11), Ok(vec![]), "signals flow while it rings");
    act(&mut room, B, CallAction::Answer { accept: true }, 12).unwrap();
    assert_eq!(act(&mut room, B, CallAction::Answer { accept: true }, 13), Err(Refusal::NotRinging));
    assert_eq!(act(&mut room, A, CallAction::Start, 13), Err(Refusal::CallBusy));
    assert_eq!(act(&mut room, B, CallAction::Signal, 13), Ok(vec![]));
}

#[test]
fn an_unanswered_call_is_missed_at_the_ring_timeout() {
    let mut room = room();
    act(&mut room, A, CallAction::Start, 10).unwrap();
    assert!(room.on_event(RoomEvent::Tick, at(39), &timers()).unwrap().is_empty());
    let ended = change(&room.on_event(RoomEvent::Tick, at(45), &timers()).unwrap());
    assert_eq!((ended.reason, ended.by, ended.at), (Some(CallEndReason::Missed), None, at(40)));
    // An answer after the timeout finds no call: the timer fired first.
    let mut room2 = self::room();
    act(&mut room2, A, CallAction::Start, 10).unwrap();
    let effects = act(&mut room2, B, CallAction::Answer { accept: true }, 41);
    assert_eq!(effects, Err(Refusal::NoCall));
    assert_eq!(room2.call, None);
}

#[test]
fn mute_is_told_once_per_change() {
    let mut room = active_call();
    assert_eq!(
        act(&mut room, A, CallAction::Mute { muted: true }, 20),
        Ok(vec![Effect::CallMute { user: A, muted: true }])
    );
    assert_eq!(act(&mut room, A, CallAction::Mute { muted: true }, 21), Ok(vec![]));
    assert_eq!(room.call.unwrap().muted, [true, false]);
    assert_eq!(
        act(&mut room, A, CallAction::Mute { muted: false }, 22),
        Ok(vec![Effect::CallMute { user: A, muted: false }])
    );
}

#[test]
fn a_socket_back_within_the_grace_keeps_the_call_and_one_that_is_not_ends_it() {
    let mut room = active_call();
    room.on_event(RoomEvent::SocketClosed { user: B }, at(20), &timers()).unwrap();
    assert_eq!(room.next_deadline(&timers()), Some(at(35)));
    room.on_event(RoomEvent::SocketOpened { user: B }, at(30), &timers()).unwrap();
    assert!(room.on_event(RoomEvent::Tick, at(40), &timers()).unwrap().is_empty());
    assert!(room.call.is_some(), "back within 15 s: the call goes on");

    room.on_event(RoomEvent::SocketClosed { user: B }, at(50), &timers()).unwrap();
    let ended = change(&room.on_event(RoomEvent::Tick, at(70), &timers()).unwrap());
    assert_eq!((ended.reason, ended.by, ended.at), (Some(CallEndReason::Disconnected), Some(B), at(65)));
}

#[test]
fn http_use_of_the_room_does_not_stretch_the_grace() {
    let mut room = active_call();
    room.on_event(RoomEvent::SocketClosed { user: B }, at(20), &timers()).unwrap();
    // B keeps using the room over HTTP (which holds off abandonment), without a socket.
    room.on_event(RoomEvent::Seen { user: B }, at(30), &timers()).unwrap();
    assert_eq!(room.next_deadline(&timers()), Some(at(35)));
    let ended = change(&room.on_event(RoomEvent::Tick, at(35), &timers()).unwrap());
    assert_eq!((ended.reason, ended.by), (Some(CallEndReason::Disconnected), Some(B)));
}

#[test]
fn a_callee_already_offline_gets_the_grace_from_the_ring() {
    let mut room = room();
    room.on_event(RoomEvent::SocketClosed { user: B }, at(1), &timers()).unwrap();
    act(&mut room, A, CallAction::Start, 100).unwrap();
    assert_eq!(room.next_deadline(&timers()), Some(at(115)));
    let ended = change(&room.on_event(RoomEvent::Tick, at(115), &timers()).unwrap());
    assert_eq!((ended.reason, ended.by), (Some(CallEndReason::Disconnected), Some(B)));
}

#[test]
fn the_room_end_ends_its_call_first() {
    let mut room = active_call();
    let effects = room
        .on_event(RoomEvent::End { reason: EndReason::EndedByUser, by: None }, at(30), &timers())
        .unwrap();
    match effects.as_slice() {
        [Effect::Call(change), Effect::Ended { reason: EndReason::EndedByUser, by: None }] => {
            assert_eq!(
                (change.reason, change.by, change.phase),
                (Some(CallEndReason::RoomEnded), None, CallPhase::Ended)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(room.call, None);
}

#[test]
fn a_call_is_activity_for_the_inactivity_timer() {
    let mut room = room();
    // No message at all: inactivity would end the room at 900 s.
    act(&mut room, A, CallAction::Start, 800).unwrap();
    act(&mut room, B, CallAction::Answer { accept: true }, 805).unwrap();
    // A long call: nothing fires while it lasts.
    assert!(room.on_event(RoomEvent::Tick, at(5_000), &timers()).unwrap().is_empty());
    assert!(room.ended.is_none());
    act(&mut room, A, CallAction::End, 5_000).unwrap();
    // Inactivity counts from the call's end.
    assert_eq!(room.next_deadline(&timers()), Some(at(5_900)));
    let effects = room.on_event(RoomEvent::Tick, at(5_900), &timers()).unwrap();
    assert_eq!(effects, [Effect::Ended { reason: EndReason::Inactive, by: None }]);
}

#[test]
fn like_rounds_and_keep_work_during_a_call() {
    let t = RoomTimers { like_after: Duration::from_secs(300), ..timers() };
    let mut room = RoomState::new([A, B], T0, &t);
    room.on_event(RoomEvent::SocketOpened { user: A }, T0, &t).unwrap();
    room.on_event(RoomEvent::SocketOpened { user: B }, T0, &t).unwrap();
    room.on_event(RoomEvent::Call { from: A, action: CallAction::Start }, at(10), &t).unwrap();
    room.on_event(RoomEvent::Call { from: B, action: CallAction::Answer { accept: true } }, at(11), &t)
        .unwrap();
    let prompt = room.on_event(RoomEvent::Tick, at(300), &t).unwrap();
    assert!(matches!(prompt.as_slice(), [Effect::LikePrompt { round: 1, .. }]));
    room.on_event(RoomEvent::Keep { from: A, keep: true }, at(301), &t).unwrap();
    let kept = room.on_event(RoomEvent::Keep { from: B, keep: true }, at(302), &t).unwrap();
    assert_eq!(kept, [Effect::Kept]);
    assert_eq!(room.call.map(|c| c.phase()), Some(CallPhase::Active));
}

#[test]
fn end_reasons_round_trip() {
    for reason in CallEndReason::ALL {
        assert_eq!(CallEndReason::parse(reason.as_str()), Some(reason));
    }
    assert_eq!(CallEndReason::parse("bored"), None);
}
