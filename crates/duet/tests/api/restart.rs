//! A server killed with SIGKILL in the middle of a message stream, then restarted on
//! the same database: every message that was acked is there, in order, and a retry of
//! the messages in flight is neither lost nor doubled.

use std::collections::BTreeMap;

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{fresh_postgres_database, ServerProcess};
use crate::remote::{call, chat, frame, member};

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
        args.push(format!("--jwt-secret={}", crate::helpers::SECRET));
    }
    let (mut server, addr) = ServerProcess::start(&args);
    let client = reqwest::Client::new();
    let (a, _) = member(&client, &addr, ("killer_a", None), "male", "female").await;
    let (b, _) = member(&client, &addr, ("killer_b", None), "female", "male").await;
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
