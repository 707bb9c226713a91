//! Scenario 7: reconnect storm. R matched rooms, both participants chatting; the
//! server is restarted (SIGTERM, so every socket closes with 1001, then started again
//! on the same data), and every client reconnects at the same instant with
//! `after_seq` = the last `seq` it holds, retries the messages that had no ack (same
//! `client_id`), and talks on. Then each socket's view of its room is checked: every
//! `seq` from 1 to the room's last exactly once, every `client_id` once, every message
//! a participant sent there. Measured: the time from the server being back to a client
//! holding everything up to the `last_seq` of its `connection` frame (p50, p99, max),
//! the server's CPU per reconnect, and any loss, duplicate or gap (each fails the row).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::api::{make_rooms, Api};
use crate::procstat::{rss_bytes, CpuMark};
use crate::record::{Recorder, Row};
use crate::scenarios::{percentiles, progress};
use crate::target::{Server, Spec, User};
use crate::ws::{histogram, Ws};

/// Each client sends one message this often while it talks.
const SEND_EVERY: Duration = Duration::from_millis(1000);
/// Talking before the restart, and after everyone is back.
const TALK: Duration = Duration::from_secs(3);
/// How long a client may take to reconnect and catch up, and the room to settle.
const LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Phase {
    Talking,
    /// The server is back: reconnect now.
    Back(Instant),
    /// Stop sending; wait for the room's last message.
    Settle,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<i64>,
    last_seq: Option<i64>,
    client_id: Option<String>,
    user_id: Option<i64>,
}

/// What one client holds of its room: the messages by `seq` (with their `client_id`),
/// and its own messages that have no ack yet.
#[derive(Default)]
struct View {
    messages: BTreeMap<i64, (String, i64)>,
    duplicates: u64,
    unacked: BTreeMap<String, ()>,
    sent: Vec<String>,
}

impl View {
    fn last_seq(&self) -> i64 {
        self.messages.keys().next_back().copied().unwrap_or(0)
    }

