//! `spawn_app()`: the real server on port 0 with a fresh database, a manual clock and
//! a known signing secret; `TestApp` has one method per endpoint.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use duet::app::{App, AppState};
use duet::clock::{Clock, ManualClock, SystemClock};
use duet::config::{parse_cli, Command, Settings};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;

use crate::faultproxy::FaultProxy;

pub const SECRET: &str = "test-secret-test-secret-test-secret!";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    /// The `duet serve` arguments this app was built with, to build a second instance
    /// on the same database (a restart).
    pub args: Vec<String>,
    _data: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

/// Extra settings on top of the test defaults, as `duet serve` flags.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let database = fresh_postgres_database().await;
    let url = database.as_ref().map(|db| db.url.clone());
    spawn_app_on(database, url, extra).await
}

/// The app on a fresh PostgreSQL database reached through a [`FaultProxy`], or None
/// when `DUET_TEST_DATABASE_URL` is not set (the PostgreSQL run of CI sets it).
pub async fn spawn_app_through_proxy(extra: &[&str]) -> Option<(TestApp, FaultProxy)> {
    let database = fresh_postgres_database().await?;
    let (upstream, _) = crate::faultproxy::through(&database.url, "127.0.0.1:1".parse().expect("an address"));
    let proxy = FaultProxy::start(upstream).await;
    let (_, url) = crate::faultproxy::through(&database.url, proxy.addr);
    Some((spawn_app_on(Some(database), Some(url), extra).await, proxy))
}

async fn spawn_app_on(database: Option<TestDatabase>, url: Option<String>, extra: &[&str]) -> TestApp {
    init_logs();
    let data = tempfile::tempdir().expect("temp dir");
    let mut args: Vec<String> = vec![
        "duet".into(),
        "serve".into(),
        "--bind=127.0.0.1:0".into(),
        format!("--data-dir={}", data.path().display()),
        format!("--jwt-secret={SECRET}"),
        // Generous limits so only the rate-limit tests meet them.
        "--rate-login=1000/min".into(),
        "--rate-signup=1000/min".into(),
        "--rate-signup-address=1000/min".into(),
        "--rate-avatar=1000/min".into(),
        "--rate-search=100000/min".into(),
        "--rate-default=100000/min".into(),
    ];
    if let Some(url) = url {
        args.push(format!("--database-url={url}"));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let settings = settings_from(&args);
    let built_with = args.clone();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = App::build_with_clock(settings, clock.clone()).await.expect("the app builds");
    let base = format!("http://{}", app.addr());
    let state = app.state().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp { base, client: Client::new(), clock, state, args: built_with, _data: data, _database: database }
}

pub fn settings_from(args: &[String]) -> Settings {
    match parse_cli(args).expect("test settings parse").command {
        Command::Serve(serve) => serve.settings,
        _ => unreachable!("serve was asked for"),
    }
}

/// A database of its own for one test on the PostgreSQL server named by
/// `DUET_TEST_DATABASE_URL`; dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    server_url: String,
    name: String,
}

/// A new PostgreSQL database, or None to use SQLite. When the variable is set, failing
/// to reach PostgreSQL fails the test: a PostgreSQL run never silently falls back.
pub async fn fresh_postgres_database() -> Option<TestDatabase> {
    let server_url = std::env::var("DUET_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!("duet_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&server_url)
        .await
        .unwrap_or_else(|e| panic!("DUET_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create a test database");
    conn.close().await.ok();
    let (prefix, rest) = server_url.rsplit_once('/').expect("a database URL has a path");
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    let url = format!("{prefix}/{name}{query}");
    Some(TestDatabase { url, server_url, name })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread
        // with a runtime of its own does the clean-up. FORCE ends the server's
        // connections that are still open.
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        duet::telemetry::install(duet::telemetry::subscriber(
            "debug",
            duet::config::LogFormat::Text,
            std::io::stdout,
        ));
    }
}

/// A signed-in user of a test.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: i64,
    pub access: String,
    pub refresh: String,
}

