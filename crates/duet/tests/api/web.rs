//! The embedded web client: the page at `/` under the default content security policy,
//! its files under `/app/` with their content types and ETags, under hashed names cached
//! for a year, preloaded by the page; compressed answers; the manifest and the service
//! worker; and 404 for the rest.

use futures_util::StreamExt;
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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
    assert!(
        body.contains(r#"<script type="module" src="/app/js/main."#),
        "the entry module, by its hashed name"
    );
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
        // Weak: the same content may go out in another encoding.
        assert!(etag.starts_with("W/\"") && etag.ends_with('"') && etag.len() > 10, "{path}: {etag}");
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

/// The hashed URLs a text names (`/app/….<10 hex>.<ext>`).
fn hashed_urls(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("/app/") {
        let tail = &rest[start..];
        let end =
            tail.find(|c: char| c == '"' || c == '\'' || c == ')' || c.is_whitespace()).unwrap_or(tail.len());
        let url = &tail[..end];
        let hashed = url.rsplit('/').next().is_some_and(|name| {
            let parts: Vec<&str> = name.split('.').collect();
            parts.len() >= 3
                && parts[parts.len() - 2].len() == 10
                && parts[parts.len() - 2].bytes().all(|b| b.is_ascii_hexdigit())
        });
        if hashed {
            urls.push(url.to_owned());
        }
        rest = &tail[end.max(5)..];
    }
    urls
}

#[tokio::test]
async fn the_page_names_its_files_by_hash_and_preloads_its_modules_which_are_cached_for_a_year() {
    let app = spawn_app().await;
    let page = app.get("/", None).await.text().await.unwrap();
    let urls = hashed_urls(&page);
    for name in ["/app/app.", "/app/icon.", "/app/manifest.", "/app/js/main."] {
        assert!(urls.iter().any(|u| u.starts_with(name)), "{name} by its hashed name in {urls:?}");
    }
    // Every module main.js imports, directly or through another, is preloaded: the
    // browser fetches them side by side instead of one import after another.
    for module in ["js/api.", "js/views/search.", "js/views/welcome.", "js/strings.", "js/dom."] {
        assert!(
            page.lines().any(|l| l.starts_with(&format!("<link rel=\"modulepreload\" href=\"/app/{module}"))),
            "{module} is preloaded"
        );
    }
    let main = urls.iter().find(|u| u.starts_with("/app/js/main.")).unwrap();
    let response = app.get(main, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(response.headers()["content-type"], "text/javascript; charset=utf-8");
    let source = response.text().await.unwrap();
    // Its imports name hashed files too, each served, for a year.
    assert!(
        source.contains("from '/app/js/api."),
        "imports are rewritten: {}",
        &source[..400.min(source.len())]
    );
    assert!(!source.contains("from './"), "no relative import is left");
    // The room, the profile and the console load when first shown, and are not preloaded.
    for screen in ["room", "profile", "admin"] {
        assert!(
            source.contains(&format!("import('/app/js/views/{screen}.")),
            "{screen} is imported when shown"
        );
        assert!(!page.contains(&format!("/app/js/views/{screen}.")), "{screen} is not preloaded");
    }
    for url in hashed_urls(&source) {
        let r = app.get(&url, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable", "{url}");
    }
    // The plain name serves the same file, revalidated on each load.
    let plain = app.get("/app/js/main.js", None).await;
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    assert_eq!(plain.text().await.unwrap(), source);
    // A hash that is not the file's is not found.
    let body = error_of(app.get("/app/js/main.0000000000.js", None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn text_answers_are_compressed_for_clients_that_accept_it_and_sockets_still_open() {
    let app = spawn_app().await;
    for path in ["/", "/app/app.css", "/app/js/strings.js", "/meta/vocabulary", "/openapi.json"] {
        let plain = app.client.get(app.url(path)).send().await.unwrap().bytes().await.unwrap();
        for encoding in ["br", "gzip"] {
            let response =
                app.client.get(app.url(path)).header("accept-encoding", encoding).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()["content-encoding"], encoding, "{path}");
            assert_eq!(response.headers()["vary"], "accept-encoding", "{path}");
            let compressed = response.bytes().await.unwrap();
            assert!(
                compressed.len() * 2 < plain.len(),
                "{path} in {encoding}: {} of {} bytes",
                compressed.len(),
                plain.len()
            );
        }
    }
    // Images are left as they are.
    let png = app
        .client
        .get(app.url("/app/icons/icon-192.png"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert!(png.headers().get("content-encoding").is_none());
    // A WebSocket upgrade from a client that accepts compressed answers is still an upgrade.
    let ana = app.signup("ana").await;
    let mut request =
        format!("{}/ws/status?token={}", app.ws_base(), ana.access).into_client_request().unwrap();
    request.headers_mut().insert("accept-encoding", "gzip, br".parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("the socket opens");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let first = socket.next().await.expect("a frame").expect("no error");
    assert!(first.to_text().unwrap().contains("status_update"), "{first:?}");
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn the_app_is_installable_a_manifest_and_a_service_worker_that_keeps_only_the_shell() {
    let app = spawn_app().await;
    let page = app.get("/", None).await.text().await.unwrap();
    let manifest_url = hashed_urls(&page).into_iter().find(|u| u.starts_with("/app/manifest.")).unwrap();
    assert!(page.contains(&format!(r#"<link rel="manifest" href="{manifest_url}">"#)));
    let response = app.get(&manifest_url, None).await;
    assert_eq!(response.headers()["content-type"], "application/manifest+json");
    let manifest: serde_json::Value = response.json().await.unwrap();
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    for size in ["192x192", "512x512"] {
        let icon = icons.iter().find(|i| i["sizes"] == size && i["type"] == "image/png").expect(size);
        let r = app.get(icon["src"].as_str().unwrap(), None).await;
        assert_eq!(r.status(), StatusCode::OK, "{icon}");
        assert_eq!(r.headers()["content-type"], "image/png");
    }
    assert!(icons.iter().any(|i| i["purpose"] == "maskable"), "a maskable icon");

    let worker = app.get("/sw.js", None).await;
    assert_eq!(worker.status(), StatusCode::OK);
    assert_eq!(worker.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(worker.headers()["cache-control"], "no-cache");
    let source = worker.text().await.unwrap();
    let list = source.lines().find(|l| l.starts_with("const SHELL = ")).unwrap();
    let shell: Vec<String> =
        serde_json::from_str(list.trim_start_matches("const SHELL = ").trim_end_matches(';')).unwrap();
    assert!(shell.iter().any(|u| u.starts_with("/app/offline.")), "the offline page: {shell:?}");
    assert!(shell.iter().any(|u| u.starts_with("/app/js/main.")), "the modules");
    // Only the client's own files: never an API answer, never the page (always from the network).
    assert!(shell.iter().all(|u| u.starts_with("/app/")), "{shell:?}");
    for url in &shell {
        assert_eq!(app.get(url, None).await.status(), StatusCode::OK, "{url}");
    }
}
