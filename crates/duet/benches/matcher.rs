//! Cost of one enqueue that finds a match, against queues of 1k, 10k and 100k waiting
//! tickets. Each iteration enqueues a ticket that is matched at once and then refills
//! the queue with one ticket that waits, so the queue size stays fixed. The goal
//! (BENCHMARKS.md): the cost at 100k within 2x of the cost at 1k.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use duet::clock::Timestamp;
use duet::ids::UserId;
use duet::matching::{ChatKind, Gender, GenderSet, MatchConfig, Matcher, Ticket};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

fn ticket(rng: &mut StdRng, user: i64, gender: u8, accepts: u8, at: Timestamp) -> Ticket {
    Ticket {
        user: UserId(user),
        kind: ChatKind::Chat,
        gender: Gender(gender),
        accepts: GenderSet(accepts),
        // One to three needs of seven, two to five interests of fifteen.
        needs: (0..rng.gen_range(1..=3)).fold(0, |b, _| b | 1 << rng.gen_range(0..7)),
        interests: (0..rng.gen_range(2..=5)).fold(0, |b, _| b | 1 << rng.gen_range(0..15)),
        enqueued_at: at,
        avoid: Vec::new(),
    }
}

fn enqueue_and_match(c: &mut Criterion) {
    let config = MatchConfig {
        fallback_after: Duration::from_secs(30),
        search_timeout: Duration::from_secs(300),
        window: 32,
    };
    let mut group = c.benchmark_group("matcher/enqueue_match");
    for waiting in [1_000usize, 10_000, 100_000] {
        let mut rng = StdRng::seed_from_u64(7);
        let mut matcher = Matcher::new(config);
        let now = T0.plus(Duration::from_secs(1));
        // Men looking for women, half of them also open to others.
        for user in 0..waiting as i64 {
            let accepts = if user % 2 == 0 { 0b010 } else { 0b110 };
            matcher.enqueue(ticket(&mut rng, user, 0, accepts, T0), T0).unwrap();
        }
        let mut next = waiting as i64;
        group.bench_with_input(BenchmarkId::from_parameter(waiting), &waiting, |b, _| {
            b.iter(|| {
                let woman = ticket(&mut rng, next, 1, 0b001, now);
                next += 1;
                let found = matcher.enqueue(woman, now).unwrap();
                black_box(&found);
                let accepts = if next % 2 == 0 { 0b010 } else { 0b110 };
                let refill = ticket(&mut rng, next, 0, accepts, T0);
                next += 1;
                matcher.enqueue(refill, now).unwrap();
                assert!(found.is_some());
            })
        });
        assert_eq!(matcher.len(), waiting);
    }
    group.finish();
}

criterion_group!(benches, enqueue_and_match);
criterion_main!(benches);
