//! What is erased is gone from the files: a server process on SQLite, its data folder
//! read byte by byte after a room ends, after an account is deleted and after it
//! stops; who may read that folder; and where the signing secret lives.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{ServerProcess, PASSWORD};
use crate::remote::{call, chat, frame, member};

/// Every file under `dir` that holds `needle`, with how often.
fn files_holding(dir: &Path, needle: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        let count = bytes.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count();
        if count > 0 {
            found.push((path.file_name().unwrap().to_string_lossy().into_owned(), count));
        }
    }
    found
}

/// Waits until no file under `dir` holds any of `needles`, for at most `limit`; the
/// files and counts still holding one when it gives up.
async fn until_gone(dir: &Path, needles: &[&str], limit: Duration) -> Vec<(String, String, usize)> {
    let started = Instant::now();
    loop {
        let left: Vec<(String, String, usize)> = needles
            .iter()
            .flat_map(|n| files_holding(dir, n).into_iter().map(|(f, c)| (n.to_string(), f, c)))
            .collect();
        if left.is_empty() || started.elapsed() > limit {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Sends `content` on `socket` and waits for its ack.
async fn send_acked(socket: &mut crate::remote::Socket, content: &str, client_id: &str) {
    let text = json!({ "type": "message", "content": content, "client_id": client_id });
    socket.send(Message::Text(text.to_string().into())).await.unwrap();
    loop {
        let f = frame(socket).await.expect("an ack arrives");
        if f["type"] == "ack" && f["client_id"] == client_id {
            return;
        }
    }
}

#[tokio::test]
async fn ended_rooms_and_deleted_accounts_leave_nothing_in_the_data_folder() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let (server, addr) = ServerProcess::start(&[format!("--data-dir={}", data.display())]);
    // Only the server's user may enter the folder or read its files.
    assert_eq!(mode(&data), 0o700);
    for file in ["duet.db", "duet.db-wal", "duet.db-shm", "jwt-secret"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }

    let client = reqwest::Client::new();
    let (alice, _) = member(&client, &addr, ("erasure_alice", None), "female", "male").await;
    let bob_name = "erasure_bob_7f3a";
    let bob_email = "erasure.bob.7f3a@example.com";
    let (bob, _) = member(&client, &addr, (bob_name, Some(bob_email)), "male", "female").await;
    call(&client, &addr, "/chat/search", Some(&alice), json!({ "type": "chat" })).await;
    let matched = call(&client, &addr, "/chat/search", Some(&bob), json!({ "type": "chat" })).await;
    let room = matched["room_id"].as_i64().expect("matched");
    let alice_text = "MARKER-ALICE-c41d9e";
    let bob_text = "MARKER-BOB-5be0a2";
    let mut alice_socket = chat(&addr, &alice, room, 0).await;
    let mut bob_socket = chat(&addr, &bob, room, 0).await;
    send_acked(&mut alice_socket, &format!("{alice_text} hello"), "a1").await;
    send_acked(&mut bob_socket, &format!("{bob_text} hi"), "b1").await;
    assert!(!files_holding(&data, alice_text).is_empty(), "the check can see a stored message");

    let ended = call(&client, &addr, &format!("/chat/end/{room}"), Some(&bob), json!({})).await;
    assert_eq!(ended["reason"], "ended_by_user");
    // Erased within 10 s of the end, while the server runs (a little slack for a
    // loaded machine).
    let left = until_gone(&data, &[alice_text, bob_text], Duration::from_secs(12)).await;
    assert!(left.is_empty(), "message text still on disk after the room ended: {left:?}");

    let deleted = client
        .delete(format!("http://{addr}/user/account"))
        .bearer_auth(&bob)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let left = until_gone(&data, &[bob_name, bob_email], Duration::from_secs(12)).await;
    assert!(left.is_empty(), "the deleted account is still on disk: {left:?}");

    server.terminate();
    let left = until_gone(&data, &[alice_text, bob_text, bob_name, bob_email], Duration::ZERO).await;
    assert!(left.is_empty(), "erased content on disk after the stop: {left:?}");
    assert!(!files_holding(&data, "erasure_alice").is_empty(), "the check can see a kept account");
}

#[tokio::test]
async fn the_signing_secret_lives_in_its_own_file_and_moves_there_from_an_old_database() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let args = [format!("--data-dir={}", dir.path().display())];
    let (server, addr) = ServerProcess::start(&args);
    let client = reqwest::Client::new();
    let (_, user_id) = member(&client, &addr, ("secret_keeper", None), "female", "male").await;
    server.terminate();
    let file = dir.path().join("jwt-secret");
    let generated = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(generated.len() >= 32);
    assert!(files_holding(dir.path(), &generated).iter().all(|(f, _)| f == "jwt-secret"), "in no other file");

    // An earlier version kept its generated secret in the database and no file.
    let legacy = "legacy-secret-legacy-secret-legacy-secret";
    let url = format!("sqlite://{}", dir.path().join("duet.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ('jwt_secret', $1, 0)")
        .bind(legacy)
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    std::fs::remove_file(&file).unwrap();
    let now = duet::clock::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let issued = duet::auth::Keys::new(legacy.as_bytes(), "duet", Duration::from_secs(900)).issue(
        duet::ids::UserId(user_id),
        0,
        now,
    );

    let (server, addr) = ServerProcess::start(&args);
    let profile =
        client.get(format!("http://{addr}/user/profile")).bearer_auth(&issued).send().await.unwrap();
    assert_eq!(profile.status(), 200, "a token issued before the upgrade still works");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), legacy);
    assert_eq!(mode(&file), 0o600);
    server.terminate();
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (rows,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM server_secrets").fetch_one(&mut db).await.unwrap();
    assert_eq!(rows, 0, "the database keeps no copy");
    db.close().await.unwrap();
    assert!(files_holding(dir.path(), legacy).iter().all(|(f, _)| f == "jwt-secret"), "in no other file");
}
