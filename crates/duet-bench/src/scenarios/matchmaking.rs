//! Scenario 4: matchmaking against a queue pre-filled with N waiting users (men who
//! seek women), then women arriving at a fixed rate, each matched at once.
//!
//! Over HTTP, the queue is filled by N real searches (202) and an arrival is a
//! `POST /chat/search` whose time-to-match runs from the intended arrival time to the
//! 200 answer carrying the room. Through the matcher core (`duet::matching::Matcher`,
//! as `benches/matcher.rs` drives it), each match is followed by one more waiting man
//! so N stays fixed, and time-to-match runs from the intended arrival to the return
//! of `enqueue`.

use std::time::{Duration, Instant};

use anyhow::Context;

use duet::clock::Timestamp;
use duet::ids::UserId;
use duet::matching::{ChatKind, Gender, GenderSet, MatchConfig, Matcher, Ticket};

use crate::api::{put_profiles, search_waiting, Api, Side};
use crate::procstat::CpuMark;
use crate::record::{Recorder, Row};
use crate::scenarios::{percentiles, progress};
use crate::target::{Server, Spec};
use crate::ws::histogram;

/// Arrivals of a level: rate × seconds, but at most half the queue so the queue
/// stays within 2x of N over the level.
fn arrivals(waiting: u64, rate: u64, secs: f64) -> u64 {
    ((rate as f64 * secs) as u64).min(waiting / 2).max(1)
}

pub async fn run(
    specs: &[Spec],
    waiting: &[u64],
    direct: &[u64],
    rates: &[u64],
    secs: f64,
    reps: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    for rep in 0..reps {
        for &n in direct {
            for &rate in rates {
                rec.emit(direct_level(n, rate, secs, rep));
            }
        }
        for &n in waiting {
            for spec in specs {
                http_levels(spec, n, rates, secs, rep, rec)
                    .await
                    .with_context(|| format!("matchmaking on {}", spec.name))?;
            }
        }
    }
    rec.table("matchmaking", &["ttm_p99_us", "ttm_p50_us", "matches_per_s", "failed"]);
    Ok(())
}

/// One HTTP run: a fresh server, N waiting, then each rate in turn.
async fn http_levels(
    spec: &Spec,
    n: u64,
    rates: &[u64],
    secs: f64,
    rep: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let women_needed: u64 = rates.iter().map(|&r| arrivals(n, r, secs)).sum();
    let bar = progress(3, &format!("{}: queue of {n}", spec.name));
    let mut server = Server::start(spec, (n + women_needed) as usize).await?;
    let api = Api::new(&server.base);
    let men = server.users(n as usize)?;
    let women = server.users(women_needed as usize)?;
    bar.inc(1);
    put_profiles(&api, &men, Side::Man).await?;
    put_profiles(&api, &women, Side::Woman).await?;
    bar.inc(1);
    search_waiting(&api, &men).await?;
    bar.finish_and_clear();
    let mut women = women.into_iter();
    for &rate in rates {
        let count = arrivals(n, rate, secs);
        let batch: Vec<_> = women.by_ref().take(count as usize).collect();
        let cpu = CpuMark::now(server.pid);
        let start = Instant::now() + Duration::from_millis(20);
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let bar = progress(count, &format!("{}: {rate} arrivals/s into {n}", spec.name));
        let mut tasks = Vec::new();
        for (i, woman) in batch.into_iter().enumerate() {
            let intended = start + interval * i as u32;
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(intended.into()).await;
                let r = api.search(&woman).await;
                let took = intended.elapsed();
                match r {
                    Ok((200, Some(_))) => Ok(took),
                    Ok((status, _)) => Err(format!("search answered {status} without a room")),
                    Err(e) => Err(e.to_string()),
                }
            }));
        }
        let mut ttm = histogram();
        let (mut matched, mut failed, mut first_error) = (0u64, 0u64, None);
        for t in tasks {
            match t.await.expect("an arrival task does not panic") {
                Ok(took) => {
                    matched += 1;
                    ttm.saturating_record(took.as_micros().max(1) as u64);
                }
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
            }
            bar.inc(1);
        }
        let wall = start.elapsed().as_secs_f64();
        let cpu = cpu.elapsed();
        bar.finish_and_clear();
        let mut row =
            Row::new("matchmaking", &format!("{}-http-{n}", spec.name), rep, "arrivals_per_s", rate as f64);
        row.set("waiting", n as f64)
            .set("arrivals", count as f64)
            .set("matched", matched as f64)
            .set("failed", failed as f64)
            .set("matches_per_s", matched as f64 / wall)
            .set("server_cpu_us_per_match", cpu * 1e6 / matched.max(1) as f64);
        percentiles(&mut row, "ttm_", &ttm);
        row.ok = failed == 0 && matched == count;
        row.note = first_error;
        rec.emit(row);
    }
    server.stop().await;
    Ok(())
}

