//! What the moderation console stands on: report states and their filters, bans for
//! days or for ever, the audit list of every action, the rooms with their connections
//! and next timer, the live dashboard, and that all of it is for administrators only.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, spawn_app_with, Session, TestApp, PASSWORD};
use crate::ws::{expect_frame, send};

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.url().path());
    response.json().await.unwrap()
}

/// `reporter` reports their partner in `room`; the report's id.
async fn report(app: &TestApp, reporter: &Session, room: i64, reason: &str) -> i64 {
    let response = app
        .post_json(
            &format!("/chat/report/{room}"),
            json!({ "reason": reason, "details": "said awful things" }),
            Some(&reporter.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["report_id"].as_i64().unwrap()
}

/// The audit list (of `user` when given).
async fn audit(app: &TestApp, admin: &Session, user: Option<i64>) -> Vec<Value> {
    let path = match user {
        Some(id) => format!("/admin/audit?user_id={id}&limit=100"),
        None => "/admin/audit?limit=100".to_owned(),
    };
    json_of(app.get(&path, Some(&admin.access)).await).await["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_console_route_is_for_administrators_only() {
    let app = spawn_app().await;
    let user = app.signup("curious").await;
    for path in
        ["/admin/audit", "/admin/reports?state=open", "/admin/dashboard", "/admin/rooms?status=active"]
    {
        let body = error_of(app.get(path, Some(&user.access)).await, StatusCode::FORBIDDEN).await;
        assert_eq!(body["code"], "forbidden", "{path}");
        error_of(app.get(path, None).await, StatusCode::UNAUTHORIZED).await;
    }
    for (path, body) in [
        ("/admin/reports/1/resolve", json!({ "state": "dismissed" })),
        ("/admin/users/1/ban", json!({ "permanent": true, "reason": "x" })),
        ("/admin/users/1/unban", json!({})),
        ("/admin/rooms/1/end", json!({})),
    ] {
        error_of(app.post_json(path, body, Some(&user.access)).await, StatusCode::FORBIDDEN).await;
    }
    // Nothing was recorded by the refused calls.
    let admin = app.admin("boss").await;
    assert!(audit(&app, &admin, None).await.is_empty());
}

#[tokio::test]
async fn a_permanent_ban_is_its_own_shape_and_is_recorded() {
    let app = spawn_app().await;
    let admin = app.admin("boss").await;
    let user = app.signup_complete("troll").await;
    let path = format!("/admin/users/{}/ban", user.id);
    for bad in [
        json!({ "reason": "no length" }),
        json!({ "permanent": false, "reason": "no length" }),
        json!({ "days": 3, "permanent": true, "reason": "both" }),
        json!({ "days": 3650000, "reason": "a number of days is not permanent" }),
        json!({ "permanent": true, "reason": " " }),
    ] {
        let body =
            error_of(app.post_json(&path, bad.clone(), Some(&admin.access)).await, StatusCode::BAD_REQUEST)
                .await;
        assert_eq!(body["code"], "validation_error", "{bad}");
    }
    assert!(audit(&app, &admin, Some(user.id)).await.is_empty(), "refused bans record nothing");

    let mut status = app.status_socket(&user.access).await;
    expect_frame(&mut status, "status_update").await;
    let banned = json_of(
        app.post_json(&path, json!({ "permanent": true, "reason": "threats" }), Some(&admin.access)).await,
    )
    .await;
    assert_eq!(banned["ban_permanent"], true);
    assert!(banned["banned_until"].is_null(), "{banned}");
    assert_eq!(banned["ban_reason"], "threats");
    // The socket hears it, with no date.
    let frame = expect_frame(&mut status, "banned").await;
    assert_eq!(frame["permanent"], true);
    assert!(frame["until"].is_null());
    let body = error_of(app.login_raw("troll", PASSWORD).await, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "banned");
    assert_eq!(body["detail"], "account banned permanently");
    // Years later it still holds.
    app.advance(Duration::from_secs(20 * 365 * 86_400));
    error_of(app.login_raw("troll", PASSWORD).await, StatusCode::FORBIDDEN).await;
    let admin = app.login("boss").await;
    let listed = json_of(app.get("/admin/users?status=banned", Some(&admin.access)).await).await;
    assert_eq!(listed["items"][0]["id"], user.id);

    let lifted = json_of(
        app.post_json(&format!("/admin/users/{}/unban", user.id), json!({}), Some(&admin.access)).await,
    )
    .await;
    assert_eq!(lifted["ban_permanent"], false);
    app.login("troll").await;

    let entries = audit(&app, &admin, Some(user.id)).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["unban", "ban"], "newest first");
    assert_eq!(entries[1]["details"], "permanent: threats");
    assert_eq!(entries[1]["admin_id"], admin.id);
    assert_eq!(entries[1]["admin_username"], "boss");
    assert!(entries[1]["at"].is_string());
    let days =
        json_of(app.post_json(&path, json!({ "days": 2, "reason": "spam" }), Some(&admin.access)).await)
            .await;
    assert!(days["banned_until"].is_string());
    assert_eq!(days["ban_permanent"], false);
    assert_eq!(audit(&app, &admin, Some(user.id)).await[0]["details"], "2 days: spam");
}

#[tokio::test]
async fn reports_are_filtered_by_state_and_resolved_with_a_ban_in_one_step() {
    let app = spawn_app().await;
    let admin = app.admin("boss").await;
    let (a, b, first_room) = app.pair("one").await;
    let (c, d, second_room) = app.pair("two").await;
    let dismissed = report(&app, &a, first_room, "spam").await;
    let actioned = report(&app, &c, second_room, "harassment").await;

    let open = json_of(app.get("/admin/reports?state=open", Some(&admin.access)).await).await;
    assert_eq!(open["total"], 2);
    assert_eq!(open["items"][0]["id"], actioned, "newest first");
    assert_eq!(open["items"][0]["reporter_username"], "two_a");
    assert_eq!(open["items"][0]["reported_username"], "two_b");
    assert_eq!(open["items"][0]["details"], "said awful things");
    assert_eq!(open["items"][0]["state"], "open");
    assert!(open["items"][0]["resolved_by"].is_null());
    error_of(app.get("/admin/reports?state=closed", Some(&admin.access)).await, StatusCode::BAD_REQUEST)
        .await;
    // A filter id below 1 is refused, not taken for "any user".
    for path in ["/admin/reports?reported_id=-1", "/admin/audit?user_id=0"] {
        let body = error_of(app.get(path, Some(&admin.access)).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["code"], "validation_error", "{path}");
    }

    let path = format!("/admin/reports/{dismissed}/resolve");
    let body =
        json_of(app.post_json(&path, json!({ "state": "dismissed" }), Some(&admin.access)).await).await;
    assert_eq!(body["state"], "dismissed");
    assert_eq!(body["resolved_by"], admin.id);
    assert!(app.login_raw("one_b", PASSWORD).await.status().is_success(), "a dismissal bans nobody");

    // A ban goes only with `actioned`, and is checked like any ban.
    let path = format!("/admin/reports/{actioned}/resolve");
    for bad in [
        json!({ "state": "dismissed", "ban": { "days": 7, "reason": "x" } }),
        json!({ "state": "actioned", "ban": { "days": 0, "reason": "x" } }),
    ] {
        error_of(app.post_json(&path, bad, Some(&admin.access)).await, StatusCode::BAD_REQUEST).await;
    }
    let body = json_of(
        app.post_json(
            &path,
            json!({ "state": "actioned", "ban": { "days": 7, "reason": "harassment in room" } }),
            Some(&admin.access),
        )
        .await,
    )
    .await;
    assert_eq!(body["state"], "actioned");
    let banned = json_of(app.get(&format!("/admin/users/{}", d.id), Some(&admin.access)).await).await;
    assert!(banned["banned_until"].is_string(), "{banned}");
    error_of(app.login_raw("two_b", PASSWORD).await, StatusCode::FORBIDDEN).await;
    // The ban ended the room the reported user was in.
    let room = json_of(app.get(&format!("/chat/room/{second_room}"), Some(&c.access)).await).await;
    assert_eq!(room["end_reason"], "banned", "{room}");

    for (state, id) in [("dismissed", dismissed), ("actioned", actioned)] {
        let page =
            json_of(app.get(&format!("/admin/reports?state={state}"), Some(&admin.access)).await).await;
        assert_eq!(page["total"], 1, "{state}");
        assert_eq!(page["items"][0]["id"], id);
    }
    assert_eq!(json_of(app.get("/admin/reports?state=open", Some(&admin.access)).await).await["total"], 0);
    // A user's history: the reports against them, and the actions on them.
    let about_b =
        json_of(app.get(&format!("/admin/reports?reported_id={}", b.id), Some(&admin.access)).await).await;
    assert_eq!(about_b["total"], 1);
    assert_eq!(about_b["items"][0]["id"], dismissed);
    let entries = audit(&app, &admin, Some(d.id)).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["report_actioned", "ban"]);
    assert_eq!(entries[1]["report_id"], actioned);
    assert_eq!(entries[1]["details"], "7 days: harassment in room");
    assert_eq!(entries[0]["room_id"], second_room);
    let entries = audit(&app, &admin, Some(b.id)).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "report_dismissed");
    assert_eq!(entries[0]["details"], "spam");
}