    fn read(&mut self, frame: &Frame, room_last: &AtomicI64) {
        match frame.kind.as_str() {
            "message" => {
                if let (Some(seq), Some(cid), Some(user)) = (frame.seq, &frame.client_id, frame.user_id) {
                    if self.messages.insert(seq, (cid.clone(), user)).is_some() {
                        self.duplicates += 1;
                    }
                }
            }
            "ack" => {
                if let Some(cid) = &frame.client_id {
                    self.unacked.remove(cid);
                }
                if let Some(seq) = frame.seq {
                    room_last.fetch_max(seq, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

/// What the two clients of a room share: the highest `seq` acked to either, and how
/// many of them have every ack.
#[derive(Default)]
struct Shared {
    last: AtomicI64,
    acked: AtomicU8,
}

/// One client's outcome.
struct Outcome {
    view: View,
    /// From the server being back to holding everything up to its `last_seq`.
    caught_up: Option<Duration>,
    error: Option<String>,
}

async fn connect(ws_base: &str, room: i64, user: &User, after_seq: i64) -> anyhow::Result<Ws> {
    let url = format!("{ws_base}/ws/chat/{room}?token={}&after_seq={after_seq}", user.token);
    let (ws, _) = tokio::time::timeout(Duration::from_secs(30), tokio_tungstenite::connect_async(url))
        .await
        .context("the upgrade timed out")??;
    Ok(ws)
}

fn message(cid: &str) -> Message {
    Message::text(format!(r#"{{"type":"message","content":"storm","client_id":"{cid}"}}"#))
}

/// Talks (sending every [`SEND_EVERY`], reading everything) until the socket ends or
/// the phase leaves `until`.
async fn talk(
    ws: &mut Ws,
    user: &User,
    view: &mut View,
    room_last: &AtomicI64,
    phase: &mut watch::Receiver<Phase>,
    until: fn(Phase) -> bool,
) {
    let mut tick = tokio::time::interval(SEND_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let cid = format!("u{}-{}", user.id, view.sent.len());
                view.sent.push(cid.clone());
                view.unacked.insert(cid.clone(), ());
                if ws.send(message(&cid)).await.is_err() {
                    return;
                }
            }
            item = ws.next() => match item {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(frame) = serde_json::from_str::<Frame>(&text) {
                        view.read(&frame, room_last);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            changed = phase.changed() => {
                if changed.is_err() || until(*phase.borrow()) {
                    return;
                }
            }
        }
    }
}

async fn client(
    ws_base: String,
    room: i64,
    user: User,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) -> Outcome {
    let room_last = &shared.last;
    let mut view = View::default();
    let mut caught_up = None;
    let result: anyhow::Result<()> = async {
        let mut ws = connect(&ws_base, room, &user, 0).await?;
        // Until the restart closes the socket.
        talk(&mut ws, &user, &mut view, room_last, &mut phase, |_| false).await;
        // Answers the server's close frame (as a client library does), so the server's
        // shutdown does not wait out its closing handshake.
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
        drop(ws);
        let back = loop {
            if let Phase::Back(at) = *phase.borrow_and_update() {
                break at;
            }
            phase.changed().await.context("the run ended")?;
        };
        let mut ws = connect(&ws_base, room, &user, view.last_seq()).await?;
        // The `connection` frame's last_seq, then the replay up to it.
        let mut target = None;
        while target.is_none_or(|t| view.last_seq() < t) {
            let item = tokio::time::timeout(LIMIT, ws.next()).await.context("no catch-up in time")?;
            let Some(Ok(Message::Text(text))) = item else {
                match item {
                    Some(Ok(_)) => continue,
                    other => anyhow::bail!("the socket ended while catching up: {other:?}"),
                }
            };
            let frame: Frame = serde_json::from_str(&text)?;
            if frame.kind == "connection" {
                target = frame.last_seq;
            }
            view.read(&frame, room_last);
        }
        caught_up = Some(back.elapsed());
        // The messages that had no ack, again with their client_id, then more talk.
        for cid in view.unacked.keys().cloned().collect::<Vec<_>>() {
            ws.send(message(&cid)).await?;
        }
        talk(&mut ws, &user, &mut view, room_last, &mut phase, |p| p == Phase::Settle).await;
        // Every ack, on both sides, then everything up to the room's last message.
        let settle = Instant::now() + LIMIT;
        let mut counted = false;
        loop {
            if !counted && view.unacked.is_empty() {
                shared.acked.fetch_add(1, Ordering::SeqCst);
                counted = true;
            }
            if counted
                && shared.acked.load(Ordering::SeqCst) == 2
                && view.last_seq() >= room_last.load(Ordering::SeqCst)
            {
                break;
            }
            anyhow::ensure!(Instant::now() < settle, "the room did not settle");
            match tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
                Err(_) => {}
                Ok(Some(Ok(Message::Text(text)))) => view.read(&serde_json::from_str(&text)?, room_last),
                Ok(Some(Ok(_))) => {}
                Ok(other) => anyhow::bail!("the socket ended while settling: {other:?}"),
            }
        }
        let _ = ws.close(None).await;
        Ok(())
    }
    .await;
    Outcome { view, caught_up, error: result.err().map(|e| format!("user {}: {e:#}", user.id)) }
}

/// Checks one room's two views: (lost, duplicates, gaps).
fn check(views: [&View; 2], users: [i64; 2]) -> (u64, u64, u64) {
    let (mut lost, mut duplicates, mut gaps) = (0, 0, 0);
    for view in views {
        duplicates += view.duplicates;
        let last = view.last_seq();
        gaps += (1..=last).filter(|seq| !view.messages.contains_key(seq)).count() as u64;
        let mut ids: Vec<&String> = view.messages.values().map(|(cid, _)| cid).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        duplicates += (before - ids.len()) as u64;
        // Every message either participant sent reached this view.
        for (side, sender) in views.iter().enumerate() {
            lost += sender
                .sent
                .iter()
                .filter(|cid| !view.messages.values().any(|(c, u)| c == *cid && *u == users[side]))
                .count() as u64;
        }
    }
    (lost, duplicates, gaps)
}

pub async fn run(specs: &[Spec], levels: &[u64], reps: u32, rec: &mut Recorder) -> anyhow::Result<()> {
    for rep in 0..reps {
        for spec in specs {
            for &rooms in levels {
                level(spec, rooms as usize, rep, rec).await?;
            }
        }
    }
    rec.table(
        "reconnect",
        &["reconnect_p99_us", "reconnect_p50_us", "reconnect_max_us", "lost", "duplicates", "gaps", "failed"],
    );
    Ok(())
}

async fn level(spec: &Spec, rooms: usize, rep: u32, rec: &mut Recorder) -> anyhow::Result<()> {
    let bar = progress(4, &format!("{}: reconnect storm, {} clients", spec.name, rooms * 2));
    let mut server = Server::start(spec, rooms * 2).await?;
    let api = Api::new(&server.base);
    let made = make_rooms(&api, server.users(rooms * 2)?).await?;
    bar.inc(1);
    let (phase_tx, phase) = watch::channel(Phase::Talking);
    let mut tasks = Vec::new();
    for room in &made {
        let shared = Arc::new(Shared::default());
        for user in &room.users {
            let task = client(server.ws_base.clone(), room.id, user.clone(), shared.clone(), phase.clone());
            tasks.push(tokio::spawn(task));
        }
    }
    tokio::time::sleep(TALK).await;
    bar.inc(1);
    let restarting = Instant::now();
    server.restart().await?;
    let restart_ms = restarting.elapsed().as_secs_f64() * 1000.0;
    let rss_before = rss_bytes(server.pid).unwrap_or(0);
    let cpu = CpuMark::now(server.pid);
    phase_tx.send_replace(Phase::Back(Instant::now()));
    tokio::time::sleep(TALK).await;
    phase_tx.send_replace(Phase::Settle);
    bar.inc(1);
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await?);
    }
    let cpu_secs = cpu.elapsed();
    let rss_after = rss_bytes(server.pid).unwrap_or(0);
    bar.finish_and_clear();
    server.stop().await;

    let mut h = histogram();
    let (mut failed, mut first_error) = (0u64, None);
    let (mut lost, mut duplicates, mut gaps, mut sent) = (0, 0, 0, 0);
    for (pair, room) in outcomes.chunks(2).zip(&made) {
        for o in pair {
            sent += o.view.sent.len() as u64;
            match (&o.error, o.caught_up) {
                (None, Some(took)) => {
                    h.saturating_record(took.as_micros().max(1) as u64);
                }
                (error, _) => {
                    failed += 1;
                    first_error = first_error.or_else(|| error.clone());
                }
            }
        }
        let (l, d, g) = check([&pair[0].view, &pair[1].view], [room.users[0].id, room.users[1].id]);
        (lost, duplicates, gaps) = (lost + l, duplicates + d, gaps + g);
    }
    let clients = (rooms * 2) as f64;
    let mut row = Row::new("reconnect", &spec.name, rep, "clients", clients);
    percentiles(&mut row, "reconnect_", &h);
    row.set("failed", failed as f64)
        .set("lost", lost as f64)
        .set("duplicates", duplicates as f64)
        .set("gaps", gaps as f64)
        .set("sent", sent as f64)
        .set("restart_ms", restart_ms)
        .set("server_cpu_ms_per_reconnect", cpu_secs * 1000.0 / clients)
        .set("rss_growth_bytes", rss_after.saturating_sub(rss_before) as f64);
    row.ok = failed == 0 && lost == 0 && duplicates == 0 && gaps == 0;
    row.note = first_error;
    rec.emit(row);
    Ok(())
}
