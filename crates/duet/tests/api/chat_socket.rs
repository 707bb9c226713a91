//! The chat socket with a real WebSocket client: checks and close codes, messages with
//! acks and idempotent retries, typing and read marks, presence, resume with
//! `after_seq`, like rounds, the end of the room, limits, and a many-room stress run
//! with zero loss, zero duplicates and per-room order.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{spawn_app, spawn_app_with, Session, TestApp};
use crate::ws::{close_code, expect_frame, next_frame, send, Socket};
use duet::ids::RoomId;

#[tokio::test]
async fn messages_are_acked_ordered_and_delivered_to_both() {
    let app = spawn_app().await;
    let (a, b, room) = app.pair("talk").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    let connection = next_frame(&mut sa).await;
    assert_eq!(connection["type"], "connection");
    assert_eq!(connection["room_id"], room);
    assert_eq!(connection["user_id"], a.id);
    assert_eq!(connection["last_seq"], 0);
    assert_eq!(connection["partner_online"], false, "b has no chat socket yet");
    let mut sb = app.chat_socket(&b, room, 0).await;
    let connection = next_frame(&mut sb).await;
    assert_eq!(connection["type"], "connection");
    assert_eq!(connection["partner_online"], true, "a is already here");
    let presence = expect_frame(&mut sa, "presence").await;
    assert_eq!(presence, json!({ "type": "presence", "user_id": b.id, "online": true }));

    send(&mut sa, json!({ "type": "message", "content": "  xin chào 👋  ", "client_id": "c-1" })).await;
    let ack = expect_frame(&mut sa, "ack").await;
    assert_eq!((ack["client_id"].as_str(), ack["seq"].as_i64()), (Some("c-1"), Some(1)));
    let mine = expect_frame(&mut sa, "message").await;
    let theirs = expect_frame(&mut sb, "message").await;
    assert_eq!(mine, theirs);
    assert_eq!(theirs["content"], "xin chào 👋");
    assert_eq!(theirs["nickname"], "Nick talk_a");
    assert_eq!(theirs["user_id"], a.id);
    assert_eq!(theirs["seq"], 1);

    // A retry is acked again with the original, and not delivered twice.
    send(&mut sa, json!({ "type": "message", "content": "xin chào 👋", "client_id": "c-1" })).await;
    let again = expect_frame(&mut sa, "ack").await;
    assert_eq!(again["message_id"], ack["message_id"]);
    // The same client id with other content is an error, not a retry.
    send(&mut sa, json!({ "type": "message", "content": "something else", "client_id": "c-1" })).await;
    assert_eq!(expect_frame(&mut sa, "error").await["code"], "invalid_message");
    send(&mut sb, json!({ "type": "message", "content": "<b>hi</b>" })).await;
    let next = expect_frame(&mut sa, "message").await;
    assert_eq!(
        (next["seq"].as_i64(), next["content"].as_str()),
        (Some(2), Some("<b>hi</b>")),
        "no duplicate of seq 1 came first"
    );

    send(&mut sa, json!({ "type": "typing", "is_typing": true })).await;
    assert_eq!(
        expect_frame(&mut sb, "typing").await,
        json!({ "type": "typing", "user_id": a.id, "is_typing": true })
    );
    send(&mut sb, json!({ "type": "read", "up_to_seq": 2 })).await;
    assert_eq!(
        expect_frame(&mut sa, "read").await,
        json!({ "type": "read", "user_id": b.id, "up_to_seq": 2 })
    );
    send(&mut sa, json!({ "type": "heartbeat" })).await;
    assert_eq!(expect_frame(&mut sa, "heartbeat").await, json!({ "type": "heartbeat" }));
    send(&mut sa, json!({ "type": "message", "content": "   " })).await;
    assert_eq!(expect_frame(&mut sa, "error").await["code"], "invalid_message");

    // Messages are stored: the history endpoint has them in order.
    let page: Value =
        app.get(&format!("/chat/room/{room}/messages"), Some(&a.access)).await.json().await.unwrap();
    assert_eq!(page["last_seq"], 2);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("duet_messages_relayed_total 2"), "{metrics}");
    assert!(metrics.contains("duet_message_relay_latency_seconds_count 2"), "{metrics}");
    assert!(metrics.contains(r#"duet_open_sockets{kind="chat"} 2"#), "{metrics}");
}

#[tokio::test]
async fn a_reconnect_resumes_after_the_last_seen_seq() {
    let app = spawn_app().await;
    let (a, b, room) = app.pair("resume").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    for i in 1..=5 {
        send(&mut sa, json!({ "type": "message", "content": format!("m{i}"), "client_id": format!("c{i}") }))
            .await;
        expect_frame(&mut sa, "ack").await;
    }
    let mut sb = app.chat_socket(&b, room, 2).await;
    let connection = next_frame(&mut sb).await;
    assert_eq!(connection["last_seq"], 5);
    for seq in 3..=5 {
        let m = next_frame(&mut sb).await;
        assert_eq!((m["type"].as_str(), m["seq"].as_i64()), (Some("message"), Some(seq)));
    }
    send(&mut sa, json!({ "type": "message", "content": "live" })).await;
    let live = expect_frame(&mut sb, "message").await;
    assert_eq!(live["seq"], 6);
    // A client claiming to have seen more than exists still gets what comes next.
    let mut ahead = app.chat_socket(&b, room, 99).await;
    assert_eq!(next_frame(&mut ahead).await["last_seq"], 6);
    send(&mut sa, json!({ "type": "message", "content": "after" })).await;
    assert_eq!(expect_frame(&mut ahead, "message").await["seq"], 7);
}

#[tokio::test]
async fn checks_close_with_the_spec_codes() {
    let app = spawn_app().await;
    let (a, b, room) = app.pair("codes").await;
    let stranger = app.member("codes_x", "female", &["male"], &["friends"], &["film"]).await;
    let bad = Session { access: "nope".into(), ..a.clone() };
    assert_eq!(close_code(&mut app.chat_socket(&bad, room, 0).await).await, 4001);
    assert_eq!(close_code(&mut app.chat_socket(&stranger, room, 0).await).await, 4003);
    assert_eq!(close_code(&mut app.chat_socket(&a, 999_999, 0).await).await, 4004);

    let mut first = app.chat_socket(&a, room, 0).await;
    next_frame(&mut first).await;
    let mut second = app.chat_socket(&a, room, 0).await;
    next_frame(&mut second).await;
    assert_eq!(close_code(&mut first).await, 4007);

    let mut sb = app.chat_socket(&b, room, 0).await;
    next_frame(&mut sb).await;
    app.end_room(&a, room).await;
    let ended = expect_frame(&mut sb, "room_ended").await;
    assert_eq!(ended["reason"], "ended_by_user");
    assert_eq!(ended["ended_by"], a.id, "the partner is told who ended the room");
    assert_eq!(close_code(&mut sb).await, 1000);
    assert_eq!(close_code(&mut second).await, 1000);
    assert_eq!(close_code(&mut app.chat_socket(&a, room, 0).await).await, 4005);
}

#[tokio::test]
async fn floods_are_rate_limited_and_junk_closes_with_4008() {
    let app = spawn_app_with(&["--msg-rate=1", "--msg-burst=3", "--max-invalid-frames=3"]).await;
    let (a, _b, room) = app.pair("flood").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    for _ in 0..4 {
        send(&mut sa, json!({ "type": "heartbeat" })).await;
    }
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let frame = next_frame(&mut sa).await;
        kinds.push(frame["code"].as_str().unwrap_or(frame["type"].as_str().unwrap()).to_owned());
    }
    assert_eq!(kinds, ["heartbeat", "heartbeat", "heartbeat", "rate_limited"]);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"duet_rate_limited_total{class="chat_frames"} 1"#), "{metrics}");

    let app = spawn_app_with(&["--max-invalid-frames=3"]).await;
    let (a, _b, room) = app.pair("junk").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    for text in ["not json", r#"{"type":"shout"}"#] {
        sa.send(Message::Text(text.into())).await.unwrap();
        assert_eq!(expect_frame(&mut sa, "error").await["code"], "invalid_frame", "a bad frame is not fatal");
    }
    sa.send(Message::Text(r#"{"type":"message"}"#.into())).await.unwrap();
    assert_eq!(close_code(&mut sa).await, 4008);
}

#[tokio::test]
async fn like_rounds_play_out_on_the_socket() {
    let app = spawn_app_with(&["--abandon-grace=6h", "--inactivity-timeout=6h", "--access-ttl=1d"]).await;
    let (a, b, room) = app.pair("sock_like").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    let mut sb = app.chat_socket(&b, room, 0).await;
    next_frame(&mut sb).await;
    app.advance(Duration::from_secs(300));
    let prompt = expect_frame(&mut sa, "like_prompt").await;
    assert_eq!(prompt["round"], 1);
    expect_frame(&mut sb, "like_prompt").await;
    send(&mut sa, json!({ "type": "like_response", "response": "yes" })).await;
    let answered = expect_frame(&mut sb, "like_response").await;
    assert_eq!(answered, json!({ "type": "like_response", "user_id": a.id, "answered": true }));
    send(&mut sa, json!({ "type": "like_response", "response": "no" })).await;
    assert_eq!(expect_frame(&mut sa, "error").await["code"], "already_answered");
    send(&mut sb, json!({ "type": "like_response", "response": "yes" })).await;
    let result = expect_frame(&mut sa, "like_result").await;
    assert_eq!((result["outcome"].as_str(), result["reveal_level"].as_i64()), (Some("mutual"), Some(1)));
    let reveal = expect_frame(&mut sb, "image_reveal").await;
    assert_eq!(reveal["reveal_level"], 1);
    for s in [&a, &b] {
        app.post_json(&format!("/chat/keep/{room}"), json!({ "keep_active": true }), Some(&s.access)).await;
    }
    assert_eq!(expect_frame(&mut sa, "room_kept").await, json!({ "type": "room_kept" }));
    assert_eq!(expect_frame(&mut sb, "room_kept").await, json!({ "type": "room_kept" }));
}

/// Many rooms at once, both participants sending at the same time: every message
/// arrives exactly once, in `seq` order, on both sockets, and is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rooms_lose_nothing_and_keep_order() {
    // SPEC scale: 200 rooms, 200 messages each (100 from each side), all at once.
    const ROOMS: usize = 200;
    const EACH: usize = 100;
    let app = std::sync::Arc::new(spawn_app_with(&["--msg-rate=1000", "--msg-burst=1000"]).await);
    let mut rooms = Vec::new();
    for r in 0..ROOMS {
        rooms.push(app.pair(&format!("stress{r}")).await);
    }
    let mut tasks = Vec::new();
    for (a, b, room) in rooms {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut sockets = [app.chat_socket(&a, room, 0).await, app.chat_socket(&b, room, 0).await];
            for s in &mut sockets {
                next_frame(s).await;
            }
            for i in 0..EACH {
                for (who, s) in sockets.iter_mut().enumerate() {
                    send(s, json!({ "type": "message", "content": format!("{who}:{i}"), "client_id": format!("{who}-{i}") })).await;
                }
            }
            for s in &mut sockets {
                let mut seqs = Vec::new();
                while seqs.len() < 2 * EACH {
                    let frame = next_frame(s).await;
                    if frame["type"] == "message" {
                        seqs.push(frame["seq"].as_i64().unwrap());
                    }
                }
                let expected: Vec<i64> = (1..=(2 * EACH) as i64).collect();
                assert_eq!(seqs, expected, "room {room}: every message once, in order");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_ban_closes_the_banned_users_socket_with_4002_and_ends_the_room() {
    let app = spawn_app().await;
    let admin = app.admin("chat_admin").await;
    let (a, b, room) = app.pair("banchat").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    let mut sb = app.chat_socket(&b, room, 0).await;
    next_frame(&mut sb).await;
    app.post_json(
        &format!("/admin/users/{}/ban", a.id),
        json!({ "days": 1, "reason": "x" }),
        Some(&admin.access),
    )
    .await;
    assert!(expect_frame(&mut sa, "banned").await["until"].is_string());
    assert_eq!(close_code(&mut sa).await, 4002);
    assert_eq!(expect_frame(&mut sb, "room_ended").await["reason"], "banned");
    assert_eq!(close_code(&mut sb).await, 1000);
    assert_eq!(close_code(&mut app.chat_socket(&a, room, 0).await).await, 4002, "and refused at connect");
}

#[tokio::test]
async fn shutdown_closes_chat_sockets_with_1001_and_big_frames_with_1009() {
    let app = spawn_app_with(&["--max-frame-bytes=1KiB"]).await;
    let (a, b, room) = app.pair("limits_sock").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    send(&mut sa, json!({ "type": "message", "content": "x".repeat(2000) })).await;
    assert_eq!(close_code(&mut sa).await, 1009);
    let mut sb = app.chat_socket(&b, room, 0).await;
    next_frame(&mut sb).await;
    app.state.shutdown.trigger();
    assert_eq!(close_code(&mut sb).await, 1001);
}

/// The reader drops its socket in the middle of a stream and resumes with the last
/// `seq` it saw, while the sender keeps sending: nothing is missed or doubled, also
/// for messages stored while the replay runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_in_the_middle_of_a_stream_misses_nothing() {
    const TOTAL: i64 = 150;
    let app = std::sync::Arc::new(spawn_app_with(&["--msg-rate=1000", "--msg-burst=1000"]).await);
    let (a, b, room) = app.pair("midstream").await;
    let mut reader = app.chat_socket(&b, room, 0).await;
    next_frame(&mut reader).await;
    let sender = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut sa = app.chat_socket(&a, room, 0).await;
            next_frame(&mut sa).await;
            for i in 0..TOTAL {
                send(
                    &mut sa,
                    json!({ "type": "message", "content": format!("m{i}"), "client_id": format!("c{i}") }),
                )
                .await;
                if i % 10 == 0 {
                    expect_frame(&mut sa, "ack").await;
                }
            }
            sa
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 30 {
        let frame = next_frame(&mut reader).await;
        if frame["type"] == "message" {
            seen.push(frame["seq"].as_i64().unwrap());
        }
    }
    drop(reader);
    let mut reader = app.chat_socket(&b, room, *seen.last().unwrap()).await;
    assert_eq!(next_frame(&mut reader).await["type"], "connection");
    while seen.len() < TOTAL as usize {
        let frame = next_frame(&mut reader).await;
        if frame["type"] == "message" {
            seen.push(frame["seq"].as_i64().unwrap());
        }
    }
    assert_eq!(seen, (1..=TOTAL).collect::<Vec<_>>(), "every message once, in order, across the reconnect");
    sender.await.unwrap();
}

#[tokio::test]
async fn logout_closes_the_users_chat_socket_with_4001_and_keeps_the_room() {
    let app = spawn_app().await;
    let (a, b, room) = app.pair("bye_chat").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    let mut sb = app.chat_socket(&b, room, 0).await;
    next_frame(&mut sb).await;
    app.post_json("/auth/logout", json!({}), Some(&a.access)).await;
    assert_eq!(close_code(&mut sa).await, 4001);
    // The partner's socket stays, and learns that a went away; the room goes on.
    assert_eq!(expect_frame(&mut sb, "presence").await["online"], false);
    let again = app.login("bye_chat_a").await;
    let mut back = app.chat_socket(&again, room, 0).await;
    assert_eq!(next_frame(&mut back).await["type"], "connection");
}

/// A chat socket opened with a tiny receive buffer, so that a client which stops
/// reading makes the server's writes block after a few frames.
async fn slow_chat(app: &TestApp, s: &Session, room: i64, after_seq: i64) -> Socket {
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/ws/chat/{room}?token={}&after_seq={after_seq}", s.access);
    tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap().0
}

/// Reads message frames until the socket closes; returns their seqs and the close code.
async fn read_until_close(socket: &mut Socket) -> (Vec<i64>, u16) {
    use futures_util::StreamExt;
    let mut seqs = Vec::new();
    loop {
        let next =
            tokio::time::timeout(Duration::from_secs(30), socket.next()).await.expect("frames keep coming");
        match next {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "message" {
                    seqs.push(frame["seq"].as_i64().unwrap());
                }
            }
            Some(Ok(Message::Close(frame))) => return (seqs, frame.map_or(1005, |f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_socket_that_falls_behind_is_closed_and_resumes_with_every_message_once() {
    // Long messages, so that a few hundred are more than the kernel buffers between the
    // server and a client that stopped reading (megabytes on loopback).
    let app = spawn_app_with(&["--max-message-chars=16000"]).await;
    let (a, b, room) = app.pair("laggard").await;
    let mut sa = slow_chat(&app, &a, room, 0).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    // B's messages pile up while A reads nothing: the server's writes to A block, A's
    // push queue fills and the broker drops it.
    let total = 600;
    let text = "x".repeat(15_000);
    for i in 0..total {
        let content = format!("{i} {text}");
        app.state.rooms.post_message(RoomId(room), duet::ids::UserId(b.id), None, content).await.unwrap();
    }
    let (first, code) = read_until_close(&mut sa).await;
    assert_eq!(code, 1001, "a socket that fell behind closes with 1001 (going away)");
    assert!(
        (first.len() as i64) < total,
        "the socket was dropped before the end ({} of {total})",
        first.len()
    );
    let expected: Vec<i64> = (1..=first.len() as i64).collect();
    assert_eq!(first, expected, "what it sent before closing has no gap and no duplicate");
    // Resuming from what the client has shows the rest, each once, then live traffic.
    let resume_from = *first.last().unwrap_or(&0);
    let mut sa = app.chat_socket(&a, room, resume_from).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    let mut rest = Vec::new();
    while rest.len() < (total - resume_from) as usize {
        rest.push(expect_frame(&mut sa, "message").await["seq"].as_i64().unwrap());
    }
    assert_eq!(rest, ((resume_from + 1)..=total).collect::<Vec<_>>());
    app.state.rooms.post_message(RoomId(room), duet::ids::UserId(b.id), None, "live".into()).await.unwrap();
    let live = expect_frame(&mut sa, "message").await;
    assert_eq!((live["seq"].as_i64(), live["content"].as_str()), (Some(total + 1), Some("live")));
}

#[tokio::test]
async fn errors_about_a_message_carry_its_client_id() {
    let app = spawn_app().await;
    let (a, _b, room) = app.pair("errid").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    send(&mut sa, json!({ "type": "message", "content": "   ", "client_id": "blank-1" })).await;
    let error = expect_frame(&mut sa, "error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_id"].as_str()),
        (Some("invalid_message"), Some("blank-1"))
    );
}

#[tokio::test]
async fn client_ids_are_bounded_and_a_retry_long_after_is_answered_by_the_store() {
    let app = spawn_app_with(&["--msg-rate=1000", "--msg-burst=1000"]).await;
    let (a, _b, room) = app.pair("idem").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    // Too long, or characters outside the safe set: refused, and not echoed back.
    for bad in ["x".repeat(65), "has space".into(), "".into()] {
        send(&mut sa, json!({ "type": "message", "content": "hi", "client_id": bad })).await;
        let error = expect_frame(&mut sa, "error").await;
        assert_eq!((error["code"].as_str(), &error["client_id"]), (Some("invalid_message"), &Value::Null));
    }
    let longest = "x".repeat(64);
    send(&mut sa, json!({ "type": "message", "content": "first", "client_id": longest })).await;
    assert_eq!(expect_frame(&mut sa, "ack").await["seq"], 1);
    // Many messages later (the owner remembers no client ids), a retry of the first
    // gets its original ack and stores nothing.
    for i in 0..300 {
        send(
            &mut sa,
            json!({ "type": "message", "content": format!("m{i}"), "client_id": format!("m-{i}") }),
        )
        .await;
        expect_frame(&mut sa, "ack").await;
    }
    send(&mut sa, json!({ "type": "message", "content": "first", "client_id": longest })).await;
    let ack = expect_frame(&mut sa, "ack").await;
    assert_eq!((ack["seq"].as_i64(), ack["client_id"].as_str()), (Some(1), Some(longest.as_str())));
    send(&mut sa, json!({ "type": "message", "content": "other", "client_id": longest })).await;
    assert_eq!(expect_frame(&mut sa, "error").await["code"], "invalid_message");
    send(&mut sa, json!({ "type": "message", "content": "next", "client_id": "after" })).await;
    assert_eq!(expect_frame(&mut sa, "ack").await["seq"], 302, "numbering carries on without a gap");
}

#[tokio::test]
async fn binary_frames_and_floods_far_over_the_rate_close_with_4008() {
    let app = spawn_app_with(&["--msg-rate=1", "--msg-burst=2", "--max-invalid-frames=3"]).await;
    let (a, _b, room) = app.pair("abuse").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    for _ in 0..2 {
        sa.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
        assert_eq!(expect_frame(&mut sa, "error").await["code"], "invalid_frame");
    }
    sa.send(Message::Binary(vec![4].into())).await.unwrap();
    assert_eq!(close_code(&mut sa).await, 4008, "the third binary frame closes");

    let mut sa = app.chat_socket(&a, room, 0).await;
    next_frame(&mut sa).await;
    // The burst passes, then each frame over the rate is a strike.
    for _ in 0..5 {
        send(&mut sa, json!({ "type": "typing", "is_typing": true })).await;
    }
    let mut codes = Vec::new();
    loop {
        match sa.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                codes.push(frame["code"].as_str().unwrap_or_default().to_owned());
            }
            Some(Ok(Message::Close(Some(close)))) => {
                assert_eq!(u16::from(close.code), 4008);
                break;
            }
            other => panic!("expected frames, then 4008: {other:?}"),
        }
    }
    assert_eq!(codes, ["rate_limited", "rate_limited"], "two refusals answered, the third closes");
}

#[tokio::test]
async fn a_chat_socket_closes_with_4001_when_its_token_expires() {
    let app = spawn_app_with(&["--access-ttl=2s", "--refresh-ttl=1h"]).await;
    let (a, _b, room) = app.pair("expiry").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    assert_eq!(next_frame(&mut sa).await["type"], "connection");
    let closed = tokio::time::timeout(Duration::from_secs(10), close_code(&mut sa)).await;
    assert_eq!(closed.expect("closed once the token ran out"), 4001);
}

#[tokio::test]
async fn socket_upgrades_are_rate_limited_per_address() {
    let app = spawn_app_with(&["--rate-default=3/min"]).await;
    let url = format!("{}/ws/status?token=not-a-token", app.ws_base());
    for _ in 0..3 {
        let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.expect("upgraded");
        assert_eq!(close_code(&mut socket).await, 4001);
    }
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("the fourth upgrade is refused with 429: {other:?}"),
    }
}