#[tokio::test]
async fn a_dismissed_report_does_not_count_toward_the_automatic_ban() {
    let app = spawn_app_with(&["--autoban-reporters", "2"]).await;
    let admin = app.admin("boss").await;
    let target = app.member("target", "male", &["female"], &["friends"], &["coffee"]).await;
    for name in ["rep1", "rep2", "rep3"] {
        let reporter = app.member(name, "female", &["male"], &["friends"], &["coffee"]).await;
        app.search(&target.access, "chat").await;
        let body: Value = app.search(&reporter.access, "chat").await.json().await.unwrap();
        let room = body["room_id"].as_i64().expect("matched");
        let id = report(&app, &reporter, room, "spam").await;
        if name == "rep1" {
            let path = format!("/admin/reports/{id}/resolve");
            json_of(app.post_json(&path, json!({ "state": "dismissed" }), Some(&admin.access)).await).await;
        }
        let user = json_of(app.get(&format!("/admin/users/{}", target.id), Some(&admin.access)).await).await;
        let banned = user["banned_until"].is_string();
        // rep1's report was dismissed, so rep2's is the first that counts: two with rep3.
        assert_eq!(banned, name == "rep3", "after {name}: {user}");
        if !banned {
            app.end_room(&target, room).await;
        }
    }
    let entries = audit(&app, &admin, Some(target.id)).await;
    assert_eq!(entries[0]["action"], "autoban");
    assert!(entries[0]["admin_id"].is_null());
    assert!(entries[0]["details"].as_str().unwrap().starts_with("1 day: automatic"), "{}", entries[0]);
}

