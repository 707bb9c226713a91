//! The rooms at run time: one owner task per active room, and one lifecycle loop over
//! a deadline queue. The owner serialises everything that happens to its room (answers,
//! keep flags, messages, ticks, ends): it runs the state machine, stores the result,
//! announces the effects and files the room's next deadline. No room has a task
//! sleeping on its own timer: the lifecycle loop sleeps until the earliest deadline of
//! all rooms and sends that room a tick.
//!
//! Owners are started on first use and stop when their room ends, so an idle server
//! holds only the deadline queue. At start, [`Rooms::restore`] files the deadline of
//! every active room; overdue ones fire at once, in order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use super::machine::{Effect, LikeRound, Presence, RoomError, RoomEvent, RoomState, RoomTimers};
use super::{DeadlineQueue, EndReason};
use crate::app::AppState;
use crate::clock::Timestamp;
use crate::events::Event;
use crate::http::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::store::{MessageRow, NewMessage, RoomRow, RoomStateFields};
use crate::tasks::TaskStats;

/// Commands queued per room. Callers wait for their answer, so the queue only holds
/// what concurrent requests of two people (and the timer) send at once.
const OWNER_QUEUE: usize = 64;

enum Command {
    Event {
        event: RoomEvent,
        reply: oneshot::Sender<Result<Vec<Effect>, ApiError>>,
    },
    Message {
        from: UserId,
        client_id: Option<String>,
        content: String,
        received: std::time::Instant,
        reply: oneshot::Sender<Result<(MessageRow, bool), ApiError>>,
    },
}

/// Room owners and the deadline queue.
pub struct Rooms {
    owners: Mutex<HashMap<i64, mpsc::Sender<Command>>>,
    deadlines: Mutex<DeadlineQueue<i64>>,
    wake: Notify,
    pub stats: TaskStats,
}

impl Default for Rooms {
    fn default() -> Self {
        Rooms {
            owners: Mutex::new(HashMap::new()),
            deadlines: Mutex::new(DeadlineQueue::new()),
            wake: Notify::new(),
            stats: TaskStats::default(),
        }
    }
}

impl Rooms {
    pub fn new() -> Self {
        Self::default()
    }

    /// Files the deadlines of every active room after a start.
    pub async fn restore(&self, state: &AppState) -> Result<usize, ApiError> {
        let timers = timers(state);
        let now = state.clock.now();
        let rooms = state.store.active_rooms().await?;
        for row in &rooms {
            // Sockets did not survive the restart: the grace for reconnecting starts now,
            // and is stored so the room's owner loads the same state.
            let room = state_from_row(row, Some(now));
            if room != state_from_row(row, None) {
                state.store.save_room_state(row.id, &fields_from_state(&room)).await?;
            }
            self.schedule(row.id, room.next_deadline(&timers));
        }
        Ok(rooms.len())
    }

    /// Starts following a room just created by a match.
    pub fn track(&self, state: &AppState, row: &RoomRow) {
        self.schedule(row.id, state_from_row(row, None).next_deadline(&timers(state)));
    }

