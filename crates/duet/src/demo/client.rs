//! A signed-in client of the public API, as the web client is one: access and refresh
//! tokens (refreshed before they expire, a new login when the refresh is refused),
//! JSON calls that wait out `429` and `503` with their `Retry-After`, and WebSockets.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket to the server.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An answer of the API: its status and JSON body (`null` when there is none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The error `code` of a 4xx or 5xx body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

struct Tokens {
    access: String,
    refresh: String,
    /// When to refresh: a minute before the access token expires.
    renew_at: Instant,
}

/// One account signed in over HTTP.
pub struct Session {
    http: reqwest::Client,
    base: String,
    pub username: String,
    password: String,
    pub user_id: i64,
    access_ttl: Duration,
    tokens: Mutex<Tokens>,
}

impl Session {
    /// Logs in with a username and password.
    pub async fn log_in(
        http: reqwest::Client,
        base: &str,
        username: &str,
        password: &str,
        access_ttl: Duration,
    ) -> anyhow::Result<Session> {
        let body = json!({ "username": username, "password": password });
        let reply = anonymous(&http, base, "/auth/login", &body).await?;
        anyhow::ensure!(reply.ok(), "login as {username}: {} {}", reply.status, reply.body);
        Ok(Self::from_tokens(http, base, username, password, access_ttl, &reply.body))
    }

    /// Signs up, or logs in when the account exists already (a second demo run).
    pub async fn sign_up_or_log_in(
        http: reqwest::Client,
        base: &str,
        username: &str,
        password: &str,
        access_ttl: Duration,
    ) -> anyhow::Result<Session> {
        let body = json!({ "username": username, "password": password });
        let reply = anonymous(&http, base, "/auth/signup", &body).await?;
        if reply.status == StatusCode::CONFLICT {
            return Self::log_in(http, base, username, password, access_ttl).await;
        }
        anyhow::ensure!(reply.ok(), "sign-up as {username}: {} {}", reply.status, reply.body);
        Ok(Self::from_tokens(http, base, username, password, access_ttl, &reply.body))
    }

    fn from_tokens(
        http: reqwest::Client,
        base: &str,
        username: &str,
        password: &str,
        access_ttl: Duration,
        body: &Value,
    ) -> Session {
        Session {
            http,
            base: base.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            user_id: body["user"]["id"].as_i64().unwrap_or_default(),
            access_ttl,
            tokens: Mutex::new(tokens_of(body, access_ttl)),
        }
    }

    /// A valid access token: refreshed when it is about to expire, or a new login when
    /// the refresh token is refused (revoked by a ban, say).
    pub async fn token(&self) -> anyhow::Result<String> {
        let mut tokens = self.tokens.lock().await;
        if Instant::now() < tokens.renew_at {
            return Ok(tokens.access.clone());
        }
        let body = json!({ "refresh_token": tokens.refresh });
        let reply = anonymous(&self.http, &self.base, "/auth/refresh", &body).await?;
        let reply = if reply.ok() {
            reply
        } else {
            let body = json!({ "username": self.username, "password": self.password });
            anonymous(&self.http, &self.base, "/auth/login", &body).await?
        };
        anyhow::ensure!(
            reply.ok(),
            "{} cannot sign in again: {} {}",
            self.username,
            reply.status,
            reply.body
        );
        *tokens = tokens_of(&reply.body, self.access_ttl);
        Ok(tokens.access.clone())
    }

    /// Forgets the access token, so the next call signs in again.
    pub async fn expire(&self) {
        self.tokens.lock().await.renew_at = Instant::now();
    }

    /// A JSON call with the access token. A 401 signs in again once; 429 and 503 are
    /// waited out (their `Retry-After`, a few times) before the answer is returned.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Reply> {
        let mut signed_in_again = false;
        for _ in 0..5 {
            let token = self.token().await?;
            let mut request =
                self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await?;
            let wait = retry_after(&response);
            let reply = read_reply(response).await?;
            match reply.status {
                StatusCode::UNAUTHORIZED if !signed_in_again => {
                    signed_in_again = true;
                    self.expire().await;
                }
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(reply),
            }
        }
        anyhow::bail!("{} {path}: still refused after several tries", self.username)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Uploads an avatar image (multipart, as the web client does).
    pub async fn upload_avatar(&self, png: Vec<u8>) -> anyhow::Result<Reply> {
        let token = self.token().await?;
        let part = reqwest::multipart::Part::bytes(png).file_name("avatar.png").mime_str("image/png")?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let response = self
            .http
            .post(format!("{}/user/avatar", self.base))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await?;
        read_reply(response).await
    }

    /// Opens a WebSocket (`/ws/status`, `/ws/chat/31?after_seq=4`) with the access
    /// token in the query, as the protocol allows.
    pub async fn socket(&self, path: &str) -> anyhow::Result<Socket> {
        let token = self.token().await?;
        let ws_base = self.base.replacen("http", "ws", 1);
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!("{ws_base}{path}{separator}token={token}");
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(socket)
    }
}

fn tokens_of(body: &Value, access_ttl: Duration) -> Tokens {
    let lifetime = body["expires_in"].as_u64().map(Duration::from_secs).unwrap_or(access_ttl);
    let margin = (lifetime / 4).min(Duration::from_secs(60));
    Tokens {
        access: body["access_token"].as_str().unwrap_or_default().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap_or_default().to_owned(),
        renew_at: Instant::now() + lifetime - margin,
    }
}

/// A call without a token (sign-up, login, refresh), waiting out 429 and 503.
async fn anonymous(http: &reqwest::Client, base: &str, path: &str, body: &Value) -> anyhow::Result<Reply> {
    for _ in 0..10 {
        let response = http.post(format!("{base}{path}")).json(body).send().await?;
        let wait = retry_after(&response);
        let reply = read_reply(response).await?;
        if !matches!(reply.status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
            return Ok(reply);
        }
        tokio::time::sleep(wait).await;
    }
    anyhow::bail!("{path}: still refused after several tries")
}

fn retry_after(response: &reqwest::Response) -> Duration {
    let seconds = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(seconds.clamp(1, 30))
}

async fn read_reply(response: reqwest::Response) -> anyhow::Result<Reply> {
    let status = response.status();
    let text = response.text().await?;
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
    Ok(Reply { status, body })
}

/// Sends one JSON frame.
pub async fn send(socket: &mut Socket, frame: Value) -> anyhow::Result<()> {
    socket.send(Message::text(frame.to_string())).await?;
    Ok(())
}

/// What came from a socket: a JSON frame, or its end with the close code.
pub enum Incoming {
    Frame(Value),
    Closed(Option<u16>),
}

/// The next JSON frame, skipping pings, pongs and anything that is not JSON.
pub async fn next(socket: &mut Socket) -> Incoming {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) {
                    return Incoming::Frame(frame);
                }
            }
            Some(Ok(Message::Close(frame))) => return Incoming::Closed(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Incoming::Closed(None),
        }
    }
}

/// Closes a socket as a browser tab does when it is closed (1000, or 1001 "going
/// away"), waiting briefly for the server's answer.
pub async fn close(socket: &mut Socket) {
    let frame = CloseFrame { code: CloseCode::Away, reason: "the demo is stopping".into() };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if socket.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = socket.next().await {}
        }
    })
    .await;
}
