//! Tests of the pure matcher: each hard rule, scoring, the fallback, expiry, the
//! bounded window, and a randomised check that no eligible pair is ever left waiting.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::ids::UserId;
use crate::matching::ticket::{gender_set, interest_bits, need_bits};

const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn config() -> MatchConfig {
    MatchConfig {
        fallback_after: Duration::from_secs(30),
        search_timeout: Duration::from_secs(300),
        window: 8,
    }
}

fn at(secs: u64) -> Timestamp {
    T0.plus(Duration::from_secs(secs))
}

struct T {
    ticket: Ticket,
}

fn t(user: i64, gender: u8, accepts: &[&str], needs: &[&str], interests: &[&str]) -> T {
    T {
        ticket: Ticket {
            user: UserId(user),
            kind: ChatKind::Chat,
            gender: Gender(gender),
            accepts: gender_set(accepts),
            needs: need_bits(needs),
            interests: interest_bits(interests),
            enqueued_at: T0,
            avoid: Vec::new(),
        },
    }
}

impl T {
    fn at(mut self, secs: u64) -> Ticket {
        self.ticket.enqueued_at = at(secs);
        self.ticket
    }
}

const M: u8 = 0;
const F: u8 = 1;
const O: u8 = 2;

fn matched(m: &Option<Match>) -> Option<(i64, i64)> {
    m.as_ref().map(|m| (m.a.user.0, m.b.user.0))
}

#[test]
fn mutual_gender_acceptance_is_required() {
    let mut m = Matcher::new(config());
    m.enqueue(t(1, M, &["female"], &["friends"], &[]).at(0), at(0)).unwrap();
    // She accepts only women: no match either way.
    let r = m.enqueue(t(2, F, &["female"], &["friends"], &[]).at(1), at(1)).unwrap();
    assert_eq!(matched(&r), None);
    let r = m.enqueue(t(3, F, &["male"], &["friends"], &[]).at(2), at(2)).unwrap();
    assert_eq!(matched(&r), Some((1, 3)));
    // `any` accepts every gender, but the other side must accept too.
    let r = m.enqueue(t(4, O, &["any"], &["friends"], &[]).at(3), at(3)).unwrap();
    assert_eq!(matched(&r), None, "user 2 accepts only women");
    let r = m.enqueue(t(5, F, &["other"], &["friends"], &[]).at(4), at(4)).unwrap();
    assert_eq!(matched(&r), Some((4, 5)));
}

#[test]
fn types_never_mix() {
    let mut m = Matcher::new(config());
    let mut voice = t(1, M, &["any"], &["friends"], &[]).at(0);
    voice.kind = ChatKind::Voice;
    m.enqueue(voice, at(0)).unwrap();
    assert_eq!(matched(&m.enqueue(t(2, F, &["any"], &["friends"], &[]).at(1), at(1)).unwrap()), None);
    assert_eq!((m.waiting(ChatKind::Voice), m.waiting(ChatKind::Chat)), (1, 1));
    let out = m.tick(at(100));
    assert!(out.matches.is_empty(), "not even through the fallback");
}

#[test]
fn avoided_pairs_never_match_even_in_the_fallback() {
    let mut m = Matcher::new(config());
    let mut a = t(1, M, &["any"], &["friends"], &[]).at(0);
    a.avoid = vec![UserId(2)];
    m.enqueue(a, at(0)).unwrap();
    assert_eq!(matched(&m.enqueue(t(2, F, &["any"], &["friends"], &[]).at(1), at(1)).unwrap()), None);
    assert!(m.tick(at(200)).matches.is_empty());
    // The rule is symmetric: the avoid list of either side is enough.
    let mut m = Matcher::new(config());
    m.enqueue(t(1, M, &["any"], &["friends"], &[]).at(0), at(0)).unwrap();
    let mut b = t(2, F, &["any"], &["friends"], &[]).at(1);
    b.avoid = vec![UserId(1)];
    assert_eq!(matched(&m.enqueue(b, at(1)).unwrap()), None);
}

