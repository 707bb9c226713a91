//! Matching and rooms through the API: search, cancel, status, matches (scored and by
//! fallback), timeouts, ending, the partner view and avatar, cooldown, bans, logout,
//! restart, and a concurrency stress test of the invariants.

use std::collections::HashMap;
use std::time::Duration;

use duet::events::Event;
use duet::ids::{RoomId, UserId};
use duet::room::EndReason;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, expect_event, png, spawn_app, spawn_app_with, until_a_query_waits_on_a_lock};

#[tokio::test]
async fn an_incomplete_profile_cannot_search() {
    let app = spawn_app().await;
    let user = app.signup("halfway").await;
    app.update_profile(&user.access, json!({ "gender": "male" })).await;
    let body = error_of(app.search(&user.access, "chat").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "incomplete_profile");
    assert!(body["detail"].as_str().unwrap().contains("dob"));
    let body = error_of(app.search(&user.access, "video").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "bad_request");
    error_of(app.post_json("/chat/search", json!({ "type": "chat" }), None).await, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn searching_waiting_and_cancelling() {
    let app = spawn_app().await;
    let user = app.member("waiter", "male", &["female"], &["friends"], &["coffee"]).await;
    let response = app.search(&user.access, "chat").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["room_id"], Value::Null);
    assert_eq!(body["status"], "searching");
    assert_eq!(body["search"]["type"], "chat");

    let status = app.status(&user.access).await;
    assert_eq!(status["status"], "searching");
    assert_eq!(status["search"]["type"], "chat");
    let body = error_of(app.search(&user.access, "chat").await, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "already_searching");

    let cancelled = app.post_json("/chat/cancel-search", json!({}), Some(&user.access)).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(app.status(&user.access).await["status"], "idle");
    let body = error_of(
        app.post_json("/chat/cancel-search", json!({}), Some(&user.access)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(body["code"], "not_searching");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"duet_waiting_tickets{type="chat"} 0"#), "{metrics}");
}

#[tokio::test]
async fn compatible_strangers_are_matched_at_once_with_a_partner_view() {
    let app = spawn_app().await;
    let mut events = app.state.events.subscribe();
    let him = app.member("him", "male", &["female"], &["friends", "casual"], &["coffee", "film"]).await;
    let her = app.member("her", "Nữ", &["Nam"], &["friends"], &["film", "music"]).await;
    assert_eq!(app.search(&him.access, "chat").await.status(), StatusCode::ACCEPTED);
    let response = app.search(&her.access, "chat").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let room_id = body["room_id"].as_i64().expect("a room");
    assert_eq!(body["status"], "connected");
    let partner = &body["matched_user"];
    assert_eq!(partner["nickname"], "Nick him");
    assert_eq!(partner["gender"], "male");
    assert!(partner["age"].as_i64().unwrap() >= 18);
    for hidden in ["username", "email", "dob", "id"] {
        assert!(partner.get(hidden).is_none(), "the partner view hides {hidden}");
    }
    assert_eq!(body["icebreaker"]["topic"], "film", "drawn from the one shared interest");

    let event = expect_event(&mut events, |e| matches!(e, Event::MatchFound { .. })).await;
    assert_eq!(
        event,
        Event::MatchFound {
            room_id: RoomId(room_id),
            users: [UserId(him.id), UserId(her.id)],
            fallback: false
        }
    );

    for (me, other_nick) in [(&him, "Nick her"), (&her, "Nick him")] {
        let status = app.status(&me.access).await;
        assert_eq!(status["status"], "connected");
        assert_eq!(status["current_room_id"], room_id);
        let room: Value = app.get("/chat/current-room", Some(&me.access)).await.json().await.unwrap();
        assert_eq!(room["id"], room_id);
        assert_eq!(room["type"], "chat");
        assert_eq!(room["reveal_level"], 0);
        assert_eq!(room["partner"]["nickname"], other_nick);
        assert_eq!(room["keep"], json!({ "me": false, "partner": false }));
    }
    // Searching again while in a room answers with that room.
    let again: Value = app.search(&him.access, "chat").await.json().await.unwrap();
    assert_eq!(again["room_id"], room_id);

    let stranger = app.member("stranger", "female", &["any"], &["friends"], &["film"]).await;
    let path = format!("/chat/room/{room_id}");
    error_of(app.get(&path, Some(&stranger.access)).await, StatusCode::NOT_FOUND).await;
    error_of(app.get("/chat/room/999999", Some(&stranger.access)).await, StatusCode::NOT_FOUND).await;
    error_of(app.get("/chat/current-room", Some(&stranger.access)).await, StatusCode::NOT_FOUND).await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"duet_matches_total{mode="scored"} 1"#), "{metrics}");
    assert!(metrics.contains("duet_rooms_active 1"), "{metrics}");
    assert!(metrics.contains(r#"duet_time_to_match_seconds_count{mode="scored"} 2"#), "{metrics}");
}

#[tokio::test]
async fn hard_rules_keep_incompatible_people_apart() {
    let app = spawn_app().await;
    let a = app.member("a_man", "male", &["female"], &["friends"], &["coffee"]).await;
    let b = app.member("b_man", "male", &["female"], &["friends"], &["coffee"]).await;
    let c = app.member("c_woman", "female", &["female"], &["friends"], &["coffee"]).await;
    let d = app.member("d_woman", "female", &["male"], &["friends"], &["coffee"]).await;
    assert_eq!(app.search(&a.access, "chat").await.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.search(&b.access, "chat").await.status(),
        StatusCode::ACCEPTED,
        "she is not looking for him"
    );
    assert_eq!(
        app.search(&c.access, "chat").await.status(),
        StatusCode::ACCEPTED,
        "she looks for women only"
    );
    assert_eq!(app.search(&d.access, "voice").await.status(), StatusCode::ACCEPTED, "another type");
    app.advance(Duration::from_secs(60));
    // Not even the fallback relaxes a hard rule.
    app.state.matchmaker.tick().await.unwrap();
    for s in [&a, &b, &c, &d] {
        assert_eq!(app.status(&s.access).await["status"], "searching");
    }
}

#[tokio::test]
async fn without_a_shared_need_the_fallback_matches_after_thirty_seconds() {
    let app = spawn_app().await;
    let mut events = app.state.events.subscribe();
    let a = app.member("serious1", "male", &["female"], &["marriage"], &["coffee"]).await;
    let b = app.member("casual1", "female", &["male"], &["casual"], &["coffee"]).await;
    assert_eq!(app.search(&a.access, "chat").await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.search(&b.access, "chat").await.status(), StatusCode::ACCEPTED);
    app.advance(Duration::from_secs(29));
    app.state.matchmaker.tick().await.unwrap();
    assert_eq!(app.status(&a.access).await["status"], "searching");
    app.advance(Duration::from_secs(1));
    let event = expect_event(&mut events, |e| matches!(e, Event::MatchFound { .. })).await;
    assert!(matches!(event, Event::MatchFound { fallback: true, .. }));
    assert_eq!(app.status(&a.access).await["status"], "connected");
    assert_eq!(app.status(&b.access).await["status"], "connected");
}

#[tokio::test]
async fn a_search_times_out() {
    let app = spawn_app().await;
    let mut events = app.state.events.subscribe();
    let a = app.member("lonely", "male", &["female"], &["friends"], &["coffee"]).await;
    app.search(&a.access, "chat").await;
    app.advance(Duration::from_secs(300));
    let event = expect_event(&mut events, |e| matches!(e, Event::SearchTimeout { .. })).await;
    assert_eq!(event, Event::SearchTimeout { user: UserId(a.id) });
    assert_eq!(app.status(&a.access).await["status"], "idle");
}

#[tokio::test]
async fn ending_a_room_is_atomic_idempotent_and_announced_once() {
    let app = spawn_app().await;
    let mut events = app.state.events.subscribe();
    let (a, b, room) = app.pair("enders").await;
    let stranger = app.member("nosy", "female", &["any"], &["friends"], &["coffee"]).await;
    error_of(app.end_room(&stranger, room).await, StatusCode::NOT_FOUND).await;

    let first: Value = app.end_room(&a, room).await.json().await.unwrap();
    assert_eq!(first, json!({ "room_id": room, "already_ended": false, "reason": "ended_by_user" }));
    let second: Value = app.end_room(&b, room).await.json().await.unwrap();
    assert_eq!(second["already_ended"], true);
    for s in [&a, &b] {
        let status = app.status(&s.access).await;
        assert_eq!(status["status"], "idle");
        assert_eq!(status["current_room_id"], Value::Null);
        error_of(app.get("/chat/current-room", Some(&s.access)).await, StatusCode::NOT_FOUND).await;
    }
    let info: Value = app.get(&format!("/chat/room/{room}"), Some(&b.access)).await.json().await.unwrap();
    assert_eq!(info["end_reason"], "ended_by_user");
    assert_eq!(info["ended_by"], a.id, "the room stores who ended it");
    assert!(info["end_time"].is_string());

    let ended = expect_event(&mut events, |e| matches!(e, Event::RoomEnded { .. })).await;
    assert_eq!(
        ended,
        Event::RoomEnded {
            room_id: RoomId(room),
            users: [UserId(a.id), UserId(b.id)],
            reason: EndReason::EndedByUser,
            by: Some(UserId(a.id)),
        }
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                if let Ok(Event::RoomEnded { .. }) = events.recv().await {
                    return;
                }
            }
        })
        .await
        .is_err(),
        "one end, one announcement"
    );
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"duet_rooms_ended_total{reason="ended_by_user"} 1"#), "{metrics}");
    assert!(metrics.contains("duet_rooms_active 0"), "{metrics}");
}

#[tokio::test]
async fn racing_ends_produce_one_end() {
    let app = spawn_app().await;
    let (a, b, room) = app.pair("racers").await;
    let path = format!("/chat/end/{room}");
    let (ra, rb) = tokio::join!(
        app.post_json(&path, json!({}), Some(&a.access)),
        app.post_json(&path, json!({}), Some(&b.access))
    );
    let (ra, rb): (Value, Value) = (ra.json().await.unwrap(), rb.json().await.unwrap());
    let fresh = [ra["already_ended"].as_bool().unwrap(), rb["already_ended"].as_bool().unwrap()];
    assert_eq!(fresh.iter().filter(|already| !**already).count(), 1, "{ra} {rb}");
}

#[tokio::test]
async fn the_same_pair_is_not_matched_again_within_the_cooldown() {
    let app = spawn_app_with(&["--rematch-cooldown=10m"]).await;
    let (a, b, room) = app.pair("again").await;
    app.end_room(&a, room).await;
    assert_eq!(app.search(&a.access, "chat").await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.search(&b.access, "chat").await.status(), StatusCode::ACCEPTED);
    for s in [&a, &b] {
        app.post_json("/chat/cancel-search", json!({}), Some(&s.access)).await;
    }
    app.advance(Duration::from_secs(601));
    app.search(&a.access, "chat").await;
    assert_eq!(app.search(&b.access, "chat").await.status(), StatusCode::OK, "the cooldown is over");
}

#[tokio::test]
async fn a_ban_ends_the_room_and_the_search() {
    let app = spawn_app().await;
    let mut events = app.state.events.subscribe();
    let admin = app.admin("warden").await;
    let (a, b, room) = app.pair("banned").await;
    let waiting = app.member("waiting", "male", &["male"], &["friends"], &["coffee"]).await;
    app.search(&waiting.access, "chat").await;

    for user in [a.id, waiting.id] {
        let response = app
            .post_json(
                &format!("/admin/users/{user}/ban"),
                json!({ "days": 1, "reason": "spam" }),
                Some(&admin.access),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let ended = expect_event(&mut events, |e| matches!(e, Event::RoomEnded { .. })).await;
    assert!(
        matches!(ended, Event::RoomEnded { reason: EndReason::Banned, room_id, .. } if room_id == RoomId(room))
    );
    expect_event(&mut events, |e| matches!(e, Event::Banned { user, .. } if *user == UserId(waiting.id)))
        .await;
    assert_eq!(app.status(&b.access).await["status"], "idle");
    assert!(app.state.store.ticket(UserId(waiting.id)).await.unwrap().is_none(), "the search is gone");
    let detail: Value =
        app.get(&format!("/admin/users/{}", a.id), Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(detail["status"], "idle");
    assert_eq!(error_of(app.search(&a.access, "chat").await, StatusCode::FORBIDDEN).await["code"], "banned");
}

#[tokio::test]
async fn logout_leaves_the_queue_but_not_the_room() {
    let app = spawn_app().await;
    let (a, _b, room) = app.pair("leaver").await;
    let c = app.member("queued", "male", &["female"], &["friends"], &["coffee"]).await;
    app.search(&c.access, "chat").await;
    app.post_json("/auth/logout", json!({}), Some(&c.access)).await;
    assert!(app.state.store.ticket(UserId(c.id)).await.unwrap().is_none());
    app.post_json("/auth/logout", json!({}), Some(&a.access)).await;
    let again = app.login("leaver_a").await;
    assert_eq!(app.status(&again.access).await["current_room_id"], room);
}

#[tokio::test]
async fn the_partner_sees_the_avatar_blurred_and_only_while_in_the_room() {
    let app = spawn_app().await;
    let (a, b, room) = app.pair("pics").await;
    assert_eq!(app.upload_avatar(&a.access, png(300, 300), "me.png").await.status(), StatusCode::OK);
    let view: Value = app.get("/chat/current-room", Some(&b.access)).await.json().await.unwrap();
    let url = view["partner"]["avatar_url"].as_str().expect("partner avatar url").to_owned();
    let blurred = app.get(&url, Some(&b.access)).await;
    assert_eq!(blurred.status(), StatusCode::OK);
    let blurred = blurred.bytes().await.unwrap();
    let full = app.get(&url, Some(&a.access)).await.bytes().await.unwrap();
    assert_ne!(blurred, full, "the partner gets the blurred variant at level 0");
    app.end_room(&a, room).await;
    error_of(app.get(&url, Some(&b.access)).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn waiting_searches_survive_a_restart() {
    let app = spawn_app().await;
    let a = app.member("early", "male", &["female"], &["friends"], &["coffee"]).await;
    app.search(&a.access, "chat").await;
    // A second server on the same database, as after a restart.
    let settings = crate::helpers::settings_from(&app.args);
    let restarted = duet::app::App::build_with_clock(settings, app.clock.clone()).await.unwrap();
    let state = restarted.state().clone();
    let base = format!("http://{}", restarted.addr());
    tokio::spawn(restarted.run_until(std::future::pending()));
    let b = app.member("late", "female", &["male"], &["friends"], &["coffee"]).await;
    let response = app
        .client
        .post(format!("{base}/chat/search"))
        .bearer_auth(&b.access)
        .json(&json!({ "type": "chat" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "matched with the ticket reloaded from the store");
    assert_eq!(state.metrics.matches.with_label_values(&["scored"]).get(), 1);
}

/// A search files its ticket outside the matchmaker's lock, so the store checks, in the
/// same statement, that the user is in no room and not banned at that moment.
#[tokio::test]
async fn a_ticket_is_filed_only_for_a_user_in_no_room_and_not_banned() {
    use duet::clock::Clock;
    use duet::store::{Constraint, StoreError};
    let app = spawn_app().await;
    let store = &app.state.store;
    let now = app.clock.now();
    let (a, _b, _room) = app.pair("filed").await;
    assert!(!store.insert_ticket_if_free(UserId(a.id), "chat", now).await.unwrap(), "a is in a room");
    let free = app.member("free", "male", &["female"], &["friends"], &["coffee"]).await;
    assert!(store.insert_ticket_if_free(UserId(free.id), "chat", now).await.unwrap());
    assert!(matches!(
        store.insert_ticket_if_free(UserId(free.id), "chat", now).await,
        Err(StoreError::Conflict(Constraint::Ticket))
    ));
    let banned = app.member("banned_one", "male", &["female"], &["friends"], &["coffee"]).await;
    store.ban_user(UserId(banned.id), now.plus(Duration::from_secs(60)), "spam", now).await.unwrap();
    assert!(!store.insert_ticket_if_free(UserId(banned.id), "chat", now).await.unwrap(), "banned");
    assert!(store.ticket(UserId(banned.id)).await.unwrap().is_none());
}

/// A ban that commits while a search is filing its ticket (PostgreSQL, where the two
/// can run at once): the search waits for the ban and is refused, and no ticket is
/// left behind. The ban is held open by hand, as a transaction that has changed the
/// user's row and not yet committed.
#[tokio::test]
async fn a_search_racing_with_a_ban_files_no_ticket() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let Some(url) = app.args.iter().find_map(|a| a.strip_prefix("--database-url=")) else { return };
    let user = app.member("racing", "male", &["female"], &["friends"], &["coffee"]).await;
    let mut ban = sqlx::PgConnection::connect(url).await.unwrap();
    let mut watch = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut ban).await.unwrap();
    let until = chrono::Utc::now().timestamp_millis() + 3_600_000;
    sqlx::query("UPDATE users SET banned_until = $2, ban_reason = 'spam' WHERE id = $1")
        .bind(user.id)
        .bind(until)
        .execute(&mut ban)
        .await
        .unwrap();
    let search = {
        let (client, url, access) = (app.client.clone(), app.url("/chat/search"), user.access.clone());
        tokio::spawn(async move {
            let response =
                client.post(url).bearer_auth(access).json(&json!({ "type": "chat" })).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or_default())
        })
    };
    // The search has read the user (not banned yet) and waits for the ban's row lock
    // (a search that files its ticket without waiting ends instead, and fails below).
    until_a_query_waits_on_a_lock(&mut watch, || search.is_finished()).await;
    sqlx::query("COMMIT").execute(&mut ban).await.unwrap();
    let (status, body) = search.await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "banned");
    assert!(app.state.store.ticket(UserId(user.id)).await.unwrap().is_none(), "no ticket left behind");
    assert!(app.state.matchmaker.waiting_users().await.is_empty());
}

/// Many users searching, cancelling, ending and logging out at once, while an
/// administrator bans and unbans some of them; afterwards the
/// invariants of SPEC 4 hold: nobody in two rooms, every connected user in an active
/// room, every searching user holding a ticket in the matcher and the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_searches_cancels_and_ends_keep_the_invariants() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut users = Vec::new();
    for i in 0..24 {
        let (gender, wants) = if i % 2 == 0 { ("male", ["female"]) } else { ("female", ["male"]) };
        users.push(app.member(&format!("stress{i}"), gender, &wants, &["friends"], &["coffee"]).await);
    }
    let admin = app.admin("stress_admin").await;
    let mut tasks = Vec::new();
    {
        // An administrator bans and unbans every fifth user meanwhile.
        let app = app.clone();
        let targets: Vec<i64> = users.iter().step_by(5).map(|u| u.id).collect();
        tasks.push(tokio::spawn(async move {
            for target in targets {
                let path = format!("/admin/users/{target}/ban");
                let ban =
                    app.post_json(&path, json!({ "days": 1, "reason": "x" }), Some(&admin.access)).await;
                assert_eq!(ban.status(), StatusCode::OK);
                let unban = app
                    .post_json(&format!("/admin/users/{target}/unban"), json!({}), Some(&admin.access))
                    .await;
                assert_eq!(unban.status(), StatusCode::OK);
            }
        }));
    }
    for (i, mut user) in users.iter().cloned().enumerate() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("stress{i}");
            for round in 0..12 {
                let status = app.search(&user.access, "chat").await.status();
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    // Banned meanwhile, tokens revoked: sign in again once it is lifted.
                    let again = app.login_raw(&name, crate::helpers::PASSWORD).await;
                    if again.status() == StatusCode::OK {
                        let body: Value = again.json().await.unwrap();
                        user.access = body["access_token"].as_str().unwrap().to_owned();
                    }
                    continue;
                }
                assert!(
                    [StatusCode::OK, StatusCode::ACCEPTED, StatusCode::CONFLICT].contains(&status),
                    "{status}"
                );
                match (i + round) % 5 {
                    0 => {
                        app.post_json("/chat/cancel-search", json!({}), Some(&user.access)).await;
                    }
                    1 | 2 => {
                        let response = app.get("/user/status", Some(&user.access)).await;
                        if response.status() == StatusCode::OK {
                            let status: Value = response.json().await.unwrap();
                            if let Some(room) = status["current_room_id"].as_i64() {
                                app.end_room(&user, room).await;
                            }
                        }
                    }
                    3 => {
                        // Logout leaves the queue and keeps the room.
                        app.post_json("/auth/logout", json!({}), Some(&user.access)).await;
                        let again = app.login_raw(&name, crate::helpers::PASSWORD).await;
                        if again.status() == StatusCode::OK {
                            let body: Value = again.json().await.unwrap();
                            user.access = body["access_token"].as_str().unwrap().to_owned();
                        }
                    }
                    _ => {}
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let store = &app.state.store;
    let mut rooms_of: HashMap<i64, Vec<RoomId>> = HashMap::new();
    for room in store.active_rooms().await.unwrap() {
        for user in [room.user_a, room.user_b] {
            rooms_of.entry(user).or_default().push(room.id);
        }
    }
    for user in &users {
        let row = store.user(UserId(user.id)).await.unwrap().unwrap();
        let active = rooms_of.get(&user.id).cloned().unwrap_or_default();
        assert!(active.len() <= 1, "user {} is in rooms {active:?}", user.id);
        match row.current_room_id {
            Some(room) => assert_eq!(active, [room], "user {} points at an active room of theirs", user.id),
            None => assert!(active.is_empty(), "user {} is in a room without knowing it", user.id),
        }
        let ticket = store.ticket(UserId(user.id)).await.unwrap();
        assert!(
            !(ticket.is_some() && row.current_room_id.is_some()),
            "user {} both searching and connected",
            user.id
        );
    }
    // The matcher and the store agree on who waits.
    let mut stored = Vec::new();
    for user in &users {
        if store.ticket(UserId(user.id)).await.unwrap().is_some() {
            stored.push(UserId(user.id));
        }
    }
    stored.sort();
    assert_eq!(app.state.matchmaker.waiting_users().await, stored);
    // Every man here is compatible with every woman (same need); a pair left waiting
    // must have met within the rematch cooldown.
    let now = duet::clock::Clock::now(app.clock.as_ref());
    let since = now.minus(app.state.settings.matching.rematch_cooldown);
    let mut waiting = Vec::new();
    for (i, user) in users.iter().enumerate() {
        if store.ticket(UserId(user.id)).await.unwrap().is_some() {
            waiting.push((user.id, i % 2, store.avoid_list(UserId(user.id), since).await.unwrap()));
        }
    }
    for (i, (a, gender_a, avoid_a)) in waiting.iter().enumerate() {
        for (b, gender_b, avoid_b) in &waiting[i + 1..] {
            let compatible = gender_a != gender_b;
            let avoided = avoid_a.contains(&UserId(*b)) || avoid_b.contains(&UserId(*a));
            assert!(!compatible || avoided, "users {a} and {b} were left waiting");
        }
    }
}

#[tokio::test]
async fn deleting_an_account_ends_its_room_and_keeps_reports() {
    let app = spawn_app().await;
    let mut events = app.state.events.subscribe();
    let (a, b, room) = app.pair("leaving").await;
    app.state.rooms.post_message(RoomId(room), UserId(a.id), None, "bye".into()).await.unwrap();
    let delete = |password: &'static str| {
        app.client
            .delete(app.url("/user/account"))
            .bearer_auth(&a.access)
            .json(&json!({ "password": password }))
            .send()
    };
    let body = error_of(delete("wrong password").await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_eq!(body["errors"][0]["field"], "password");
    assert_eq!(delete(crate::helpers::PASSWORD).await.unwrap().status(), StatusCode::NO_CONTENT);

    let ended = expect_event(&mut events, |e| matches!(e, Event::RoomEnded { .. })).await;
    assert!(matches!(ended, Event::RoomEnded { reason: EndReason::AccountDeleted, .. }));
    assert_eq!(app.status(&b.access).await["status"], "idle");
    error_of(app.profile(&a.access).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        error_of(app.login_raw("leaving_a", crate::helpers::PASSWORD).await, StatusCode::UNAUTHORIZED).await
            ["code"],
        "invalid_credentials"
    );
    // The partner can still report; the report keeps the erased user's id.
    let report =
        app.post_json(&format!("/chat/report/{room}"), json!({ "reason": "other" }), Some(&b.access)).await;
    assert_eq!(report.status(), StatusCode::CREATED);
    let admin = app.admin("keeper").await;
    let reports: Value = app.get("/admin/reports", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(reports["items"][0]["reported_id"], a.id);
    // The name is free again.
    assert_eq!(
        app.signup_raw("leaving_a", crate::helpers::PASSWORD, None).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_profile_change_while_searching_is_what_the_matcher_uses() {
    let app = spawn_app().await;
    let a = app.member("changer", "male", &["female"], &["friends"], &["coffee"]).await;
    let b = app.member("waiter_m", "male", &["male"], &["friends"], &["coffee"]).await;
    assert_eq!(app.search(&a.access, "chat").await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.search(&b.access, "chat").await.status(), StatusCode::ACCEPTED);
    app.update_profile(&a.access, json!({ "preferred_gender": ["male"] })).await;
    let status = app.status(&a.access).await;
    assert_eq!(status["status"], "connected", "matched on the new preference");
    // And the other way round: a change that makes a pair incompatible keeps them apart.
    let c = app.member("c_she", "female", &["male"], &["casual"], &["film"]).await;
    let d = app.member("d_he", "male", &["female"], &["serious"], &["gym"]).await;
    app.search(&c.access, "chat").await;
    let since = app.status(&c.access).await["search"]["since"].clone();
    app.update_profile(&c.access, json!({ "preferred_gender": ["female"] })).await;
    assert_eq!(app.status(&c.access).await["search"]["since"], since, "the search keeps its place");
    app.advance(Duration::from_secs(31));
    assert_eq!(app.search(&d.access, "chat").await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.status(&c.access).await["status"], "searching");
}
