//! Clients of a server running as its own process (`ServerProcess`), by address.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::PASSWORD;

/// POSTs `body` to `path` of the server at `addr`; the JSON answer (null if none).
pub async fn call(
    client: &reqwest::Client,
    addr: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut request = client.post(format!("http://{addr}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap_or(Value::Null)
}

/// Signs `name` up (with `email`, if given) and completes a profile (`gender`, wanting
/// `wants`); their access token and id.
pub async fn member(
    client: &reqwest::Client,
    addr: &str,
    (name, email): (&str, Option<&str>),
    gender: &str,
    wants: &str,
) -> (String, i64) {
    let body = json!({ "username": name, "password": PASSWORD, "email": email });
    let signup = call(client, addr, "/auth/signup", None, body).await;
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

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A chat socket in `room`, resuming after `after_seq`.
pub async fn chat(addr: &str, token: &str, room: i64, after_seq: i64) -> Socket {
    let url = format!("ws://{addr}/ws/chat/{room}?token={token}&after_seq={after_seq}");
    tokio_tungstenite::connect_async(url).await.expect("the socket opens").0
}

/// The next text frame as JSON; None when the socket closes or stays silent 10 s.
pub async fn frame(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.ok()?? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}
