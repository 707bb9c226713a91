//! Logs as an operator reads them: JSON lines with request ids, and never a password
//! or token, even at debug level.

use serde_json::{json, Value};

use crate::helpers::ServerProcess;

#[tokio::test]
async fn json_logs_carry_request_ids_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) =
        ServerProcess::start(&["--log=debug".into(), format!("--data-dir={}", dir.path().display())]);
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