impl Session {
    fn from(body: &Value) -> Session {
        Session {
            id: body["user"]["id"].as_i64().expect("user id"),
            access: body["access_token"].as_str().expect("access token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh token").to_owned(),
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn put_json(&self, path: &str, body: Value, token: &str) -> Response {
        self.client.put(self.url(path)).bearer_auth(token).json(&body).send().await.expect("request sent")
    }

    pub async fn signup_raw(&self, username: &str, password: &str, email: Option<&str>) -> Response {
        let mut body = json!({ "username": username, "password": password });
        if let Some(email) = email {
            body["email"] = json!(email);
        }
        self.post_json("/auth/signup", body, None).await
    }

    /// Signs up `username` and returns the session.
    pub async fn signup(&self, username: &str) -> Session {
        let response = self.signup_raw(username, PASSWORD, None).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        Session::from(&response.json::<Value>().await.unwrap())
    }

    pub async fn login_raw(&self, username: &str, password: &str) -> Response {
        self.post_json("/auth/login", json!({ "username": username, "password": password }), None).await
    }

    pub async fn login(&self, username: &str) -> Session {
        let response = self.login_raw(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        Session::from(&response.json::<Value>().await.unwrap())
    }

    pub async fn refresh_raw(&self, refresh_token: &str) -> Response {
        self.post_json("/auth/refresh", json!({ "refresh_token": refresh_token }), None).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Session {
        let response = self.refresh_raw(refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        Session::from(&response.json::<Value>().await.unwrap())
    }

    pub async fn profile(&self, token: &str) -> Response {
        self.get("/user/profile", Some(token)).await
    }

    pub async fn update_profile(&self, token: &str, body: Value) -> Response {
        self.put_json("/user/profile", body, token).await
    }

    /// Signs up and fills a complete profile.
    pub async fn signup_complete(&self, username: &str) -> Session {
        let session = self.signup(username).await;
        let response = self.update_profile(&session.access, complete_profile()).await;
        assert_eq!(response.status(), StatusCode::OK);
        session
    }

    /// Creates an administrator directly (as `duet admin create` does) and signs in.
    pub async fn admin(&self, username: &str) -> Session {
        duet::accounts::create_admin(&self.state.store, username, PASSWORD.into(), self.clock.now())
            .await
            .expect("admin created");
        self.login(username).await
    }

    pub async fn upload_avatar(&self, token: &str, bytes: Vec<u8>, file_name: &str) -> Response {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.client
            .post(self.url("/user/avatar"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request sent")
    }

    /// Moves the clock and lets the lifecycle loops look at it.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.state.matchmaker.wake();
        self.state.rooms.wake();
    }

    /// Two members who match each other (a man and a woman, same need and interest,
    /// usernames `{tag}_a` and `{tag}_b`), matched: both sessions and their room.
    pub async fn pair(&self, tag: &str) -> (Session, Session, i64) {
        let a = self.member(&format!("{tag}_a"), "male", &["female"], &["friends"], &["coffee"]).await;
        let b = self.member(&format!("{tag}_b"), "female", &["male"], &["friends"], &["coffee"]).await;
        self.search(&a.access, "chat").await;
        let body: Value = self.search(&b.access, "chat").await.json().await.unwrap();
        (a, b, body["room_id"].as_i64().expect("matched"))
    }

    /// `s` answers the room's like round (`yes` or `no`).
    pub async fn like(&self, s: &Session, room: i64, answer: &str) -> Response {
        self.post_json(&format!("/chat/like/{room}"), json!({ "response": answer }), Some(&s.access)).await
    }

    /// `s` ends the room.
    pub async fn end_room(&self, s: &Session, room: i64) -> Response {
        self.post_json(&format!("/chat/end/{room}"), json!({}), Some(&s.access)).await
    }

    /// A chat socket of `s` in `room`, resuming after `after_seq`.
    pub async fn chat_socket(&self, s: &Session, room: i64, after_seq: i64) -> crate::ws::Socket {
        let url = format!("{}/ws/chat/{room}?token={}&after_seq={after_seq}", self.ws_base(), s.access);
        tokio_tungstenite::connect_async(url).await.expect("the socket opens").0
    }

    /// A status socket opened with `token`.
    pub async fn status_socket(&self, token: &str) -> crate::ws::Socket {
        let url = format!("{}/ws/status?token={token}", self.ws_base());
        tokio_tungstenite::connect_async(url).await.expect("the socket opens").0
    }

    pub fn ws_base(&self) -> String {
        self.base.replace("http://", "ws://")
    }

    /// Signs up and sets a complete profile with the given gender, preference, needs
    /// and interests.
    pub async fn member(
        &self,
        username: &str,
        gender: &str,
        wants: &[&str],
        needs: &[&str],
        interests: &[&str],
    ) -> Session {
        let session = self.signup(username).await;
        let profile = json!({
            "nickname": format!("Nick {username}"),
            "dob": "1995-03-10",
            "gender": gender,
            "preferred_gender": wants,
            "needs": needs,
            "interests": interests,
        });
        let response = self.update_profile(&session.access, profile).await;
        assert_eq!(response.status(), StatusCode::OK);
        session
    }

    pub async fn search(&self, token: &str, kind: &str) -> Response {
        self.post_json("/chat/search", json!({ "type": kind }), Some(token)).await
    }

    pub async fn status(&self, token: &str) -> Value {
        let response = self.get("/user/status", Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

pub fn complete_profile() -> Value {
    json!({
        "nickname": "Linh",
        "dob": "1998-05-17",
        "gender": "female",
        "preferred_gender": ["male"],
        "needs": ["friends"],
        "interests": ["coffee", "travel"],
    })
}

/// Reads an error response and checks the common shape: `detail`, `code`, and the
/// request id matching the `x-request-id` header.
pub async fn error_of(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("every response has a request id")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.expect("error bodies are JSON");
    assert!(body["detail"].is_string(), "error has a detail: {body}");
    assert!(body["code"].is_string(), "error has a code: {body}");
    assert_eq!(body["request_id"], json!(request_id), "error carries the request id");
    body
}

/// A small PNG made in memory.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Waits for the first event that `wanted` accepts; fails after 10 seconds.
pub async fn expect_event(
    events: &mut tokio::sync::broadcast::Receiver<duet::events::Event>,
    wanted: impl Fn(&duet::events::Event) -> bool,
) -> duet::events::Event {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.recv().await.expect("the event channel stays open");
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .expect("the expected event arrives")
}

/// The `duet` binary as a child process logging JSON lines, for tests of what only a
/// real process shows: its logs, and surviving SIGKILL.
pub struct ServerProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl ServerProcess {
    /// Starts `duet serve` on a free port with `args`; returns it and its address.
    pub fn start(args: &[String]) -> (ServerProcess, String) {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_duet"));
        command
            .args(["serve", "--bind=127.0.0.1:0", "--log-format=json"])
            .args(args)
            .env_remove("DATABASE_URL")
            .stderr(Stdio::null());
        Self::spawn(command)
    }

    /// Starts a `duet serve` command that logs JSON lines to its stdout; returns it once
    /// it is listening, and its address.
    pub fn spawn(mut command: std::process::Command) -> (ServerProcess, String) {
        let mut child = command.stdout(Stdio::piped()).spawn().expect("the duet binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProcess { child, lines, seen: Vec::new() };
        let listening = server.wait_for(|v| v["message"] == "duet is listening");
        let addr = listening["addr"].as_str().expect("the listening line names the address").to_owned();
        (server, addr)
    }

    /// Reads log lines until one matches; every line must be JSON.
    pub fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(30)).expect("the server keeps logging");
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            self.seen.push(line);
            if wanted(&value) {
                return value;
            }
        }
    }
}

impl ServerProcess {
    /// SIGTERM, then the exit status must be success within 30 s.
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "duet exited with {status} after SIGTERM");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("duet did not stop within 30 s of SIGTERM");
    }

    /// Kills the process with SIGKILL: no shutdown, no flushing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns once some session of the test database waits for a lock (a statement
/// blocked behind a transaction the test holds open), or once `gave_up` says the
/// statement expected to block has finished without blocking.
pub async fn until_a_query_waits_on_a_lock(watch: &mut sqlx::PgConnection, gave_up: impl Fn() -> bool) {
    while !gave_up() {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *watch)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
