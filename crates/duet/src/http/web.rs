//! The web client: the files under `crates/duet/web/` (an HTML page, a style sheet,
//! icons, a web app manifest, a service worker and plain JavaScript modules, written by
//! hand with no build step), embedded in the binary, served at `GET /` (the page),
//! `GET /sw.js` (the service worker) and `GET /app/{path}` (everything else).
//! At startup each file's references to the others (a module's relative imports, any
//! `/app/…` URL) become hashed URLs that browsers may keep for a year, and the page
//! preloads its modules; the compression layer of [`super::middleware`] compresses
//! them on the way out. The client talks to the API and the sockets like any other
//! client; the page runs under the default `Content-Security-Policy` of
//! [`super::middleware`]. [`super::router`] merges [`routes`].

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use regex::Regex;
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
    "offline.html",
    "manifest.webmanifest",
    "sw.js",
    "app.css",
    "icon.svg",
    "icons/apple-touch-icon.png",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/icon-maskable-512.png",
    "icons/maskable.svg",
    "js/api.js",
    "js/attention.js",
    "js/call.js",
    "js/chat-socket.js",
    "js/connection.js",
    "js/dom.js",
    "js/i18n.js",
    "js/main.js",
    "js/offline.js",
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

/// The service worker, served at `/sw.js` (its scope is the path it is served from, and
/// it must control `/`), never under `/app/`.
const SERVICE_WORKER: &str = "sw.js";

/// In the service worker's source, the place of the list of files it keeps.
const SHELL_PLACEHOLDER: &str = "[/* the server puts the shell's URLs here */]";

/// How a file's URL is cached by browsers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caching {
    /// Its URL carries a hash of its content: it never changes, keep it a year.
    Immutable,
    /// Its URL is its name: revalidate each time (a 304 costs one round trip).
    Revalidate,
}

struct Asset {
    body: Bytes,
    content_type: &'static str,
    /// A validator from the content, computed once at startup; weak, since the
    /// compression layer may send the same content in another encoding.
    etag: HeaderValue,
}

/// The client's files as served: each under its name and under its hashed name.
struct Assets {
    files: HashMap<String, (Arc<Asset>, Caching)>,
    service_worker: Arc<Asset>,
}

type Shared = Arc<Assets>;

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

fn is_text(path: &str) -> bool {
    matches!(path.rsplit_once('.').map(|(_, ext)| ext), Some("html" | "css" | "js" | "svg" | "webmanifest"))
}

fn hex_digest(body: &[u8], bytes: usize) -> String {
    Sha256::digest(body)[..bytes].iter().map(|b| format!("{b:02x}")).collect()
}

/// `js/main.js` with hash `abc` is `js/main.abc.js`.
fn hashed_name(path: &str, hash: &str) -> String {
    match path.rsplit_once('.') {
        Some((stem, ext)) if !stem.ends_with('/') => format!("{stem}.{hash}.{ext}"),
        _ => format!("{path}.{hash}"),
    }
}

/// A module's relative static import (`from './x.js'`, `import '../y.js'`).
fn import_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r#"(\b(?:from|import)\s*)(['"])(\.\.?/[^'"\s]+)(['"])"#).expect("a valid pattern")
    })
}

/// A module's relative dynamic import (`import('./views/room.js')`): loaded when the
/// code asks for it, so never preloaded.
fn dynamic_import_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r#"(\bimport\s*\(\s*)(['"])(\.\.?/[^'"\s]+)(['"])"#).expect("a valid pattern")
    })
}

/// A reference to one of the client's files by its URL (`/app/…`).
fn url_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"/app/([A-Za-z0-9_][A-Za-z0-9_./-]*)").expect("a valid pattern"))
}

