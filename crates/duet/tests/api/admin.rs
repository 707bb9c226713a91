//! Administration: access control, the user list and its filters, edits, bans, and
//! the `duet admin create` command.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, PASSWORD};

#[tokio::test]
async fn admin_routes_need_an_administrator() {
    let app = spawn_app().await;
    let user = app.signup("plain").await;
    for path in ["/admin/users", &format!("/admin/users/{}", user.id)] {
        assert_eq!(
            error_of(app.get(path, Some(&user.access)).await, StatusCode::FORBIDDEN).await["code"],
            "forbidden"
        );
        error_of(app.get(path, None).await, StatusCode::UNAUTHORIZED).await;
    }
    let response = app
        .post_json(
            &format!("/admin/users/{}/ban", user.id),
            json!({ "days": 1, "reason": "x" }),
            Some(&user.access),
        )
        .await;
    error_of(response, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn the_user_list_pages_and_filters() {
    let app = spawn_app().await;
    let admin = app.admin("root_admin").await;
    for name in ["alpha", "bravo", "charlie", "delta", "echo_x"] {
        app.signup(name).await;
    }
    let page: Value = app.get("/admin/users?page=2&limit=2", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(page["total"], 6);
    assert_eq!(page["page"], 2);
    assert_eq!(page["limit"], 2);
    let names: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["bravo", "charlie"]);

    let found: Value = app.get("/admin/users?q=HARL", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["username"], "charlie");
    // LIKE wildcards in the query are literal.
    let found: Value = app.get("/admin/users?q=o_x", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(found["total"], 1);
    let found: Value = app.get("/admin/users?q=%25", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(found["total"], 0);

    let delta = found_id(&app, &admin.access, "delta").await;
    app.post_json(
        &format!("/admin/users/{delta}/ban"),
        json!({ "days": 1, "reason": "spam" }),
        Some(&admin.access),
    )
    .await;
    let banned: Value =
        app.get("/admin/users?status=banned", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(banned["total"], 1);
    assert_eq!(banned["items"][0]["username"], "delta");
    assert_eq!(banned["items"][0]["ban_reason"], "spam");
    let idle: Value = app.get("/admin/users?status=idle", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(idle["total"], 5);
    let connected: Value =
        app.get("/admin/users?status=connected", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(connected["total"], 0);

    for bad in [
        "/admin/users?page=0",
        "/admin/users?limit=500",
        "/admin/users?status=sleeping",
        "/admin/users?page=x",
        // An offset that would overflow is refused, not wrapped round to page 1.
        "/admin/users?page=9223372036854775807&limit=100",
        "/admin/reports?page=9223372036854775807&limit=100",
        "/admin/rooms?page=9223372036854775807&limit=100",
        "/admin/reports?page=1000001",
    ] {
        error_of(app.get(bad, Some(&admin.access)).await, StatusCode::BAD_REQUEST).await;
    }
}

async fn found_id(app: &crate::helpers::TestApp, token: &str, name: &str) -> i64 {
    let found: Value = app.get(&format!("/admin/users?q={name}"), Some(token)).await.json().await.unwrap();
    found["items"][0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn admins_edit_ban_and_unban_users() {
    let app = spawn_app().await;
    let admin = app.admin("chief").await;
    let user = app.signup_complete("giang").await;
    app.signup_raw("other", PASSWORD, Some("taken@example.com")).await;
    let path = format!("/admin/users/{}", user.id);

    let detail: Value = app.get(&path, Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(detail["username"], "giang");
    assert_eq!(detail["status"], "idle");
    error_of(app.get("/admin/users/424242", Some(&admin.access)).await, StatusCode::NOT_FOUND).await;

    let edited: Value = app
        .put_json(&path, json!({ "nickname": "  Moderated  ", "email": "g@example.com" }), &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["nickname"], "Moderated");
    assert_eq!(edited["email"], "g@example.com");
    let cleared: Value =
        app.put_json(&path, json!({ "email": null }), &admin.access).await.json().await.unwrap();
    assert!(cleared["email"].is_null());
    assert_eq!(cleared["nickname"], "Moderated");
    let body = error_of(
        app.put_json(&path, json!({ "email": "TAKEN@example.com" }), &admin.access).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(body["code"], "email_taken");
    let body = error_of(
        app.put_json(&path, json!({ "nickname": "" }), &admin.access).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "nickname");
    error_of(app.put_json(&path, json!({ "role": "king" }), &admin.access).await, StatusCode::BAD_REQUEST)
        .await;

    // Roles are read from the database: a promotion takes effect on the next request,
    // with the token the user already has.
    let body = error_of(app.get("/admin/users", Some(&user.access)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "forbidden");
    let promoted: Value =
        app.put_json(&path, json!({ "role": "admin" }), &admin.access).await.json().await.unwrap();
    assert_eq!(promoted["role"], "admin");
    assert_eq!(app.get("/admin/users", Some(&user.access)).await.status(), StatusCode::OK);
    let demoted: Value =
        app.put_json(&path, json!({ "role": "user" }), &admin.access).await.json().await.unwrap();
    assert_eq!(demoted["role"], "user");
    error_of(app.get("/admin/users", Some(&user.access)).await, StatusCode::FORBIDDEN).await;
    let own = format!("/admin/users/{}", admin.id);
    let body =
        error_of(app.put_json(&own, json!({ "role": "user" }), &admin.access).await, StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(body["errors"][0]["field"], "role");

    let ban = format!("{path}/ban");
    for bad in [
        json!({ "days": 0, "reason": "x" }),
        json!({ "days": 1, "reason": "  " }),
        json!({ "days": 99999, "reason": "x" }),
    ] {
        error_of(app.post_json(&ban, bad, Some(&admin.access)).await, StatusCode::BAD_REQUEST).await;
    }
    let self_ban = format!("/admin/users/{}/ban", admin.id);
    error_of(
        app.post_json(&self_ban, json!({ "days": 1, "reason": "oops" }), Some(&admin.access)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let banned: Value = app
        .post_json(&ban, json!({ "days": 3, "reason": "harassment" }), Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert!(banned["banned_until"].is_string());
    error_of(app.login_raw("giang", PASSWORD).await, StatusCode::FORBIDDEN).await;

    let unbanned: Value =
        app.post_json(&format!("{path}/unban"), json!({}), Some(&admin.access)).await.json().await.unwrap();
    assert!(unbanned["banned_until"].is_null());
    assert_eq!(app.login_raw("giang", PASSWORD).await.status(), StatusCode::OK);
    error_of(
        app.post_json("/admin/users/424242/unban", json!({}), Some(&admin.access)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// A fresh data folder (and a fresh PostgreSQL database when the suite runs on one),
/// as the storage flags of a `duet` command; the guards keep both alive.
async fn command_storage() -> (tempfile::TempDir, Option<crate::helpers::TestDatabase>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = vec![format!("--data-dir={}", dir.path().display())];
    let database = crate::helpers::fresh_postgres_database().await;
    if let Some(db) = &database {
        storage.push(format!("--database-url={}", db.url));
    }
    (dir, database, storage)
}

/// The storage flags plus what a command that signs tokens needs on them: a
/// configured secret on PostgreSQL (SQLite makes its own file).
fn signing(storage: &[String]) -> Vec<String> {
    let mut flags = storage.to_vec();
    if storage.iter().any(|f| f.starts_with("--database-url=postgres")) {
        flags.push(format!("--jwt-secret={}", crate::helpers::SECRET));
    }
    flags
}

/// Runs `duet admin <args> <storage>` with `stdin` on its standard input.
fn admin_command(args: &[&str], storage: &[String], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duet"))
        .arg("admin")
        .args(args)
        .args(storage)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A server on that storage, serving until the test ends; its base URL.
async fn serve_on(storage: &[String]) -> String {
    let mut args = vec!["duet".to_owned(), "serve".to_owned(), "--bind=127.0.0.1:0".to_owned()];
    args.extend(signing(storage));
    let app = duet::app::App::build(crate::helpers::settings_from(&args)).await.unwrap();
    let base = format!("http://{}", app.addr());
    tokio::spawn(app.run_until(std::future::pending()));
    base
}

async fn login_on(base: &str, username: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_admin_create_command_makes_an_administrator() {
    let (_dir, _db, storage) = command_storage().await;
    let create =
        |username: &str, stdin: &str| admin_command(&["create", "--username", username], &storage, stdin);
    let out = create("site_admin", &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created administrator site_admin"));

    let again = create("SITE_ADMIN", &format!("{PASSWORD}\n"));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("username is already taken"));
    let empty = create("second", "");
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no password"));

    // The server on that data dir lets the new administrator in.
    let base = serve_on(&storage).await;
    let body: Value = login_on(&base, "site_admin").await.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
    let users = reqwest::Client::new()
        .get(format!("{base}/admin/users"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_admin_seed_command_makes_accounts_with_working_tokens() {
    let (dir, _db, storage) = command_storage().await;
    let tokens = dir.path().join("tokens.jsonl");
    let tokens_arg = tokens.display().to_string();
    let seed = |prefix: &str, users: &str| {
        let args = ["seed", "--users", users, "--prefix", prefix, "--emit-tokens", &tokens_arg];
        admin_command(&args, &signing(&storage), &format!("{PASSWORD}\n"))
    };
    let emitted = || -> Vec<Value> {
        let text = std::fs::read_to_string(&tokens).unwrap();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    };
    let names = |users: &[Value]| -> Vec<String> {
        users.iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
    };
    let out = seed("load", "3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seeded = emitted();
    assert_eq!(names(&seeded), ["load1", "load2", "load3"]);

    // Taken names and bad prefixes are refused with the reason.
    let again = seed("load", "2");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("load1 is already taken"));
    assert!(emitted().is_empty(), "nothing was created");
    let bad = seed("no way", "2");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid username"));
    // A name taken half-way: the accounts made before it keep their tokens.
    let taken = admin_command(&["create", "--username", "mix2"], &storage, &format!("{PASSWORD}\n"));
    assert!(taken.status.success());
    let partial = seed("mix", "3");
    assert!(!partial.status.success());
    let stderr = String::from_utf8_lossy(&partial.stderr);
    assert!(
        stderr.contains("stopped after creating 1 of 3") && stderr.contains("mix2 is already taken"),
        "{stderr}"
    );
    let mix = emitted();
    assert_eq!(names(&mix), ["mix1"]);

    // The server on that storage (the signing secret is in the database) takes the
    // emitted tokens and the shared password.
    let base = serve_on(&storage).await;
    let client = reqwest::Client::new();
    for user in seeded.iter().chain(&mix) {
        let me: Value = client
            .get(format!("{base}/user/profile"))
            .bearer_auth(user["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["id"], user["id"]);
        assert_eq!(me["role"], "user");
        assert_eq!(me["profile_complete"], false);
    }
    assert_eq!(login_on(&base, "load2").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn nickname_search_ignores_case_beyond_ascii() {
    let app = spawn_app().await;
    let admin = app.admin("searcher").await;
    let user = app.signup("someone").await;
    app.update_profile(&user.access, json!({ "nickname": "Ánh Dương" })).await;
    let found: Value = app.get("/admin/users?q=%C3%A1nh", Some(&admin.access)).await.json().await.unwrap();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["nickname"], "Ánh Dương");
}
