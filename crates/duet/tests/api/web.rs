//! The embedded web client: the page at `/` under the default content security policy,
//! its files under `/app/` with their content types and ETags, and 404 for the rest.

use reqwest::StatusCode;

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn the_page_is_served_at_the_root_under_the_policy() {
    let app = spawn_app().await;
    let response = app.get("/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("style-src 'self';"), "no inline styles allowed: {csp}");
    assert!(csp.contains("img-src 'self' data: blob:"), "{csp}");
    let body = response.text().await.unwrap();
    assert!(body.starts_with("<!doctype html>"));
    assert!(body.contains(r#"<script type="module" src="/app/js/main.js"></script>"#));
    // The policy forbids inline code, so the page must have none.
    assert!(!body.contains("<style"), "no inline style element");
    assert!(!body.contains("style=\""), "no inline style attribute");
    assert!(!body.contains("<script>"), "no inline script");
    for handler in ["onclick=", "onload=", "onerror=", "javascript:"] {
        assert!(!body.contains(handler), "no inline event handler: {handler}");
    }
}

#[tokio::test]
async fn assets_have_their_content_types_and_revalidate() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/app/app.css", "text/css; charset=utf-8"),
        ("/app/js/main.js", "text/javascript; charset=utf-8"),
        ("/app/js/views/room.js", "text/javascript; charset=utf-8"),
        ("/app/icon.svg", "image/svg+xml"),
        ("/app/index.html", "text/html; charset=utf-8"),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10, "{path}: {etag}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{path}");

        let again = app.client.get(app.url(path)).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert!(again.bytes().await.unwrap().is_empty());

        let stale = app.client.get(app.url(path)).header("if-none-match", "\"other\"").send().await.unwrap();
        assert_eq!(stale.status(), StatusCode::OK, "{path}");
    }
    // Different files, different validators.
    let css = app.get("/app/app.css", None).await.headers()["etag"].clone();
    let js = app.get("/app/js/main.js", None).await.headers()["etag"].clone();
    assert_ne!(css, js);
}

#[tokio::test]
async fn unknown_assets_are_not_found() {
    let app = spawn_app().await;
    for path in ["/app/nothing.js", "/app/js/../../Cargo.toml", "/app/", "/app/js/", "/index.html"] {
        let body = error_of(app.get(path, None).await, StatusCode::NOT_FOUND).await;
        assert_eq!(body["code"], "not_found", "{path}");
    }
    // The client's pages do not shadow the API.
    assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/user/profile", None).await.status(), StatusCode::UNAUTHORIZED);
}
