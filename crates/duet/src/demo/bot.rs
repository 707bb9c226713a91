//! The simulated people. Each bot is a tokio task that does what a person does in the
//! web client, over the same HTTP routes and the same two sockets: sign up (or log in,
//! on a second run), fill the profile, upload a generated photo, keep a status socket
//! open, search, chat in its room (greeting, answers after a pause with `typing`
//! first, read marks, heartbeats), answer like rounds (mostly yes), sometimes keep,
//! rarely report, end, and search again.
//!
//! Bots know each other's user ids ([`World`]), so a bot can tell a person from a bot:
//! it answers a person's every message within a few seconds and never leaves or reports
//! a person. About a third of the bots accept any gender and every need, and when a
//! person waits in the queue ([`help_people_waiting`], from the administrator's view of
//! searching users) a free compatible bot is asked to search at once, or to wrap up a
//! room with another bot first, so a person is matched within seconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Datelike;
use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::client::{self, Incoming, Session, Socket};
use super::phrases::{self, Lang, Moment};

const NEEDS: [&str; 7] = ["casual", "serious", "exploring", "marriage", "long_term", "open", "friends"];
const INTERESTS: [&str; 15] = [
    "gym",
    "dance",
    "photo",
    "coffee",
    "travel",
    "games",
    "reading",
    "music",
    "volunteering",
    "film",
    "hiking",
    "art",
    "food",
    "spirituality",
    "fashion",
];
/// First names: (for the username, as shown, gender).
const NAMES: &[(&str, &str, &str)] = &[
    ("linh", "Linh", "female"),
    ("minh", "Minh", "male"),
    ("trang", "Trang", "female"),
    ("huy", "Huy", "male"),
    ("an", "An", "other"),
    ("mai", "Mai", "female"),
    ("nam", "Nam", "male"),
    ("thao", "Thảo", "female"),
    ("duy", "Duy", "male"),
    ("bao", "Bảo", "other"),
    ("ngoc", "Ngọc", "female"),
    ("khoa", "Khoa", "male"),
    ("ha", "Hà", "female"),
    ("tuan", "Tuấn", "male"),
    ("lan", "Lan", "female"),
    ("phuc", "Phúc", "male"),
    ("vy", "Vy", "female"),
    ("quan", "Quân", "male"),
    ("kim", "Kim", "other"),
    ("huong", "Hương", "female"),
    ("long", "Long", "male"),
];

/// A bot's place in its life cycle, which the dispatcher reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Idle,
    Searching,
    Room { with_person: bool },
}

/// What every bot shares with the others and with the summary.
pub struct BotInfo {
    pub user_id: AtomicI64,
    gender: &'static str,
    /// `["any"]` or genders.
    accepts: Vec<&'static str>,
    phase: Mutex<Phase>,
    /// Set by the dispatcher: search now (or end a room with a bot, then search).
    hurry: AtomicBool,
    nudge: Notify,
}

impl BotInfo {
    fn set_phase(&self, phase: Phase) {
        *self.phase.lock().unwrap() = phase;
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap()
    }

    fn accepts(&self, gender: &str) -> bool {
        self.accepts.iter().any(|g| *g == "any" || *g == gender)
    }
}

/// What the bots count of what they did and saw.
#[derive(Default)]
pub struct Stats {
    pub signed_up: AtomicU64,
    /// Messages of bots the server acknowledged.
    pub bot_messages: AtomicU64,
    /// Messages of people (not bots) that reached a bot.
    pub person_messages: AtomicU64,
    pub like_answers: AtomicU64,
    pub keeps: AtomicU64,
    pub reports: AtomicU64,
    pub bans_lifted: AtomicU64,
    /// Rooms with a person that a bot joined.
    pub people_matched: AtomicU64,
    pub errors: AtomicU64,
    /// How each room a bot was in ended, by room id.
    pub ends: Mutex<HashMap<i64, String>>,
}

