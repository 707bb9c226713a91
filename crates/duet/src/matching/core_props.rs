//! Properties of the pure matcher over random sequences of searches (random profiles
//! and avoid lists), cancels, room ends and ticks at random, often late, instants, for
//! a pool of twelve users and a random window. A model keeps who waits and who is in a
//! room (a matched pair is in a room until an event ends it; users in a room do not
//! search, as the service refuses them). After every event:
//! - every match pairs two different users, both waiting a moment before and neither
//!   in a room, of one type, each accepting the other's gender, neither avoiding the
//!   other, and eligible: sharing a need, or one of them having waited
//!   `fallback_after`; `a` waited at least as long as `b`; score and fallback flag are
//!   the rules' (SPEC 4: 10 per shared need, 2 per shared interest);
//! - no user is in two matches of one tick, matched users wait no more, and the
//!   matcher's waiting tickets are exactly the model's (counts per type too);
//! - a second search while waiting is refused and changes nothing;
//! - an expired ticket was waiting and had waited the search timeout, and after a tick
//!   no ticket past the timeout waits;
//! - no two waiting tickets are eligible at the last tick's instant `T`: a pair sharing
//!   a need never waits together, and a compatible pair waits together no longer than
//!   until the first tick after one of them has waited `fallback_after`. (Between
//!   ticks, a pair can become eligible only by time passing, which the next tick
//!   examines; that is the matcher's design, see core.rs.)

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::matching::ticket::score;

const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);
const POOL: i64 = 24;

#[derive(Clone, Debug)]
enum Op {
    Search {
        user: i64,
        voice: bool,
        gender: u8,
        accepts: u8,
        needs: u32,
        interests: u32,
        avoid: u32,
        wait_ms: u32,
    },
    Cancel {
        user: i64,
    },
    /// The room of this user (if any) ends: both may search again.
    EndRoom {
        user: i64,
    },
    Tick {
        wait_ms: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 1..=POOL;
    prop_oneof![
        5 => (user.clone(), any::<bool>(), 0..3u8, 1..8u8, 0..128u32, 0..128u32, 0..(1u32 << 15), any::<u32>(), 0..20_000u32)
            .prop_map(|(user, voice, gender, accepts, n1, n2, interests, avoid, wait_ms)| Op::Search {
                user,
                voice,
                gender,
                accepts,
                // Mostly one or two needs, sometimes none in common with anyone.
                needs: n1 & n2,
                interests,
                // About one pool user in four avoided.
                avoid: avoid & (avoid >> 7),
                wait_ms,
            }),
        1 => user.clone().prop_map(|user| Op::Cancel { user }),
        2 => user.prop_map(|user| Op::EndRoom { user }),
        3 => (0..60_000u32).prop_map(|wait_ms| Op::Tick { wait_ms }),
    ]
}

fn eligible(a: &Ticket, b: &Ticket, now: Timestamp, fallback: Duration) -> bool {
    let relaxed = a.enqueued_at <= now.minus(fallback) || b.enqueued_at <= now.minus(fallback);
    a.user != b.user && a.compatible(b) && !a.avoids(b) && (a.needs & b.needs != 0 || relaxed)
}

struct Model {
    cfg: MatchConfig,
    waiting: Vec<Ticket>,
    in_room: Vec<(UserId, UserId)>,
}

impl Model {
    fn is_waiting(&self, user: UserId) -> bool {
        self.waiting.iter().any(|t| t.user == user)
    }

    fn room_of(&self, user: UserId) -> Option<usize> {
        self.in_room.iter().position(|(a, b)| *a == user || *b == user)
    }