#[tokio::test]
async fn active_rooms_show_their_age_keeps_connections_and_next_timer() {
    let app = spawn_app().await;
    let admin = app.admin("boss").await;
    let (a, b, room) = app.pair("room").await;
    app.advance(Duration::from_secs(30));
    let mut socket = app.chat_socket(&a, room, 0).await;
    expect_frame(&mut socket, "connection").await;
    let keep =
        app.post_json(&format!("/chat/keep/{room}"), json!({ "keep_active": true }), Some(&b.access)).await;
    assert_eq!(keep.status(), StatusCode::OK);

    let page = json_of(app.get("/admin/rooms?status=active", Some(&admin.access)).await).await;
    let view = &page["items"][0];
    assert_eq!(view["id"], room);
    assert_eq!(view["age_seconds"], 30);
    assert_eq!(view["connections"], 1, "{view}");
    assert_eq!(view["keeps"], json!([false, true]));
    assert_eq!(view["kept"], false);
    // The first like round opens before anything else is due.
    assert_eq!(view["next_timer"]["kind"], "open_round", "{view}");
    assert!(view["next_timer"]["at"].is_string());

    let ended =
        json_of(app.post_json(&format!("/admin/rooms/{room}/end"), json!({}), Some(&admin.access)).await)
            .await;
    assert_eq!(ended["already_ended"], false);
    let frame = expect_frame(&mut socket, "room_ended").await;
    assert_eq!(frame["reason"], "admin");
    // Ending it again records nothing more.
    json_of(app.post_json(&format!("/admin/rooms/{room}/end"), json!({}), Some(&admin.access)).await).await;
    let entries = audit(&app, &admin, None).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "room_ended");
    assert_eq!(entries[0]["room_id"], room);
    assert_eq!(entries[0]["admin_id"], admin.id);
    let all = json_of(app.get("/admin/rooms?status=ended", Some(&admin.access)).await).await;
    assert!(all["items"][0]["next_timer"].is_null());
    assert_eq!(all["items"][0]["connections"], 0);
}