/// The bots' shared world: the server's address, the administrator's session, the
/// bots themselves, and which bots are in which room.
pub struct World {
    pub http: reqwest::Client,
    pub base: String,
    pub admin: Session,
    bot_password: String,
    access_ttl: Duration,
    pub stop: CancellationToken,
    pub bot_count: u32,
    pub bots: Mutex<Vec<Arc<BotInfo>>>,
    /// Room id → the bots in it (two: a room between bots; one: a bot and a person).
    rooms: Mutex<HashMap<i64, Vec<i64>>>,
    /// People waiting in the queue: user id → (first seen, last bot sent for them).
    waiting: Mutex<HashMap<i64, (Instant, Option<Instant>)>>,
    pub stats: Stats,
}

impl World {
    pub fn new(
        http: reqwest::Client,
        base: String,
        admin: Session,
        bot_password: String,
        access_ttl: Duration,
        bot_count: u32,
        stop: CancellationToken,
    ) -> World {
        World {
            http,
            base,
            admin,
            bot_password,
            access_ttl,
            stop,
            bot_count,
            bots: Mutex::new(Vec::new()),
            rooms: Mutex::new(HashMap::new()),
            waiting: Mutex::new(HashMap::new()),
            stats: Stats::default(),
        }
    }

    fn is_bot(&self, user_id: i64) -> bool {
        self.bots.lock().unwrap().iter().any(|b| b.user_id.load(Ordering::Relaxed) == user_id)
    }

    fn record_end(&self, room_id: i64, reason: &str) {
        self.stats.ends.lock().unwrap().entry(room_id).or_insert_with(|| reason.to_owned());
    }
}

/// One bot's profile, the same for a given index on every run.
struct Spec {
    username: String,
    nickname: String,
    gender: &'static str,
    preferred: Vec<&'static str>,
    needs: Vec<&'static str>,
    interests: Vec<&'static str>,
    dob: String,
    lang: Lang,
    colour: [u8; 3],
}

impl Spec {
    fn new(index: u32) -> Spec {
        let mut rng = StdRng::seed_from_u64(0x0d0e7 + u64::from(index));
        let (ascii, shown, gender) = NAMES[index as usize % NAMES.len()];
        // Every third bot accepts anyone and every need, so a person finds one quickly.
        let open = index % 3 == 0;
        let preferred = if open || gender == "other" {
            vec!["any"]
        } else if rng.gen_bool(0.2) {
            vec!["male", "female"]
        } else if gender == "male" {
            vec!["female"]
        } else {
            vec!["male"]
        };
        let needs = if open {
            NEEDS.to_vec()
        } else {
            let count = rng.gen_range(1..=3);
            NEEDS.choose_multiple(&mut rng, count).copied().collect()
        };
        let count = rng.gen_range(2..=5);
        let interests = INTERESTS.choose_multiple(&mut rng, count).copied().collect();
        let age = rng.gen_range(19..=38);
        let year = chrono::Utc::now().year() - age - 1;
        let dob = format!("{year}-{:02}-{:02}", rng.gen_range(1..=12), rng.gen_range(1..=28));
        let lang = if rng.gen_bool(0.6) { Lang::Vi } else { Lang::En };
        Spec {
            username: format!("demo_{ascii}_{:02}", index + 1),
            nickname: shown.to_owned(),
            gender,
            preferred,
            needs,
            interests,
            dob,
            lang,
            colour: [rng.gen_range(60..230), rng.gen_range(60..230), rng.gen_range(60..230)],
        }
    }

