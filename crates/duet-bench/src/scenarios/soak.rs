//! Scenario 8: soak. R matched rooms chat for a long time (an hour by default) as
//! clients would: each participant logged in over HTTP, a message every few seconds,
//! like rounds answered, the access token refreshed before it expires (the server runs
//! with a short `--access-ttl`) and the chat socket reopened with `after_seq` when the
//! server closes it at the old token's expiry (4001), unacknowledged messages retried
//! with their `client_id`. Clients are spread in time as real ones are: each sends on
//! its own phase of the message period, and each refreshes its first token at its own
//! point of the token's life, so after the first token cycle the sockets' 4001
//! reconnects are spread over the cycle instead of all at once (all at once, the
//! live heap swings with the cycle and two single samples compare two phases of it).
//! The server's RSS is sampled every 10 s: the row passes when no message was lost,
//! nothing failed, and the RSS at the end (the mean of the last minute's samples) is
//! within 5 % of the RSS after the first five minutes (the warm-up, a quarter of the
//! run when shorter; the mean of the minute that follows it). Not run by CI (its point
//! is its length); `--minutes 3` shows it working.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use crate::api::{make_rooms, Api};
use crate::procstat::{rss_bytes, rss_parts, CpuMark};
use crate::record::{Recorder, Row};
use crate::scenarios::progress;
use crate::target::{Server, Spec, User};
use crate::PASSWORD;

/// The limit of RSS growth after the warm-up.
const GROWTH_LIMIT: f64 = 0.05;

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    refreshes: AtomicU64,
    reconnects: AtomicU64,
    likes: AtomicU64,
    errors: AtomicU64,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<i64>,
    client_id: Option<String>,
    user_id: Option<i64>,
    code: Option<String>,
}

struct Client {
    api: Api,
    ws_base: String,
    room: i64,
    user: User,
    refresh: String,
    /// When the access token in `user.token` was issued.
    issued: Instant,
    ttl: Duration,
    every: Duration,
    counters: Arc<Counters>,
    first_error: Arc<std::sync::Mutex<Option<String>>>,
}

