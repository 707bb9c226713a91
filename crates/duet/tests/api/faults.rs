//! Database and socket faults, driven by the [`FaultProxy`] between the server and
//! PostgreSQL: a COMMIT whose answer is lost, an unreachable database (readiness and
//! API calls fail fast with 503), and a stall that must not rate-limit a client
//! sending within its rate. These run on PostgreSQL only (`DUET_TEST_DATABASE_URL`,
//! set by CI's PostgreSQL run); without it they return at once.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::faultproxy::{Fault, FaultProxy};
use crate::helpers::{spawn_app_through_proxy, spawn_app_with, TestApp};
use crate::ws::{expect_frame, next_frame, send, Socket};

async fn through_proxy(test: &str, extra: &[&str]) -> Option<(TestApp, FaultProxy)> {
    let started = spawn_app_through_proxy(extra).await;
    if started.is_none() {
        eprintln!("{test}: DUET_TEST_DATABASE_URL is not set; this PostgreSQL fault test is not run");
    }
    started
}

/// Both chat sockets of a fresh pair, past their greetings.
async fn chatting(app: &TestApp, tag: &str) -> (Socket, Socket) {
    let (a, b, room) = app.pair(tag).await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    let mut sb = app.chat_socket(&b, room, 0).await;
    assert_eq!(next_frame(&mut sb).await["type"], "connection");
    expect_frame(&mut sa, "presence").await;
    (sa, sb)
}

fn message(content: &str, client_id: &str) -> Value {
    json!({ "type": "message", "content": content, "client_id": client_id })
}

#[tokio::test]
async fn a_commit_whose_answer_is_lost_leaves_the_room_working() {
    let Some((app, proxy)) = through_proxy("lost commit answer", &[]).await else { return };
    let (mut sa, mut sb) = chatting(&app, "lost").await;
    send(&mut sa, message("one", "c1")).await;
    assert_eq!(expect_frame(&mut sa, "ack").await["seq"], 1);
    assert_eq!(expect_frame(&mut sb, "message").await["seq"], 1);

    // The COMMIT of "two" reaches PostgreSQL, which commits it; its answer is lost and
    // the connection cut, so the server cannot know.
    proxy.drop_next_commit_reply();
    send(&mut sa, message("two", "c2")).await;
    let error = expect_frame(&mut sa, "error").await;
    assert_eq!(error["client_id"], "c2", "{error}");
    assert!(proxy.dropped_commit_reply(), "the proxy swallowed the answer to the COMMIT");

    // The partner gets the stored message live, once.
    let two = expect_frame(&mut sb, "message").await;
    assert_eq!((two["seq"].as_i64(), two["content"].as_str()), (Some(2), Some("two")), "{two}");

    // The retry gets the original's ack; nothing is stored twice.
    send(&mut sa, message("two", "c2")).await;
    let ack = expect_frame(&mut sa, "ack").await;
    assert_eq!((ack["client_id"].as_str(), ack["seq"].as_i64()), (Some("c2"), Some(2)), "{ack}");
    assert_eq!(ack["message_id"], two["message_id"], "the original's id");

    // The room carries on: the next message is numbered after the lost one.
    send(&mut sa, message("three", "c3")).await;
    let ack = expect_frame(&mut sa, "ack").await;
    assert_eq!((ack["client_id"].as_str(), ack["seq"].as_i64()), (Some("c3"), Some(3)), "{ack}");
    let three = expect_frame(&mut sb, "message").await;
    assert_eq!(
        (three["seq"].as_i64(), three["content"].as_str()),
        (Some(3), Some("three")),
        "no second copy of 2"
    );
}