    /// Applies `event` to the room through its owner. `Err(RoomError)` inside means
    /// the rules refused it (ended, not a participant, no open round...).
    pub async fn apply(
        &self,
        state: &AppState,
        room_id: i64,
        event: RoomEvent,
    ) -> Result<Vec<Effect>, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(state, room_id, Command::Event { event, reply }).await?;
        answer.await.unwrap_or_else(|_| Err(room_error(RoomError::Ended)))
    }

    /// Ends a room; false when it had already ended (racing ends produce one end).
    pub async fn end(&self, state: &AppState, room_id: i64, reason: EndReason) -> Result<bool, ApiError> {
        match self.apply(state, room_id, RoomEvent::End { reason }).await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == ErrorCode::RoomEnded => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stores a message with the room's next sequence number through its owner; a
    /// repeated `client_id` returns the original with `false`.
    pub async fn post_message(
        &self,
        state: &AppState,
        room_id: i64,
        from: UserId,
        client_id: Option<String>,
        content: String,
    ) -> Result<(MessageRow, bool), ApiError> {
        let (reply, answer) = oneshot::channel();
        let received = std::time::Instant::now();
        self.send(state, room_id, Command::Message { from, client_id, content, received, reply }).await?;
        answer.await.unwrap_or_else(|_| Err(room_error(RoomError::Ended)))
    }

    /// The lifecycle loop: sleeps until the earliest room deadline (or a wake-up),
    /// then ticks every room that is due. Runs until shutdown.
    pub async fn run(&self, state: AppState) {
        loop {
            let next = self.deadlines.lock().expect("deadline lock").next();
            let wait = next.map_or(Duration::from_secs(3600), |at| state.clock.now().until(at));
            tokio::select! {
                _ = state.shutdown.requested() => break,
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(wait) => {},
            }
            let now = state.clock.now();
            let due = self.deadlines.lock().expect("deadline lock").pop_due(now);
            self.stats.ran(now);
            for room_id in due {
                if let Err(e) = self.apply(&state, room_id, RoomEvent::Tick).await {
                    if e.code() != ErrorCode::RoomEnded {
                        tracing::error!(room_id, error = %e, "room tick failed");
                    }
                }
            }
        }
    }

    /// Asks the lifecycle loop to look at the clock again (tests move a manual clock).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The next room deadline and how many rooms have one and a running owner.
    pub fn load(&self) -> (Option<Timestamp>, usize, usize) {
        let deadlines = self.deadlines.lock().expect("deadline lock");
        (deadlines.next(), deadlines.len(), self.owners.lock().expect("owner lock").len())
    }

    fn schedule(&self, room_id: i64, at: Option<Timestamp>) {
        let mut deadlines = self.deadlines.lock().expect("deadline lock");
        let before = deadlines.next();
        deadlines.schedule(room_id, at);
        if deadlines.next() != before {
            self.wake.notify_one();
        }
    }

    /// Queues a command for the room's owner, starting the owner if it is not running.
    async fn send(&self, state: &AppState, room_id: i64, command: Command) -> Result<(), ApiError> {
        let (sender, start) = {
            let mut owners = self.owners.lock().expect("owner lock");
            match owners.get(&room_id) {
                Some(sender) if !sender.is_closed() => (sender.clone(), None),
                _ => {
                    let (tx, rx) = mpsc::channel(OWNER_QUEUE);
                    owners.insert(room_id, tx.clone());
                    (tx, Some(rx))
                }
            }
        };
        if let Some(rx) = start {
            // Commands wait in the channel while the room loads.
            let row = state.store.room(room_id).await;
            match row {
                Ok(Some(row)) if row.is_active() => {
                    // Earlier messages with client ids, so a retry is recognised
                    // without a database read per message.
                    let retries = match state.store.messages_with_client_ids(room_id).await {
                        Ok(rows) => rows,
                        Err(e) => {
                            self.owners.lock().expect("owner lock").remove(&room_id);
                            return Err(e.into());
                        }
                    };
                    let owner = Owner {
                        state: state.clone(),
                        room_id,
                        users: row.participants(),
                        room: state_from_row(&row, None),
                        last_seq: row.last_seq,
                        sent: retries
                            .into_iter()
                            .filter_map(|m| Some(((UserId(m.user_id), m.client_id.clone()?), m)))
                            .collect(),
                    };
                    state.shutdown.spawn(owner.run(rx));
                }
                other => {
                    self.owners.lock().expect("owner lock").remove(&room_id);
                    drop(rx);
                    other?;
                    return Err(room_error(RoomError::Ended));
                }
            }
        }
        sender.send(command).await.map_err(|_| room_error(RoomError::Ended))
    }
}

/// The owner task of one room.
struct Owner {
    state: AppState,
    room_id: i64,
    users: [UserId; 2],
    room: RoomState,
    /// The room's last message sequence number: the owner numbers messages.
    last_seq: i64,
    /// Stored messages by (sender, client id), to answer retries with the original.
    sent: HashMap<(UserId, String), MessageRow>,
}

