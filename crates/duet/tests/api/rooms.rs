//! Room life through the API and the lifecycle loop, with a manual clock: like rounds
//! and reveals, keep, inactivity, expiry, abandonment, messages, reports and the
//! automatic ban, admin room tools, and timers that fire after a restart.

use std::time::Duration;

use duet::clock::Clock;
use duet::events::Event;
use duet::ids::{RoomId, Seq, UserId};
use duet::room::{EndReason, LikeOutcome};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, expect_event, png, spawn_app_with, Session, TestApp};

/// Timers long enough not to interfere with the one under test, and access tokens
/// that outlive the clock jumps. Later flags override these.
const CALM: [&str; 5] = [
    "--abandon-grace=6h",
    "--inactivity-timeout=6h",
    "--room-max-age=12h",
    "--access-ttl=30d",
    "--refresh-ttl=60d",
];

async fn app_with(extra: &[&str]) -> TestApp {
    let mut args: Vec<&str> = CALM.to_vec();
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

/// The room as a participant sees it; the call must succeed.
async fn room_info(app: &TestApp, s: &Session, room: i64) -> Value {
    let response = app.get(&format!("/chat/room/{room}"), Some(&s.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn ended(room: i64) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::RoomEnded { room_id, .. } if *room_id == RoomId(room))
}

#[tokio::test]
async fn a_mutual_like_reveals_the_photo_step_by_step() {
    let app = app_with(&[]).await;
    let mut events = app.state.events.subscribe();
    let (a, b, room) = app.pair("likers").await;
    app.upload_avatar(&a.access, png(200, 200), "a.png").await;
    let body = error_of(app.like(&a, room, "yes").await, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "no_open_round");

    app.advance(Duration::from_secs(300));
    let prompt = expect_event(&mut events, |e| matches!(e, Event::LikePrompt { .. })).await;
    assert!(matches!(prompt, Event::LikePrompt { round: 1, .. }));
    let view: Value = app.get("/chat/current-room", Some(&b.access)).await.json().await.unwrap();
    assert_eq!(view["like_round"]["round"], 1);
    assert_eq!(view["like_round"]["answered"], false);
    let blurred_url = view["partner"]["avatar_url"].as_str().unwrap().to_owned();
    let blurred = app.get(&blurred_url, Some(&b.access)).await.bytes().await.unwrap();

    assert_eq!(app.like(&a, room, "yes").await.status(), StatusCode::OK);
    let answered = expect_event(&mut events, |e| matches!(e, Event::LikeAnswered { .. })).await;
    assert_eq!(
        answered,
        Event::LikeAnswered {
            room_id: RoomId(room),
            users: [UserId(a.id), UserId(b.id)],
            user: UserId(a.id)
        }
    );
    assert_eq!(
        error_of(app.like(&a, room, "no").await, StatusCode::CONFLICT).await["code"],
        "already_answered"
    );
    error_of(app.like(&a, room, "maybe").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.like(&b, room, "yes").await.status(), StatusCode::OK);
    let result = expect_event(&mut events, |e| matches!(e, Event::LikeResult { .. })).await;
    assert!(matches!(
        result,
        Event::LikeResult { round: 1, outcome: LikeOutcome::Mutual, reveal_level: 1, .. }
    ));
    expect_event(&mut events, |e| matches!(e, Event::ImageReveal { reveal_level: 1, .. })).await;

    let view: Value = app.get("/chat/current-room", Some(&b.access)).await.json().await.unwrap();
    assert_eq!(view["reveal_level"], 1);
    assert_eq!(view["like_round"], Value::Null);
    let semi_url = view["partner"]["avatar_url"].as_str().unwrap().to_owned();
    assert_ne!(semi_url, blurred_url, "a new reveal level is a new URL");
    let semi = app.get(&semi_url, Some(&b.access)).await.bytes().await.unwrap();
    assert_ne!(semi, blurred, "the photo is sharper at level 1");
}

#[tokio::test]
async fn two_rounds_without_a_match_end_the_room() {
    let app = app_with(&[]).await;
    let mut events = app.state.events.subscribe();
    let (a, b, room) = app.pair("nomatch").await;
    app.advance(Duration::from_secs(300));
    expect_event(&mut events, |e| matches!(e, Event::LikePrompt { round: 1, .. })).await;
    app.like(&a, room, "yes").await;
    app.advance(Duration::from_secs(60));
    let result = expect_event(&mut events, |e| matches!(e, Event::LikeResult { .. })).await;
    assert!(
        matches!(result, Event::LikeResult { outcome: LikeOutcome::NoMatch, reveal_level: 0, .. }),
        "silence is a no"
    );
    app.advance(Duration::from_secs(300));
    expect_event(&mut events, |e| matches!(e, Event::LikePrompt { round: 2, .. })).await;
    app.like(&a, room, "yes").await;
    app.like(&b, room, "no").await;
    let end = expect_event(&mut events, ended(room)).await;
    assert!(matches!(end, Event::RoomEnded { reason: EndReason::NoMutualLike, .. }));
    for s in [&a, &b] {
        assert_eq!(app.status(&s.access).await["status"], "idle");
    }
    let body = error_of(app.like(&a, room, "yes").await, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "room_ended");
    let keep =
        app.post_json(&format!("/chat/keep/{room}"), json!({ "keep_active": true }), Some(&b.access)).await;
    assert_eq!(error_of(keep, StatusCode::CONFLICT).await["code"], "room_ended");
}

#[tokio::test]
async fn a_kept_room_outlives_inactivity_but_not_its_maximum_age() {
    let app = app_with(&["--like-after=1h", "--inactivity-timeout=15m", "--room-max-age=3h"]).await;
    let mut events = app.state.events.subscribe();
    let (a, b, room) = app.pair("keepers").await;
    let view: Value = app
        .post_json(&format!("/chat/keep/{room}"), json!({ "keep_active": true }), Some(&a.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["keep"], json!({ "me": true, "partner": false }));
    assert_eq!(view["kept"], false);
    let view: Value = app
        .post_json(&format!("/chat/keep/{room}"), json!({ "keep_active": true }), Some(&b.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["kept"], true);
    expect_event(&mut events, |e| matches!(e, Event::RoomKept { .. })).await;

    app.advance(Duration::from_secs(20 * 60));
    let view = room_info(&app, &a, room).await;
    assert_eq!(view["end_reason"], Value::Null, "15 minutes of silence do not end a kept room");
    app.advance(Duration::from_secs(3 * 3600));
    let end = expect_event(&mut events, ended(room)).await;
    assert!(matches!(end, Event::RoomEnded { reason: EndReason::Expired, .. }));
}

#[tokio::test]
async fn a_silent_room_ends_as_inactive() {
    let app = app_with(&["--like-after=1h", "--inactivity-timeout=15m"]).await;
    let mut events = app.state.events.subscribe();
    let (a, _b, room) = app.pair("silent").await;
    app.advance(Duration::from_secs(14 * 60));
    app.state.rooms.post_message(RoomId(room), UserId(a.id), None, "still here?".into()).await.unwrap();
    app.advance(Duration::from_secs(14 * 60));
    let view = room_info(&app, &a, room).await;
    assert_eq!(view["end_reason"], Value::Null, "the message restarted the inactivity timer");
    app.advance(Duration::from_secs(61));
    let end = expect_event(&mut events, ended(room)).await;
    assert!(matches!(end, Event::RoomEnded { reason: EndReason::Inactive, .. }));
    // The owner's task ended with the room, and the registry forgot it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.state.rooms.load().2 != 0 {
        assert!(tokio::time::Instant::now() < deadline, "an ended room's owner is still listed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_room_nobody_uses_is_abandoned() {
    let app = app_with(&["--like-after=1h", "--abandon-grace=10m"]).await;
    let mut events = app.state.events.subscribe();
    let (_a, b, room) = app.pair("ghosts").await;
    app.advance(Duration::from_secs(5 * 60));
    // Using the room (until sockets exist, any room call) restarts the grace.
    assert_eq!(app.get("/chat/current-room", Some(&b.access)).await.status(), StatusCode::OK);
    app.advance(Duration::from_secs(6 * 60));
    assert_eq!(room_info(&app, &b, room).await["end_reason"], Value::Null);
    app.advance(Duration::from_secs(10 * 60 + 1));
    let end = expect_event(&mut events, ended(room)).await;
    assert!(matches!(end, Event::RoomEnded { reason: EndReason::Abandoned, .. }));
}

#[tokio::test]
async fn messages_page_by_seq_and_are_erased_with_the_room() {
    let app = app_with(&[]).await;
    let (a, b, room) = app.pair("talkers").await;
    for i in 1..=5 {
        let from = if i % 2 == 0 { UserId(b.id) } else { UserId(a.id) };
        let (message, fresh) = app
            .state
            .rooms
            .post_message(RoomId(room), from, Some(format!("c{i}")), format!("hello {i} 👋"))
            .await
            .unwrap();
        assert_eq!((message.seq, fresh), (Seq(i), true));
    }
    // A retry with the same client id is not stored twice.
    let (again, fresh) = app
        .state
        .rooms
        .post_message(RoomId(room), UserId(a.id), Some("c1".into()), "hello 1 👋".into())
        .await
        .unwrap();
    assert_eq!((again.seq, fresh), (Seq(1), false));

    let page: Value = app
        .get(&format!("/chat/room/{room}/messages?after_seq=1&limit=2"), Some(&b.access))
        .await
        .json()
        .await
        .unwrap();
    let seqs: Vec<i64> =
        page["items"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(page["last_seq"], 5);
    assert_eq!(page["items"][0]["content"], "hello 2 👋");
    for bad in ["limit=0", "limit=201", "after_seq=-1", "after_seq=x"] {
        error_of(
            app.get(&format!("/chat/room/{room}/messages?{bad}"), Some(&a.access)).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let stranger = app.member("eavesdropper", "female", &["male"], &["casual"], &["film"]).await;
    error_of(
        app.get(&format!("/chat/room/{room}/messages"), Some(&stranger.access)).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    app.end_room(&a, room).await;
    let page = app.get(&format!("/chat/room/{room}/messages"), Some(&a.access)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["items"], json!([]), "messages are erased when the room ends");
    let err =
        app.state.rooms.post_message(RoomId(room), UserId(a.id), None, "too late".into()).await.unwrap_err();
    assert!(matches!(err, duet::room::RoomError::Ended), "{err}");
}

#[tokio::test]
async fn reports_copy_evidence_once_per_reporter_and_room() {
    let app = app_with(&[]).await;
    let admin = app.admin("moderator").await;
    let (a, b, room) = app.pair("reporting").await;
    for i in 0..3 {
        app.state.rooms.post_message(RoomId(room), UserId(b.id), None, format!("rude {i}")).await.unwrap();
    }
    let path = format!("/chat/report/{room}");
    error_of(
        app.post_json(&path, json!({ "reason": "rudeness" }), Some(&a.access)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let response = app
        .post_json(&path, json!({ "reason": "harassment", "details": "see messages" }), Some(&a.access))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["evidence_messages"], 3);
    let body = error_of(
        app.post_json(&path, json!({ "reason": "spam" }), Some(&a.access)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(body["code"], "already_reported");

    // After the end the messages are gone: a report then carries no evidence.
    app.end_room(&a, room).await;
    let body: Value =
        app.post_json(&path, json!({ "reason": "other" }), Some(&b.access)).await.json().await.unwrap();
    assert_eq!(body["evidence_messages"], 0);

    let reports: Value = app.get("/admin/reports", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(reports["total"], 2);
    let first = &reports["items"][1];
    assert_eq!(first["reason"], "harassment");
    assert_eq!(first["reported_id"], b.id);
    assert_eq!(first["evidence"].as_array().unwrap().len(), 3);
    assert_eq!(first["evidence"][2]["content"], "rude 2");

    // Reported pairs never meet again, even after the cooldown.
    app.advance(Duration::from_secs(2 * 3600));
    app.search(&a.access, "chat").await;
    assert_eq!(app.search(&b.access, "chat").await.status(), StatusCode::ACCEPTED);
}

/// `reporter` reports `room`; the report's id.
async fn report(app: &TestApp, reporter: &Session, room: i64) -> i64 {
    let body: Value = app
        .post_json(&format!("/chat/report/{room}"), json!({ "reason": "harassment" }), Some(&reporter.access))
        .await
        .json()
        .await
        .unwrap();
    body["report_id"].as_i64().expect("filed")
}

/// The report with id `id`, as the admin list shows it.
async fn listed(app: &TestApp, admin: &Session, id: i64) -> Value {
    let reports: Value = app.get("/admin/reports?limit=100", Some(&admin.access)).await.json().await.unwrap();
    reports["items"].as_array().unwrap().iter().find(|r| r["id"] == id).expect("listed").clone()
}

#[tokio::test]
async fn report_evidence_is_erased_after_its_retention_counted_from_the_later_of_report_and_resolution() {
    // Tokens that outlast the 51 days this test moves through.
    let app = app_with(&["--evidence-retention=30d", "--access-ttl=90d", "--refresh-ttl=180d"]).await;
    let admin = app.admin("retainer").await;
    let (a, b, room) = app.pair("kept").await;
    app.state.rooms.post_message(RoomId(room), UserId(b.id), None, "evidence one".into()).await.unwrap();
    let open = report(&app, &a, room).await;
    let (c, d, room2) = app.pair("resolved").await;
    app.state.rooms.post_message(RoomId(room2), UserId(d.id), None, "evidence two".into()).await.unwrap();
    let resolved = report(&app, &c, room2).await;
    assert_eq!(listed(&app, &admin, open).await["state"], "open");

    // Resolved on day 20: its evidence is kept 30 days from then.
    app.advance(Duration::from_secs(20 * 86_400));
    let path = format!("/admin/reports/{resolved}/resolve");
    let body: Value =
        app.post_json(&path, json!({ "state": "actioned" }), Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(body["state"], "actioned");
    assert!(body["resolved_at"].is_string());
    for bad in [json!({ "state": "open" }), json!({})] {
        error_of(app.post_json(&path, bad, Some(&admin.access)).await, StatusCode::BAD_REQUEST).await;
    }
    let unknown =
        app.post_json("/admin/reports/999/resolve", json!({ "state": "dismissed" }), Some(&admin.access));
    error_of(unknown.await, StatusCode::NOT_FOUND).await;

    // Day 31: the open report's evidence is gone, the resolved one's kept.
    app.advance(Duration::from_secs(11 * 86_400));
    assert_eq!(app.state.moderation.purge_expired_evidence().await.unwrap(), 1);
    let gone = listed(&app, &admin, open).await;
    assert_eq!((gone["evidence"].clone(), gone["evidence_erased_at"].is_string()), (json!([]), true));
    assert_eq!(listed(&app, &admin, resolved).await["evidence"][0]["content"], "evidence two");
    // Day 51: that one too.
    app.advance(Duration::from_secs(20 * 86_400));
    assert_eq!(app.state.moderation.purge_expired_evidence().await.unwrap(), 1);
    assert_eq!(listed(&app, &admin, resolved).await["evidence"], json!([]));
    assert_eq!(app.state.moderation.purge_expired_evidence().await.unwrap(), 0, "each once");
}

#[tokio::test]
async fn a_deleted_account_leaves_its_messages_in_evidence_without_its_id() {
    let app = app_with(&[]).await;
    let admin = app.admin("redactor").await;
    let (a, b, room) = app.pair("redact").await;
    app.state.rooms.post_message(RoomId(room), UserId(a.id), None, "from a".into()).await.unwrap();
    app.state.rooms.post_message(RoomId(room), UserId(b.id), None, "from b".into()).await.unwrap();
    let id = report(&app, &a, room).await;
    let deleted = app
        .client
        .delete(app.url("/user/account"))
        .bearer_auth(&b.access)
        .json(&json!({ "password": crate::helpers::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let report = listed(&app, &admin, id).await;
    assert_eq!(report["reported_id"], b.id, "the report keeps the bare id");
    let evidence = report["evidence"].as_array().unwrap();
    let authors: Vec<(&Value, &Value)> = evidence.iter().map(|m| (&m["user_id"], &m["content"])).collect();
    assert_eq!(authors, [(&json!(a.id), &json!("from a")), (&Value::Null, &json!("from b"))]);
}

#[tokio::test]
async fn reports_close_after_the_window() {
    let app = app_with(&["--report-window=1h"]).await;
    let (a, _b, room) = app.pair("late").await;
    app.end_room(&a, room).await;
    app.advance(Duration::from_secs(3601));
    let body = error_of(
        app.post_json(&format!("/chat/report/{room}"), json!({ "reason": "spam" }), Some(&a.access)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(body["code"], "report_window_closed");
}

#[tokio::test]
async fn enough_distinct_reporters_ban_automatically() {
    let app = app_with(&["--autoban-reporters=2"]).await;
    let mut events = app.state.events.subscribe();
    let troll = app.member("troll", "male", &["female"], &["friends"], &["coffee"]).await;
    let mut last_room = 0;
    for i in 0..2 {
        let reporter =
            app.member(&format!("victim{i}"), "female", &["male"], &["friends"], &["coffee"]).await;
        app.search(&troll.access, "chat").await;
        let body: Value = app.search(&reporter.access, "chat").await.json().await.unwrap();
        let room = body["room_id"].as_i64().expect("matched");
        let response = app
            .post_json(&format!("/chat/report/{room}"), json!({ "reason": "spam" }), Some(&reporter.access))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        if i == 0 {
            app.end_room(&reporter, room).await;
            assert_eq!(
                app.profile(&troll.access).await.status(),
                StatusCode::OK,
                "one reporter is not enough"
            );
        }
        last_room = room;
    }
    // The ban is announced (closing the troll's sockets with 4002), then the room ends.
    expect_event(&mut events, |e| matches!(e, Event::Banned { user, .. } if *user == UserId(troll.id))).await;
    let end = expect_event(&mut events, ended(last_room)).await;
    assert!(matches!(end, Event::RoomEnded { reason: EndReason::Banned, .. }));
    assert_eq!(error_of(app.profile(&troll.access).await, StatusCode::FORBIDDEN).await["code"], "banned");
    // A day later the ban lapses.
    app.advance(Duration::from_secs(86_401));
    assert_eq!(app.login_raw("troll", crate::helpers::PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn admins_list_end_and_count_rooms() {
    let app = app_with(&[]).await;
    let mut events = app.state.events.subscribe();
    let admin = app.admin("operator").await;
    let (a, _b, room) = app.pair("watched").await;
    let (_c, _d, other) = app.pair("other").await;
    app.end_room(&_c, other).await;
    let waiting = app.member("queued", "male", &["male"], &["friends"], &["coffee"]).await;
    app.search(&waiting.access, "voice").await;

    let active: Value =
        app.get("/admin/rooms?status=active", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(active["total"], 1);
    assert_eq!(active["items"][0]["id"], room);
    let all: Value = app.get("/admin/rooms", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(all["total"], 2);
    error_of(app.get("/admin/rooms?status=sleeping", Some(&admin.access)).await, StatusCode::BAD_REQUEST)
        .await;

    let dash: Value = app.get("/admin/dashboard", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(dash["rooms"], json!({ "active": 1, "total": 2 }));
    assert_eq!(dash["users"]["connected"], 2);
    assert_eq!(dash["users"]["searching"], 1);
    assert_eq!(dash["queues"], json!({ "chat": 0, "voice": 1 }));
    assert_eq!(dash["reports_today"], 0);
    assert_eq!(dash["active_bans"], 0);
    let searching: Value =
        app.get("/admin/users?status=searching", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(searching["total"], 1);
    assert_eq!(searching["items"][0]["username"], "queued");
    assert_eq!(searching["items"][0]["status"], "searching");
    let idle: Value = app.get("/admin/users?status=idle", Some(&admin.access)).await.json().await.unwrap();
    assert!(idle["items"].as_array().unwrap().iter().all(|u| u["status"] == "idle"), "{idle}");

    let ended_now: Value = app
        .post_json(&format!("/admin/rooms/{room}/end"), json!({}), Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ended_now["already_ended"], false);
    let end = expect_event(&mut events, ended(room)).await;
    assert!(matches!(end, Event::RoomEnded { reason: EndReason::Admin, .. }));
    assert_eq!(app.status(&a.access).await["status"], "idle");
    error_of(
        app.post_json("/admin/rooms/987654/end", json!({}), Some(&admin.access)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    error_of(app.get("/admin/dashboard", Some(&a.access)).await, StatusCode::FORBIDDEN).await;

    let status: Value = app.get("/admin/status", Some(&admin.access)).await.json().await.unwrap();
    for task in ["matching", "rooms", "housekeeping"] {
        assert_eq!(status[task]["state"], "running", "{status}");
        assert!(status[task]["runs"].as_u64().unwrap() >= 1, "{task} ran: {status}");
    }
    assert_eq!(status["housekeeping"]["schedule"], "every 1m");
}

#[tokio::test]
async fn overdue_room_timers_fire_in_order_after_a_restart() {
    let app = app_with(&["--abandon-grace=10m", "--inactivity-timeout=15m"]).await;
    let (a, _b, room) = app.pair("restarted").await;
    let start = room_info(&app, &a, room).await;
    let started = chrono::DateTime::parse_from_rfc3339(start["start_time"].as_str().unwrap()).unwrap();
    // The server is down for two hours (this instance is not woken), then a new one
    // starts on the same database.
    app.clock.advance(Duration::from_secs(2 * 3600));
    let settings = crate::helpers::settings_from(&app.args);
    let restarted = duet::app::App::build_with_clock(settings, app.clock.clone()).await.unwrap();
    let state = restarted.state().clone();
    let mut events = state.events.subscribe();
    tokio::spawn(restarted.run_until(std::future::pending()));
    // Nobody was seen after the start: abandoned 10 minutes in, before the second like
    // round could end it, and stamped with that time, not the restart's.
    let end = expect_event(&mut events, ended(room)).await;
    assert!(matches!(end, Event::RoomEnded { reason: EndReason::Abandoned, .. }), "{end:?}");
    let row = state.store.room(RoomId(room)).await.unwrap().unwrap();
    let ended_at = chrono::DateTime::from_timestamp_millis(row.end_time.unwrap()).unwrap();
    assert_eq!((ended_at - started.to_utc()).num_seconds(), 600);
}

#[tokio::test]
async fn shutdown_stops_room_owners_and_loops() {
    let app = app_with(&[]).await;
    let (a, _b, room) = app.pair("closing").await;
    // A room call starts the room's owner task.
    room_info(&app, &a, room).await;
    let settings =
        crate::helpers::settings_from(&[app.args.clone(), vec!["--shutdown-grace=1h".into()]].concat());
    let second = duet::app::App::build_with_clock(settings, app.clock.clone()).await.unwrap();
    let state = second.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(second.run_until(async move {
        let _ = stopped.await;
    }));
    state.rooms.apply(RoomId(room), duet::room::RoomEvent::Seen { user: UserId(a.id) }).await.unwrap();
    assert_eq!(state.rooms.load().2, 1, "an owner is running");
    stop.send(()).unwrap();
    // With an hour of grace, a task that ignored shutdown would hold this for an hour;
    // a minute is only a guard against hanging the suite.
    let finished = tokio::time::timeout(Duration::from_secs(60), running).await;
    assert!(finished.is_ok(), "shutdown waited on a task that did not stop");
    finished.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_late_answer_is_refused_but_the_round_still_closes() {
    let app = app_with(&[]).await;
    let mut events = app.state.events.subscribe();
    let (a, b, room) = app.pair("late_answer").await;
    app.advance(Duration::from_secs(300));
    expect_event(&mut events, |e| matches!(e, Event::LikePrompt { .. })).await;
    // The answer window passes without the lifecycle loop noticing; the late answer
    // is what finds the round over.
    app.clock.advance(Duration::from_secs(61));
    let body = error_of(app.like(&a, room, "yes").await, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "no_open_round");
    let result = expect_event(&mut events, |e| matches!(e, Event::LikeResult { .. })).await;
    assert!(matches!(result, Event::LikeResult { outcome: LikeOutcome::NoMatch, round: 1, .. }));
    let view = room_info(&app, &b, room).await;
    assert_eq!(view["like_round"], Value::Null, "the closed round was stored");
}

#[tokio::test]
async fn messages_are_trimmed_and_limited() {
    let app = app_with(&["--max-message-chars=10"]).await;
    let (a, _b, room) = app.pair("limits").await;
    let post =
        |content: &str| app.state.rooms.post_message(RoomId(room), UserId(a.id), None, content.to_owned());
    assert_eq!(post("  spaced  ").await.unwrap().0.content, "spaced");
    assert_eq!(post("1234567890").await.unwrap().0.seq, Seq(2));
    assert!(post("12345678901").await.is_err(), "over the limit");
    assert!(post("   ").await.is_err(), "empty after trimming");
    assert_eq!(post("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂").await.unwrap().0.seq, Seq(3), "characters, not bytes");
}

#[tokio::test]
async fn a_room_asked_during_shutdown_is_unavailable_not_ended() {
    let app = app_with(&[]).await;
    let (a, _b, room) = app.pair("closing").await;
    app.state.shutdown.trigger();
    let err =
        app.state.rooms.post_message(RoomId(room), UserId(a.id), None, "hello?".into()).await.unwrap_err();
    assert!(matches!(err, duet::room::RoomError::Unavailable), "{err}");
    let api: duet::http::error::ApiError = err.into();
    assert_eq!(api.code(), duet::http::error::ErrorCode::Unavailable);
    assert_eq!(api.code().status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_store_numbers_each_room_from_what_is_committed_and_a_failed_batch_stores_nothing() {
    let app = app_with(&[]).await;
    let (a, _b, room) = app.pair("contiguous").await;
    let at = app.clock.now();
    let message = |room: i64, n: i64| duet::store::NewMessage {
        room_id: RoomId(room),
        user: UserId(a.id),
        client_id: None,
        content: format!("m{n}"),
        at,
    };
    let seqs = || async {
        let stored = app.state.store.messages_after(RoomId(room), Seq::ZERO, 10).await.unwrap();
        stored.iter().map(|m| m.seq).collect::<Vec<_>>()
    };
    // A message for a room that does not exist: the batch fails as a whole, the
    // messages of the real room beside it included.
    let failed =
        app.state.store.append_batch(&[message(room, 1), message(room + 1000, 1), message(room, 2)]).await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(seqs().await.is_empty());
    // Numbers come from what is stored, so the room goes on at 1.
    let (stored, _) =
        app.state.rooms.post_message(RoomId(room), UserId(a.id), None, "first".into()).await.unwrap();
    assert_eq!(stored.seq, Seq(1));
    // A reused client id stores nothing, takes no number and answers with the
    // original, whatever the batch holds beside it.
    let reused = |n: i64| duet::store::NewMessage { client_id: Some("same".into()), ..message(room, n) };
    app.state.store.append_batch(&[reused(2)]).await.unwrap();
    let retry = reused(2);
    let other = duet::store::NewMessage { content: "changed".into(), ..reused(2) };
    let answers = app.state.store.append_batch(&[retry, other, message(room, 3)]).await.unwrap();
    for (answer, same) in answers.iter().zip([true, false]) {
        match answer {
            duet::store::Appended::Earlier { original, same_content } => {
                assert_eq!((original.seq, original.content.as_str(), *same_content), (Seq(2), "m2", same));
            }
            stored => panic!("stored a retry again: {stored:?}"),
        }
    }
    assert!(matches!(&answers[2], duet::store::Appended::Stored(m) if m.seq == Seq(3)), "{:?}", answers[2]);
    // A client id used twice in one batch: stored once, the second is its retry.
    let twice = duet::store::NewMessage { client_id: Some("twice".into()), ..message(room, 4) };
    let answers = app.state.store.append_batch(&[twice.clone(), message(room, 5), twice]).await.unwrap();
    let kinds: Vec<(Seq, bool)> = answers
        .iter()
        .map(|answer| match answer {
            duet::store::Appended::Stored(m) => (m.seq, true),
            duet::store::Appended::Earlier { original, .. } => (original.seq, false),
        })
        .collect();
    assert_eq!(kinds, [(Seq(4), true), (Seq(5), true), (Seq(4), false)]);
    assert_eq!(seqs().await, [Seq(1), Seq(2), Seq(3), Seq(4), Seq(5)]);
    assert_eq!(app.state.store.room(RoomId(room)).await.unwrap().unwrap().last_seq, Seq(5));
}
