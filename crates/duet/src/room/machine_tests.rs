//! Tests of the room rules: like rounds and reveals, keep, every timer, ends, and
//! overdue timers fired in order after a restart.

use std::time::Duration;

use super::*;
use crate::ids::UserId;

const A: UserId = UserId(1);
const B: UserId = UserId(2);
const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn timers() -> RoomTimers {
    RoomTimers {
        like_after: Duration::from_secs(300),
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

/// A room whose participants keep their sockets open and chat now and then, so only
/// the timer under test can fire.
fn lively_room() -> RoomState {
    let mut room = RoomState::new([A, B], T0, &timers());
    room.on_event(RoomEvent::SocketOpened { user: A }, T0, &timers()).unwrap();
    room.on_event(RoomEvent::SocketOpened { user: B }, T0, &timers()).unwrap();
    room
}

fn ev(room: &mut RoomState, event: RoomEvent, secs: u64) -> Vec<Effect> {
    room.on_event(event, at(secs), &timers()).unwrap()
}

fn chat(room: &mut RoomState, secs: u64) {
    ev(room, RoomEvent::Message { from: A }, secs);
}

#[test]
fn the_first_round_opens_after_like_after_and_a_mutual_yes_reveals() {
    let mut room = lively_room();
    assert_eq!(room.next_deadline(&timers()), Some(at(300)));
    assert!(ev(&mut room, RoomEvent::Tick, 299).is_empty());
    assert_eq!(ev(&mut room, RoomEvent::Tick, 300), [Effect::LikePrompt { round: 1, deadline: at(360) }]);
    assert_eq!(room.next_deadline(&timers()), Some(at(360)));
    assert_eq!(
        ev(&mut room, RoomEvent::LikeAnswer { from: A, yes: true }, 310),
        [Effect::LikeAnswered { user: A }]
    );
    assert_eq!(
        ev(&mut room, RoomEvent::LikeAnswer { from: B, yes: true }, 320),
        [
            Effect::LikeAnswered { user: B },
            Effect::LikeResult { round: 1, outcome: LikeOutcome::Mutual, reveal_level: 1 },
            Effect::ImageReveal { reveal_level: 1 },
        ]
    );
    // The next round opens like_after after this one closed.
    assert_eq!(room.next_like_at, Some(at(620)));
}

#[test]
fn answers_are_checked() {
    let mut room = lively_room();
    let t = timers();
    assert_eq!(
        room.on_event(RoomEvent::LikeAnswer { from: A, yes: true }, at(10), &t),
        Err(Refusal::NoOpenRound)
    );
    chat(&mut room, 200);
    ev(&mut room, RoomEvent::Tick, 300);
    ev(&mut room, RoomEvent::LikeAnswer { from: A, yes: false }, 301);
    assert_eq!(
        room.on_event(RoomEvent::LikeAnswer { from: A, yes: true }, at(302), &t),
        Err(Refusal::AlreadyAnswered)
    );
    assert_eq!(
        room.on_event(RoomEvent::LikeAnswer { from: UserId(9), yes: true }, at(302), &t),
        Err(Refusal::NotParticipant)
    );
    assert_eq!(
        room.on_event(RoomEvent::Message { from: UserId(9) }, at(302), &t),
        Err(Refusal::NotParticipant)
    );
}

#[test]
fn silence_is_a_no_and_two_no_matches_in_a_row_end_the_room() {
    let mut room = lively_room();
    chat(&mut room, 290);
    ev(&mut room, RoomEvent::Tick, 300);
    ev(&mut room, RoomEvent::LikeAnswer { from: A, yes: true }, 301);
    assert_eq!(
        ev(&mut room, RoomEvent::Tick, 360),
        [Effect::LikeResult { round: 1, outcome: LikeOutcome::NoMatch, reveal_level: 0 }]
    );
    chat(&mut room, 600);
    assert_eq!(ev(&mut room, RoomEvent::Tick, 660), [Effect::LikePrompt { round: 2, deadline: at(720) }]);
    ev(&mut room, RoomEvent::LikeAnswer { from: A, yes: true }, 661);
    assert_eq!(
        ev(&mut room, RoomEvent::LikeAnswer { from: B, yes: false }, 662),
        [
            Effect::LikeAnswered { user: B },
            Effect::LikeResult { round: 2, outcome: LikeOutcome::NoMatch, reveal_level: 0 },
            Effect::Ended { reason: EndReason::NoMutualLike, by: None },
        ]
    );
    assert_eq!(room.ended, Some((at(662), EndReason::NoMutualLike)));
    assert_eq!(room.next_deadline(&timers()), None);
}

#[test]
fn a_mutual_round_resets_the_no_match_streak() {
    let mut room = lively_room();
    ev(&mut room, RoomEvent::Tick, 300);
    ev(&mut room, RoomEvent::Tick, 360); // no match
    chat(&mut room, 500);
    ev(&mut room, RoomEvent::Tick, 660);
    ev(&mut room, RoomEvent::LikeAnswer { from: A, yes: true }, 661);
    ev(&mut room, RoomEvent::LikeAnswer { from: B, yes: true }, 662); // mutual
    chat(&mut room, 900);
    ev(&mut room, RoomEvent::Tick, 962);
    let effects = ev(&mut room, RoomEvent::Tick, 1022); // no match, but only one in a row
    assert_eq!(effects, [Effect::LikeResult { round: 3, outcome: LikeOutcome::NoMatch, reveal_level: 1 }]);
    assert!(room.ended.is_none());
}

#[test]
fn a_kept_room_survives_no_matches_and_silence() {
    let mut room = lively_room();
    ev(&mut room, RoomEvent::Keep { from: A, keep: true }, 10);
    assert_eq!(ev(&mut room, RoomEvent::Keep { from: B, keep: true }, 20), [Effect::Kept]);
    assert!(ev(&mut room, RoomEvent::Keep { from: B, keep: true }, 21).is_empty(), "kept once");
    let effects = ev(&mut room, RoomEvent::Tick, 5_000);
    assert!(effects.iter().all(|e| !matches!(e, Effect::Ended { .. })), "{effects:?}");
    assert!(room.rounds_opened >= 2, "rounds go on for reveals");
}

#[test]
fn rounds_stop_when_photos_are_clear() {
    let mut room = lively_room();
    ev(&mut room, RoomEvent::Keep { from: A, keep: true }, 1);
    ev(&mut room, RoomEvent::Keep { from: B, keep: true }, 1);
    for (open, level) in [(300, 1), (620 + 20, 2)] {
        ev(&mut room, RoomEvent::Tick, open);
        ev(&mut room, RoomEvent::LikeAnswer { from: A, yes: true }, open + 10);
        let effects = ev(&mut room, RoomEvent::LikeAnswer { from: B, yes: true }, open + 20);
        assert!(effects.contains(&Effect::ImageReveal { reveal_level: level }), "{effects:?}");
    }
    assert_eq!(room.reveal_level, MAX_REVEAL);
    assert_eq!(room.next_like_at, None);
    assert!(ev(&mut room, RoomEvent::Tick, 20_000).is_empty());
}

/// Timers where like rounds never open, for tests of the other timers.
fn quiet() -> RoomTimers {
    RoomTimers { like_after: Duration::from_secs(1_000_000), ..timers() }
}

fn quiet_room() -> RoomState {
    let mut room = RoomState::new([A, B], T0, &quiet());
    room.on_event(RoomEvent::SocketOpened { user: A }, T0, &quiet()).unwrap();
    room.on_event(RoomEvent::SocketOpened { user: B }, T0, &quiet()).unwrap();
    room
}

#[test]
fn inactivity_ends_a_room_unless_someone_writes() {
    let q = quiet();
    let mut room = quiet_room();
    room.on_event(RoomEvent::Keep { from: A, keep: true }, at(1), &q).unwrap(); // one flag is not enough
    room.on_event(RoomEvent::Message { from: B }, at(850), &q).unwrap();
    assert_eq!(room.next_deadline(&q), Some(at(1_750)));
    assert!(room.on_event(RoomEvent::Tick, at(1_749), &q).unwrap().is_empty());
    assert_eq!(
        room.on_event(RoomEvent::Tick, at(1_750), &q).unwrap(),
        [Effect::Ended { reason: EndReason::Inactive, by: None }]
    );
    assert_eq!(room.ended, Some((at(1_750), EndReason::Inactive)));
}

#[test]
fn a_message_after_the_deadline_does_not_save_the_room() {
    let q = quiet();
    let mut room = quiet_room();
    room.on_event(RoomEvent::Keep { from: A, keep: true }, at(1), &q).unwrap();
    room.on_event(RoomEvent::Keep { from: B, keep: true }, at(1), &q).unwrap();
    room.on_event(RoomEvent::Tick, at(5_000), &q).unwrap();
    assert!(room.ended.is_none(), "kept rooms do not go inactive");
    // Un-keeping counts inactivity from then, not from the last message long ago.
    room.on_event(RoomEvent::Keep { from: B, keep: false }, at(5_000), &q).unwrap();
    assert_eq!(room.next_deadline(&q), Some(at(5_900)));
    // Nothing ticked at 5_900; a message arrives late and finds the room over.
    assert_eq!(room.on_event(RoomEvent::Message { from: A }, at(5_901), &q), Err(Refusal::Ended));
    assert_eq!(room.ended, Some((at(5_900), EndReason::Inactive)));
}

#[test]
fn every_room_expires_even_when_kept() {
    let mut room = lively_room();
    ev(&mut room, RoomEvent::Keep { from: A, keep: true }, 1);
    ev(&mut room, RoomEvent::Keep { from: B, keep: true }, 1);
    ev(&mut room, RoomEvent::Tick, 86_399);
    assert!(room.ended.is_none());
    assert!(ev(&mut room, RoomEvent::Tick, 86_400)
        .contains(&Effect::Ended { reason: EndReason::Expired, by: None }));
}

#[test]
fn a_room_nobody_opens_is_abandoned() {
    let t = timers();
    // Nobody ever connects: abandoned abandon_grace after the start.
    let mut room = RoomState::new([A, B], T0, &t);
    assert_eq!(room.next_deadline(&t), Some(at(300)));
    ev(&mut room, RoomEvent::Tick, 300);
    assert_eq!(
        ev(&mut room, RoomEvent::Tick, 600).last(),
        Some(&Effect::Ended { reason: EndReason::Abandoned, by: None })
    );

    // One socket open keeps it; the grace counts from the last close.
    let mut room = RoomState::new([A, B], T0, &t);
    ev(&mut room, RoomEvent::Keep { from: A, keep: true }, 0);
    ev(&mut room, RoomEvent::Keep { from: B, keep: true }, 0);
    ev(&mut room, RoomEvent::SocketOpened { user: A }, 500);
    ev(&mut room, RoomEvent::Tick, 2_000);
    assert!(room.ended.is_none());
    ev(&mut room, RoomEvent::SocketClosed { user: A }, 3_000);
    ev(&mut room, RoomEvent::Tick, 3_599);
    assert!(room.ended.is_none(), "a reload or a lost network keeps the room");
    let effects = ev(&mut room, RoomEvent::Tick, 3_600);
    assert!(effects.contains(&Effect::Ended { reason: EndReason::Abandoned, by: None }), "{effects:?}");
}

#[test]
fn being_seen_without_a_socket_postpones_abandonment() {
    let q = quiet();
    let mut room = RoomState::new([A, B], T0, &q);
    room.on_event(RoomEvent::Seen { user: B }, at(500), &q).unwrap();
    assert_eq!(room.next_deadline(&q), Some(at(900)), "inactivity (no message since the start) comes first");
    room.on_event(RoomEvent::Message { from: A }, at(800), &q).unwrap();
    assert_eq!(room.next_deadline(&q), Some(at(1_100)), "abandoned 600 s after B was last seen");
    assert_eq!(
        room.on_event(RoomEvent::Tick, at(1_100), &q).unwrap(),
        [Effect::Ended { reason: EndReason::Abandoned, by: None }]
    );
}

#[test]
fn overdue_timers_fire_in_order_after_a_restart() {
    // The server was down from 10 s to 10 000 s: round 1 (opens 300, closes 360 with no
    // answer), round 2 (opens 660, closes 720 with no answer) ends the room at 720,
    // before inactivity (900) or abandonment (600 after the last close) would have.
    let mut room = lively_room();
    let effects = ev(&mut room, RoomEvent::Tick, 10_000);
    assert_eq!(
        effects,
        [
            Effect::LikePrompt { round: 1, deadline: at(360) },
            Effect::LikeResult { round: 1, outcome: LikeOutcome::NoMatch, reveal_level: 0 },
            Effect::LikePrompt { round: 2, deadline: at(720) },
            Effect::LikeResult { round: 2, outcome: LikeOutcome::NoMatch, reveal_level: 0 },
            Effect::Ended { reason: EndReason::NoMutualLike, by: None },
        ]
    );
    assert_eq!(room.ended, Some((at(720), EndReason::NoMutualLike)));
}

#[test]
fn an_end_is_final_and_happens_once() {
    let mut room = lively_room();
    assert_eq!(
        ev(&mut room, RoomEvent::End { reason: EndReason::EndedByUser, by: Some(A) }, 5),
        [Effect::Ended { reason: EndReason::EndedByUser, by: Some(A) }]
    );
    assert_eq!(room.ended_by, Some(A), "the room remembers who ended it");
    let t = timers();
    assert_eq!(
        room.on_event(RoomEvent::End { reason: EndReason::Admin, by: None }, at(6), &t),
        Err(Refusal::Ended)
    );
    assert_eq!(room.on_event(RoomEvent::Message { from: A }, at(6), &t), Err(Refusal::Ended));
    assert_eq!(room.on_event(RoomEvent::Tick, at(6), &t), Err(Refusal::Ended));
    assert_eq!(room.ended, Some((at(5), EndReason::EndedByUser)));
}

#[test]
fn end_reasons_round_trip() {
    for reason in EndReason::ALL {
        assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
    }
    assert_eq!(EndReason::parse("bored"), None);
}