impl Owner {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            // At shutdown the owner stops taking commands; the room's state is already
            // stored after every command, so nothing is lost.
            let command = tokio::select! {
                _ = self.state.shutdown.requested() => break,
                command = commands.recv() => match command {
                    Some(command) => command,
                    None => break,
                },
            };
            match command {
                Command::Event { event, reply } => {
                    let _ = reply.send(self.handle(event).await);
                }
                Command::Message { from, client_id, content, received, reply } => {
                    let _ = reply.send(self.message(from, client_id, content, received).await);
                }
            }
            if self.room.ended.is_some() {
                break;
            }
        }
        self.state.rooms.owners.lock().expect("owner lock").remove(&self.room_id);
        // Anything still queued is answered by the dropped reply channels: ended.
    }

    /// Fires the timers due by now and stores their outcome before anything else is
    /// applied: an event the rules then refuse (a late answer, a message to a room that
    /// has just ended) must not take the timers' effects down with it.
    async fn catch_up(&mut self) -> Result<Vec<Effect>, ApiError> {
        let before = self.room.clone();
        let effects = self
            .room
            .on_event(RoomEvent::Tick, self.state.clock.now(), &timers(&self.state))
            .map_err(room_error)?;
        if !effects.is_empty() || self.room != before {
            self.commit(&before, &effects).await?;
        }
        Ok(effects)
    }

    async fn handle(&mut self, event: RoomEvent) -> Result<Vec<Effect>, ApiError> {
        let mut effects = self.catch_up().await?;
        if event == RoomEvent::Tick {
            return Ok(effects);
        }
        let before = self.room.clone();
        let more =
            self.room.on_event(event, self.state.clock.now(), &timers(&self.state)).map_err(room_error)?;
        self.commit(&before, &more).await?;
        effects.extend(more);
        Ok(effects)
    }

    async fn message(
        &mut self,
        from: UserId,
        client_id: Option<String>,
        content: String,
        received: std::time::Instant,
    ) -> Result<(MessageRow, bool), ApiError> {
        let content = content.trim();
        let chars = content.chars().count();
        let max = self.state.settings.realtime.max_message_chars as usize;
        if chars == 0 || chars > max {
            return Err(ApiError::field("content", format!("must be 1 to {max} characters after trimming")));
        }
        self.catch_up().await?;
        if self.room.ended.is_some() {
            return Err(room_error(RoomError::Ended));
        }
        self.room.side_of(from).ok_or(RoomError::NotParticipant).map_err(room_error)?;
        if let Some(original) = client_id.as_ref().and_then(|c| self.sent.get(&(from, c.clone()))) {
            if original.content != content {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "this client_id was used for another message",
                ));
            }
            // A retry: the original stands, nothing moves.
            return Ok((original.clone(), false));
        }
        let now = self.state.clock.now();
        let new = NewMessage {
            room_id: self.room_id,
            seq: self.last_seq + 1,
            user: from,
            client_id: client_id.clone(),
            content: content.to_owned(),
            at: now,
        };
        let message = self.state.writer.write(new).await?;
        self.last_seq = message.seq;
        if let Some(client_id) = client_id {
            self.sent.insert((from, client_id), message.clone());
        }
        // Stored: announce it first, so a failure below cannot keep it from the partner.
        self.state.events.publish(Event::MessagePosted {
            room_id: self.room_id,
            users: self.users,
            message: std::sync::Arc::new(message.clone()),
            received,
        });
        // The store wrote `last_message_at` with the message; the machine follows, and
        // anything else that changed (a timer due in between) is stored by `commit`.
        let mut stored = self.room.clone();
        let effects =
            self.room.on_event(RoomEvent::Message { from }, now, &timers(&self.state)).map_err(room_error)?;
        stored.last_message_at = self.room.last_message_at;
        self.commit(&stored, &effects).await?;
        Ok((message, true))
    }

    /// Stores what changed, announces the effects, files the next deadline.
    async fn commit(&mut self, before: &RoomState, effects: &[Effect]) -> Result<(), ApiError> {
        let state = &self.state;
        if let Some((ended_at, reason)) = self.room.ended {
            let keep = state.settings.room.keep_messages_after_end;
            if state.store.end_room(self.room_id, reason.as_str(), ended_at, keep).await?.is_some() {
                state.metrics.rooms_active.dec();
                state.metrics.rooms_ended.with_label_values(&[reason.as_str()]).inc();
                tracing::info!(room_id = self.room_id, reason = reason.as_str(), "room ended");
            }
        } else if self.room != *before {
            state.store.save_room_state(self.room_id, &fields_from_state(&self.room)).await?;
        }
        for effect in effects {
            state.events.publish(event_of(self.room_id, self.users, *effect));
        }
        state.rooms.schedule(self.room_id, self.room.next_deadline(&timers(state)));
        Ok(())
    }
}

