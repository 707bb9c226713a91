//! Cross-cutting behaviour: health and readiness, metrics, request ids, security
//! headers, CORS, rate limits, body limits, internal errors, and the API document.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let response = app.get("/health", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "status": "ok" }));
    assert_eq!(app.get("/ready", None).await.status(), StatusCode::OK);

    // With the database gone, readiness fails and database work is a clean 503 the
    // client may retry.
    let session = app.signup("before").await;
    app.state.store.close().await;
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json::<Value>().await.unwrap(), json!({ "status": "database_unavailable" }));
    assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
    let response = app.profile(&session.access).await;
    assert_eq!(response.headers()["retry-after"], "2");
    let body = error_of(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["code"], "database_unavailable");
    assert_eq!(body["detail"], "the database is unavailable; retry shortly");
    let text = body.to_string();
    assert!(
        !text.contains("pool") && !text.contains("sqlx") && !text.contains("closed"),
        "no internals: {text}"
    );
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = spawn_app().await;
    let response = app.get("/health", None).await;
    assert!(!response.headers()["x-request-id"].is_empty());
    let response =
        app.client.get(app.url("/nowhere")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let body = error_of(response, StatusCode::NOT_FOUND).await;
    assert_eq!(body["request_id"], "trace-me-42");
    // A client's id that is not a short safe token is replaced, never echoed.
    for unsafe_id in ["attacker-chosen id <script>", &"x".repeat(65), "a\"b"] {
        let response =
            app.client.get(app.url("/nowhere")).header("x-request-id", unsafe_id).send().await.unwrap();
        let echoed = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(echoed, unsafe_id);
        assert_eq!(echoed.len(), 36, "a fresh UUID: {echoed}");
        assert_eq!(error_of(response, StatusCode::NOT_FOUND).await["request_id"], echoed.as_str());
    }
    let response = app.client.delete(app.url("/auth/login")).send().await.unwrap();
    assert_eq!(error_of(response, StatusCode::METHOD_NOT_ALLOWED).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = spawn_app().await;
    for response in [
        app.get("/health", None).await,
        app.get("/nowhere", None).await,
        app.get("/user/profile", None).await,
    ] {
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    }
}

#[tokio::test]
async fn cors_is_off_by_default_and_follows_configured_origins() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());

    let app = spawn_app_with(&["--allowed-origins=https://duet.example,https://m.duet.example"]).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/login"))
        .header("origin", "https://m.duet.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://m.duet.example");
    let other =
        app.client.get(app.url("/health")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn login_is_rate_limited_with_retry_after() {
    let app = spawn_app_with(&["--rate-login=5/min"]).await;
    for _ in 0..5 {
        assert_eq!(app.login_raw("nobody", "whatever-pass").await.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.login_raw("nobody", "whatever-pass").await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "retry after {retry_after}s");
    assert_eq!(error_of(response, StatusCode::TOO_MANY_REQUESTS).await["code"], "rate_limited");
    // Other classes are counted separately.
    assert_eq!(app.get("/meta/vocabulary", None).await.status(), StatusCode::OK);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"duet_rate_limited_total{class="login"} 1"#), "{metrics}");
}

#[tokio::test]
async fn signups_and_everything_else_have_their_own_limits() {
    let app = spawn_app_with(&["--rate-signup=2/h", "--rate-default=3/min"]).await;
    let a = app.signup("first").await;
    app.signup("second").await;
    error_of(app.signup_raw("third", "long enough pass", None).await, StatusCode::TOO_MANY_REQUESTS).await;
    for _ in 0..3 {
        assert_eq!(app.profile(&a.access).await.status(), StatusCode::OK);
    }
    error_of(app.profile(&a.access).await, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn oversized_json_bodies_are_413() {
    let app = spawn_app_with(&["--max-body-bytes=1KiB"]).await;
    let big = json!({ "username": "x".repeat(2048), "password": "p" });
    let body = error_of(app.post_json("/auth/login", big, None).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn metrics_are_prometheus_text_labelled_by_route() {
    let app = spawn_app().await;
    app.signup("metric").await;
    app.get("/user/avatar/12345", None).await;
    let response = app.get("/metrics", None).await;
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains("# TYPE duet_http_requests_total counter"));
    assert!(
        text.contains(r#"duet_http_requests_total{method="POST",route="/auth/signup",status="201"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/user/avatar/{user_id}""#), "routes, not raw paths: {text}");
    assert!(!text.contains("/user/avatar/12345"));
    assert!(text.contains(r#"duet_auth_events_total{event="signup"} 1"#));
    assert!(text.contains(r#"duet_accounts{role="user",state="active"} 1"#));
    assert!(text.contains("duet_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn invented_http_methods_share_one_metric_label() {
    let app = spawn_app().await;
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("PROBE{i:03}").as_bytes()).unwrap();
        app.client.request(method, app.url("/health")).send().await.unwrap();
    }
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains("PROBE"), "no series per invented method: {text}");
    let other = text
        .lines()
        .find(|l| l.starts_with("duet_http_requests_total{") && l.contains(r#"method="other""#))
        .unwrap_or_else(|| panic!("a series for other methods: {text}"));
    assert!(other.ends_with(" 20"), "{other}");
}

#[tokio::test]
async fn the_api_document_lists_every_route_with_error_shapes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/auth/signup", "post"),
        ("/auth/login", "post"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/user/profile", "get"),
        ("/user/profile", "put"),
        ("/user/avatar", "post"),
        ("/user/avatar/{user_id}", "get"),
        ("/user/status", "get"),
        ("/meta/vocabulary", "get"),
        ("/meta/limits", "get"),
        ("/meta/online", "get"),
        ("/admin/users", "get"),
        ("/admin/users/{id}", "get"),
        ("/admin/users/{id}", "put"),
        ("/admin/users/{id}/ban", "post"),
        ("/admin/users/{id}/unban", "post"),
        ("/user/account", "delete"),
        ("/chat/search", "post"),
        ("/chat/cancel-search", "post"),
        ("/chat/like/{room_id}", "post"),
        ("/chat/keep/{room_id}", "post"),
        ("/chat/report/{room_id}", "post"),
        ("/chat/end/{room_id}", "post"),
        ("/chat/room/{room_id}", "get"),
        ("/chat/current-room", "get"),
        ("/chat/room/{room_id}/messages", "get"),
        ("/admin/dashboard", "get"),
        ("/admin/reports", "get"),
        ("/admin/reports/{id}/resolve", "post"),
        ("/admin/audit", "get"),
        ("/admin/rooms", "get"),
        ("/admin/rooms/{id}/end", "post"),
        ("/admin/status", "get"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        let responses = op["responses"].as_object().unwrap();
        let documents_an_error = responses
            .iter()
            .filter(|(status, _)| status.starts_with('4'))
            .any(|(_, r)| r.to_string().contains("#/components/schemas/ErrorBody"));
        assert!(documents_an_error, "{method} {path} documents its error shape");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in
        ["ErrorBody", "ErrorCode", "FieldError", "TokenResponse", "OwnProfile", "ProfileUpdate", "Vocabulary"]
    {
        assert!(schemas.contains_key(schema), "schema {schema}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    let page = app.get("/docs", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/docs/swagger-ui-bundle.js"));
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}

#[tokio::test]
async fn the_limits_clients_check_are_the_servers_own_settings() {
    let app = spawn_app_with(&["--max-message-chars=300", "--msg-rate=7", "--like-after=90s"]).await;
    let limits: Value = app.get("/meta/limits", None).await.json().await.unwrap();
    assert_eq!(limits["message_max_chars"], 300);
    assert_eq!(limits["chat_rate_per_sec"], 7);
    assert_eq!(limits["like_after_secs"], 90);
    assert_eq!(limits["nickname_max_chars"], 32, "the profile rule, not the client's old 64");
    assert_eq!(limits["interests_max"], 5);
    assert_eq!(limits["avatar_max_bytes"], 5 * 1024 * 1024);
    assert_eq!(limits["report_reasons"], json!(["spam", "harassment", "underage", "inappropriate", "other"]));
}

#[tokio::test]
async fn the_public_online_count_follows_open_sockets_and_is_taken_at_most_every_ten_seconds() {
    let app = spawn_app().await;
    let count = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "public, max-age=10");
        let body: Value = response.json().await.unwrap();
        assert!(body["counted_at"].is_string(), "{body}");
        body["online"].as_u64().expect("a count")
    };
    assert_eq!(count(app.get("/meta/online", None).await).await, 0, "no token needed");
    let ana = app.signup_complete("ana").await;
    let mut socket = app.status_socket(&ana.access).await;
    // The server registers the socket before its first frame: once that is read, ana counts.
    assert_eq!(crate::ws::next_frame(&mut socket).await["type"], "status_update");
    assert_eq!(count(app.get("/meta/online", None).await).await, 0, "still the count of a moment ago");
    app.advance(Duration::from_secs(10));
    assert_eq!(count(app.get("/meta/online", None).await).await, 1, "counted again");
}
