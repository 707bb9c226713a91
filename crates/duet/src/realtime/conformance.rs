//! WebSocket conformance: the Autobahn test suite's cases (through `kosoku`, a runner
//! of its case files) against an echo endpoint that runs the production socket code:
//! the same upgrade settings ([`super::sized`]), the same loop ([`drive`]), the same
//! read-error mapping and closing handshake ([`finish`]). Only what the kind does
//! with a frame differs: it sends it back. The endpoint exists in this test binary
//! alone; `duet serve` never serves it.
//!
//! Needs the runner (`pip install kosoku==0.1.0`; `.ci/run` installs it): without it
//! the test says so and passes, unless `CI=true`, where it fails. Locally:
//! `cargo test -p duet --lib conformance -- --nocapture`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use axum::extract::WebSocketUpgrade;
use axum::response::Response;
use axum::Router;
use futures_util::{Sink, SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::broker::Delivery;
use super::socket::{drive, finish, SocketKind, Step, Stops, WriteDeadline};
use crate::shutdown::Shutdown;

/// Sends every data frame back as it came; everything else is the production loop's.
struct Echo;

impl SocketKind for Echo {
    async fn on_push<S>(&mut self, _sink: &mut S, _delivery: Option<Arc<Delivery>>) -> Step
    where
        S: Sink<Message> + Unpin + Send,
    {
        Step::Continue
    }

    async fn on_incoming<S>(&mut self, sink: &mut S, incoming: Option<Result<Message, axum::Error>>) -> Step
    where
        S: Sink<Message> + Unpin + Send,
    {
        match incoming {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => match sink.send(message).await {
                Ok(()) => Step::Continue,
                Err(_) => Step::Gone,
            },
            Some(Ok(Message::Close(_))) | None => Step::Gone,
            Some(Ok(_)) => Step::Continue,
            Some(Err(e)) => super::read_error(e).into(),
        }
    }
}

async fn echo(socket: WebSocket) {
    let shutdown = Shutdown::new();
    // Held open, so the loop never reads a replacement or the end of its pushes.
    let (_newer, mut replaced) = oneshot::channel();
    let (_push, mut pushes) = mpsc::channel(1);
    let (sink, mut stream) = socket.split();
    let mut sink = WriteDeadline::new(sink, Duration::from_secs(10));
    let stops = Stops {
        shutdown: &shutdown,
        replaced: &mut replaced,
        token_expires: None,
        ping_every: Duration::from_secs(10),
    };
    let step = drive(&mut sink, &mut stream, &mut pushes, stops, &mut Echo).await;
    finish(&mut sink, &mut stream, step, async {}).await;
}

/// Serves the echo endpoint on every path, with `max_frame_bytes` as the frame limit.
async fn serve(max_frame_bytes: u64) -> std::net::SocketAddr {
    let app = Router::new().fallback(move |ws: WebSocketUpgrade| async move {
        let response: Response = super::sized(ws, max_frame_bytes).on_upgrade(echo);
        response
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// One case as the runner judged it; `remote` is the server (the code it closed with).
#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    behavior: String,
    behavior_close: String,
    remote_close_code: Option<u16>,
}

impl Case {
    fn passed(&self) -> bool {
        matches!(self.behavior.as_str(), "OK" | "NON-STRICT" | "INFORMATIONAL")
            && matches!(self.behavior_close.as_str(), "OK" | "INFORMATIONAL")
    }
}

/// Runs the suite's cases but 12.* and 13.* (compression, which Duet does not
/// negotiate) against `addr`; the verdict of each.
fn run_cases(addr: std::net::SocketAddr) -> Vec<Case> {
    const SCRIPT: &str = r#"
import asyncio, json, os, sys
from kosoku import FailureError, run_fuzzingclient

async def main():
    try:
        results = await run_fuzzingclient(sys.argv[1], None, ["12.*", "13.*"], concurrency=4)
    except FailureError as failure:
        results = failure.results
    print(json.dumps([{
        "id": r.case_id, "behavior": r.behavior.value, "behavior_close": r.behavior_close.value,
        "remote_close_code": r.remote_close_code,
    } for r in results]))
    sys.stdout.flush()
    # kosoku's native runtime can abort (SIGABRT) while the interpreter tears it down,
    # after the verdicts are out: leave without finalising, the verdicts are the result.
    os._exit(0)

asyncio.run(main())
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", SCRIPT, &addr.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "kosoku failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
            .chars()
            .rev()
            .take(2000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
    serde_json::from_slice(&output.stdout).expect("the runner's verdicts")
}

/// Whether the runner is installed; under `CI=true` it must be.
fn kosoku_installed() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import kosoku"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(found || std::env::var("CI").as_deref() != Ok("true"), "CI=true but kosoku is not installed");
    if !found {
        eprintln!("skipped: the Autobahn runner is not installed (pip install kosoku==0.1.0)");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autobahn_cases_pass_and_only_oversize_ones_fail_at_the_production_limit() {
    if !kosoku_installed() {
        return;
    }
    // With the limit raised past the suite's largest message (16 MiB), every case.
    let raised = serve(64 << 20).await;
    let cases = tokio::task::spawn_blocking(move || run_cases(raised)).await.unwrap();
    assert!(cases.len() > 200, "the suite ran: {} cases", cases.len());
    let failed: Vec<&Case> = cases.iter().filter(|c| !c.passed()).collect();
    assert!(failed.is_empty(), "cases that failed with the limit raised: {failed:#?}");

    // With the production limit (`--max-frame-bytes`' default), a case may fail only
    // by the server closing with 1009.
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        realtime: crate::config::RealtimeSettings,
    }
    let limit = <Defaults as clap::Parser>::parse_from(["duet"]).realtime.max_frame_bytes;
    let production = serve(limit).await;
    let cases = tokio::task::spawn_blocking(move || run_cases(production)).await.unwrap();
    let failed: Vec<&Case> = cases.iter().filter(|c| !c.passed()).collect();
    assert!(!failed.is_empty(), "the suite has messages over {limit} bytes, which must be refused");
    let wrong: Vec<&&Case> = failed.iter().filter(|c| c.remote_close_code != Some(1009)).collect();
    assert!(wrong.is_empty(), "cases that failed otherwise than with 1009: {wrong:#?}");
    println!(
        "{} cases; at the {limit}-byte limit {} fail, each closed with 1009: {}",
        cases.len(),
        failed.len(),
        failed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(" ")
    );
}
