//! Voice calls on the chat socket: every transition and refusal, the relay of
//! `rtc_signal` to the partner only, its size limit and budget, the ring timeout and
//! the reconnect grace on the test clock, the end with the room (and the records'
//! erasure), the metrics, and `/rtc/config`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{fresh_postgres_database, spawn_app, spawn_app_with, ServerProcess, Session, TestApp};
use crate::remote::{self, chat, member};
use crate::ws::{expect_frame, next_frame, send, Socket};
use duet::ids::RoomId;

/// Two matched people with their chat sockets open (connection frames and presence
/// read): both sessions, the room and both sockets.
async fn in_room(app: &TestApp, tag: &str) -> (Session, Session, i64, Socket, Socket) {
    let (a, b, room) = app.pair(tag).await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    let mut sb = app.chat_socket(&b, room, 0).await;
    assert_eq!(next_frame(&mut sb).await["type"], "connection");
    expect_frame(&mut sa, "presence").await;
    (a, b, room, sa, sb)
}

/// As [`in_room`], with a call that a started and b answered (both sockets have read
/// its `ringing` and `active`).
async fn in_call(app: &TestApp, tag: &str) -> (Session, Session, i64, Socket, Socket) {
    let (a, b, room, mut sa, mut sb) = in_room(app, tag).await;
    send(&mut sa, json!({ "type": "call_start" })).await;
    assert_eq!(call_state(&mut sb).await["state"], "ringing");
    send(&mut sb, json!({ "type": "call_answer", "accept": true })).await;
    assert_eq!(call_state(&mut sb).await["state"], "active");
    assert_eq!(call_state(&mut sa).await["state"], "ringing");
    assert_eq!(call_state(&mut sa).await["state"], "active");
    (a, b, room, sa, sb)
}

async fn call_state(socket: &mut Socket) -> Value {
    expect_frame(socket, "call_state").await
}

async fn error_code(socket: &mut Socket) -> Value {
    expect_frame(socket, "error").await["code"].clone()
}

