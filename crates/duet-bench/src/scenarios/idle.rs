//! Scenario 1: idle connections. The sockets are held by worker processes (this
//! binary re-run as `idle-worker`), because the fd limit is per process and the
//! server alone needs one fd per socket. The parent sends each worker a job line
//! (the socket URLs of its share of the next step) on stdin; the worker opens them,
//! keeps them open (answering pings), and answers one JSON line with its connect
//! times and failures.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::stream::{self, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::api::{make_rooms, Api};
use crate::procstat::rss_bytes;
use crate::record::{Recorder, Row};
use crate::scenarios::{percentiles, progress};
use crate::target::{Server, Spec};
use crate::ws::{histogram, hold, open_until};

/// Sockets a worker opens at once.
const CONNECT_CONCURRENCY: usize = 32;

#[derive(Serialize, Deserialize)]
struct Job {
    /// (URL, type of the first frame to wait for).
    sockets: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize, Default)]
struct JobDone {
    ok: u64,
    failed: u64,
    /// Connect times in microseconds, one per opened socket.
    times_us: Vec<u64>,
    /// Sockets of earlier jobs the server closed meanwhile.
    closed: u64,
    first_error: Option<String>,
}

/// The worker's main loop: one job per stdin line, one answer per job.
pub async fn worker() -> anyhow::Result<()> {
    let closed = Arc::new(AtomicU64::new(0));
    let mut held = Vec::new();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    while let Some(line) = lines.next_line().await? {
        let Ok(job) = serde_json::from_str::<Job>(&line) else { break };
        let results: Vec<anyhow::Result<(crate::ws::Ws, u64)>> =
            stream::iter(job.sockets.into_iter().map(|(url, first)| async move {
                let started = Instant::now();
                let ws = open_until(&url, &first).await?;
                Ok((ws, started.elapsed().as_micros() as u64))
            }))
            .buffer_unordered(CONNECT_CONCURRENCY)
            .collect()
            .await;
        let mut done = JobDone::default();
        for r in results {
            match r {
                Ok((ws, us)) => {
                    done.ok += 1;
                    done.times_us.push(us);
                    held.push(tokio::spawn(hold(ws, closed.clone())));
                }
                Err(e) => {
                    done.failed += 1;
                    done.first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        done.closed = closed.load(Ordering::Relaxed);
        let mut text = serde_json::to_string(&done)?;
        text.push('\n');
        out.write_all(text.as_bytes()).await?;
        out.flush().await?;
    }
    for h in held {
        h.abort();
    }
    Ok(())
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Worker {
    fn spawn() -> anyhow::Result<Worker> {
        let me = std::env::current_exe()?;
        let mut child = Command::new(me)
            .arg("idle-worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("worker stdout")?).lines();
        Ok(Worker { child, stdin, stdout })
    }

    async fn send(&mut self, job: &Job) -> anyhow::Result<()> {
        let mut text = serde_json::to_string(job)?;
        text.push('\n');
        self.stdin.write_all(text.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn answer(&mut self) -> anyhow::Result<JobDone> {
        let line = self.stdout.next_line().await?.context("a worker ended early")?;
        Ok(serde_json::from_str(&line)?)
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

/// Scenario 1 for every target, interleaved.
pub async fn run(
    specs: &[Spec],
    steps: &[u64],
    per_worker: usize,
    reps: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let most = *steps.iter().max().unwrap_or(&4) as usize;
    // Each user holds a status and a chat socket; rooms need users in pairs.
    let users_needed = most.div_ceil(4) * 2;
    for rep in 0..reps {
        for spec in specs {
            one(spec, steps, per_worker, users_needed, rep, rec)
                .await
                .with_context(|| format!("idle on {}", spec.name))?;
        }
    }
    rec.table("idle", &["rss_bytes_per_conn", "rss_bytes", "connect_p50_us", "connect_p99_us", "failed"]);
    Ok(())
}

async fn one(
    spec: &Spec,
    steps: &[u64],
    per_worker: usize,
    users: usize,
    rep: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let bar = progress(2, &format!("{}: {users} users in rooms", spec.name));
    let mut server = Server::start(spec, users).await?;
    let users = server.users(users)?;
    bar.inc(1);
    let rooms = make_rooms(&Api::new(&server.base), users).await?;
    bar.finish_and_clear();
    // The sockets in the order they are opened: per user its status then chat socket.
    let ws = &server.ws_base;
    let sockets: Vec<(String, String)> = rooms
        .iter()
        .flat_map(|r| r.users.iter().map(move |u| (r.id, u)))
        .flat_map(|(room, u)| {
            [
                (format!("{ws}/ws/status?token={}", u.token), "status_update".to_owned()),
                (format!("{ws}/ws/chat/{room}?token={}", u.token), "connection".to_owned()),
            ]
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base_rss = rss_bytes(server.pid)?;
    let most = *steps.iter().max().unwrap_or(&0) as usize;
    let mut workers =
        (0..most.div_ceil(per_worker).max(1)).map(|_| Worker::spawn()).collect::<anyhow::Result<Vec<_>>>()?;
    let mut open = 0usize;
    let mut failed_total = 0u64;
    for &step in steps {
        let step = (step as usize).min(sockets.len());
        let new = &sockets[open..step];
        let bar = progress(1, &format!("{}: idle {} sockets", spec.name, step));
        // Spread the step over the workers, each up to per_worker sockets in all.
        let share = new.len().div_ceil(workers.len());
        let mut busy = Vec::new();
        for (w, chunk) in new.chunks(share.max(1)).enumerate() {
            workers[w].send(&Job { sockets: chunk.to_vec() }).await?;
            busy.push(w);
        }
        let mut times: Histogram<u64> = histogram();
        let (mut failed, mut closed, mut first_error) = (0, 0, None);
        for w in busy {
            let done = workers[w].answer().await?;
            failed += done.failed;
            closed += done.closed;
            first_error = first_error.or(done.first_error);
            for t in done.times_us {
                times.saturating_record(t.max(1));
            }
        }
        failed_total += failed;
        open = step;
        // Let allocations settle before reading RSS.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = rss_bytes(server.pid)?;
        let conns = (open as u64).saturating_sub(failed_total).max(1);
        let mut row = Row::new("idle", &spec.name, rep, "conns", open as f64);
        row.set("rss_bytes", rss as f64)
            .set("rss_base_bytes", base_rss as f64)
            .set("rss_bytes_per_conn", rss.saturating_sub(base_rss) as f64 / conns as f64)
            .set("failed", failed as f64)
            .set("closed_by_server", closed as f64);
        percentiles(&mut row, "connect_", &times);
        row.ok = failed == 0 && closed == 0;
        row.note = first_error;
        bar.finish_and_clear();
        rec.emit(row);
    }
    for w in workers.drain(..) {
        w.stop().await;
    }
    server.stop().await;
    Ok(())
}