#[test]
fn the_best_score_wins_then_the_longest_wait() {
    let mut m = Matcher::new(config());
    m.enqueue(t(1, M, &["female"], &["friends"], &["coffee"]).at(0), at(0)).unwrap();
    m.enqueue(t(2, M, &["female"], &["friends", "casual"], &["coffee"]).at(1), at(1)).unwrap();
    m.enqueue(t(3, M, &["female"], &["friends", "casual"], &["coffee", "film"]).at(2), at(2)).unwrap();
    m.enqueue(t(4, M, &["female"], &["friends", "casual"], &["coffee", "film"]).at(3), at(3)).unwrap();
    let r = m
        .enqueue(t(10, F, &["male"], &["friends", "casual"], &["coffee", "film"]).at(4), at(4))
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.a.user.0, r.score, r.fallback),
        (3, 10 * 2 + 2 * 2, false),
        "3 and 4 tie on score; 3 waited longer"
    );
    let r = m
        .enqueue(t(11, F, &["male"], &["friends", "casual"], &["coffee", "film"]).at(5), at(5))
        .unwrap()
        .unwrap();
    assert_eq!(r.a.user.0, 4);
    let r = m.enqueue(t(12, F, &["male"], &["casual"], &[]).at(6), at(6)).unwrap().unwrap();
    assert_eq!(r.a.user.0, 2, "a shared need beats a longer wait");
}

#[test]
fn without_a_shared_need_pairs_wait_for_the_fallback() {
    let mut m = Matcher::new(config());
    m.enqueue(t(1, M, &["female"], &["marriage"], &["coffee"]).at(0), at(0)).unwrap();
    assert_eq!(matched(&m.enqueue(t(2, F, &["male"], &["open"], &["coffee"]).at(10), at(10)).unwrap()), None);
    assert!(m.tick(at(29)).matches.is_empty());
    assert_eq!(m.next_deadline(), Some(at(30)));
    let out = m.tick(at(30));
    assert_eq!(out.matches.len(), 1);
    let r = &out.matches[0];
    assert_eq!((r.a.user.0, r.b.user.0, r.fallback, r.score), (1, 2, true, 2));
    assert!(m.is_empty());
}

#[test]
fn a_newcomer_meets_a_relaxed_ticket_at_once() {
    let mut m = Matcher::new(config());
    m.enqueue(t(1, M, &["female"], &["marriage"], &[]).at(0), at(0)).unwrap();
    assert!(m.tick(at(31)).matches.is_empty(), "nobody to meet yet");
    let r = m.enqueue(t(2, F, &["male"], &["open"], &[]).at(40), at(40)).unwrap().unwrap();
    assert_eq!((r.a.user.0, r.fallback), (1, true));
}

#[test]
fn tickets_expire_after_the_search_timeout() {
    let mut m = Matcher::new(config());
    m.enqueue(t(1, M, &["female"], &["friends"], &[]).at(0), at(0)).unwrap();
    m.enqueue(t(2, M, &["female"], &["friends"], &[]).at(100), at(100)).unwrap();
    assert!(m.tick(at(299)).expired.is_empty());
    let out = m.tick(at(300));
    assert_eq!(out.expired.iter().map(|t| t.user.0).collect::<Vec<_>>(), [1]);
    assert_eq!(m.len(), 1);
    assert_eq!(m.next_deadline(), Some(at(400)));
    assert_eq!(m.cancel(UserId(2)).map(|t| t.user.0), Some(2));
    assert_eq!(m.next_deadline(), None);
    assert!(m.cancel(UserId(2)).is_none());
}

#[test]
fn a_user_waits_once() {
    let mut m = Matcher::new(config());
    m.enqueue(t(1, M, &["female"], &["friends"], &[]).at(0), at(0)).unwrap();
    assert!(matches!(
        m.enqueue(t(1, M, &["female"], &["friends"], &[]).at(1), at(1)),
        Err(EnqueueError::AlreadyWaiting)
    ));
}

#[test]
fn avoided_tickets_do_not_use_up_the_window() {
    let mut m = Matcher::new(config());
    // More avoided candidates at the front of the queue than the window holds.
    for i in 0..50 {
        m.enqueue(t(100 + i, M, &["female"], &["friends"], &[]).at(i as u64), at(i as u64)).unwrap();
    }
    m.enqueue(t(1, M, &["female"], &["friends"], &[]).at(60), at(60)).unwrap();
    let mut newcomer = t(2, F, &["male"], &["friends"], &[]).at(61);
    newcomer.avoid = (100..150).map(UserId).collect();
    let r = m.enqueue(newcomer, at(61)).unwrap();
    assert_eq!(matched(&r), Some((1, 2)));
}

