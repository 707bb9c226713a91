//! A server killed with SIGKILL in the middle of a message stream, then restarted on
//! the same database: every message that was acked is there, in order, and a retry of
//! the messages in flight is neither lost nor doubled.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{fresh_postgres_database, ServerProcess, PASSWORD};

async fn call(client: &reqwest::Client, addr: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(format!("http://{addr}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap_or(Value::Null)
}

async fn member(
    client: &reqwest::Client,
    addr: &str,
    name: &str,
    gender: &str,
    wants: &str,
) -> (String, i64) {
    let signup =
        call(client, addr, "/auth/signup", None, json!({ "username": name, "password": PASSWORD })).await;
    let token = signup["access_token"].as_str().expect("signed up").to_owned();
    let profile = json!({ "dob": "1994-01-01", "gender": gender, "preferred_gender": [wants], "needs": ["friends"], "interests": ["music"], "nickname": name });
    client
        .put(format!("http://{addr}/user/profile"))
        .bearer_auth(&token)
        .json(&profile)
        .send()
        .await
        .unwrap();
    (token, signup["user"]["id"].as_i64().unwrap())
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn chat(addr: &str, token: &str, room: i64, after_seq: i64) -> Socket {
    let url = format!("ws://{addr}/ws/chat/{room}?token={token}&after_seq={after_seq}");
    tokio_tungstenite::connect_async(url).await.expect("the socket opens").0
}

async fn frame(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.ok()?? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

#[tokio::test]
async fn acked_messages_survive_sigkill_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_postgres_database().await;
    let mut args = vec![
        format!("--data-dir={}", dir.path().display()),
        "--msg-burst=1000".into(),
        "--msg-rate=1000".into(),
    ];
    if let Some(db) = &database {
        args.push(format!("--database-url={}", db.url));
    }
    let (mut server, addr) = ServerProcess::start(&args);
    let client = reqwest::Client::new();
    let (a, _) = member(&client, &addr, "killer_a", "male", "female").await;
    let (b, _) = member(&client, &addr, "killer_b", "female", "male").await;
    call(&client, &addr, "/chat/search", Some(&a), json!({ "type": "chat" })).await;
    let matched = call(&client, &addr, "/chat/search", Some(&b), json!({ "type": "chat" })).await;
    let room = matched["room_id"].as_i64().expect("matched");

    let mut socket = chat(&addr, &a, room, 0).await;
    assert_eq!(frame(&mut socket).await.unwrap()["type"], "connection");
    const SENT: usize = 60;
    for i in 0..SENT {
        let text =
            json!({ "type": "message", "content": format!("message {i}"), "client_id": format!("c{i}") });
        socket.send(Message::Text(text.to_string().into())).await.unwrap();
    }
    // Kill the server once some acks are in, with more messages still in flight.
    let mut acked: BTreeMap<i64, String> = BTreeMap::new();
    while acked.len() < 10 {
        let f = frame(&mut socket).await.expect("acks arrive");
        if f["type"] == "ack" {
            acked.insert(f["seq"].as_i64().unwrap(), f["client_id"].as_str().unwrap().to_owned());
        }
    }
    server.kill();
    // Acks that were already on the wire still count as acked.
    while let Some(f) = frame(&mut socket).await {
        if f["type"] == "ack" {
            acked.insert(f["seq"].as_i64().unwrap(), f["client_id"].as_str().unwrap().to_owned());
        }
    }

    let (_restarted, addr) = ServerProcess::start(&args);
    let mut reader = chat(&addr, &b, room, 0).await;
    let connection = frame(&mut reader).await.unwrap();
    assert_eq!(connection["type"], "connection");
    let last_seq = connection["last_seq"].as_i64().unwrap();
    let mut stored: BTreeMap<i64, String> = BTreeMap::new();
    while stored.len() < last_seq as usize {
        let f = frame(&mut reader).await.expect("replayed messages arrive");
        if f["type"] == "message" {
            stored.insert(f["seq"].as_i64().unwrap(), f["client_id"].as_str().unwrap().to_owned());
        }
    }
    for (seq, client_id) in &acked {
        assert_eq!(stored.get(seq), Some(client_id), "acked message {seq} survived");
    }
    let seqs: Vec<i64> = stored.keys().copied().collect();
    assert_eq!(seqs, (1..=last_seq).collect::<Vec<_>>(), "no gap in the sequence");

    // The sender retries everything it sent; nothing is stored twice.
    let mut sender = chat(&addr, &a, room, last_seq).await;
    frame(&mut sender).await.unwrap();
    for i in 0..SENT {
        let text =
            json!({ "type": "message", "content": format!("message {i}"), "client_id": format!("c{i}") });
        sender.send(Message::Text(text.to_string().into())).await.unwrap();
    }
    let mut acks = 0;
    while acks < SENT {
        if frame(&mut sender).await.expect("acks arrive")["type"] == "ack" {
            acks += 1;
        }
    }
    let page: Value = client
        .get(format!("http://{addr}/chat/room/{room}/messages?limit=200"))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), SENT, "each message once");
}
