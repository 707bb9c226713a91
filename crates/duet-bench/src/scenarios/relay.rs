//! Scenarios 2, 3 and 5: messages relayed between the two participants of matched
//! rooms. One fresh server per target and repetition; its rooms are set up through
//! the protocol, then every participant opens its chat socket and the levels run on
//! the same sockets (the counters are cumulative; a level waits until nothing is in
//! flight before the next starts).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::Semaphore;

use crate::api::{make_rooms, Api};
use crate::procstat::CpuMark;
use crate::record::{Recorder, Row};
use crate::scenarios::{percentiles, progress};
use crate::target::{Server, Spec};
use crate::ws::{now_us, ChatSocket, Tally};

/// How long a level may take to deliver what is in flight after its last send.
const DRAIN: Duration = Duration::from_secs(10);

/// A server with `rooms` matched rooms and both chat sockets of each open.
pub struct Relay {
    pub server: Server,
    pub sockets: Vec<ChatSocket>,
    pub tally: Arc<Tally>,
}

impl Relay {
    pub async fn prepare(spec: &Spec, rooms: usize, window: usize) -> anyhow::Result<Relay> {
        let bar = progress(4, &format!("{}: {rooms} rooms", spec.name));
        let mut server = Server::start(spec, rooms * 2).await?;
        let users = server.users(rooms * 2)?;
        bar.inc(1);
        let api = Api::new(&server.base);
        let rooms = make_rooms(&api, users).await?;
        bar.inc(1);
        let tally = Arc::new(Tally::default());
        let ws_base = server.ws_base.clone();
        // Each participant's window, two permits per message in flight (see
        // `ChatSocket::wait_for_slot`); each socket also holds its partner's.
        let mut pairs: Vec<(i64, crate::target::User, [Arc<Semaphore>; 2])> = Vec::new();
        for room in &rooms {
            let windows = [(); 2].map(|_| Arc::new(Semaphore::new(2 * window)));
            for (side, user) in room.users.iter().enumerate() {
                let own = [windows[side].clone(), windows[1 - side].clone()];
                pairs.push((room.id, user.clone(), own));
            }
        }
        let sockets: Vec<ChatSocket> = stream::iter(pairs.into_iter().map(|(room, user, windows)| {
            let (tally, ws_base) = (tally.clone(), ws_base.clone());
            async move { ChatSocket::connect(&ws_base, room, &user, tally, windows).await.map(|(s, _)| s) }
        }))
        .buffered(64)
        .try_collect()
        .await?;
        bar.inc(2);
        bar.finish_and_clear();
        Ok(Relay { server, sockets, tally })
    }

    pub async fn stop(self) {
        for s in self.sockets {
            s.close().await;
        }
        self.server.stop().await;
    }
}

/// What a level measured.
struct Level {
    sent: u64,
    delivered: u64,
    acked: u64,
    errors: u64,
    wall: f64,
    cpu: f64,
    drained: bool,
}

impl Level {
    fn into_row(self, row: &mut Row, tally: &Tally) {
        let lost = self.sent.saturating_sub(self.delivered);
        row.set("sent", self.sent as f64)
            .set("delivered", self.delivered as f64)
            .set("lost", lost as f64)
            .set("unacked", self.sent.saturating_sub(self.acked) as f64)
            .set("errors", self.errors as f64)
            .set("delivered_msg_per_s", self.delivered as f64 / self.wall)
            .set("server_cpu_us_per_msg", self.cpu * 1e6 / self.delivered.max(1) as f64)
            .set("server_cpu_pct", self.cpu / self.wall * 100.0);
        row.ok = self.drained
            && lost == 0
            && self.errors == 0
            && self.delivered == self.sent
            && self.acked == self.sent;
        if !row.ok {
            row.note = Some(tally.first_error().unwrap_or_else(|| {
                format!(
                    "sent {} delivered {} acked {} within {} s after the last send",
                    self.sent,
                    self.delivered,
                    self.acked,
                    DRAIN.as_secs()
                )
            }));
        }
    }
}

/// Runs the senders of `sockets` (moved in and handed back) and measures the level.
async fn run_level<F, Fut>(relay: &mut Relay, senders: usize, secs: f64, what: &str, sender: F) -> Level
where
    F: Fn(usize, ChatSocket, Instant, Instant) -> Fut,
    Fut: std::future::Future<Output = ChatSocket> + Send + 'static,
{
    let tally = relay.tally.clone();
    let (sent0, del0, ack0, err0) = tally.get();
    tally.latency.lock().expect("not poisoned").reset();
    let cpu = CpuMark::now(relay.server.pid);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs_f64(secs);
    let mut handles = Vec::new();
    for (i, socket) in relay.sockets.drain(..senders).enumerate() {
        handles.push(tokio::spawn(sender(i, socket, start, end)));
    }
    let bar = progress((secs * 10.0) as u64, what);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        bar.inc(1);
    }
    let mut back = Vec::new();
    for h in handles {
        back.push(h.await.expect("a sender task does not panic"));
    }
    let drained = tally.drain(DRAIN).await;
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu.elapsed();
    bar.finish_and_clear();
    back.append(&mut relay.sockets);
    relay.sockets = back;
    let (sent, del, ack, err) = tally.get();
    Level {
        sent: sent - sent0,
        delivered: del - del0,
        acked: ack - ack0,
        errors: err - err0,
        wall,
        cpu,
        drained,
    }
}