    /// Checks a match against the rules and moves its pair into a room.
    fn matched(&mut self, m: &Match, now: Timestamp) -> Result<(), TestCaseError> {
        let (a, b) = (&m.a, &m.b);
        prop_assert_ne!(a.user, b.user);
        for user in [a.user, b.user] {
            prop_assert!(self.room_of(user).is_none(), "{:?} matched while in a room", user);
        }
        prop_assert!(a.compatible(b) && !a.avoids(b), "{:?} and {:?} may not meet", a, b);
        prop_assert!(
            eligible(a, b, now, self.cfg.fallback_after),
            "{:?} and {:?} not eligible at {:?}",
            a,
            b,
            now
        );
        prop_assert!(a.enqueued_at <= b.enqueued_at);
        prop_assert_eq!(m.score, score(a, b));
        prop_assert_eq!(m.fallback, a.needs & b.needs == 0);
        self.waiting.retain(|t| t.user != a.user && t.user != b.user);
        self.in_room.push((a.user, b.user));
        Ok(())
    }
}

fn check_waiting(matcher: &Matcher, model: &Model, last_tick: Timestamp) -> Result<(), TestCaseError> {
    prop_assert_eq!(matcher.len(), model.waiting.len());
    for kind in ChatKind::ALL {
        prop_assert_eq!(matcher.waiting(kind), model.waiting.iter().filter(|t| t.kind == kind).count());
    }
    for t in &model.waiting {
        prop_assert_eq!(matcher.ticket(t.user), Some(t));
        prop_assert!(model.room_of(t.user).is_none());
    }
    for (i, a) in model.waiting.iter().enumerate() {
        for b in &model.waiting[i + 1..] {
            prop_assert!(
                !eligible(a, b, last_tick, model.cfg.fallback_after),
                "{:?} and {:?} left waiting (last tick {:?})",
                a,
                b,
                last_tick
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn matcher_event_sequences_keep_the_rules(window in 1..4usize, ops in prop::collection::vec(op(), 1..150)) {
        let cfg = MatchConfig {
            fallback_after: Duration::from_secs(30),
            search_timeout: Duration::from_secs(120),
            window,
        };
        let mut matcher = Matcher::new(cfg);
        let mut model = Model { cfg, waiting: Vec::new(), in_room: Vec::new() };
        let mut now = T0;
        let mut last_tick = T0;
        for op in ops {
            match op {
                Op::Search { user, voice, gender, accepts, needs, interests, avoid, wait_ms } => {
                    now = now.plus(Duration::from_millis(u64::from(wait_ms)));
                    let user = UserId(user);
                    if model.room_of(user).is_some() {
                        continue;
                    }
                    let ticket = Ticket {
                        user,
                        kind: if voice { ChatKind::Voice } else { ChatKind::Chat },
                        gender: Gender(gender),
                        accepts: GenderSet(accepts),
                        needs,
                        interests,
                        enqueued_at: now,
                        avoid: (1..=POOL).filter(|u| avoid & (1 << (u - 1)) != 0).map(UserId).collect(),
                    };
                    if model.is_waiting(user) {
                        prop_assert!(matches!(matcher.enqueue(ticket, now), Err(EnqueueError::AlreadyWaiting)));
                    } else {
                        match matcher.enqueue(ticket.clone(), now).unwrap() {
                            Some(m) => {
                                prop_assert_eq!(&m.b, &ticket);
                                prop_assert!(model.is_waiting(m.a.user), "the partner was waiting");
                                model.matched(&m, now)?;
                            }
                            None => model.waiting.push(ticket),
                        }
                    }
                }
                Op::Cancel { user } => {
                    let user = UserId(user);
                    let cancelled = matcher.cancel(user);
                    prop_assert_eq!(cancelled.is_some(), model.is_waiting(user));
                    model.waiting.retain(|t| t.user != user);
                }
                Op::EndRoom { user } => {
                    if let Some(i) = model.room_of(UserId(user)) {
                        model.in_room.swap_remove(i);
                    }
                }
                Op::Tick { wait_ms } => {
                    now = now.plus(Duration::from_millis(u64::from(wait_ms)));
                    let out = matcher.tick(now);
                    last_tick = now;
                    for t in &out.expired {
                        prop_assert!(model.is_waiting(t.user));
                        prop_assert!(t.enqueued_at <= now.minus(cfg.search_timeout));
                        model.waiting.retain(|w| w.user != t.user);
                    }
                    let mut seen = HashSet::new();
                    for m in &out.matches {
                        prop_assert!(seen.insert(m.a.user) && seen.insert(m.b.user), "a user in two matches");
                        prop_assert!(model.is_waiting(m.a.user) && model.is_waiting(m.b.user));
                        model.matched(m, now)?;
                    }
                    for t in &model.waiting {
                        prop_assert!(t.enqueued_at > now.minus(cfg.search_timeout), "{:?} outlived the timeout", t);
                    }
                }
            }
            check_waiting(&matcher, &model, last_tick)?;
        }
    }
}