#[tokio::test]
async fn a_call_rings_connects_relays_signals_and_hangs_up() {
    let app = spawn_app().await;
    let (a, b, room, mut sa, mut sb) = in_room(&app, "call").await;
    let (a, b) = (a.id, b.id);

    send(&mut sa, json!({ "type": "call_start" })).await;
    for socket in [&mut sa, &mut sb] {
        let ringing = call_state(socket).await;
        assert_eq!(ringing["state"], "ringing");
        assert_eq!(
            (ringing["call_id"].as_i64(), ringing["caller_id"].as_i64(), ringing["by"].as_i64()),
            (Some(1), Some(a), Some(a))
        );
        assert!(ringing.get("reason").is_none());
    }
    // Signals flow while it rings (an early offer), to the partner only.
    let offer = json!({ "type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" });
    send(&mut sa, json!({ "type": "rtc_signal", "payload": offer })).await;
    let relayed = expect_frame(&mut sb, "rtc_signal").await;
    assert_eq!(relayed, json!({ "type": "rtc_signal", "call_id": 1, "from": a, "payload": offer }));

    send(&mut sb, json!({ "type": "call_answer", "accept": true })).await;
    for socket in [&mut sa, &mut sb] {
        let active = call_state(socket).await;
        assert_eq!((active["state"].as_str(), active["by"].as_i64()), (Some("active"), Some(b)));
    }
    let candidate =
        json!({ "candidate": "candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host", "sdpMid": "0" });
    send(&mut sb, json!({ "type": "rtc_signal", "payload": candidate })).await;
    assert_eq!(expect_frame(&mut sa, "rtc_signal").await["payload"], candidate);

    send(&mut sa, json!({ "type": "call_mute", "muted": true })).await;
    assert_eq!(
        expect_frame(&mut sb, "call_mute").await,
        json!({ "type": "call_mute", "user_id": a, "muted": true })
    );

    // The sender heard neither its own signal nor its own mute: its next frame is the
    // hang-up.
    send(&mut sb, json!({ "type": "call_end" })).await;
    let ended = next_frame(&mut sa).await;
    assert_eq!((ended["type"].as_str(), ended["state"].as_str()), (Some("call_state"), Some("ended")));
    assert_eq!((ended["reason"].as_str(), ended["by"].as_i64()), (Some("hangup"), Some(b)));
    assert_eq!(call_state(&mut sb).await["reason"], "hangup");

    // The record is kept while the room lives, then erased with its messages.
    let (open, count) = app.state.store.room_calls(RoomId(room)).await.unwrap();
    assert_eq!((open, count), (None, 1));
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("duet_calls_started_total 1"), "{metrics}");
    assert!(metrics.contains(r#"duet_calls_ended_total{reason="hangup"} 1"#), "{metrics}");
    assert!(metrics.contains("duet_call_duration_seconds_count 1"), "{metrics}");
    let admin = app.admin("call_admin").await;
    let dashboard: Value = app.get("/admin/dashboard", Some(&admin.access)).await.json().await.unwrap();
    let calls = &dashboard["calls"];
    assert_eq!(
        (calls["active"].as_i64(), calls["started"].as_u64(), calls["answered"].as_u64()),
        (Some(0), Some(1), Some(1))
    );
    assert_eq!((calls["ended"]["hangup"].as_u64(), calls["ended"]["missed"].as_u64()), (Some(1), Some(0)));
}

#[tokio::test]
async fn call_frames_are_refused_when_they_do_not_fit_the_call() {
    let app = spawn_app().await;
    let (_, _, _, mut sa, mut sb) = in_room(&app, "refuse").await;
    send(&mut sa, json!({ "type": "call_answer", "accept": true })).await;
    assert_eq!(error_code(&mut sa).await, "no_call");
    send(&mut sa, json!({ "type": "call_end" })).await;
    assert_eq!(error_code(&mut sa).await, "no_call");
    send(&mut sa, json!({ "type": "call_mute", "muted": true })).await;
    assert_eq!(error_code(&mut sa).await, "no_call");
    send(&mut sa, json!({ "type": "rtc_signal", "payload": { "type": "offer", "sdp": "x" } })).await;
    assert_eq!(error_code(&mut sa).await, "no_call");

    send(&mut sa, json!({ "type": "call_start" })).await;
    call_state(&mut sa).await;
    call_state(&mut sb).await;
    send(&mut sa, json!({ "type": "call_start" })).await;
    assert_eq!(error_code(&mut sa).await, "call_busy");
    send(&mut sb, json!({ "type": "call_start" })).await;
    assert_eq!(error_code(&mut sb).await, "call_busy");
    send(&mut sa, json!({ "type": "call_answer", "accept": true })).await;
    assert_eq!(error_code(&mut sa).await, "not_callee");

    // Payloads: a JSON object of at most 8 KiB.
    let big = "x".repeat(8 * 1024);
    send(&mut sa, json!({ "type": "rtc_signal", "payload": { "sdp": big } })).await;
    assert_eq!(error_code(&mut sa).await, "invalid_signal");
    send(&mut sa, json!({ "type": "rtc_signal", "payload": "offer" })).await;
    assert_eq!(error_code(&mut sa).await, "invalid_signal");

    send(&mut sb, json!({ "type": "call_answer", "accept": true })).await;
    assert_eq!(call_state(&mut sb).await["state"], "active");
    send(&mut sb, json!({ "type": "call_answer", "accept": false })).await;
    assert_eq!(error_code(&mut sb).await, "not_ringing");
    // None of it reached the partner as a signal.
    send(&mut sb, json!({ "type": "call_end" })).await;
    let next = expect_frame(&mut sa, "call_state").await;
    assert_eq!(next["state"], "active");
    assert_eq!(call_state(&mut sa).await["state"], "ended");
}

#[tokio::test]
async fn a_declined_call_ends_declined() {
    let app = spawn_app().await;
    let (_, b, _, mut sa, mut sb) = in_room(&app, "decline").await;
    let b = b.id;
    send(&mut sa, json!({ "type": "call_start" })).await;
    call_state(&mut sb).await;
    send(&mut sb, json!({ "type": "call_answer", "accept": false })).await;
    call_state(&mut sa).await;
    let ended = call_state(&mut sa).await;
    assert_eq!(
        (ended["state"].as_str(), ended["reason"].as_str(), ended["by"].as_i64()),
        (Some("ended"), Some("declined"), Some(b))
    );
}

#[tokio::test]
async fn an_unanswered_call_is_missed_after_the_ring_timeout() {
    let app = spawn_app().await;
    let (_, _, _, mut sa, mut sb) = in_room(&app, "missed").await;
    send(&mut sa, json!({ "type": "call_start" })).await;
    call_state(&mut sa).await;
    call_state(&mut sb).await;
    app.advance(Duration::from_secs(29));
    app.advance(Duration::from_secs(2));
    for socket in [&mut sa, &mut sb] {
        let ended = call_state(socket).await;
        assert_eq!((ended["reason"].as_str(), ended["by"].as_i64()), (Some("missed"), None));
    }
    // Too late to answer.
    send(&mut sb, json!({ "type": "call_answer", "accept": true })).await;
    assert_eq!(error_code(&mut sb).await, "no_call");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"duet_calls_ended_total{reason="missed"} 1"#), "{metrics}");
    assert!(
        metrics.contains("duet_call_duration_seconds_count 0"),
        "a missed call has no duration: {metrics}"
    );
}

#[tokio::test]
async fn a_call_survives_a_reconnect_within_the_grace_and_ends_after_it() {
    let app = spawn_app().await;
    let (a, b, room, mut sa, mut sb) = in_call(&app, "grace").await;
    send(&mut sb, json!({ "type": "call_mute", "muted": true })).await;
    expect_frame(&mut sa, "call_mute").await;

    // b's socket drops and comes back after 10 s: the call goes on, and the new
    // socket learns where it stands.
    drop(sb);
    expect_frame(&mut sa, "presence").await;
    app.advance(Duration::from_secs(10));
    let mut sb = app.chat_socket(&b, room, 0).await;
    let connection = next_frame(&mut sb).await;
    let call = &connection["call"];
    assert_eq!(
        (call["call_id"].as_i64(), call["state"].as_str(), call["caller_id"].as_i64()),
        (Some(1), Some("active"), Some(a.id))
    );
    assert_eq!((call["muted"].as_bool(), call["partner_muted"].as_bool()), (Some(true), Some(false)));
    assert!(call["answered_at"].is_string());
    app.advance(Duration::from_secs(10));
    send(&mut sb, json!({ "type": "heartbeat" })).await;
    expect_frame(&mut sb, "heartbeat").await;

    // This time it stays away longer than 15 s.
    drop(sb);
    expect_frame(&mut sa, "presence").await;
    // The socket's close reaches the owner asynchronously: wait until the room has it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.advance(Duration::from_secs(16));
    let ended = call_state(&mut sa).await;
    assert_eq!((ended["reason"].as_str(), ended["by"].as_i64()), (Some("disconnected"), Some(b.id)));
    let mut sb = app.chat_socket(&b, room, 0).await;
    assert!(next_frame(&mut sb).await["call"].is_null());
}

#[tokio::test]
async fn the_end_of_the_room_ends_its_call_and_erases_the_records() {
    let app = spawn_app().await;
    let (_, b, room, mut sa, _sb) = in_call(&app, "roomend").await;
    assert_eq!(app.state.store.room_calls(RoomId(room)).await.unwrap().1, 1);

    assert_eq!(app.end_room(&b, room).await.status(), StatusCode::OK);
    let ended = call_state(&mut sa).await;
    assert_eq!((ended["reason"].as_str(), ended["by"].as_i64()), (Some("room_ended"), None));
    assert_eq!(next_frame(&mut sa).await["type"], "room_ended", "the call's end comes first");
    assert_eq!(app.state.store.room_calls(RoomId(room)).await.unwrap(), (None, 0), "erased with the room");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"duet_calls_ended_total{reason="room_ended"} 1"#), "{metrics}");
}

#[tokio::test]
async fn trickle_ice_has_its_own_budget() {
    // The chat rate allows a burst of 20 frames; a call's 40 candidates all pass, and
    // the chat budget is untouched by them.
    let app = spawn_app().await;
    let (_, _, _, mut sa, mut sb) = in_room(&app, "budget").await;
    send(&mut sa, json!({ "type": "call_start" })).await;
    call_state(&mut sb).await;
    for i in 0..40 {
        send(&mut sa, json!({ "type": "rtc_signal", "payload": { "candidate": format!("c{i}") } })).await;
    }
    for i in 0..40 {
        let frame = next_frame(&mut sb).await;
        assert_eq!(frame["type"], "rtc_signal", "{frame}");
        assert_eq!(frame["payload"]["candidate"], format!("c{i}"));
    }
    send(&mut sa, json!({ "type": "message", "content": "still here", "client_id": "m1" })).await;
    let ack = expect_frame(&mut sa, "ack").await;
    assert_eq!(ack["client_id"], "m1");
}

#[tokio::test]
async fn rtc_config_has_no_servers_by_default() {
    let app = spawn_app().await;
    let session = app.signup("rtc_none").await;
    assert_eq!(app.get("/rtc/config", None).await.status(), StatusCode::UNAUTHORIZED);
    let config: Value = app.get("/rtc/config", Some(&session.access)).await.json().await.unwrap();
    assert_eq!(
        config,
        json!({ "ice_servers": [], "ice_transport_policy": "all", "credentials_expire_at": null })
    );
}

#[tokio::test]
async fn rtc_config_derives_short_lived_turn_credentials() {
    let app = spawn_app_with(&[
        "--ice-servers=stun:stun.example.net:3478,turn:turn.example.net:3478?transport=udp,turns:turn.example.net:5349",
        "--turn-secret=north-wind",
        "--turn-credential-ttl=10m",
    ])
    .await;
    let session = app.signup("rtc_turn").await;
    let config: Value = app.get("/rtc/config", Some(&session.access)).await.json().await.unwrap();
    assert_eq!(config["ice_transport_policy"], "relay");
    let servers = config["ice_servers"].as_array().unwrap();
    assert_eq!(servers[0], json!({ "urls": ["stun:stun.example.net:3478"] }));
    assert_eq!(
        servers[1]["urls"],
        json!(["turn:turn.example.net:3478?transport=udp", "turns:turn.example.net:5349"])
    );
    let username = servers[1]["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, session.id.to_string());
    let expiry: i64 = expiry.parse().unwrap();
    let now = duet::clock::Clock::now(&*app.clock).as_millis() / 1000;
    assert!((now + 590..=now + 600).contains(&expiry), "{expiry} vs {now}");
    // The password is the HMAC of the username under the secret, never the secret.
    let expected = duet::auth::turn_credentials(
        b"north-wind",
        duet::ids::UserId(session.id),
        duet::clock::Timestamp::from_millis(expiry * 1000),
    );
    assert_eq!(servers[1]["credential"], expected.credential);
    assert!(!config.to_string().contains("north-wind"));
}

#[tokio::test]
async fn a_call_outlives_a_restart_of_the_server() {
    // The audio goes peer to peer: a restart closes the sockets but not the call, which
    // is reloaded with its room and ends only if nobody is back within the grace.
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_postgres_database().await;
    let mut args = vec![format!("--data-dir={}", dir.path().display())];
    if let Some(db) = &database {
        args.push(format!("--database-url={}", db.url));
        args.push(format!("--jwt-secret={}", crate::helpers::SECRET));
    }
    let (server, addr) = ServerProcess::start(&args);
    let client = reqwest::Client::new();
    let (a, a_id) = member(&client, &addr, ("restart_a", None), "male", "female").await;
    let (b, b_id) = member(&client, &addr, ("restart_b", None), "female", "male").await;
    remote::call(&client, &addr, "/chat/search", Some(&a), json!({ "type": "voice" })).await;
    let matched = remote::call(&client, &addr, "/chat/search", Some(&b), json!({ "type": "voice" })).await;
    let room = matched["room_id"].as_i64().expect("matched");
    // As a client does, each socket waits for its `connection` frame, and a for b's
    // presence, before the call starts (as `in_room` does for the in-process server).
    let mut sa = chat(&addr, &a, room, 0).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    let mut sb = chat(&addr, &b, room, 0).await;
    assert_eq!(next_frame(&mut sb).await["type"], "connection");
    expect_frame(&mut sa, "presence").await;
    send(&mut sa, json!({ "type": "call_start" })).await;
    let ringing = call_state(&mut sb).await;
    assert_eq!(ringing["state"], "ringing", "{ringing}");
    let ringing = call_state(&mut sa).await;
    assert_eq!(ringing["state"], "ringing", "{ringing}");
    send(&mut sb, json!({ "type": "call_answer", "accept": true })).await;
    assert_eq!(call_state(&mut sa).await["state"], "active");
    server.terminate();

    let (_restarted, addr) = ServerProcess::start(&args);
    let mut sa = chat(&addr, &a, room, 0).await;
    let connection = next_frame(&mut sa).await;
    let call = &connection["call"];
    assert_eq!(
        (call["call_id"].as_i64(), call["state"].as_str(), call["caller_id"].as_i64()),
        (Some(1), Some("active"), Some(a_id))
    );
    let mut sb = chat(&addr, &b, room, 0).await;
    assert_eq!(next_frame(&mut sb).await["call"]["state"], "active");
    send(&mut sb, json!({ "type": "call_end" })).await;
    let ended = call_state(&mut sa).await;
    assert_eq!((ended["reason"].as_str(), ended["by"].as_i64()), (Some("hangup"), Some(b_id)));
}
