//! Accounts and tokens: signup, login, refresh rotation and reuse, logout, bans, and
//! every way an access token can be refused.

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, until_a_query_waits_on_a_lock, PASSWORD, SECRET};

#[tokio::test]
async fn signup_returns_a_token_pair_and_the_account() {
    let app = spawn_app().await;
    let response = app.signup_raw("Linh_92", PASSWORD, Some("Linh@Example.com")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["username"], "Linh_92");
    assert_eq!(body["user"]["email"], "linh@example.com");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["user"]["profile_complete"], false);
    assert!(body["user"].get("password_hash").is_none());
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(app.profile(token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn signup_lists_every_invalid_field() {
    let app = spawn_app().await;
    let body =
        error_of(app.signup_raw("x!", "short", Some("not-an-email")).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "validation_error");
    let fields: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["username", "password", "email"]);
}

#[tokio::test]
async fn usernames_and_emails_are_unique_ignoring_case() {
    let app = spawn_app().await;
    assert_eq!(
        app.signup_raw("minh", PASSWORD, Some("minh@example.com")).await.status(),
        StatusCode::CREATED
    );
    let body = error_of(app.signup_raw("MINH", PASSWORD, None).await, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "username_taken");
    let body =
        error_of(app.signup_raw("minh2", PASSWORD, Some("MINH@example.com")).await, StatusCode::CONFLICT)
            .await;
    assert_eq!(body["code"], "email_taken");
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let app = spawn_app().await;
    app.signup("anh").await;
    let wrong = error_of(app.login_raw("anh", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    let unknown = error_of(app.login_raw("nobody", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong["code"], "invalid_credentials");
    assert_eq!(wrong["detail"], unknown["detail"]);
    assert_eq!(wrong["code"], unknown["code"]);
    // Usernames are matched ignoring case at login too.
    assert_eq!(app.login_raw("ANH", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_bodies_get_the_app_error_shape() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response, StatusCode::BAD_REQUEST).await["code"], "bad_request");
    let response = app.client.post(app.url("/auth/login")).body("username=a").send().await.unwrap();
    assert_eq!(error_of(response, StatusCode::BAD_REQUEST).await["code"], "bad_request");
    let response = app.post_json("/auth/login", json!({ "username": "a" }), None).await;
    assert_eq!(error_of(response, StatusCode::BAD_REQUEST).await["code"], "bad_request");
}

fn forge(alg: jsonwebtoken::Algorithm, claims: Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let session = app.signup("tuan").await;
    let now = app.clock_secs();
    let claims = |iss: &str, exp: i64| json!({ "sub": session.id.to_string(), "iat": now, "exp": exp, "iss": iss, "ver": 0 });
    let hs256 = jsonwebtoken::Algorithm::HS256;

    // Control: a token forged with the real key and valid claims is accepted, so the
    // refusals below are about what each one changes.
    let good = forge(hs256, claims("duet", now + 60), SECRET.as_bytes());
    assert_eq!(app.profile(&good).await.status(), StatusCode::OK);

    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims("duet", now + 60).to_string())
    );
    let cases = [
        ("alg none", none),
        ("wrong key", forge(hs256, claims("duet", now + 60), b"another-key-another-key-another-key")),
        ("wrong issuer", forge(hs256, claims("evil", now + 60), SECRET.as_bytes())),
        ("expired", forge(hs256, claims("duet", now - 1), SECRET.as_bytes())),
        ("HS512 header", forge(jsonwebtoken::Algorithm::HS512, claims("duet", now + 60), SECRET.as_bytes())),
        (
            "no exp",
            forge(
                hs256,
                json!({ "sub": session.id.to_string(), "iat": now, "iss": "duet", "ver": 0 }),
                SECRET.as_bytes(),
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in cases {
        let body = error_of(app.profile(&token).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(body["code"], "unauthorized", "{what}");
    }
    let body = error_of(app.get("/user/profile", None).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "unauthorized");
    let response =
        app.client.get(app.url("/user/profile")).header("authorization", "Basic abc").send().await.unwrap();
    error_of(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn access_tokens_expire_with_the_clock() {
    let app = spawn_app().await;
    let session = app.signup("thu").await;
    app.advance(Duration::from_secs(14 * 60));
    assert_eq!(app.profile(&session.access).await.status(), StatusCode::OK);
    app.advance(Duration::from_secs(61));
    error_of(app.profile(&session.access).await, StatusCode::UNAUTHORIZED).await;
    // The refresh token outlives it and yields a working pair.
    let renewed = app.refresh(&session.refresh).await;
    assert_eq!(app.profile(&renewed.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let first = app.signup("hoa").await;
    let second = app.refresh(&first.refresh).await;
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(app.profile(&second.access).await.status(), StatusCode::OK);

    // The rotated-away token comes back: reuse.
    let body = error_of(app.refresh_raw(&first.refresh).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "refresh_token_reused");
    // ...and the whole family is revoked, including the newest token.
    let body = error_of(app.refresh_raw(&second.refresh).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "invalid_refresh_token");
    // So is the access token the rotation minted (whoever holds it, maybe a thief),
    // with every other access token of the user.
    let body = error_of(app.profile(&second.access).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["detail"], "access token has been revoked");

    // Another login (another family) can still refresh after that reuse.
    let other = app.login("hoa").await;
    assert_eq!(app.refresh_raw(&other.refresh).await.status(), StatusCode::OK);
    let body = error_of(app.refresh_raw("made-up-token").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "invalid_refresh_token");
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let app = spawn_app_short_refresh().await;
    let session = app.signup("kim").await;
    app.advance(Duration::from_secs(3601));
    let body = error_of(app.refresh_raw(&session.refresh).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "invalid_refresh_token");
}

async fn spawn_app_short_refresh() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(&["--refresh-ttl=1h"]).await
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_tokens_at_once() {
    let app = spawn_app().await;
    let session = app.signup("quang").await;
    let response = app
        .post_json("/auth/logout", json!({ "refresh_token": session.refresh }), Some(&session.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let body = error_of(app.profile(&session.access).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["detail"], "access token has been revoked");
    error_of(app.refresh_raw(&session.refresh).await, StatusCode::UNAUTHORIZED).await;
    // Signing in again works.
    let again = app.login("quang").await;
    assert_eq!(app.profile(&again.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_without_a_body_revokes_every_session() {
    let app = spawn_app().await;
    let phone = app.signup("lan").await;
    let laptop = app.login("lan").await;
    let response = app.client.post(app.url("/auth/logout")).bearer_auth(&laptop.access).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    error_of(app.refresh_raw(&phone.refresh).await, StatusCode::UNAUTHORIZED).await;
    error_of(app.refresh_raw(&laptop.refresh).await, StatusCode::UNAUTHORIZED).await;
    error_of(app.profile(&phone.access).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_ban_revokes_tokens_and_is_revealed_only_after_the_right_password() {
    let app = spawn_app().await;
    let admin = app.admin("boss").await;
    let user = app.signup("spammer").await;
    let response = app
        .post_json(
            &format!("/admin/users/{}/ban", user.id),
            json!({ "days": 2, "reason": "spam" }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(error_of(app.profile(&user.access).await, StatusCode::FORBIDDEN).await["code"], "banned");
    assert_eq!(error_of(app.refresh_raw(&user.refresh).await, StatusCode::FORBIDDEN).await["code"], "banned");
    let wrong = error_of(app.login_raw("spammer", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong["code"], "invalid_credentials");
    let right = error_of(app.login_raw("spammer", PASSWORD).await, StatusCode::FORBIDDEN).await;
    assert_eq!(right["code"], "banned");

    // The ban lapses with time; old tokens stay revoked, a new login works.
    app.advance(Duration::from_secs(2 * 86_400 + 1));
    let fresh = app.login("spammer").await;
    assert_eq!(app.profile(&fresh.access).await.status(), StatusCode::OK);
    error_of(app.refresh_raw(&user.refresh).await, StatusCode::UNAUTHORIZED).await;
}

impl crate::helpers::TestApp {
    fn clock_secs(&self) -> i64 {
        use duet::clock::Clock;
        self.clock.now().as_secs()
    }
}

/// A login for `username` with `password`, as if from `addr` (the server trusts
/// `X-Forwarded-For`).
async fn login_from(app: &crate::helpers::TestApp, addr: &str, username: &str, password: &str) -> StatusCode {
    app.client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", addr)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_without_locking_its_owner_out() {
    let app = crate::helpers::spawn_app_with(&["--trust-forwarded-for=true"]).await;
    app.signup("targeted").await;
    // Ten addresses guess once each (each well within the per-address limit).
    for i in 0..10 {
        let status = login_from(&app, &format!("10.0.0.{i}"), "targeted", "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The account's budget is spent: an address that failed is held back, even with
    // the right password, and whatever case the name is written in.
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", "10.0.0.3")
        .json(&json!({ "username": "TARGETED", "password": "another guess" }))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_of(response, StatusCode::TOO_MANY_REQUESTS).await["code"], "rate_limited");
    assert_eq!(login_from(&app, "10.0.0.3", "targeted", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
    // The owner, from an address that has not failed, gets in.
    assert_eq!(login_from(&app, "192.0.2.7", "targeted", PASSWORD).await, StatusCode::OK);
    // A new address may still try once; then it is held back too.
    assert_eq!(login_from(&app, "10.0.1.1", "targeted", "wrong").await, StatusCode::UNAUTHORIZED);
    assert_eq!(login_from(&app, "10.0.1.1", "targeted", "wrong").await, StatusCode::TOO_MANY_REQUESTS);
    // After the window, the held-back addresses may try again.
    app.advance(Duration::from_secs(15 * 60));
    assert_eq!(login_from(&app, "10.0.0.3", "targeted", PASSWORD).await, StatusCode::OK);
}

#[tokio::test]
async fn deleting_the_account_is_limited_like_a_login() {
    let app = crate::helpers::spawn_app_with(&["--rate-login=3/min"]).await;
    let user = app.signup("oracle").await;
    let delete = || {
        app.client
            .delete(app.url("/user/account"))
            .bearer_auth(&user.access)
            .json(&json!({ "password": "wrong password" }))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(delete().await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        error_of(delete().await.unwrap(), StatusCode::TOO_MANY_REQUESTS).await["code"],
        "rate_limited"
    );
}

/// A logout beside another transaction that changes the same user's row and then its
/// refresh tokens (as a ban does) waits its turn instead of deadlocking: both take the
/// user's row first. PostgreSQL only (SQLite has one writer and no row locks).
#[tokio::test]
async fn a_logout_and_a_ban_of_one_user_never_deadlock() {
    use sqlx::Connection;
    let app = spawn_app().await;
    let Some(url) = app.args.iter().find_map(|a| a.strip_prefix("--database-url=")) else { return };
    let session = app.signup("twolocks").await;
    let mut banning = sqlx::PgConnection::connect(url).await.unwrap();
    let mut watch = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut banning).await.unwrap();
    sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
        .bind(session.id)
        .execute(&mut banning)
        .await
        .unwrap();
    let logout = {
        let (client, url, access) = (app.client.clone(), app.url("/auth/logout"), session.access.clone());
        tokio::spawn(async move { client.post(url).bearer_auth(access).send().await.unwrap().status() })
    };
    // The logout is blocked on a lock held by `banning` (the user's row, after the fix).
    until_a_query_waits_on_a_lock(&mut watch, || false).await;
    sqlx::query("UPDATE refresh_tokens SET issued_at = issued_at WHERE user_id = $1")
        .bind(session.id)
        .execute(&mut banning)
        .await
        .expect("the banning transaction is not chosen as a deadlock victim");
    sqlx::query("COMMIT").execute(&mut banning).await.unwrap();
    assert_eq!(logout.await.unwrap(), StatusCode::NO_CONTENT, "the logout went through after the other");
    error_of(app.refresh_raw(&session.refresh).await, StatusCode::UNAUTHORIZED).await;
}
