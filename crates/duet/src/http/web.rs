//! The web client: the files under `crates/duet/web/` (an HTML page, a style sheet, an
//! icon and plain JavaScript modules, written by hand with no build step), embedded in
//! the binary, served at `GET /` (the page) and `GET /app/{path}` (everything else).
//! It owns only the serving: content types, cache headers and ETags. The client talks
//! to the API and the sockets like any other client; the page runs under the default
//! `Content-Security-Policy` of [`super::middleware`]. [`super::router`] merges [`routes`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// Every file of the client: its path under `/app/` (and under `crates/duet/web/`) and
/// its bytes. A file added to `web/` must be listed here; a unit test checks that the
/// two agree.
macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)) as &[u8])),*]
    };
}

const FILES: &[(&str, &[u8])] = assets![
    "index.html",
    "app.css",
    "icon.svg",
    "js/api.js",
    "js/attention.js",
    "js/call.js",
    "js/chat-socket.js",
    "js/connection.js",
    "js/dom.js",
    "js/i18n.js",
    "js/main.js",
    "js/socket.js",
    "js/status-socket.js",
    "js/strings.js",
    "js/ui.js",
    "js/views/admin-audit.js",
    "js/views/admin-common.js",
    "js/views/admin-dashboard.js",
    "js/views/admin-reports.js",
    "js/views/admin-rooms.js",
    "js/views/admin-users.js",
    "js/views/admin.js",
    "js/views/auth.js",
    "js/views/call-panel.js",
    "js/views/composer.js",
    "js/views/ended.js",
    "js/views/like-round.js",
    "js/views/message-list.js",
    "js/views/profile.js",
    "js/views/report-dialog.js",
    "js/views/room-header.js",
    "js/views/room.js",
    "js/views/search.js",
    "js/views/welcome.js",
];

/// The page at `/`; it is also served as `/app/index.html`.
const INDEX: &str = "index.html";

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    /// A strong validator from the content, computed once at startup.
    etag: HeaderValue,
}

type Assets = Arc<HashMap<&'static str, Asset>>;

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn build() -> Assets {
    let assets = FILES
        .iter()
        .map(|(path, body)| {
            let digest = Sha256::digest(body);
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            let etag = HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value");
            (*path, Asset { body, content_type: content_type(path), etag })
        })
        .collect();
    Arc::new(assets)
}

/// `GET /` and `GET /app/{path}`. Every answer is `Cache-Control: no-cache` with an
/// ETag: browsers revalidate on each load (a 304 costs one round trip), so a new
/// binary's client is picked up at once and never mixed with an old cached module.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let assets = build();
    Router::new().route("/", get(index)).route("/app/{*path}", get(asset)).with_state(assets)
}

async fn index(State(assets): State<Assets>, headers: HeaderMap) -> Response {
    serve(&assets, INDEX, &headers)
}

async fn asset(State(assets): State<Assets>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&assets, &path, &headers)
}

fn serve(assets: &Assets, path: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets.get(path) else {
        return ApiError::not_found("file").into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag || t.trim() == "*"));
    let common =
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")), (header::ETAG, asset.etag.clone())];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type))], asset.body)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `web/` is served, and every served file exists.
    #[test]
    fn the_table_lists_every_file() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("web/ is readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(
                        path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/"),
                    );
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk = Vec::new();
        walk(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("js/main.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("icon.svg"), "image/svg+xml");
    }
}