#[test]
fn restored_tickets_are_examined_at_the_next_tick() {
    let mut m = Matcher::new(config());
    m.restore(t(1, M, &["female"], &["friends"], &[]).at(0)).unwrap();
    m.restore(t(2, F, &["male"], &["friends"], &[]).at(5)).unwrap();
    assert_eq!(m.next_deadline(), Some(at(30)));
    let out = m.tick(at(500));
    // Overdue: both expired before anything else (the server was down past the timeout).
    assert_eq!(out.expired.len(), 2);
    let mut m = Matcher::new(config());
    m.restore(t(1, M, &["female"], &["friends"], &[]).at(0)).unwrap();
    m.restore(t(2, F, &["male"], &["friends"], &[]).at(5)).unwrap();
    let out = m.tick(at(40));
    assert_eq!(out.matches.len(), 1);
}

/// A pair the matcher may put together at `now`, by the rules, from scratch.
fn eligible(a: &Ticket, b: &Ticket, now: Timestamp, fallback: Duration) -> bool {
    let relaxed = a.enqueued_at <= now.minus(fallback) || b.enqueued_at <= now.minus(fallback);
    a.user != b.user && a.compatible(b) && !a.avoids(b) && (a.needs & b.needs != 0 || relaxed)
}

#[test]
fn randomised_no_eligible_pair_is_left_waiting_and_every_match_is_allowed() {
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let cfg = MatchConfig { window: 2, ..config() };
        let mut m = Matcher::new(cfg);
        let mut now = T0;
        let mut waiting: Vec<Ticket> = Vec::new();
        let mut next_user = 1;
        for _ in 0..400 {
            now = now.plus(Duration::from_millis(rng.gen_range(0..4000)));
            // Tick first so all crossings up to `now` are processed, as the service does.
            let out = m.tick(now);
            for expired in &out.expired {
                assert!(expired.enqueued_at <= now.minus(cfg.search_timeout));
                waiting.retain(|t| t.user != expired.user);
            }
            for r in &out.matches {
                assert!(
                    eligible(&r.a, &r.b, now, cfg.fallback_after),
                    "seed {seed}: tick matched an ineligible pair"
                );
                waiting.retain(|t| t.user != r.a.user && t.user != r.b.user);
            }
            match rng.gen_range(0..10) {
                0 if !waiting.is_empty() => {
                    let i = rng.gen_range(0..waiting.len());
                    let user = waiting.swap_remove(i).user;
                    assert!(m.cancel(user).is_some());
                }
                _ => {
                    let user = UserId(next_user);
                    next_user += 1;
                    let accepts = GenderSet(rng.gen_range(1..8));
                    let mut avoid: Vec<UserId> =
                        (0..rng.gen_range(0..3)).map(|_| UserId(rng.gen_range(1..next_user))).collect();
                    avoid.sort();
                    let ticket = Ticket {
                        user,
                        kind: if rng.gen_bool(0.8) { ChatKind::Chat } else { ChatKind::Voice },
                        gender: Gender(rng.gen_range(0..3)),
                        accepts,
                        needs: rng.gen_range(0..(1 << 7)) & rng.gen_range(0..(1 << 7)),
                        interests: rng.gen_range(0..(1 << 15)),
                        enqueued_at: now,
                        avoid,
                    };
                    match m.enqueue(ticket.clone(), now).unwrap() {
                        Some(r) => {
                            assert!(
                                eligible(&r.a, &r.b, now, cfg.fallback_after),
                                "seed {seed}: ineligible match"
                            );
                            assert_eq!(r.b.user, user);
                            assert!(waiting.iter().any(|t| t.user == r.a.user), "partner was waiting");
                            waiting.retain(|t| t.user != r.a.user);
                        }
                        None => waiting.push(ticket),
                    }
                }
            }
            assert_eq!(m.len(), waiting.len());
            for (i, a) in waiting.iter().enumerate() {
                for b in &waiting[i + 1..] {
                    assert!(
                        !eligible(a, b, now, cfg.fallback_after),
                        "seed {seed}: users {} and {} were left waiting",
                        a.user,
                        b.user
                    );
                }
            }
        }
    }
}