#[tokio::test]
async fn the_dashboard_counts_people_activity_reports_and_ends() {
    let app = spawn_app().await;
    let admin = app.admin("boss").await;
    let before = json_of(app.get("/admin/dashboard", Some(&admin.access)).await).await;
    assert_eq!(before["activity"]["window_minutes"], 60);
    assert_eq!(before["activity"]["messages_per_minute"].as_array().unwrap().len(), 60);
    assert!(before["activity"]["time_to_match_ms"]["p50"].is_null());
    assert_eq!(before["online"], 0);
    assert_eq!(before["reports_open"], 0);
    assert_eq!(before["ends"]["last_hour"]["admin"], 0);

    let (a, b, room) = app.pair("dash").await;
    let mut socket = app.chat_socket(&a, room, 0).await;
    expect_frame(&mut socket, "connection").await;
    let _status = app.status_socket(&b.access).await;
    for i in 0..3 {
        send(
            &mut socket,
            json!({ "type": "message", "content": format!("hi {i}"), "client_id": format!("c{i}") }),
        )
        .await;
        expect_frame(&mut socket, "ack").await;
    }
    report(&app, &b, room, "spam").await;

    // The socket registrations and the counters are read as they are now.
    let mut now = json_of(app.get("/admin/dashboard", Some(&admin.access)).await).await;
    for _ in 0..50 {
        if now["online"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = json_of(app.get("/admin/dashboard", Some(&admin.access)).await).await;
    }
    assert_eq!(now["online"], 2, "{now}");
    assert_eq!(now["users"]["connected"], 2);
    assert_eq!(now["reports_open"], 1);
    let activity = &now["activity"];
    assert_eq!(activity["messages_per_minute"][59], 3, "{activity}");
    assert_eq!(activity["matches_last_minute"], 1);
    assert_eq!(
        activity["matches_per_minute"].as_array().unwrap().iter().filter_map(Value::as_u64).sum::<u64>(),
        1
    );
    assert!(activity["time_to_match_ms"]["p99"].is_number(), "{activity}");

    json_of(app.post_json(&format!("/admin/rooms/{room}/end"), json!({}), Some(&admin.access)).await).await;
    let after = json_of(app.get("/admin/dashboard", Some(&admin.access)).await).await;
    assert_eq!(after["ends"]["last_hour"]["admin"], 1);
    assert_eq!(after["ends"]["last_day"]["admin"], 1);
    assert_eq!(after["rooms"]["active"], 0);
    // Past the hour it leaves the hour's count, not the day's.
    app.advance(Duration::from_secs(2 * 3600));
    let admin = app.login("boss").await;
    let later = json_of(app.get("/admin/dashboard", Some(&admin.access)).await).await;
    assert_eq!(later["ends"]["last_hour"]["admin"], 0);
    assert_eq!(later["ends"]["last_day"]["admin"], 1);
}

#[tokio::test]
async fn user_search_covers_email_and_edits_are_audited() {
    let app = spawn_app().await;
    let admin = app.admin("boss").await;
    let response = app.signup_raw("quiet", PASSWORD, Some("Hidden.Person@Example.org")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    app.signup("other").await;
    let found = json_of(app.get("/admin/users?q=hidden.person", Some(&admin.access)).await).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["username"], "quiet");
    let user_id = found["items"][0]["id"].as_i64().unwrap();
    let path = format!("/admin/users/{user_id}");
    json_of(app.put_json(&path, json!({ "nickname": "Calm", "email": null }), &admin.access).await).await;
    let entries = audit(&app, &admin, Some(user_id)).await;
    assert_eq!(entries[0]["action"], "user_updated");
    assert_eq!(entries[0]["details"], "nickname: Calm, email");
}