/// `./x.js` imported by `js/views/y.js` is `js/views/x.js`; `None` above the root.
fn resolve(from: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in relative.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// What a file refers to.
#[derive(Default)]
struct References {
    /// Its static imports, which load with it.
    imports: Vec<String>,
    /// Everything it names: the imports, the dynamic imports, the `/app/` URLs.
    all: Vec<String>,
}

/// The files `path` refers to, by name under `web/`.
fn references(path: &str, text: &str, known: &HashMap<&str, &[u8]>) -> References {
    let mut found = References::default();
    let imported = |pattern: &Regex, into_imports: bool, found: &mut References| {
        for c in pattern.captures_iter(text) {
            if let Some(target) = resolve(path, &c[3]).filter(|t| known.contains_key(t.as_str())) {
                if into_imports {
                    found.imports.push(target.clone());
                }
                found.all.push(target);
            }
        }
    };
    if path.ends_with(".js") {
        imported(import_pattern(), true, &mut found);
        imported(dynamic_import_pattern(), false, &mut found);
    }
    for c in url_pattern().captures_iter(text) {
        if known.contains_key(&c[1]) {
            found.all.push(c[1].to_string());
        }
    }
    found
}

/// `path`'s text with every reference to another file turned into that file's hashed
/// URL (`urls`, complete for every file it refers to).
fn rewrite(path: &str, text: &str, urls: &HashMap<String, String>) -> String {
    let imports = |text: &str, pattern: &Regex| {
        pattern
            .replace_all(text, |c: &regex::Captures| match resolve(path, &c[3]).and_then(|t| urls.get(&t)) {
                Some(url) => format!("{}{}{url}{}", &c[1], &c[2], &c[4]),
                None => c[0].to_string(),
            })
            .into_owned()
    };
    let text = if path.ends_with(".js") {
        imports(&imports(text, import_pattern()), dynamic_import_pattern())
    } else {
        text.to_owned()
    };
    url_pattern()
        .replace_all(&text, |c: &regex::Captures| match urls.get(&c[1]) {
            Some(url) => url.clone(),
            None => c[0].to_string(),
        })
        .into_owned()
}

/// The modules `entry` imports statically, directly or not (not `entry` itself), in a
/// stable order.
fn static_imports(entry: &str, graph: &HashMap<String, References>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![entry.to_string()];
    while let Some(module) = stack.pop() {
        for dep in graph.get(&module).map(|r| r.imports.as_slice()).unwrap_or_default() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen.remove(entry);
    seen.into_iter().collect()
}

fn asset(path: &str, body: Vec<u8>) -> Arc<Asset> {
    let etag = HeaderValue::from_str(&format!("W/\"{}\"", hex_digest(&body, 12)))
        .expect("hex is a valid header value");
    Arc::new(Asset { body: Bytes::from(body), content_type: content_type(path), etag })
}

/// Builds the served files from `files`: each text file's references to the others
/// become their hashed URLs, a file's hash covering its rewritten text (so a change in
/// a module changes the URLs of every module that imports it, up to the page); the
/// page preloads every module `js/main.js` imports statically, so they load side by
/// side rather than one import after another (dynamically imported screens load when
/// shown); the service worker lists every file it keeps.
fn build_from(files: &[(&str, &[u8])]) -> Assets {
    let known: HashMap<&str, &[u8]> = files.iter().copied().collect();
    let text = |path: &str| String::from_utf8_lossy(known[path]).into_owned();
    let graph: HashMap<String, References> = files
        .iter()
        .filter(|(path, _)| is_text(path))
        .map(|(path, _)| (path.to_string(), references(path, &text(path), &known)))
        .collect();

    // Dependencies first (the module graph has no cycle; a unit test checks it).
    let mut order: Vec<String> = Vec::new();
    let mut state: HashMap<String, bool> = HashMap::new(); // false: in progress, true: done
    fn visit(
        path: &str,
        graph: &HashMap<String, References>,
        state: &mut HashMap<String, bool>,
        order: &mut Vec<String>,
    ) {
        match state.get(path) {
            Some(true) => return,
            Some(false) => panic!("web/: {path} is part of an import cycle"),
            None => {}
        }
        state.insert(path.to_string(), false);
        for dep in graph.get(path).map(|r| r.all.as_slice()).unwrap_or_default() {
            visit(dep, graph, state, order);
        }
        state.insert(path.to_string(), true);
        order.push(path.to_string());
    }
    let mut paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    paths.sort_unstable();
    for path in &paths {
        visit(path, &graph, &mut state, &mut order);
    }

    let mut urls: HashMap<String, String> = HashMap::new();
    let mut served: HashMap<String, (Arc<Asset>, Caching)> = HashMap::new();
    let mut service_worker = None;
    for path in &order {
        let mut body = if is_text(path) {
            rewrite(path, &text(path), &urls).into_bytes()
        } else {
            known[path.as_str()].to_vec()
        };
        if path == INDEX {
            let preloads: String = static_imports("js/main.js", &graph)
                .iter()
                .map(|module| format!("<link rel=\"modulepreload\" href=\"{}\">\n", urls[module]))
                .collect();
            let page = String::from_utf8(body).expect("index.html is UTF-8");
            body = page.replacen("</head>", &format!("{preloads}</head>"), 1).into_bytes();
        }
        if path == SERVICE_WORKER {
            continue; // built last, from every other file's URL
        }
        let file = asset(path, body);
        if path != INDEX {
            let hashed = hashed_name(path, &hex_digest(&file.body, 5));
            urls.insert(path.clone(), format!("/app/{hashed}"));
            served.insert(hashed, (file.clone(), Caching::Immutable));
        }
        served.insert(path.clone(), (file, Caching::Revalidate));
    }
    if let Some(source) = known.get(SERVICE_WORKER) {
        // Every file but the page (always from the network), the worker itself and the
        // icons (the browser fetches those for the home screen): a new binary's files
        // change this list, so the browser installs the new worker and drops the old cache.
        let mut shell: Vec<&str> = urls
            .iter()
            .filter(|(path, _)| !path.starts_with("icons/"))
            .map(|(_, url)| url.as_str())
            .collect();
        shell.sort_unstable();
        let list = serde_json::to_string(&shell).expect("strings serialise");
        let source = String::from_utf8_lossy(source);
        assert!(source.contains(SHELL_PLACEHOLDER), "web/sw.js: the shell list's placeholder");
        service_worker =
            Some(asset(SERVICE_WORKER, source.replacen(SHELL_PLACEHOLDER, &list, 1).into_bytes()));
    }
    Assets {
        files: served,
        service_worker: service_worker.unwrap_or_else(|| asset(SERVICE_WORKER, Vec::new())),
    }
}

/// `GET /` (the page), `GET /sw.js` (the service worker) and `GET /app/{path}`. A file
/// under its hashed name (`js/main.1a2b3c4d5e.js`, the names the page and the modules
/// use) is cached for a year as immutable; under its plain name, and the page, it is
/// `Cache-Control: no-cache` with an ETag: browsers revalidate on each load, so a new
/// binary's page is picked up at once and never mixed with an old cached module.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let assets: Shared = Arc::new(build_from(FILES));
    Router::new()
        .route("/", get(index))
        .route("/sw.js", get(service_worker))
        .route("/app/{*path}", get(file))
        .with_state(assets)
}

async fn index(State(assets): State<Shared>, headers: HeaderMap) -> Response {
    let (asset, caching) = &assets.files[INDEX];
    serve(asset, *caching, &headers)
}

async fn service_worker(State(assets): State<Shared>, headers: HeaderMap) -> Response {
    serve(&assets.service_worker, Caching::Revalidate, &headers)
}

async fn file(State(assets): State<Shared>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    match assets.files.get(&path) {
        Some((asset, caching)) => serve(asset, *caching, &headers),
        None => ApiError::not_found("file").into_response(),
    }
}

fn serve(asset: &Asset, caching: Caching, headers: &HeaderMap) -> Response {
    // Weak comparison (RFC 9110, 13.1.2): `W/"x"` and `"x"` match.
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|tags| {
        tags.split(',').any(|t| t.trim() == "*" || bare(t) == bare(asset.etag.to_str().unwrap_or("")))
    });
    let cache = HeaderValue::from_static(match caching {
        Caching::Immutable => "public, max-age=31536000, immutable",
        Caching::Revalidate => "no-cache",
    });
    let common = [(header::CACHE_CONTROL, cache), (header::ETAG, asset.etag.clone())];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type))], asset.body.clone())
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
    fn imports_resolve_against_the_importing_module() {
        assert_eq!(resolve("js/views/room.js", "../api.js").as_deref(), Some("js/api.js"));
        assert_eq!(resolve("js/views/room.js", "./composer.js").as_deref(), Some("js/views/composer.js"));
        assert_eq!(resolve("js/main.js", "./views/room.js").as_deref(), Some("js/views/room.js"));
        assert_eq!(resolve("js/main.js", "../../x.js"), None, "above the root");
    }

    #[test]
    fn references_become_hashed_urls_and_a_change_reaches_every_importer() {
        let files: &[(&str, &[u8])] = &[
            ("index.html", b"<head><script type=\"module\" src=\"/app/js/main.js\"></script></head>"),
            ("js/main.js", b"import { a } from './a.js';\nimport './views/b.js';\nconst icon = '/app/icon.svg';\nconst later = () => import('./views/c.js');\n"),
            ("js/views/c.js", b"export const c = 3;\n"),
            ("js/a.js", b"export const a = 1;\n"),
            ("js/views/b.js", b"import { a } from '../a.js';\nconst missing = '/app/nothing.js';\n"),
            ("icon.svg", b"<svg/>"),
            ("sw.js", b"const SHELL = [/* the server puts the shell's URLs here */];\n"),
        ];
        let assets = build_from(files);
        let text = |name: &str| String::from_utf8(assets.files[name].0.body.to_vec()).unwrap();
        let name_of = |assets: &Assets, prefix: &str| {
            assets
                .files
                .keys()
                .find(|k| k.starts_with(prefix) && assets.files[*k].1 == Caching::Immutable)
                .cloned()
                .unwrap()
        };
        let hashed = |prefix: &str| format!("/app/{}", name_of(&assets, prefix));
        let main = text("js/main.js");
        assert!(main.contains(&format!("from '{}'", hashed("js/a."))), "{main}");
        assert!(main.contains(&format!("import '{}'", hashed("js/views/b."))), "{main}");
        assert!(main.contains(&format!("'{}'", hashed("icon."))), "{main}");
        let b = text("js/views/b.js");
        assert!(b.contains(&format!("from '{}'", hashed("js/a."))), "{b}");
        assert!(b.contains("'/app/nothing.js'"), "an unknown name is left alone: {b}");
        let page = text("index.html");
        assert!(page.contains(&format!("src=\"{}\"", hashed("js/main."))), "{page}");
        for module in ["js/a.", "js/views/b."] {
            assert!(
                page.contains(&format!("<link rel=\"modulepreload\" href=\"{}\">", hashed(module))),
                "{page}"
            );
        }
        assert!(
            main.contains(&format!("import('{}')", hashed("js/views/c."))),
            "a dynamic import too: {main}"
        );
        assert!(!page.contains(&hashed("js/views/c.")), "a dynamic import is not preloaded: {page}");
        let worker = String::from_utf8(assets.service_worker.body.to_vec()).unwrap();
        assert!(worker.contains(&hashed("js/views/b.")) && !worker.contains("[/*"), "{worker}");

        // One module changes: its URL, and that of every module importing it, change.
        let mut changed = files.to_vec();
        changed[3] = ("js/a.js", b"export const a = 2;\n");
        let again = build_from(&changed);
        for prefix in ["js/a.", "js/views/b.", "js/main."] {
            assert_ne!(name_of(&assets, prefix), name_of(&again, prefix), "{prefix}");
        }
        assert_eq!(name_of(&assets, "icon."), name_of(&again, "icon."), "an unrelated file keeps its URL");
    }

    /// The real client builds: its modules form no cycle (a cycle panics) and every
    /// relative import names a file of the table.
    #[test]
    fn the_client_builds_and_every_import_resolves() {
        let assets = build_from(FILES);
        for (path, (asset, _)) in &assets.files {
            if path.ends_with(".js") {
                let text = std::str::from_utf8(&asset.body).unwrap();
                assert!(!import_pattern().is_match(text), "{path} still has a relative import");
                assert!(
                    !dynamic_import_pattern().is_match(text),
                    "{path} still has a relative dynamic import"
                );
            }
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("js/main.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("icon.svg"), "image/svg+xml");
    }
}