    /// A 128×128 picture: a head and shoulders on a coloured background, so the
    /// reveal (blurred, semi-blurred, clear) shows something.
    fn avatar_png(&self) -> Vec<u8> {
        let [r, g, b] = self.colour;
        let image = RgbImage::from_fn(128, 128, |x, y| {
            let (dx, dy) = (x as i32 - 64, y as i32 - 50);
            let (sx, sy) = (x as i32 - 64, y as i32 - 128);
            if dx * dx + dy * dy < 26 * 26 {
                Rgb([240, 200, 170])
            } else if sx * sx / 2 + sy * sy < 48 * 48 {
                Rgb([255 - r, 255 - g, 255 - b])
            } else {
                Rgb([r, g.saturating_add((y / 4) as u8), b])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).expect("a PNG encodes in memory");
        out.into_inner()
    }
}

/// Starts `count` bots, a little apart so their sign-ups do not all hash at once.
pub fn spawn_all(world: &Arc<World>, count: u32) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|index| {
            let spec = Spec::new(index);
            let info = Arc::new(BotInfo {
                user_id: AtomicI64::new(0),
                gender: spec.gender,
                accepts: spec.preferred.clone(),
                phase: Mutex::new(Phase::Starting),
                hurry: AtomicBool::new(false),
                nudge: Notify::new(),
            });
            world.bots.lock().unwrap().push(info.clone());
            let world = world.clone();
            tokio::spawn(async move {
                let delay = Duration::from_millis(250 * u64::from(index));
                tokio::select! {
                    _ = world.stop.cancelled() => return,
                    _ = sleep(delay) => {}
                }
                Bot::run(world, info, spec).await
            })
        })
        .collect()
}

/// What the status socket tells the bot's main loop.
enum StatusEvent {
    Matched(i64),
    SearchTimeout,
    Banned,
}

struct Bot {
    world: Arc<World>,
    info: Arc<BotInfo>,
    spec: Spec,
    session: Arc<Session>,
    events: mpsc::UnboundedReceiver<StatusEvent>,
    rng: StdRng,
}

impl Bot {
    async fn run(world: Arc<World>, info: Arc<BotInfo>, spec: Spec) {
        let session = loop {
            let attempt = Session::sign_up_or_log_in(
                world.http.clone(),
                &world.base,
                &spec.username,
                &world.bot_password,
                world.access_ttl,
            );
            tokio::select! {
                _ = world.stop.cancelled() => return,
                result = attempt => match result {
                    Ok(session) => break Arc::new(session),
                    Err(e) => {
                        tracing::warn!(bot = %spec.username, error = %e, "demo bot cannot sign in; retrying");
                        world.stats.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::select! {
                            _ = world.stop.cancelled() => return,
                            _ = sleep(Duration::from_secs(3)) => {}
                        }
                    }
                },
            }
        };
        info.user_id.store(session.user_id, Ordering::Relaxed);
        let (events_tx, events) = mpsc::unbounded_channel();
        let status = tokio::spawn(status_socket(world.clone(), session.clone(), events_tx));
        let mut bot = Bot { world, info, spec, session, events, rng: StdRng::from_entropy() };
        if let Err(e) = bot.set_up_profile().await {
            tracing::warn!(bot = %bot.spec.username, error = %e, "demo bot cannot fill its profile");
            bot.world.stats.errors.fetch_add(1, Ordering::Relaxed);
        } else {
            bot.world.stats.signed_up.fetch_add(1, Ordering::Relaxed);
            bot.live().await;
        }
        let _ = status.await;
    }

    async fn set_up_profile(&mut self) -> anyhow::Result<()> {
        let s = &self.spec;
        let profile = json!({
            "nickname": s.nickname, "dob": s.dob, "gender": s.gender,
            "preferred_gender": s.preferred, "needs": s.needs, "interests": s.interests,
        });
        let reply = self.session.call(reqwest::Method::PUT, "/user/profile", Some(profile)).await?;
        anyhow::ensure!(reply.ok(), "profile: {} {}", reply.status, reply.body);
        if reply.body["avatar_url"].is_null() {
            let reply = self.session.upload_avatar(s.avatar_png()).await?;
            if !reply.ok() {
                tracing::info!(bot = %s.username, status = %reply.status, "demo bot has no avatar");
            }
        }
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.world.stop.is_cancelled()
    }

