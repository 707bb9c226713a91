//! Logs as an operator reads them: JSON lines with request ids, and never a password
//! or token, even at debug level.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(data_dir: &std::path::Path) -> (Server, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_duet"))
            .args(["serve", "--bind=127.0.0.1:0", "--log-format=json", "--log=debug"])
            .arg(format!("--data-dir={}", data_dir.display()))
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
        let mut server = Server { child, lines, seen: Vec::new() };
        let listening = server.wait_for(|v| v["message"] == "duet is listening");
        let addr = listening["addr"].as_str().expect("the listening line names the address").to_owned();
        (server, addr)
    }

    /// Reads log lines until one matches; every line must be JSON.
    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = Server::start(dir.path());
    let client = reqwest::Client::new();
    let password = "a-password-nobody-should-ever-log";
    let signup: Value = client
        .post(format!("http://{addr}/auth/signup"))
        .json(&json!({ "username": "logged", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = signup["access_token"].as_str().unwrap().to_owned();
    let refresh = signup["refresh_token"].as_str().unwrap().to_owned();
    let refreshed: Value = client
        .post(format!("http://{addr}/auth/refresh"))
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = client
        .get(format!("http://{addr}/user/profile?token={access}"))
        .bearer_auth(&access)
        .header("x-request-id", "find-me-in-the-log")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let line =
        server.wait_for(|v| v["message"] == "request" && v["span"]["request_id"] == "find-me-in-the-log");
    assert_eq!(line["span"]["route"], "/user/profile");
    assert_eq!(line["status"], 200);
    assert_eq!(line["span"]["user_id"], signup["user"]["id"]);
    assert_eq!(line["level"], "INFO");

    let secrets = [
        password,
        &access,
        &refresh,
        refreshed["refresh_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
    ];
    for line in &server.seen {
        for secret in secrets {
            assert!(!line.contains(secret), "a secret reached the log: {line}");
        }
    }
}
