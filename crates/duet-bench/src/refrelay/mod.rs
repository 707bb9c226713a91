//! The reference relay: the floor Duet is compared with in scenarios 1-3. It speaks
//! the same chat and status frames and checks the same HS256 access tokens (with
//! Duet's own `Keys`, so the check costs the same), and has nothing else: no
//! database, no persistence, no rate limits, no like rounds, no timers.
//!
//! HTTP, only what the generator's set-up needs: `PUT /user/profile` (only `gender`
//! is kept), `POST /chat/search` (a searcher is matched with the longest-waiting user
//! of another gender, or waits), `GET /user/status` and `GET /health`. There are no accounts: any user id in
//! a valid token exists, so the generator mints tokens for ids 1, 2, 3, ...
//!
//! - this file: the state (rooms in memory) and the HTTP routes;
//! - [`socket`]: the two WebSocket loops.

pub mod socket;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use dashmap::DashMap;
use duet::auth::Keys;
use duet::clock::{Clock, SystemClock};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Pushes a socket may have queued before it is dropped, as Duet's broker (64).
pub const QUEUE: usize = 64;

/// A room: its two participants and, per participant, the queue of its open chat
/// socket.
pub struct Room {
    pub users: [i64; 2],
    pub seq: AtomicI64,
    pub sockets: Mutex<[Option<mpsc::Sender<Arc<str>>>; 2]>,
}

#[derive(Clone)]
pub struct Relay {
    pub keys: Arc<Keys>,
    pub rooms: Arc<DashMap<i64, Arc<Room>>>,
    /// The current room of each user.
    pub room_of: Arc<DashMap<i64, i64>>,
    /// The gender of each user who set a profile.
    gender: Arc<DashMap<i64, String>>,
    /// Waiting searchers, oldest first, with their gender.
    waiting: Arc<Mutex<VecDeque<(i64, String)>>>,
    next_room: Arc<AtomicI64>,
    pub next_message: Arc<AtomicI64>,
}

impl Relay {
    pub fn new(secret: &str) -> Relay {
        Relay {
            // Duet's token check, which refuses a token claiming a longer life than
            // the TTL: as long as the run's tokens (`target::relay_users`).
            keys: Arc::new(Keys::new(secret.as_bytes(), "duet", Duration::from_secs(6 * 3600))),
            rooms: Arc::default(),
            room_of: Arc::default(),
            gender: Arc::default(),
            waiting: Arc::default(),
            next_room: Arc::new(AtomicI64::new(1)),
            next_message: Arc::new(AtomicI64::new(1)),
        }
    }

    /// The user id of a valid token.
    pub fn check(&self, token: &str) -> Option<i64> {
        self.keys.verify(token, SystemClock.now()).ok().map(|(user, _)| user.0)
    }

    fn bearer(&self, headers: &HeaderMap) -> Option<i64> {
        let value = headers.get("authorization")?.to_str().ok()?;
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
        self.check(token)
    }
}

pub fn router(relay: Relay) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/user/profile", put(profile))
        .route("/chat/search", post(search))
        .route("/user/status", get(status))
        .merge(socket::router())
        .with_state(relay)
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"error": "unauthorized"}))).into_response()
}

async fn profile(State(relay): State<Relay>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let Some(user) = relay.bearer(&headers) else { return unauthorized() };
    if let Some(gender) = body["gender"].as_str() {
        relay.gender.insert(user, gender.to_owned());
    }
    Json(json!({"id": user})).into_response()
}

async fn search(State(relay): State<Relay>, headers: HeaderMap) -> Response {
    let Some(me) = relay.bearer(&headers) else { return unauthorized() };
    if let Some(room) = relay.room_of.get(&me) {
        return Json(json!({"room_id": *room, "status": "connected"})).into_response();
    }
    let mine = relay.gender.get(&me).map(|g| g.clone()).unwrap_or_default();
    let partner = {
        let mut waiting = relay.waiting.lock().expect("not poisoned");
        if waiting.iter().any(|(u, _)| *u == me) {
            return (StatusCode::CONFLICT, Json(json!({"error": "already_searching"}))).into_response();
        }
        match waiting.iter().position(|(_, g)| *g != mine) {
            Some(i) => waiting.remove(i).map(|(u, _)| u),
            None => {
                waiting.push_back((me, mine));
                None
            }
        }
    };
    let Some(partner) = partner else {
        return (StatusCode::ACCEPTED, Json(json!({"room_id": null, "status": "searching"}))).into_response();
    };
    let id = relay.next_room.fetch_add(1, Ordering::Relaxed);
    let room = Room { users: [partner, me], seq: AtomicI64::new(0), sockets: Mutex::new([None, None]) };
    relay.rooms.insert(id, Arc::new(room));
    relay.room_of.insert(partner, id);
    relay.room_of.insert(me, id);
    Json(json!({"room_id": id, "status": "connected"})).into_response()
}

async fn status(State(relay): State<Relay>, headers: HeaderMap) -> Response {
    let Some(me) = relay.bearer(&headers) else { return unauthorized() };
    let room = relay.room_of.get(&me).map(|r| *r);
    let state = if room.is_some() { "connected" } else { "idle" };
    Json(json!({"status": state, "current_room_id": room})).into_response()
}