/// Scenario 2 on one prepared server: closed loop over the first `rooms` rooms.
/// The scenario's name in results and tables: `throughput` with one message in flight per
/// participant, `throughput-w{N}` with N, so that each window has its own table.
pub fn throughput_scenario(window: usize) -> String {
    if window <= 1 {
        "throughput".to_owned()
    } else {
        format!("throughput-w{window}")
    }
}

pub async fn throughput_level(
    relay: &mut Relay,
    rooms: usize,
    secs: f64,
    window: usize,
    rep: u32,
    rec: &mut Recorder,
) {
    let name = relay.server.spec.name.clone();
    let level = run_level(
        relay,
        rooms * 2,
        secs,
        &format!("{name}: throughput {rooms} rooms"),
        |_, mut s, start, end| async move {
            tokio::time::sleep_until(start.into()).await;
            while Instant::now() < end {
                // A lost ack or delivery shows as unacked or lost.
                if !s.wait_for_slot(end).await {
                    break;
                }
                if s.send(now_us()).await.is_err() {
                    break;
                }
            }
            s
        },
    )
    .await;
    let mut row = Row::new(&throughput_scenario(window), &name, rep, "rooms", rooms as f64);
    let tally = relay.tally.clone();
    percentiles(&mut row, "latency_", &tally.latency.lock().expect("not poisoned"));
    level.into_row(&mut row, &tally);
    rec.emit(row);
}

/// Scenario 3 (and 5) on one prepared server: open loop at `rate` msg/s offered in
/// total over all its rooms. Each participant sends every `senders / rate` seconds,
/// participant i shifted by i/senders of that interval; a late sender sends at once
/// and its latency still counts from the intended time.
pub async fn latency_level(
    relay: &mut Relay,
    scenario: &str,
    target: &str,
    rate: u64,
    secs: f64,
    rep: u32,
    rec: &mut Recorder,
) {
    let senders = relay.sockets.len();
    let interval = Duration::from_secs_f64(senders as f64 / rate as f64);
    let what = format!("{target}: {scenario} {rate} msg/s");
    let level = run_level(relay, senders, secs, &what, move |i, mut s, start, end| async move {
        let phase = interval.mul_f64(i as f64 / senders as f64);
        let base_us = now_us() + (start - Instant::now()).as_micros() as u64;
        let mut k: u32 = 0;
        loop {
            let offset = phase + interval * k;
            let intended = start + offset;
            if intended >= end {
                break;
            }
            tokio::time::sleep_until(intended.into()).await;
            if s.send(base_us + offset.as_micros() as u64).await.is_err() {
                break;
            }
            k += 1;
        }
        s
    })
    .await;
    let mut row = Row::new(scenario, target, rep, "offered_msg_per_s", rate as f64);
    row.set("rooms", (senders / 2) as f64);
    let tally = relay.tally.clone();
    percentiles(&mut row, "", &tally.latency.lock().expect("not poisoned"));
    row.set("offered_sent_per_s", level.sent as f64 / secs);
    level.into_row(&mut row, &tally);
    rec.emit(row);
}

/// Scenario 2 for every target, interleaved.
pub async fn throughput(
    specs: &[Spec],
    rooms: &[u64],
    secs: f64,
    window: usize,
    reps: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let most = *rooms.iter().max().unwrap_or(&1) as usize;
    for rep in 0..reps {
        for spec in specs {
            let mut relay = Relay::prepare(spec, most, window)
                .await
                .with_context(|| format!("set-up on {}", spec.name))?;
            for &r in rooms {
                throughput_level(&mut relay, r as usize, secs, window, rep, rec).await;
            }
            relay.stop().await;
        }
    }
    rec.table(
        &throughput_scenario(window),
        &["server_cpu_us_per_msg", "delivered_msg_per_s", "latency_p99_us", "lost", "errors"],
    );
    Ok(())
}

/// Scenario 3 (`scenario` = "latency") or 5 ("persistence") for every target.
pub async fn latency(
    scenario: &str,
    specs: &[Spec],
    rates: &[u64],
    rooms: u64,
    secs: f64,
    reps: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    for rep in 0..reps {
        for spec in specs {
            let mut relay = Relay::prepare(spec, rooms as usize, 1)
                .await
                .with_context(|| format!("set-up on {}", spec.name))?;
            for &rate in rates {
                latency_level(&mut relay, scenario, &spec.name, rate, secs, rep, rec).await;
            }
            relay.stop().await;
        }
    }
    rec.table(
        scenario,
        &["p99_us", "p50_us", "p999_us", "max_us", "server_cpu_us_per_msg", "lost", "errors"],
    );
    Ok(())
}
