//! `duet demo`, run as a person would run it (the real binary, in a fresh folder) with
//! a few bots and short like rounds, and checked only through the public API: rooms
//! are made, messages exchanged and like rounds answered, and a person who signs up and
//! searches is matched with a bot that answers. Then SIGTERM must stop it with exit 0.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::Client;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::PASSWORD;

/// The demo process, its stdout lines, and what it printed so far.
struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
    printed: Vec<String>,
}

impl Demo {
    fn start(dir: &std::path::Path, args: &[&str]) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_duet"))
            .arg("demo")
            .args(args)
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the duet binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo { child, lines, printed: Vec::new() }
    }

    /// The first printed line (from now on) that starts with `prefix`.
    fn line_starting(&mut self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("the demo prints `{prefix}…`; it printed {:#?}", self.printed));
            self.printed.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// SIGTERM; the demo must exit 0 within 30 s. Returns everything it printed.
    fn terminate(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "duet demo exited with {status} after SIGTERM");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "duet demo did not stop within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.printed.push(line);
        }
        std::mem::take(&mut self.printed)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Polls `check` every half second until it gives a value; fails after `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_bots_through_the_public_api_and_matches_a_person_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(
        dir.path(),
        &["--bots=4", "--bind=127.0.0.1:0", "--like-after=4s", "--like-answer-window=3s"],
    );
    let banner = demo.line_starting("Duet demo: open ");
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the banner shows the address")
        .trim_end_matches('/')
        .to_owned();
    let admin_line = demo.line_starting("demo: administrator username ");
    let words: Vec<&str> = admin_line.split_whitespace().collect();
    let (admin_name, admin_password) = (words[3], words[5]);
    // The demo's own folder, the default one, not ./duet-data; credentials for its owner only.
    let folder = dir.path().join("duet-demo");
    assert!(folder.join("duet.db").exists(), "the demo's database is ./duet-demo/duet.db");
    assert!(!dir.path().join("duet-data").exists(), "the demo leaves ./duet-data alone");
    let mode = std::fs::metadata(folder.join("demo-credentials.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the credentials file is readable by its owner only");

    let http = Client::new();
    let login = json_of(
        http.post(format!("{base}/auth/login"))
            .json(&json!({ "username": admin_name, "password": admin_password }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(login["user"]["role"], "admin");
    let admin = login["access_token"].as_str().unwrap().to_owned();

    // The bots' rooms, as the administrator sees them: made, with messages, with like
    // rounds that both answered yes (the photos sharpened).
    let rooms = |admin: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let page: Value = http
                .get(format!("{base}/admin/rooms?limit=100"))
                .bearer_auth(admin)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            Some(page["items"].as_array()?.clone())
        }
    };
    eventually("the bots make a room", Duration::from_secs(60), || {
        let rooms = rooms(admin.clone());
        async move { rooms.await.filter(|r| !r.is_empty()) }
    })
    .await;
    eventually("the bots exchange messages", Duration::from_secs(60), || {
        let rooms = rooms(admin.clone());
        async move { rooms.await.filter(|r| r.iter().any(|room| room["last_seq"].as_i64() > Some(0))) }
    })
    .await;
    eventually("the bots answer a like round with yes", Duration::from_secs(60), || {
        let rooms = rooms(admin.clone());
        async move { rooms.await.filter(|r| r.iter().any(|room| room["reveal_level"].as_i64() > Some(0))) }
    })
    .await;

    // A person signs up, accepts anyone, searches, and gets a bot.
    let signup = json_of(
        http.post(format!("{base}/auth/signup"))
            .json(&json!({ "username": "a_person", "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let me = signup["user"]["id"].as_i64().unwrap();
    json_of(
        http.put(format!("{base}/user/profile"))
            .bearer_auth(&token)
            .json(&json!({ "nickname": "Person", "dob": "1995-03-04", "gender": "female",
                           "preferred_gender": ["any"], "needs": ["friends"], "interests": ["coffee", "film"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let search = json_of(
        http.post(format!("{base}/chat/search"))
            .bearer_auth(&token)
            .json(&json!({ "type": "chat" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let room_id = match search["room_id"].as_i64() {
        Some(room) => room,
        None => {
            eventually("the person is matched", Duration::from_secs(40), || {
                let (http, base, token) = (http.clone(), base.clone(), token.clone());
                async move {
                    let status: Value = http
                        .get(format!("{base}/user/status"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()?;
                    status["current_room_id"].as_i64()
                }
            })
            .await
        }
    };
    let room = rooms(admin.clone())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r["id"].as_i64() == Some(room_id))
        .expect("the person's room is listed");
    let partner =
        room["users"].as_array().unwrap().iter().filter_map(Value::as_i64).find(|id| *id != me).unwrap();
    let partner_view =
        json_of(http.get(format!("{base}/admin/users/{partner}")).bearer_auth(&admin).send().await.unwrap())
            .await;
    assert!(
        partner_view["username"].as_str().unwrap().starts_with("demo_"),
        "the person's partner is a bot: {partner_view}"
    );

    // The person writes; the bot types, then answers.
    let ws = base.replacen("http", "ws", 1);
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{ws}/ws/chat/{room_id}?token={token}")).await.unwrap();
    socket
        .send(Message::text(
            json!({ "type": "message", "content": "Chào bạn, bạn khỏe không?", "client_id": "p-1" })
                .to_string(),
        ))
        .await
        .unwrap();
    let (mut typed, mut answered) = (false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !answered {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("the bot answers the person")
            .expect("the chat socket stays open")
            .unwrap();
        let Message::Text(text) = frame else { continue };
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        match frame["type"].as_str() {
            Some("typing") if frame["is_typing"] == true => typed = true,
            Some("message") if frame["user_id"].as_i64() == Some(partner) => answered = true,
            _ => {}
        }
    }
    assert!(typed, "the bot types before it answers");
    socket.close(None).await.ok();

    let printed = demo.terminate();
    assert!(
        printed.iter().any(|l| l.contains("rooms:") && l.contains("messages:")),
        "the summary was printed: {printed:#?}"
    );
    assert!(printed.iter().any(|l| l == "demo: stopped"), "the demo says it stopped: {printed:#?}");
}