    /// Pause, search, chat, again, until the demo stops.
    async fn live(&mut self) {
        let mut pause = Duration::from_millis(self.rng.gen_range(0..3000));
        while !self.stopped() {
            self.info.set_phase(Phase::Idle);
            if !self.info.hurry.swap(false, Ordering::Relaxed) {
                tokio::select! {
                    _ = self.world.stop.cancelled() => break,
                    _ = sleep(pause) => {}
                    _ = self.info.nudge.notified() => { self.info.hurry.store(false, Ordering::Relaxed); }
                }
            }
            self.info.set_phase(Phase::Searching);
            pause = Duration::from_millis(self.rng.gen_range(1000..4000));
            let Some(room_id) = self.search().await else { continue };
            self.info.set_phase(Phase::Room { with_person: false });
            if let Err(e) = self.chat(room_id).await {
                tracing::info!(bot = %self.spec.username, room_id, error = %e, "demo bot left its room");
            }
            self.world.rooms.lock().unwrap().remove(&room_id);
            pause = Duration::from_millis(self.rng.gen_range(2000..8000));
        }
    }

    /// Searches until matched; None when the demo stops or the search cannot go on.
    async fn search(&mut self) -> Option<i64> {
        while self.events.try_recv().is_ok() {}
        loop {
            let reply = self.session.post("/chat/search", json!({ "type": "chat" })).await.ok()?;
            match reply.status.as_u16() {
                200 => return reply.body["room_id"].as_i64(),
                202 => {}
                409 if reply.code() == "already_searching" => {}
                403 => {
                    self.banned().await;
                    return None;
                }
                _ => {
                    tracing::info!(bot = %self.spec.username, status = %reply.status, body = %reply.body, "demo bot cannot search");
                    return None;
                }
            }
            // Waiting: the status socket says when, with a look at the status now and
            // then in case a push was missed.
            let mut check = tokio::time::interval(Duration::from_secs(5));
            check.tick().await;
            let searching_again = loop {
                tokio::select! {
                    _ = self.world.stop.cancelled() => {
                        let _ = self.session.post("/chat/cancel-search", json!({})).await;
                        return None;
                    }
                    event = self.events.recv() => match event {
                        Some(StatusEvent::Matched(room)) => return Some(room),
                        Some(StatusEvent::SearchTimeout) => break true,
                        Some(StatusEvent::Banned) => { self.banned().await; return None; }
                        None => return None,
                    },
                    _ = check.tick() => {
                        let status = self.session.get("/user/status").await.ok()?;
                        match status.body["status"].as_str() {
                            Some("connected") => return status.body["current_room_id"].as_i64(),
                            Some("idle") => break true,
                            _ => {}
                        }
                    }
                }
            };
            if !searching_again {
                return None;
            }
        }
    }