/// A ticket like those of `benches/matcher.rs`, with needs and interests from a
/// cheap deterministic generator (the same seed every run).
fn ticket(seed: &mut u64, user: i64, man: bool, at: Timestamp) -> Ticket {
    let mut next = || {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 33) as u32
    };
    let needs = (0..1 + next() % 3).fold(0, |b, _| b | 1 << (next() % 7));
    let interests = (0..2 + next() % 4).fold(0, |b, _| b | 1 << (next() % 15));
    Ticket {
        user: UserId(user),
        kind: ChatKind::Chat,
        gender: Gender(if man { 0 } else { 1 }),
        accepts: GenderSet(if man {
            if user % 2 == 0 {
                0b010
            } else {
                0b110
            }
        } else {
            0b001
        }),
        needs,
        interests,
        enqueued_at: at,
        avoid: Vec::new(),
    }
}

/// One level through the matcher core, in this thread, on a fixed arrival timeline.
fn direct_level(n: u64, rate: u64, secs: f64, rep: u32) -> Row {
    let config = MatchConfig {
        fallback_after: Duration::from_secs(30),
        search_timeout: Duration::from_secs(300),
        window: 32,
    };
    let mut matcher = Matcher::new(config);
    let mut seed = 7u64;
    let t0 = Timestamp::from_millis(1_800_000_000_000);
    let now = t0.plus(Duration::from_secs(1));
    for user in 0..n as i64 {
        matcher.enqueue(ticket(&mut seed, user, true, t0), t0).expect("a fresh user enqueues");
    }
    let count = ((rate as f64 * secs) as u64).max(1);
    let mut next_user = n as i64;
    let mut ttm = histogram();
    let mut matched = 0u64;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    for i in 0..count {
        let intended = start + interval * i as u32;
        // Sleep most of the way, spin the last 200 µs: the OS timer is too coarse for
        // microsecond arrivals.
        loop {
            let left = intended.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if left > Duration::from_micros(200) {
                std::thread::sleep(left - Duration::from_micros(200));
            } else {
                std::hint::spin_loop();
            }
        }
        let woman = ticket(&mut seed, next_user, false, now);
        next_user += 1;
        let found = matcher.enqueue(woman, now).expect("a fresh user enqueues");
        if found.is_some() {
            matched += 1;
        }
        ttm.saturating_record(intended.elapsed().as_micros().max(1) as u64);
        let refill = ticket(&mut seed, next_user, true, t0);
        next_user += 1;
        matcher.enqueue(refill, now).expect("a fresh user enqueues");
    }
    let wall = start.elapsed().as_secs_f64();
    let mut row = Row::new("matchmaking", &format!("core-{n}"), rep, "arrivals_per_s", rate as f64);
    row.set("waiting", n as f64)
        .set("arrivals", count as f64)
        .set("matched", matched as f64)
        .set("failed", (count - matched) as f64)
        .set("matches_per_s", matched as f64 / wall);
    percentiles(&mut row, "ttm_", &ttm);
    row.ok = matched == count && matcher.len() == n as usize;
    row
}
