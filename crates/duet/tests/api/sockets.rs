//! The status socket with a real WebSocket client: token in the query or the
//! subprotocol, Origin check, close codes, replacement, pushes of matches, timeouts,
//! room ends and bans, heartbeat, and the shutdown close.

use std::time::Duration;

use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::spawn_app;
use crate::ws::{close_code, expect_frame, next_frame};

#[tokio::test]
async fn the_status_socket_pushes_matches_and_status() {
    let app = spawn_app().await;
    let a = app.member("sock_a", "male", &["female"], &["friends"], &["film"]).await;
    let b = app.member("sock_b", "female", &["male"], &["friends"], &["film"]).await;
    let mut socket = app.status_socket(&a.access).await;
    let first = next_frame(&mut socket).await;
    assert_eq!(first, json!({ "type": "status_update", "status": "idle", "current_room_id": null }));
    assert_eq!(app.status(&a.access).await["online"], true, "online while the status socket is open");
    assert_eq!(app.status(&b.access).await["online"], false);

    app.search(&a.access, "chat").await;
    let searching = expect_frame(&mut socket, "status_update").await;
    assert_eq!(searching["status"], "searching");
    app.search(&b.access, "chat").await;
    let found = expect_frame(&mut socket, "match_found").await;
    let room = found["room_id"].as_i64().unwrap();
    assert_eq!(found["matched_user"]["nickname"], "Nick sock_b");
    assert!(found["matched_user"].get("username").is_none());
    assert_eq!(found["icebreaker"]["topic"], "film");
    let connected = expect_frame(&mut socket, "status_update").await;
    assert_eq!(connected["status"], "connected");
    assert_eq!(connected["current_room_id"], room);

    app.end_room(&b, room).await;
    let ended = expect_frame(&mut socket, "room_ended").await;
    assert_eq!(
        ended,
        json!({ "type": "room_ended", "room_id": room, "reason": "ended_by_user", "ended_by": b.id })
    );
    assert_eq!(expect_frame(&mut socket, "status_update").await["status"], "idle");

    socket.send(Message::Text(r#"{"type":"heartbeat"}"#.into())).await.unwrap();
    assert_eq!(next_frame(&mut socket).await, json!({ "type": "heartbeat" }));
    socket.send(Message::Text("nonsense".into())).await.unwrap();
    let error = next_frame(&mut socket).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "invalid_frame");
}

#[tokio::test]
async fn search_timeouts_are_pushed() {
    let app = spawn_app().await;
    let a = app.member("timer_a", "male", &["female"], &["friends"], &["film"]).await;
    let mut socket = app.status_socket(&a.access).await;
    next_frame(&mut socket).await;
    app.search(&a.access, "chat").await;
    app.advance(Duration::from_secs(300));
    expect_frame(&mut socket, "search_timeout").await;
    assert_eq!(expect_frame(&mut socket, "status_update").await["status"], "idle");
}

#[tokio::test]
async fn bad_tokens_close_with_4001_and_banned_users_with_4002() {
    let app = spawn_app().await;
    let mut socket = app.status_socket("not-a-token").await;
    assert_eq!(close_code(&mut socket).await, 4001);
    let url = format!("{}/ws/status", app.base.replace("http://", "ws://"));
    let mut socket = tokio_tungstenite::connect_async(url).await.unwrap().0;
    assert_eq!(close_code(&mut socket).await, 4001, "no token at all");

    let admin = app.admin("socket_admin").await;
    let user = app.signup("to_ban").await;
    let mut open = app.status_socket(&user.access).await;
    next_frame(&mut open).await;
    app.post_json(
        &format!("/admin/users/{}/ban", user.id),
        json!({ "days": 1, "reason": "x" }),
        Some(&admin.access),
    )
    .await;
    let banned = expect_frame(&mut open, "banned").await;
    assert!(banned["until"].is_string());
    assert_eq!(close_code(&mut open).await, 4002, "a ban closes the open socket");
    let mut again = app.status_socket(&user.access).await;
    assert_eq!(close_code(&mut again).await, 4002, "and refuses new ones");
}

#[tokio::test]
async fn the_token_may_travel_as_a_subprotocol() {
    let app = spawn_app().await;
    let user = app.signup("subprotocol").await;
    let mut request =
        format!("{}/ws/status", app.base.replace("http://", "ws://")).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", format!("bearer, {}", user.access).parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("the socket opens");
    assert_eq!(response.headers()["sec-websocket-protocol"], "bearer");
    assert_eq!(next_frame(&mut socket).await["type"], "status_update");
}

#[tokio::test]
async fn foreign_origins_are_refused_before_the_upgrade() {
    let app = spawn_app().await;
    let user = app.signup("origin").await;
    let url = format!("{}/ws/status?token={}", app.base.replace("http://", "ws://"), user.access);
    let mut request = url.clone().into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("origin", app.base.parse().unwrap());
    let (mut socket, _) =
        tokio_tungstenite::connect_async(request).await.expect("the server's own origin is fine");
    assert_eq!(next_frame(&mut socket).await["type"], "status_update");
}

#[tokio::test]
async fn a_newer_socket_replaces_the_older_with_4007() {
    let app = spawn_app().await;
    let user = app.signup("twice").await;
    let mut first = app.status_socket(&user.access).await;
    next_frame(&mut first).await;
    let mut second = app.status_socket(&user.access).await;
    next_frame(&mut second).await;
    assert_eq!(close_code(&mut first).await, 4007);
    assert_eq!(app.status(&user.access).await["online"], true, "the newer one stays");
    second.send(Message::Text(r#"{"type":"heartbeat"}"#.into())).await.unwrap();
    assert_eq!(next_frame(&mut second).await["type"], "heartbeat");
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let user = app.signup("goodbye").await;
    let mut socket = app.status_socket(&user.access).await;
    next_frame(&mut socket).await;
    app.state.shutdown.trigger();
    assert_eq!(close_code(&mut socket).await, 1001);
}

#[tokio::test]
async fn logout_closes_the_status_socket_with_4001() {
    let app = spawn_app().await;
    let user = app.signup("logging_out").await;
    let mut socket = app.status_socket(&user.access).await;
    next_frame(&mut socket).await;
    app.post_json("/auth/logout", json!({}), Some(&user.access)).await;
    assert_eq!(close_code(&mut socket).await, 4001);
}

#[tokio::test]
async fn frames_over_the_limit_close_with_1009() {
    let app = crate::helpers::spawn_app_with(&["--max-frame-bytes=1KiB"]).await;
    let user = app.signup("too_big").await;
    let mut socket = app.status_socket(&user.access).await;
    next_frame(&mut socket).await;
    let big = format!(r#"{{"type":"heartbeat","padding":"{}"}}"#, "x".repeat(2048));
    socket.send(Message::Text(big.into())).await.unwrap();
    assert_eq!(close_code(&mut socket).await, 1009);
}

#[tokio::test]
async fn junk_on_the_status_socket_closes_it_with_4008_but_heartbeats_never_do() {
    let app = crate::helpers::spawn_app_with(&["--max-invalid-frames=3"]).await;
    let a = app.signup("junky").await;
    let mut socket = app.status_socket(&a.access).await;
    next_frame(&mut socket).await;
    for _ in 0..30 {
        socket.send(Message::Text(r#"{"type":"heartbeat"}"#.into())).await.unwrap();
        assert_eq!(next_frame(&mut socket).await["type"], "heartbeat");
    }
    socket.send(Message::Text("junk".into())).await.unwrap();
    assert_eq!(next_frame(&mut socket).await["code"], "invalid_frame");
    socket.send(Message::Binary(vec![0].into())).await.unwrap();
    assert_eq!(next_frame(&mut socket).await["code"], "invalid_frame");
    socket.send(Message::Text(r#"{"type":"message"}"#.into())).await.unwrap();
    assert_eq!(close_code(&mut socket).await, 4008);
}