    /// A ban (by reports of other bots): the administrator lifts it after a while, as a
    /// moderator who looked at the report would, and the bot signs in again.
    async fn banned(&mut self) {
        tokio::select! {
            _ = self.world.stop.cancelled() => return,
            _ = sleep(Duration::from_secs(10)) => {}
        }
        let id = self.session.user_id;
        if let Ok(reply) = self.world.admin.post(&format!("/admin/users/{id}/unban"), json!({})).await {
            if reply.ok() {
                self.world.stats.bans_lifted.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.session.expire().await;
    }

    /// Whether the partner in `room_id` is a person: no other bot joined the room.
    fn partner_is_person(&self, room_id: i64) -> bool {
        self.world.rooms.lock().unwrap().get(&room_id).is_some_and(|bots| bots.len() < 2)
    }

    /// One room, from the match to its end.
    async fn chat(&mut self, room_id: i64) -> anyhow::Result<()> {
        let me = self.session.user_id;
        self.world.rooms.lock().unwrap().entry(room_id).or_default().push(me);
        let view = self.session.get(&format!("/chat/room/{room_id}")).await?;
        let mut talk = Talk::new(&mut self.rng, self.spec.lang, &view.body);
        let mut socket = self.session.socket(&format!("/ws/chat/{room_id}")).await?;
        let started = Instant::now();
        let mut person: Option<bool> = None;
        let mut heartbeat = tokio::time::interval(Duration::from_secs(25));
        loop {
            // After a moment every bot of the room has registered.
            if person.is_none() && started.elapsed() > Duration::from_secs(2) {
                let is_person = self.partner_is_person(room_id);
                person = Some(is_person);
                self.info.set_phase(Phase::Room { with_person: is_person });
                if is_person {
                    self.world.stats.people_matched.fetch_add(1, Ordering::Relaxed);
                }
            }
            talk.with_person = person.unwrap_or(false);
            if self.info.hurry.load(Ordering::Relaxed) && person == Some(false) && talk.ending.is_none() {
                talk.start_ending(&mut self.rng, Instant::now());
            }
            let due = talk.next_due();
            tokio::select! {
                _ = self.world.stop.cancelled() => {
                    client::close(&mut socket).await;
                    return Ok(());
                }
                _ = self.info.nudge.notified() => {}
                _ = heartbeat.tick() => client::send(&mut socket, json!({ "type": "heartbeat" })).await?,
                incoming = client::next(&mut socket) => match incoming {
                    Incoming::Frame(frame) => {
                        if let Some(reason) = self.on_frame(&mut talk, &mut socket, &frame).await? {
                            self.world.record_end(room_id, &reason);
                            return Ok(());
                        }
                    }
                    Incoming::Closed(code) => {
                        match code {
                            Some(4002) => { self.banned().await; return Ok(()); }
                            Some(1000 | 4003 | 4004 | 4005) => return self.note_end(room_id).await,
                            Some(4001) => self.session.expire().await,
                            _ => {}
                        }
                        sleep(Duration::from_millis(500)).await;
                        socket = match self.session.socket(&format!("/ws/chat/{room_id}?after_seq={}", talk.last_seq)).await {
                            Ok(socket) => socket,
                            Err(_) => return self.note_end(room_id).await,
                        };
                    }
                },
                _ = sleep_until(due) => {
                    if talk.act(&mut self.rng, &mut socket, &self.world, room_id, &self.session).await? {
                        // The room was ended by this bot: wait briefly for its socket's
                        // `room_ended`, then leave.
                        let _ = tokio::time::timeout(Duration::from_secs(3), async {
                            while let Incoming::Frame(frame) = client::next(&mut socket).await {
                                if frame["type"] == "room_ended" {
                                    break;
                                }
                            }
                        }).await;
                        return self.note_end(room_id).await;
                    }
                }
            }
        }
    }

    /// Reads how a room ended (after its socket closed) and records it.
    async fn note_end(&self, room_id: i64) -> anyhow::Result<()> {
        let view = self.session.get(&format!("/chat/room/{room_id}")).await?;
        if let Some(reason) = view.body["end_reason"].as_str() {
            self.world.record_end(room_id, reason);
        }
        Ok(())
    }

    /// Handles one frame of the chat socket; the end reason when the room ended.
    async fn on_frame(
        &mut self,
        talk: &mut Talk,
        socket: &mut Socket,
        frame: &Value,
    ) -> anyhow::Result<Option<String>> {
        let now = Instant::now();
        match frame["type"].as_str().unwrap_or_default() {
            "connection" => {
                talk.last_seq = talk.last_seq.max(frame["last_seq"].as_i64().unwrap_or(0));
                let round = &frame["like_round"];
                if round.is_object() && round["answered"] == false {
                    talk.like_prompt(&mut self.rng, round["deadline"].as_str());
                }
            }
            "message" => {
                let seq = frame["seq"].as_i64().unwrap_or(0);
                talk.last_seq = talk.last_seq.max(seq);
                talk.last_activity = now;
                if frame["user_id"].as_i64() == Some(self.session.user_id) {
                    talk.said += 1;
                } else {
                    talk.heard += 1;
                    let sender = frame["user_id"].as_i64().unwrap_or(0);
                    if !self.world.is_bot(sender) {
                        self.world.stats.person_messages.fetch_add(1, Ordering::Relaxed);
                    }
                    client::send(socket, json!({ "type": "read", "up_to_seq": seq })).await?;
                    let content = frame["content"].as_str().unwrap_or_default();
                    talk.heard_line(&mut self.rng, content, now);
                }
            }
            "ack" => {
                self.world.stats.bot_messages.fetch_add(1, Ordering::Relaxed);
            }
            "like_prompt" => talk.like_prompt(&mut self.rng, frame["deadline"].as_str()),
            "like_result" if frame["outcome"] == "mutual" && self.rng.gen_bool(0.6) => {
                talk.say_soon(&mut self.rng, Moment::Reveal, now);
            }
            "room_kept" => {
                talk.kept = true;
                talk.end_at += Duration::from_secs(self.rng.gen_range(40..100));
                talk.say_soon(&mut self.rng, Moment::Kept, now);
            }
            "room_ended" => return Ok(Some(frame["reason"].as_str().unwrap_or("unknown").to_owned())),
            "banned" => {}
            _ => {}
        }
        Ok(None)
    }
}

/// A line being written: typing starts at `typing_at`, the message goes at `send_at`.
struct Pending {
    typing_at: Instant,
    send_at: Instant,
    text: String,
    typing_sent: bool,
}

/// The state of one conversation and its plan.
struct Talk {
    lang: Lang,
    with_person: bool,
    icebreaker: Option<String>,
    last_seq: i64,
    said: u32,
    heard: u32,
    last_activity: Instant,
    quiet_for: Duration,
    pending: Option<Pending>,
    like_answer: Option<Instant>,
    /// With a bot: when to say goodbye, and after how many messages at most.
    end_at: Instant,
    max_messages: u32,
    keep_after: Option<u32>,
    kept: bool,
    report: bool,
    /// The goodbye is out: end the room at this moment.
    ending: Option<Instant>,
}

impl Talk {
    fn new(rng: &mut StdRng, lang: Lang, room: &Value) -> Talk {
        let now = Instant::now();
        let key = if lang == Lang::Vi { "vi" } else { "en" };
        let icebreaker = room["icebreaker"][key].as_str().map(str::to_owned);
        let mut talk = Talk {
            lang,
            with_person: false,
            icebreaker,
            last_seq: 0,
            said: 0,
            heard: 0,
            last_activity: now,
            quiet_for: Duration::from_secs(rng.gen_range(8..20)),
            pending: None,
            like_answer: None,
            end_at: now + Duration::from_secs(rng.gen_range(45..150)),
            max_messages: rng.gen_range(10..32),
            keep_after: rng.gen_bool(0.3).then(|| rng.gen_range(4..12)),
            kept: false,
            report: rng.gen_bool(0.03),
            ending: None,
        };
        talk.say_soon(rng, Moment::Greeting, now);
        talk
    }

    /// Plans a line: a pause to read and think, then typing for a time that grows with
    /// its length (quicker with a person, who should not wait long).
    fn plan(&mut self, rng: &mut StdRng, text: String, now: Instant) {
        if self.pending.is_some() {
            return;
        }
        let (think, per_char, most) =
            if self.with_person { (700..1800, 40, 3000) } else { (1000..4000, 70, 6000) };
        let typing_at = now + Duration::from_millis(rng.gen_range(think));
        let typing = (text.chars().count() as u64 * per_char).clamp(600, most);
        let send_at = typing_at + Duration::from_millis(typing);
        self.pending = Some(Pending { typing_at, send_at, text, typing_sent: false });
    }

    fn say_soon(&mut self, rng: &mut StdRng, moment: Moment, now: Instant) {
        let text = match (moment, self.icebreaker.take()) {
            (Moment::Greeting, Some(icebreaker)) if rng.gen_bool(0.5) => {
                format!("{} {icebreaker}", phrases::line(rng, self.lang, Moment::Greeting))
            }
            _ => phrases::line(rng, self.lang, moment).to_owned(),
        };
        self.plan(rng, text, now);
    }

    /// The partner said `content`: a bot answers most lines, every line of a person.
    fn heard_line(&mut self, rng: &mut StdRng, content: &str, now: Instant) {
        if self.ending.is_some() {
            return;
        }
        if self.with_person || rng.gen_bool(0.85) {
            let lang = Lang::of(content);
            let text = phrases::reply(rng, lang, content);
            self.plan(rng, text, now);
        }
    }

    /// A like round opened: answer after a few seconds, well before `deadline`.
    fn like_prompt(&mut self, rng: &mut StdRng, deadline: Option<&str>) {
        let left = deadline
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| (d.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds())
            .unwrap_or(5000);
        let latest = (left - 1500).clamp(300, 5000) as u64;
        let delay = rng.gen_range(200..=latest.max(201));
        self.like_answer = Some(Instant::now() + Duration::from_millis(delay));
    }

    fn start_ending(&mut self, rng: &mut StdRng, now: Instant) {
        let text = phrases::line(rng, self.lang, Moment::Goodbye).to_owned();
        self.pending = None;
        self.plan(rng, text, now);
        let send_at = self.pending.as_ref().map_or(now, |p| p.send_at);
        self.ending = Some(send_at + Duration::from_millis(1500));
    }

    /// The earliest moment something is due.
    fn next_due(&self) -> Instant {
        let mut due = self.last_activity + self.quiet_for;
        if let Some(p) = &self.pending {
            due = due.min(if p.typing_sent { p.send_at } else { p.typing_at });
        }
        for at in [self.like_answer, self.ending].into_iter().flatten() {
            due = due.min(at);
        }
        if !self.with_person && self.ending.is_none() {
            due = due.min(self.end_at);
        }
        due
    }

    /// Does what is due; true when this bot ended the room.
    async fn act(
        &mut self,
        rng: &mut StdRng,
        socket: &mut Socket,
        world: &World,
        room_id: i64,
        session: &Session,
    ) -> anyhow::Result<bool> {
        let now = Instant::now();
        if self.like_answer.is_some_and(|at| at <= now) {
            self.like_answer = None;
            let yes = if self.with_person { 0.95 } else { 0.85 };
            let response = if rng.gen_bool(yes) { "yes" } else { "no" };
            client::send(socket, json!({ "type": "like_response", "response": response })).await?;
            world.stats.like_answers.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(p) = &mut self.pending {
            if !p.typing_sent && p.typing_at <= now {
                p.typing_sent = true;
                client::send(socket, json!({ "type": "typing", "is_typing": true })).await?;
            } else if p.typing_sent && p.send_at <= now {
                let text = std::mem::take(&mut p.text);
                self.pending = None;
                client::send(socket, json!({ "type": "typing", "is_typing": false })).await?;
                let client_id = uuid::Uuid::new_v4().to_string();
                client::send(socket, json!({ "type": "message", "content": text, "client_id": client_id }))
                    .await?;
                self.last_activity = now;
            }
        }
        if self.keep_after.is_some_and(|n| self.said + self.heard >= n) {
            self.keep_after = None;
            let reply =
                session.post(&format!("/chat/keep/{room_id}"), json!({ "keep_active": true })).await?;
            if reply.ok() {
                world.stats.keeps.fetch_add(1, Ordering::Relaxed);
            }
        }
        if self.ending.is_some_and(|at| at <= now) && self.pending.is_none() {
            let reply = session.post(&format!("/chat/end/{room_id}"), json!({})).await?;
            if let Some(reason) = reply.body["reason"].as_str() {
                world.record_end(room_id, reason);
            }
            return Ok(true);
        }
        let tired = self.said + self.heard >= self.max_messages || now >= self.end_at;
        if !self.with_person && self.ending.is_none() && tired && (!self.kept || now >= self.end_at) {
            // Rarely, a report of the other bot first (never of a person), while the
            // messages are still there to copy as evidence. Only with enough bots that
            // a reported pair, which is never matched again, leaves others to meet.
            if self.report && world.bot_count >= 6 {
                let reason = ["spam", "inappropriate", "other"].choose(rng).copied().unwrap_or("other");
                let body =
                    json!({ "reason": reason, "details": "demo bot: a sample report for the admin view" });
                if session.post(&format!("/chat/report/{room_id}"), body).await?.ok() {
                    world.stats.reports.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.start_ending(rng, now);
            return Ok(false);
        }
        if self.pending.is_none() && self.ending.is_none() && now >= self.last_activity + self.quiet_for {
            // Nobody spoke for a while. A person who stays silent very long is left
            // with a goodbye; otherwise something new to talk about.
            if self.with_person && now >= self.last_activity + Duration::from_secs(150) {
                self.start_ending(rng, now);
            } else {
                self.say_soon(rng, Moment::Opener, now);
                self.quiet_for = if self.with_person {
                    Duration::from_secs(rng.gen_range(25..45))
                } else {
                    Duration::from_secs(rng.gen_range(8..20))
                };
                self.last_activity = now;
            }
        }
        Ok(false)
    }
}

/// Keeps the bot's status socket open (as the web client does while signed in) and
/// passes on what the main loop waits for.
async fn status_socket(world: Arc<World>, session: Arc<Session>, events: mpsc::UnboundedSender<StatusEvent>) {
    while !world.stop.is_cancelled() {
        let mut socket = match session.socket("/ws/status").await {
            Ok(socket) => socket,
            Err(_) => {
                tokio::select! {
                    _ = world.stop.cancelled() => return,
                    _ = sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        let mut heartbeat = tokio::time::interval(Duration::from_secs(25));
        loop {
            tokio::select! {
                _ = world.stop.cancelled() => {
                    client::close(&mut socket).await;
                    return;
                }
                _ = heartbeat.tick() => {
                    if client::send(&mut socket, json!({ "type": "heartbeat" })).await.is_err() {
                        break;
                    }
                }
                incoming = client::next(&mut socket) => match incoming {
                    Incoming::Frame(frame) => {
                        let event = match frame["type"].as_str() {
                            Some("match_found") => frame["room_id"].as_i64().map(StatusEvent::Matched),
                            Some("search_timeout") => Some(StatusEvent::SearchTimeout),
                            Some("banned") => Some(StatusEvent::Banned),
                            _ => None,
                        };
                        if let Some(event) = event {
                            let _ = events.send(event);
                        }
                    }
                    Incoming::Closed(code) => {
                        if code == Some(4001) || code == Some(4002) {
                            session.expire().await;
                        }
                        break;
                    }
                },
            }
        }
        tokio::select! {
            _ = world.stop.cancelled() => return,
            _ = sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Sends a free bot to every person who waits in the queue: one that accepts the
/// person's gender and whose gender the person accepts, idle first, else one chatting
/// with another bot (it says goodbye and ends that room). Reads the searching users
/// through the administrator's API; bots themselves are left out.
pub async fn help_people_waiting(world: &World) -> anyhow::Result<()> {
    let reply = world.admin.get("/admin/users?status=searching&limit=100").await?;
    let now = Instant::now();
    let items = reply.body["items"].as_array().cloned().unwrap_or_default();
    let people: Vec<&Value> =
        items.iter().filter(|u| u["id"].as_i64().is_some_and(|id| !world.is_bot(id))).collect();
    let mut waiting = world.waiting.lock().unwrap();
    waiting.retain(|id, _| people.iter().any(|p| p["id"].as_i64() == Some(*id)));
    for person in people {
        let id = person["id"].as_i64().unwrap_or_default();
        let entry = waiting.entry(id).or_insert((now, None));
        let due = now.duration_since(entry.0) >= Duration::from_millis(1500)
            && entry.1.is_none_or(|sent| now.duration_since(sent) >= Duration::from_secs(4));
        if !due {
            continue;
        }
        let gender = person["gender"].as_str().unwrap_or_default();
        let wants: Vec<&str> = person["preferred_gender"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let bots = world.bots.lock().unwrap();
        let fits =
            |b: &&Arc<BotInfo>| b.accepts(gender) && wants.iter().any(|w| *w == "any" || *w == b.gender);
        let idle: Vec<&Arc<BotInfo>> =
            bots.iter().filter(fits).filter(|b| b.phase() == Phase::Idle).collect();
        let busy: Vec<&Arc<BotInfo>> =
            bots.iter().filter(fits).filter(|b| b.phase() == Phase::Room { with_person: false }).collect();
        let mut rng = rand::thread_rng();
        if let Some(bot) = idle.choose(&mut rng).or_else(|| busy.choose(&mut rng)) {
            bot.hurry.store(true, Ordering::Relaxed);
            bot.nudge.notify_one();
            entry.1 = Some(now);
        }
    }
    Ok(())
}