/// Polls `/ready` until it answers `want`; the time the first such answer took.
async fn ready_becomes(app: &TestApp, want: StatusCode, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let asked = Instant::now();
        let status = app.get("/ready", None).await.status();
        if status == want {
            return asked.elapsed();
        }
        assert!(started.elapsed() < within, "/ready still answers {status}, not {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn ready_answers_503_within_two_seconds_while_the_database_does_not_answer() {
    let Some((app, proxy)) = through_proxy("ready in an outage", &[]).await else { return };
    assert_eq!(app.get("/ready", None).await.status(), StatusCode::OK);
    // A slow database that answers is not an outage.
    proxy.set(Fault::Latency(Duration::from_millis(50)));
    assert_eq!(app.get("/ready", None).await.status(), StatusCode::OK);
    proxy.set(Fault::None);
    for fault in [Fault::BlackHole, Fault::Pause, Fault::Reset] {
        proxy.set(fault);
        let asked = Instant::now();
        let response = app.get("/ready", None).await;
        let took = asked.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{fault:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "database_unavailable");
        // The check's own bound is 1 s; the margin is for two busy cores.
        assert!(took < Duration::from_secs(4), "{fault:?}: /ready took {took:?}");
        proxy.set(Fault::None);
        ready_becomes(&app, StatusCode::OK, Duration::from_secs(20)).await;
    }
}

#[tokio::test]
async fn api_calls_answer_503_database_unavailable_quickly_in_an_outage() {
    let Some((app, proxy)) = through_proxy("api in an outage", &[]).await else { return };
    let user = app.signup("outage").await;
    assert_eq!(app.profile(&user.access).await.status(), StatusCode::OK);
    for fault in [Fault::BlackHole, Fault::Reset] {
        proxy.set(fault);
        let mut answers = Vec::new();
        // The first call may be the one that finds the database gone; the ones after
        // it are answered at once.
        for _ in 0..3 {
            let asked = Instant::now();
            let response = app.profile(&user.access).await;
            let took = asked.elapsed();
            let retry_after = response.headers().get("retry-after").cloned();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{fault:?}");
            assert!(retry_after.is_some(), "{fault:?}: Retry-After is set");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "database_unavailable", "{fault:?}: {body}");
            answers.push(took);
        }
        // The pool's own wait is 10 s; these are bounded by the database timeout (1 s)
        // and the watchdog's second, with a margin for two busy cores.
        assert!(answers.iter().all(|t| *t < Duration::from_secs(6)), "{fault:?}: {answers:?}");
        proxy.set(Fault::None);
        ready_becomes(&app, StatusCode::OK, Duration::from_secs(20)).await;
        let started = Instant::now();
        loop {
            let status = app.profile(&user.access).await.status();
            if status == StatusCode::OK {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the API recovers ({status})");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test]
async fn a_client_within_its_rate_is_not_limited_after_a_five_second_database_stall() {
    stall_at_four_a_second(&[]).await;
}

/// With a burst too small to absorb the frames that waited in TCP while the socket did
/// not read, only the credit for the hold keeps them from being limited.
#[tokio::test]
async fn frames_held_back_by_a_stall_are_not_judged_as_a_burst() {
    stall_at_four_a_second(&["--msg-burst=2"]).await;
}

async fn stall_at_four_a_second(extra: &[&str]) {
    let Some((app, proxy)) = through_proxy("stall", extra).await else { return };
    let (sa, _sb) = chatting(&app, "stall").await;
    // 4 messages a second (the default rate is 5/s) for 12 s; the database stalls for
    // 5 s from the third second.
    let sent = 48;
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::unbounded_channel();
    let (mut write, mut read) = sa.split();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = read.next().await {
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frames_tx.send(frame).is_err() {
                    break;
                }
            }
        }
    });
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    for i in 0..sent {
        tick.tick().await;
        if i == 8 {
            proxy.set(Fault::Pause);
        }
        if i == 28 {
            proxy.set(Fault::None);
        }
        let frame = message(&format!("m{i}"), &format!("s{i}"));
        write.send(Message::Text(frame.to_string().into())).await.unwrap();
    }
    let mut acked = 0;
    let mut errors = Vec::new();
    while acked + errors.len() < sent {
        let frame = tokio::time::timeout(Duration::from_secs(15), frames_rx.recv())
            .await
            .expect("every message is answered")
            .expect("the socket stays open");
        match frame["type"].as_str() {
            Some("ack") => acked += 1,
            Some("error") => errors.push(frame),
            _ => {}
        }
    }
    assert!(errors.is_empty(), "no message within the rate is refused: {errors:?}");
    assert_eq!(acked, sent);
    reader.abort();
}

#[tokio::test]
async fn every_error_about_a_message_carries_its_client_id() {
    let app = spawn_app_with(&["--msg-rate=1", "--msg-burst=1", "--max-message-chars=10"]).await;
    let (mut sa, _sb) = chatting(&app, "ids").await;
    send(&mut sa, message("ok", "first")).await;
    assert_eq!(expect_frame(&mut sa, "ack").await["client_id"], "first");
    // Over the rate.
    send(&mut sa, message("too soon", "fast")).await;
    let error = expect_frame(&mut sa, "error").await;
    assert_eq!((error["code"].as_str(), error["client_id"].as_str()), (Some("rate_limited"), Some("fast")));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Too long.
    send(&mut sa, message("far too long for ten", "long")).await;
    let error = expect_frame(&mut sa, "error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_id"].as_str()),
        (Some("invalid_message"), Some("long"))
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A message frame that does not parse (content is not text) still names its id.
    send(&mut sa, json!({ "type": "message", "content": 5, "client_id": "typed" })).await;
    let error = expect_frame(&mut sa, "error").await;
    assert_eq!((error["code"].as_str(), error["client_id"].as_str()), (Some("invalid_frame"), Some("typed")));
}