fn event_of(room_id: i64, users: [UserId; 2], effect: Effect) -> Event {
    match effect {
        Effect::LikePrompt { round, deadline } => Event::LikePrompt { room_id, users, round, deadline },
        Effect::LikeAnswered { user } => Event::LikeAnswered { room_id, users, user },
        Effect::LikeResult { round, outcome, reveal_level } => {
            Event::LikeResult { room_id, users, round, outcome, reveal_level }
        }
        Effect::ImageReveal { reveal_level } => Event::ImageReveal { room_id, users, reveal_level },
        Effect::Kept => Event::RoomKept { room_id, users },
        Effect::Ended { reason } => Event::RoomEnded { room_id, users, reason },
    }
}

/// The API's answer for a refusal of the room rules.
pub fn room_error(e: RoomError) -> ApiError {
    match e {
        RoomError::Ended => ApiError::new(ErrorCode::RoomEnded, "the room has ended"),
        RoomError::NotParticipant => ApiError::not_found("room"),
        RoomError::NoOpenRound => ApiError::new(ErrorCode::NoOpenRound, "no like round is open"),
        RoomError::AlreadyAnswered => {
            ApiError::new(ErrorCode::AlreadyAnswered, "this round is already answered")
        }
    }
}

pub fn timers(state: &AppState) -> RoomTimers {
    let r = &state.settings.room;
    RoomTimers {
        like_after: r.like_after,
        like_answer_window: r.like_answer_window,
        inactivity_timeout: r.inactivity_timeout,
        room_max_age: r.room_max_age,
        abandon_grace: r.abandon_grace,
    }
}

/// The machine's view of a stored room. `sockets_lost_at`: after a restart, sockets
/// recorded open are closed as of then.
pub fn state_from_row(row: &RoomRow, sockets_lost_at: Option<Timestamp>) -> RoomState {
    let ts = Timestamp::from_millis;
    let presence = |closed: Option<i64>| match (closed, sockets_lost_at) {
        (Some(since), _) => Presence::ClosedSince(ts(since)),
        (None, Some(lost)) => Presence::ClosedSince(lost),
        (None, None) => Presence::Open,
    };
    let (keep_a, keep_b) = row.keeps();
    RoomState {
        participants: row.participants(),
        start: ts(row.start_time),
        reveal_level: u8::try_from(row.reveal_level).unwrap_or(super::machine::MAX_REVEAL),
        keep: [keep_a, keep_b],
        rounds_opened: u32::try_from(row.rounds_opened).unwrap_or(0),
        round: row.round_deadline.map(|deadline| LikeRound {
            number: u32::try_from(row.rounds_opened).unwrap_or(0),
            deadline: ts(deadline),
            answers: [row.answer_a.map(|a| a != 0), row.answer_b.map(|b| b != 0)],
        }),
        next_like_at: row.next_like_at.map(ts),
        no_match_streak: u8::try_from(row.no_match_streak).unwrap_or(u8::MAX),
        last_message_at: ts(row.last_message_at),
        presence: [presence(row.closed_since_a), presence(row.closed_since_b)],
        ended: row.end_time.map(|t| {
            (ts(t), row.end_reason.as_deref().and_then(EndReason::parse).unwrap_or(EndReason::Admin))
        }),
    }
}

fn fields_from_state(room: &RoomState) -> RoomStateFields {
    let closed = |p: Presence| match p {
        Presence::Open => None,
        Presence::ClosedSince(t) => Some(t.as_millis()),
    };
    RoomStateFields {
        reveal_level: i64::from(room.reveal_level),
        keep_a: room.keep[0],
        keep_b: room.keep[1],
        rounds_opened: i64::from(room.rounds_opened),
        round_deadline: room.round.map(|r| r.deadline.as_millis()),
        answer_a: room.round.and_then(|r| r.answers[0]),
        answer_b: room.round.and_then(|r| r.answers[1]),
        next_like_at: room.next_like_at.map(Timestamp::as_millis),
        no_match_streak: i64::from(room.no_match_streak),
        last_message_at: room.last_message_at.as_millis(),
        closed_since_a: closed(room.presence[0]),
        closed_since_b: closed(room.presence[1]),
    }
}
