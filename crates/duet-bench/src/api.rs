//! The HTTP side of the protocol as the generator uses it: profile, search, status and
//! login, and the set-up of matched rooms from them. Both servers (Duet and the
//! reference relay) answer these routes, so one set-up drives both.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};

use crate::target::User;

/// Concurrent HTTP requests during set-up: enough to keep both cores busy, few enough
/// not to queue behind the server's database pool.
pub const SETUP_CONCURRENCY: usize = 32;

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

/// The two genders of the set-up: every man seeks women and every woman men, so a
/// woman's search matches a waiting man and men never match each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Man,
    Woman,
}

impl Api {
    pub fn new(base: &str) -> Api {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a plain HTTP client builds");
        Api { client, base: base.to_owned() }
    }

    /// A complete profile, so the user may search.
    pub async fn put_profile(&self, user: &User, side: Side) -> anyhow::Result<()> {
        let (gender, seeks) = match side {
            Side::Man => ("male", "female"),
            Side::Woman => ("female", "male"),
        };
        let body = json!({
            "nickname": format!("n{}", user.id),
            "dob": "1990-01-01",
            "gender": gender,
            "preferred_gender": [seeks],
            "needs": ["friends"],
            "interests": ["coffee", "travel"],
        });
        let r =
            self.client.put(self.url("/user/profile")).bearer_auth(&user.token).json(&body).send().await?;
        anyhow::ensure!(r.status().is_success(), "PUT /user/profile for {}: {}", user.id, r.status());
        Ok(())
    }

    /// `POST /chat/search`: the HTTP status and the room id when matched at once.
    pub async fn search(&self, user: &User) -> anyhow::Result<(u16, Option<i64>)> {
        let r = self
            .client
            .post(self.url("/chat/search"))
            .bearer_auth(&user.token)
            .json(&json!({"type": "chat"}))
            .send()
            .await?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        Ok((status, body["room_id"].as_i64()))
    }

    /// `GET /user/status`: the user's current room.
    pub async fn current_room(&self, user: &User) -> anyhow::Result<Option<i64>> {
        let r = self.client.get(self.url("/user/status")).bearer_auth(&user.token).send().await?;
        anyhow::ensure!(r.status().is_success(), "GET /user/status for {}: {}", user.id, r.status());
        let body: Value = r.json().await?;
        Ok(body["current_room_id"].as_i64())
    }

    /// `POST /auth/login`: a fresh access token.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let r = self
            .client
            .post(self.url("/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "POST /auth/login: {}", r.status());
        let body: Value = r.json().await?;
        body["access_token"].as_str().map(str::to_owned).context("no access_token in the login answer")
    }

    /// `POST /auth/login`: the access and the refresh token.
    pub async fn login_pair(&self, username: &str, password: &str) -> anyhow::Result<(String, String)> {
        let body = json!({"username": username, "password": password});
        let r = self.client.post(self.url("/auth/login")).json(&body).send().await?;
        anyhow::ensure!(r.status().is_success(), "POST /auth/login: {}", r.status());
        tokens(r.json().await?)
    }

    /// `POST /auth/refresh`: the new access and refresh token (the old one is spent).
    pub async fn refresh(&self, refresh_token: &str) -> anyhow::Result<(String, String)> {
        let body = json!({"refresh_token": refresh_token});
        let r = self.client.post(self.url("/auth/refresh")).json(&body).send().await?;
        anyhow::ensure!(r.status().is_success(), "POST /auth/refresh: {}", r.status());
        tokens(r.json().await?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

fn tokens(body: Value) -> anyhow::Result<(String, String)> {
    let get =
        |key: &str| body[key].as_str().map(str::to_owned).with_context(|| format!("no {key} in {body}"));
    Ok((get("access_token")?, get("refresh_token")?))
}

/// A matched room and its two participants.
#[derive(Clone, Debug)]
pub struct Room {
    pub id: i64,
    pub users: [User; 2],
}

/// Sets complete profiles for `users` (first half men, second half women).
pub async fn put_profiles(api: &Api, users: &[User], side: Side) -> anyhow::Result<()> {
    stream::iter(users.iter().map(|u| api.put_profile(u, side)))
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Files searches for `users` that must all wait (202): the queue of waiting men.
pub async fn search_waiting(api: &Api, users: &[User]) -> anyhow::Result<()> {
    stream::iter(users.iter().map(|u| async move {
        let (status, _) = api.search(u).await?;
        anyhow::ensure!(status == 202, "the search of waiting user {} answered {status}, not 202", u.id);
        Ok(())
    }))
    .buffer_unordered(SETUP_CONCURRENCY)
    .try_collect::<Vec<()>>()
    .await?;
    Ok(())
}

/// Pairs `users` into rooms through the real matchmaking: the first half (men) search
/// and wait, then the second half (women) search and are matched at once; the men
/// learn their room from `GET /user/status`.
pub async fn make_rooms(api: &Api, users: Vec<User>) -> anyhow::Result<Vec<Room>> {
    anyhow::ensure!(users.len() % 2 == 0, "rooms need an even number of users");
    let (men, women) = users.split_at(users.len() / 2);
    put_profiles(api, men, Side::Man).await?;
    put_profiles(api, women, Side::Woman).await?;
    search_waiting(api, men).await?;
    let women_rooms: Vec<(usize, i64)> = stream::iter(women.iter().enumerate().map(|(i, u)| async move {
        let (status, room) = api.search(u).await?;
        let room =
            room.with_context(|| format!("the search of user {} answered {status} without a room", u.id))?;
        Ok::<_, anyhow::Error>((i, room))
    }))
    .buffer_unordered(SETUP_CONCURRENCY)
    .try_collect()
    .await?;
    let men_rooms: Vec<(usize, i64)> = stream::iter(men.iter().enumerate().map(|(i, u)| async move {
        let room = api.current_room(u).await?.with_context(|| format!("user {} has no room", u.id))?;
        Ok::<_, anyhow::Error>((i, room))
    }))
    .buffer_unordered(SETUP_CONCURRENCY)
    .try_collect()
    .await?;
    let man_of: HashMap<i64, usize> = men_rooms.into_iter().map(|(i, r)| (r, i)).collect();
    let mut rooms: Vec<Room> = women_rooms
        .into_iter()
        .map(|(w, id)| {
            let m = *man_of.get(&id).with_context(|| format!("room {id} has no waiting man"))?;
            Ok(Room { id, users: [men[m].clone(), women[w].clone()] })
        })
        .collect::<anyhow::Result<_>>()?;
    rooms.sort_by_key(|r| r.id);
    Ok(rooms)
}