impl Client {
    fn error(&self, what: String) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.first_error.lock().expect("not poisoned").get_or_insert(what);
    }

    async fn refresh(&mut self) -> anyhow::Result<()> {
        let (access, refresh) = self.api.refresh(&self.refresh).await?;
        (self.user.token, self.refresh, self.issued) = (access, refresh, Instant::now());
        self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Chats until `end`: one socket after another, refreshing as it goes; `phase` in
    /// [0, 1) places this client's sends within the message period.
    async fn run(mut self, end: Instant, phase: f64) {
        let mut last_seq = 0i64;
        let mut unacked: BTreeSet<String> = BTreeSet::new();
        let mut next_id = 0u64;
        while Instant::now() < end {
            if self.issued.elapsed() > self.ttl.mul_f64(0.8) {
                if let Err(e) = self.refresh().await {
                    return self.error(format!("user {}: {e:#}", self.user.id));
                }
            }
            let url = format!(
                "{}/ws/chat/{}?token={}&after_seq={last_seq}",
                self.ws_base, self.room, self.user.token
            );
            let mut ws = match tokio_tungstenite::connect_async(url).await {
                Ok((ws, _)) => ws,
                Err(e) => return self.error(format!("user {}: reconnecting: {e}", self.user.id)),
            };
            for cid in &unacked {
                let frame = format!(r#"{{"type":"message","content":"soak","client_id":"{cid}"}}"#);
                if ws.send(Message::text(frame)).await.is_err() {
                    break;
                }
            }
            let first = tokio::time::Instant::now() + self.every.mul_f64(phase);
            let mut tick = tokio::time::interval_at(first, self.every);
            let closed = loop {
                if Instant::now() >= end {
                    break None;
                }
                tokio::select! {
                    _ = tick.tick() => {
                        if self.issued.elapsed() > self.ttl.mul_f64(0.8) {
                            // Refreshed ahead of the expiry; this socket carries on until
                            // the server closes it at the old token's expiry.
                            if let Err(e) = self.refresh().await {
                                return self.error(format!("user {}: {e:#}", self.user.id));
                            }
                        }
                        next_id += 1;
                        let cid = format!("u{}-{next_id}", self.user.id);
                        let frame = format!(r#"{{"type":"message","content":"soak","client_id":"{cid}"}}"#);
                        unacked.insert(cid);
                        self.counters.sent.fetch_add(1, Ordering::Relaxed);
                        if ws.send(Message::text(frame)).await.is_err() {
                            break Some(None);
                        }
                    }
                    item = ws.next() => match item {
                        Some(Ok(Message::Text(text))) => {
                            let Ok(frame) = serde_json::from_str::<Frame>(&text) else { continue };
                            match frame.kind.as_str() {
                                "ack" if frame.client_id.is_some_and(|c| unacked.remove(&c)) => {
                                    self.counters.acked.fetch_add(1, Ordering::Relaxed);
                                }
                                "message" => {
                                    last_seq = last_seq.max(frame.seq.unwrap_or(0));
                                    if frame.user_id != Some(self.user.id) {
                                        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                                "like_prompt" => {
                                    self.counters.likes.fetch_add(1, Ordering::Relaxed);
                                    let answer = r#"{"type":"like_response","response":"yes"}"#;
                                    let _ = ws.send(Message::text(answer)).await;
                                }
                                "error" => self.error(format!("user {}: error {:?}", self.user.id, frame.code)),
                                "room_ended" => return self.error(format!("room {} ended", self.room)),
                                _ => {}
                            }
                        }
                        Some(Ok(Message::Close(frame))) => break Some(frame.map(|f| u16::from(f.code))),
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break Some(None),
                    },
                }
            };
            match closed {
                None => {
                    // The end (everyone stops sending): the acks of the last messages
                    // and the partner's last ones, until 2 s pass with nothing new.
                    let drain = Instant::now() + Duration::from_secs(30);
                    let quiet = Duration::from_secs(2);
                    while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, ws.next()).await {
                        if Instant::now() > drain {
                            break;
                        }
                        let Message::Text(text) = message else { continue };
                        let Ok(frame) = serde_json::from_str::<Frame>(&text) else { continue };
                        match (frame.kind.as_str(), frame.client_id) {
                            ("ack", Some(cid)) if unacked.remove(&cid) => {
                                self.counters.acked.fetch_add(1, Ordering::Relaxed);
                            }
                            ("message", _) if frame.user_id != Some(self.user.id) => {
                                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {}
                        }
                    }
                    let _ = ws.close(None).await;
                }
                // The token the socket was opened with expired: reconnect with the new one.
                Some(Some(4001)) => {
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                Some(other) => {
                    return self.error(format!("user {}: chat socket closed: {other:?}", self.user.id));
                }
            }
        }
        if !unacked.is_empty() {
            self.error(format!("user {}: {} messages never acked", self.user.id, unacked.len()));
        }
    }
}

pub async fn run(
    spec: &Spec,
    rooms: usize,
    minutes: f64,
    access_ttl: Duration,
    every: Duration,
    memory_csv: Option<&Path>,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let mut csv = match memory_csv {
        Some(path) => {
            let mut file =
                std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "seconds,rss_kib,anon_kib,file_kib,shmem_kib")?;
            Some(file)
        }
        None => None,
    };
    let ttl_flag = format!("--access-ttl={}s", access_ttl.as_secs().max(1));
    let mut server = Server::start_with(spec, rooms * 2, &[ttl_flag]).await?;
    let api = Api::new(&server.base);
    let mut users = server.users(rooms * 2)?;
    let mut refresh = std::collections::HashMap::new();
    let clients = users.len().max(1);
    for (i, user) in users.iter_mut().enumerate() {
        let (access, refresh_token) = api.login_pair(&user.username, PASSWORD).await.context("logging in")?;
        user.token = access;
        // Client i refreshes its first token once i/n of the way to the usual refresh
        // point (80 % of its life) has passed, as if it had signed in that much earlier:
        // from then on the clients' token cycles are spread evenly.
        let head_start = access_ttl.mul_f64(0.8 * i as f64 / clients as f64);
        let issued = Instant::now().checked_sub(head_start).unwrap_or_else(Instant::now);
        refresh.insert(user.id, (refresh_token, issued, i as f64 / clients as f64));
    }
    let made = make_rooms(&api, users).await?;
    let counters = Arc::new(Counters::default());
    let first_error = Arc::new(std::sync::Mutex::new(None));
    let run_for = Duration::from_secs_f64(minutes * 60.0);
    let start = Instant::now();
    let end = start + run_for;
    let mut tasks = Vec::new();
    for room in &made {
        for user in &room.users {
            let (refresh, issued, phase) = refresh.remove(&user.id).expect("logged in");
            let client = Client {
                api: api.clone(),
                ws_base: server.ws_base.clone(),
                room: room.id,
                user: user.clone(),
                refresh,
                issued,
                ttl: access_ttl,
                every,
                counters: counters.clone(),
                first_error: first_error.clone(),
            };
            tasks.push(tokio::spawn(client.run(end, phase)));
        }
    }
    let warmup = Duration::from_secs(300).min(run_for / 4);
    let cpu = CpuMark::now(server.pid);
    let bar = progress(run_for.as_secs(), &format!("{}: soak, {} rooms", spec.name, rooms));
    // Samples of the minute after the warm-up and of the last minute, for the verdict.
    let window = Duration::from_secs(60).min(run_for / 8);
    let (mut warm, mut tail, mut max, mut last) = (Vec::new(), Vec::new(), 0u64, 0u64);
    let mut samples = tokio::time::interval(Duration::from_secs(10));
    while Instant::now() < end {
        samples.tick().await;
        last = rss_bytes(server.pid).unwrap_or(0);
        max = max.max(last);
        if let Some(file) = csv.as_mut() {
            let [anon, mapped, shmem] = rss_parts(server.pid).unwrap_or_default();
            writeln!(
                file,
                "{},{},{},{},{}",
                start.elapsed().as_secs(),
                last / 1024,
                anon / 1024,
                mapped / 1024,
                shmem / 1024
            )?;
        }
        let at = start.elapsed();
        if at >= warmup && at < warmup + window {
            warm.push(last);
        }
        if at + window >= run_for {
            tail.push(last);
        }
        bar.set_position(start.elapsed().as_secs());
    }
    for task in tasks {
        task.await?;
    }
    last = rss_bytes(server.pid).unwrap_or(last);
    let cpu_secs = cpu.elapsed();
    bar.finish_and_clear();
    server.stop().await;

    let mean = |samples: &[u64]| match samples.len() {
        0 => last as f64,
        n => samples.iter().sum::<u64>() as f64 / n as f64,
    };
    let (base, end_rss) = (mean(&warm).max(1.0), mean(&tail));
    let growth = end_rss / base - 1.0;
    let c = &counters;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let mut row = Row::new("soak", &spec.name, 0, "minutes", minutes);
    row.set("sent", load(&c.sent))
        .set("acked", load(&c.acked))
        .set("delivered", load(&c.delivered))
        .set("lost", (load(&c.acked) - load(&c.delivered)).max(0.0))
        .set("refreshes", load(&c.refreshes))
        .set("reconnects", load(&c.reconnects))
        .set("like_prompts", load(&c.likes))
        .set("errors", load(&c.errors))
        .set("rss_warm_mb", base / 1048576.0)
        .set("rss_end_mb", end_rss / 1048576.0)
        .set("rss_last_mb", last as f64 / 1048576.0)
        .set("rss_max_mb", max as f64 / 1048576.0)
        .set("rss_growth_pct", growth * 100.0)
        .set("server_cpu_pct", cpu_secs / run_for.as_secs_f64() * 100.0);
    row.ok = c.errors.load(Ordering::Relaxed) == 0
        && c.acked.load(Ordering::Relaxed) == c.sent.load(Ordering::Relaxed)
        && c.delivered.load(Ordering::Relaxed) == c.acked.load(Ordering::Relaxed)
        && growth <= GROWTH_LIMIT;
    row.note = first_error.lock().expect("not poisoned").clone();
    rec.emit(row);
    rec.table(
        "soak",
        &[
            "rss_warm_mb",
            "rss_end_mb",
            "rss_max_mb",
            "rss_growth_pct",
            "sent",
            "lost",
            "refreshes",
            "reconnects",
            "errors",
        ],
    );
    Ok(())
}
