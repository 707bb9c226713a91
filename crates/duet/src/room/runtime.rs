//! The rooms at run time: one owner task per active room, and one lifecycle loop over
//! a deadline queue. The owner serialises everything that happens to its room (answers,
//! keep flags, messages, ticks, ends): it runs the state machine, stores the result,
//! pushes the room's traffic to its sockets through the [`RoomOutbox`] it was given,
//! announces domain events and files the room's next deadline. No room has a task
//! sleeping on its own timer: the lifecycle loop sleeps until the earliest deadline of
//! all rooms and sends that room a tick.
//!
//! Owners are started on first use and stop when their room ends, so an idle server
//! holds only the deadline queue. At start, [`Rooms::restore`] files the deadline of
//! every active room; overdue ones fire at once, in order. [`Rooms`] is built with
//! exactly what it uses ([`RoomDeps`]) and starts its lifecycle loop itself.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use super::call::{Call, CallAction, CallChange, CallPhase, CallTimers};
use super::error::RoomError;
use super::machine::{Effect, LikeRound, Presence, RoomEvent, RoomState, RoomTimers, Side, Timer};
use super::outbox::{RoomAddress, RoomOutbox, RoomPush};
use super::writer::{MessageWriter, WriteAnswer, WriteError};
use super::{DeadlineQueue, EndReason};
use crate::clock::{SharedClock, Timestamp};
use crate::config::RoomSettings;
use crate::events::{Event, Events};
use crate::ids::{RoomId, Seq, UserId};
use crate::metrics::Metrics;
use crate::profile::partner_avatar_url;
use crate::shutdown::Shutdown;
use crate::store::{Appended, CallRow, MessageRow, NewMessage, RoomRow, RoomStateFields, Store};
use crate::tasks::TaskStats;

/// Commands queued per room. Callers wait for their answer, so the queue only holds
/// what concurrent requests of two people (and the timer) send at once, plus the
/// messages a socket has in flight (bounded per socket by the socket loop).
const OWNER_QUEUE: usize = 64;

/// Messages an owner has handed to the writer and not yet had answered; at this many
/// it takes no command until one is answered. Two sockets' in-flight messages fit.
const MAX_PIPELINE: usize = 64;

/// What rooms are built with.
pub struct RoomDeps {
    pub store: Store,
    pub clock: SharedClock,
    pub settings: RoomSettings,
    pub call_timers: CallTimers,
    /// Longest message, in characters after trimming.
    pub max_message_chars: usize,
    pub writer: MessageWriter,
    pub outbox: Arc<dyn RoomOutbox>,
    pub events: Events,
    pub metrics: Metrics,
}

/// A message stored (`fresh`) or recognised as a retry of a stored one.
pub type Posted = (MessageRow, bool);

/// What must reach a room's sockets before its end (a ban: the banned user's socket
/// closes with 4002 before the partner hears of the end).
#[derive(Clone, Copy, Debug)]
pub enum Notice {
    Banned { user: UserId, until: Timestamp },
}

enum Command {
    Event {
        event: RoomEvent,
        /// Pushed before the event is applied.
        notice: Option<Notice>,
        reply: oneshot::Sender<Result<Vec<Effect>, RoomError>>,
    },
    Message {
        from: UserId,
        client_id: Option<String>,
        content: String,
        received: Instant,
        reply: oneshot::Sender<Result<Posted, RoomError>>,
    },
    /// A WebRTC signal to relay to the partner, while the room's call rings or is
    /// active.
    Signal { from: UserId, payload: serde_json::Value, reply: oneshot::Sender<Result<(), RoomError>> },
}

/// Room owners and the deadline queue; a cheap handle.
#[derive(Clone)]
pub struct Rooms(Arc<Shared>);

struct Shared {
    ctx: Arc<OwnerContext>,
    /// The running owners. Only `Rooms` reads and writes it: an owner is added when
    /// it starts and removed when its task ends.
    owners: Mutex<HashMap<RoomId, mpsc::Sender<Command>>>,
    stats: TaskStats,
}

/// What every room's owner works with, built once by [`Rooms::spawn`]: the owner
/// holds this, not the registry it is listed in.
struct OwnerContext {
    deps: RoomDeps,
    timers: RoomTimers,
    shutdown: Shutdown,
    deadlines: Deadlines,
}

/// The rooms' next deadlines and the lifecycle loop's wake-up: owners file their
/// room's next deadline here after every command.
struct Deadlines {
    queue: Mutex<DeadlineQueue<RoomId>>,
    wake: Notify,
}

impl Deadlines {
    fn schedule(&self, room_id: RoomId, at: Option<Timestamp>) {
        let mut queue = self.queue.lock().expect("deadline lock");
        let before = queue.next();
        queue.schedule(room_id, at);
        if queue.next() != before {
            self.wake.notify_one();
        }
    }
}

/// One room's owner, as a socket holds it: commands go straight to the owner's queue,
/// with no registry lookup per message.
#[derive(Clone)]
pub struct RoomHandle {
    sender: mpsc::Sender<Command>,
    shutdown: Shutdown,
}

/// A message queued to its room's owner; [`PendingPost::answer`] waits for the commit.
pub struct PendingPost {
    answer: oneshot::Receiver<Result<Posted, RoomError>>,
    shutdown: Shutdown,
}

impl PendingPost {
    pub async fn answer(self) -> Result<Posted, RoomError> {
        self.answer.await.unwrap_or_else(|_| Err(gone(&self.shutdown)))
    }
}

/// Why an owner did not answer: it stopped for shutdown (retry), or because its room
/// ended.
fn gone(shutdown: &Shutdown) -> RoomError {
    if shutdown.is_triggered() {
        RoomError::Unavailable
    } else {
        RoomError::Ended
    }
}

impl RoomHandle {
    /// Applies `event` through the owner. The rules may refuse it (ended, not a
    /// participant, no open round...).
    pub async fn apply(&self, event: RoomEvent) -> Result<Vec<Effect>, RoomError> {
        self.apply_after(event, None).await
    }

    async fn apply_after(&self, event: RoomEvent, notice: Option<Notice>) -> Result<Vec<Effect>, RoomError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(Command::Event { event, notice, reply }).await.map_err(|_| gone(&self.shutdown))?;
        answer.await.unwrap_or_else(|_| Err(gone(&self.shutdown)))
    }

    /// Queues a message to be numbered and stored; messages queued by one caller are
    /// stored and answered in the order they were queued. Waits only for room in the
    /// owner's queue, not for the commit.
    pub async fn queue_message(
        &self,
        from: UserId,
        client_id: Option<String>,
        content: String,
    ) -> Result<PendingPost, RoomError> {
        let (reply, answer) = oneshot::channel();
        let received = Instant::now();
        self.sender
            .send(Command::Message { from, client_id, content, received, reply })
            .await
            .map_err(|_| gone(&self.shutdown))?;
        Ok(PendingPost { answer, shutdown: self.shutdown.clone() })
    }

    /// Relays a WebRTC signal (an SDP offer or answer, an ICE candidate) of the room's
    /// call to the partner, unchanged; refused when no call rings or is active.
    pub async fn signal(&self, from: UserId, payload: serde_json::Value) -> Result<(), RoomError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(Command::Signal { from, payload, reply }).await.map_err(|_| gone(&self.shutdown))?;
        answer.await.unwrap_or_else(|_| Err(gone(&self.shutdown)))
    }

    /// Stores a message with the room's next sequence number; a repeated `client_id`
    /// returns the original with `false`.
    pub async fn post_message(
        &self,
        from: UserId,
        client_id: Option<String>,
        content: String,
    ) -> Result<Posted, RoomError> {
        self.queue_message(from, client_id, content).await?.answer().await
    }
}

impl Rooms {
    /// Builds the rooms and starts their lifecycle loop (stopped by `shutdown`).
    pub fn spawn(deps: RoomDeps, shutdown: &Shutdown) -> Rooms {
        let timers = timers(&deps.settings, deps.call_timers);
        let ctx = OwnerContext {
            deps,
            timers,
            shutdown: shutdown.clone(),
            deadlines: Deadlines { queue: Mutex::new(DeadlineQueue::new()), wake: Notify::new() },
        };
        let rooms = Rooms(Arc::new(Shared {
            ctx: Arc::new(ctx),
            owners: Mutex::new(HashMap::new()),
            stats: TaskStats::default(),
        }));
        shutdown.spawn(rooms.clone().run());
        rooms
    }

    /// The next timer of the active room stored as `row` (with its open call, if
    /// any), and when it fires: what the room's owner would schedule.
    pub fn next_timer(&self, row: &RoomRow, call: Option<&CallRow>) -> Option<(Timestamp, Timer)> {
        let mut room = state_from_row(row, None);
        room.call = call.map(|c| call_from_row(c, &room));
        room.next_timer(&self.0.ctx.timers)
    }

    /// Files the deadlines of every active room after a start.
    pub async fn restore(&self) -> Result<usize, RoomError> {
        let deps = &self.0.ctx.deps;
        let now = deps.clock.now();
        let rooms = deps.store.active_rooms().await?;
        let calls: HashMap<RoomId, CallRow> =
            deps.store.open_calls().await?.into_iter().map(|c| (c.room_id, c)).collect();
        for row in &rooms {
            // Sockets did not survive the restart: the grace for reconnecting starts now,
            // and is stored so the room's owner loads the same state.
            let mut room = state_from_row(row, Some(now));
            if room != state_from_row(row, None) {
                deps.store.save_room_state(row.id, &fields_from_state(&room)).await?;
            }
            // A call's audio goes peer to peer and may outlive the restart: it ends only
            // if a participant does not reconnect within the grace.
            room.call = calls.get(&row.id).map(|c| call_from_row(c, &room));
            self.0.ctx.deadlines.schedule(row.id, room.next_deadline(&self.0.ctx.timers));
        }
        Ok(rooms.len())
    }

    /// Starts following a room just created by a match.
    pub fn track(&self, row: &RoomRow) {
        let ctx = &self.0.ctx;
        ctx.deadlines.schedule(row.id, state_from_row(row, None).next_deadline(&ctx.timers));
    }

    /// Applies `event` to the room through its owner.
    pub async fn apply(&self, room_id: RoomId, event: RoomEvent) -> Result<Vec<Effect>, RoomError> {
        self.open(room_id).await?.apply(event).await
    }

    /// Ends a room; false when it had already ended (racing ends produce one end).
    pub async fn end(&self, room_id: RoomId, reason: EndReason) -> Result<bool, RoomError> {
        self.end_after(room_id, reason, None, None).await
    }

    /// A participant ends the room with *End*: the room remembers who.
    pub async fn end_by(&self, room_id: RoomId, user: UserId) -> Result<bool, RoomError> {
        self.end_after(room_id, EndReason::EndedByUser, Some(user), None).await
    }

    /// Ends a room after telling its sockets `notice` (a ban closes the banned user's
    /// socket with 4002 before the partner hears of the end).
    pub async fn end_after(
        &self,
        room_id: RoomId,
        reason: EndReason,
        by: Option<UserId>,
        notice: Option<Notice>,
    ) -> Result<bool, RoomError> {
        let ended = match self.open(room_id).await {
            Ok(handle) => handle.apply_after(RoomEvent::End { reason, by }, notice).await,
            Err(e) => Err(e),
        };
        match ended {
            Ok(_) => Ok(true),
            Err(RoomError::Ended) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stores a message through the room's owner (see [`RoomHandle::post_message`]).
    pub async fn post_message(
        &self,
        room_id: RoomId,
        from: UserId,
        client_id: Option<String>,
        content: String,
    ) -> Result<Posted, RoomError> {
        self.open(room_id).await?.post_message(from, client_id, content).await
    }

    /// The lifecycle loop: sleeps until the earliest room deadline (or a wake-up),
    /// then ticks every room that is due. Runs until shutdown.
    async fn run(self) {
        let ctx = &self.0.ctx;
        loop {
            let next = ctx.deadlines.queue.lock().expect("deadline lock").next();
            let wait = next.map_or(Duration::from_secs(3600), |at| ctx.deps.clock.now().until(at));
            tokio::select! {
                _ = ctx.shutdown.requested() => break,
                _ = ctx.deadlines.wake.notified() => {},
                _ = tokio::time::sleep(wait) => {},
            }
            let now = ctx.deps.clock.now();
            let due = ctx.deadlines.queue.lock().expect("deadline lock").pop_due(now);
            self.0.stats.ran(now);
            for room_id in due {
                match self.apply(room_id, RoomEvent::Tick).await {
                    Ok(_) | Err(RoomError::Ended | RoomError::Unavailable) => {}
                    Err(e) => tracing::error!(room_id = room_id.0, error = %e, "room tick failed"),
                }
            }
        }
    }

    /// Asks the lifecycle loop to look at the clock again (tests move a manual clock).
    pub fn wake(&self) {
        self.0.ctx.deadlines.wake.notify_one();
    }

    /// The next room deadline and how many rooms have one and a running owner.
    pub fn load(&self) -> (Option<Timestamp>, usize, usize) {
        let deadlines = self.0.ctx.deadlines.queue.lock().expect("deadline lock");
        (deadlines.next(), deadlines.len(), self.0.owners.lock().expect("owner lock").len())
    }

    /// The lifecycle loop's bookkeeping, for `/admin/status`.
    pub fn stats(&self) -> &TaskStats {
        &self.0.stats
    }

    /// The room's owner, started if it is not running.
    pub async fn open(&self, room_id: RoomId) -> Result<RoomHandle, RoomError> {
        let shutdown = self.0.ctx.shutdown.clone();
        if shutdown.is_triggered() {
            return Err(RoomError::Unavailable);
        }
        let (sender, start) = {
            let mut owners = self.0.owners.lock().expect("owner lock");
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
            match self.load_owner(room_id).await {
                Ok(owner) => {
                    let rooms = self.clone();
                    let listed = sender.clone();
                    shutdown.spawn(async move {
                        owner.run(rx).await;
                        rooms.forget(room_id, &listed);
                    });
                }
                Err(e) => {
                    self.forget(room_id, &sender);
                    return Err(e);
                }
            }
        }
        Ok(RoomHandle { sender, shutdown })
    }

    /// Takes an owner that has stopped off the list, unless a newer one has taken its
    /// place.
    fn forget(&self, room_id: RoomId, sender: &mpsc::Sender<Command>) {
        let mut owners = self.0.owners.lock().expect("owner lock");
        if owners.get(&room_id).is_some_and(|listed| listed.same_channel(sender)) {
            owners.remove(&room_id);
        }
    }

    /// Reads what an owner starts from: the room and its participants' nicknames.
    async fn load_owner(&self, room_id: RoomId) -> Result<Owner, RoomError> {
        let store = &self.0.ctx.deps.store;
        let row = store.room(room_id).await?.filter(RoomRow::is_active).ok_or(RoomError::Ended)?;
        let users = row.participants();
        let mut nicknames = [None, None];
        for (slot, user) in nicknames.iter_mut().zip(users) {
            *slot = store.user(user).await?.and_then(|u| u.nickname);
        }
        let mut room = state_from_row(&row, None);
        let (call, calls) = store.room_calls(room_id).await?;
        room.call = call.as_ref().map(|c| call_from_row(c, &room));
        room.calls_started = u32::try_from(calls).unwrap_or(u32::MAX);
        Ok(Owner {
            ctx: self.0.ctx.clone(),
            address: RoomAddress { room_id, users, nicknames },
            settled_activity: room.last_message_at,
            room,
            last_seq: row.last_seq,
            stale: false,
            in_flight: VecDeque::new(),
            epoch: 0,
        })
    }
}

/// The owner task of one room.
struct Owner {
    ctx: Arc<OwnerContext>,
    address: RoomAddress,
    room: RoomState,
    /// The `seq` of the room's last message whose commit the owner has heard of (the
    /// store numbers messages as it commits them, so stored values stay contiguous).
    last_seq: Seq,
    /// A store call failed: the database may hold more than the owner knows (a COMMIT
    /// whose answer was lost still commits), so `room` and `last_seq` are read again
    /// before anything else is done ([`Owner::reload`]).
    stale: bool,
    /// Messages handed to the writer, oldest first, whose commit has not answered yet.
    /// The owner goes on taking messages meanwhile, so a room's messages share and fill
    /// batches; anything else it does (an event, a timer's outcome, a reload) waits
    /// until these are answered, so the room's pushes keep their order.
    in_flight: VecDeque<InFlight>,
    /// The writer's epoch of this room: after a failed write the writer fails what
    /// follows in the same epoch, and the owner moves to the next once it has read the
    /// room again.
    epoch: u64,
    /// `last_message_at` as the answered messages leave it. While messages are in
    /// flight the machine already counts them as activity (a retry, which stores
    /// nothing, too); once all are answered the machine takes this value.
    settled_activity: Timestamp,
}

/// A message handed to the writer.
struct InFlight {
    answer: WriteAnswer,
    reply: oneshot::Sender<Result<Posted, RoomError>>,
    received: Instant,
}

/// The next answer of the writer, oldest first; never resolves when nothing is in
/// flight.
async fn next_answer(in_flight: &mut VecDeque<InFlight>) -> Result<Appended, WriteError> {
    match in_flight.front_mut() {
        Some(flight) => (&mut flight.answer).await.unwrap_or(Err(WriteError::Stopped)),
        None => std::future::pending().await,
    }
}

/// What an owner's loop takes next.
enum Next {
    Command(Command),
    Answer(Result<Appended, WriteError>),
}

/// How soon an owner whose reload failed tries again (through a tick), so its room's
/// timers and lost pushes wait for the database, not for the next command.
const RELOAD_RETRY: Duration = Duration::from_secs(1);

/// Whether an answer is a store failure, after which the owner reloads.
fn store_failed<T>(result: &Result<T, RoomError>) -> bool {
    result.as_ref().err().is_some_and(is_store_failure)
}

fn is_store_failure(error: &RoomError) -> bool {
    matches!(error, RoomError::Store(_) | RoomError::WriteFailed(_))
}

impl Owner {
    fn deps(&self) -> &RoomDeps {
        &self.ctx.deps
    }

    fn timers(&self) -> &RoomTimers {
        &self.ctx.timers
    }

    fn room_id(&self) -> RoomId {
        self.address.room_id
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let shutdown = self.ctx.shutdown.clone();
        loop {
            // After a failed write the owner takes nothing new until the rest of what it
            // handed over is answered (they fail at once) and it has read the room again.
            let taking = self.in_flight.len() < MAX_PIPELINE && (!self.stale || self.in_flight.is_empty());
            // At shutdown the owner stops taking commands; the room's state is already
            // stored after every command, so nothing is lost.
            let next = tokio::select! {
                _ = shutdown.requested() => None,
                answer = next_answer(&mut self.in_flight) => Some(Next::Answer(answer)),
                command = commands.recv(), if taking => command.map(Next::Command),
            };
            match next {
                None => break,
                Some(Next::Answer(answer)) => self.settle(answer),
                Some(Next::Command(command)) => self.command(command).await,
            }
            if self.stale && self.in_flight.is_empty() {
                // At once, so a message whose commit's answer was lost reaches the room
                // now, and the room's next deadline is filed again.
                self.try_reload().await;
            }
            if self.room.ended.is_some() && !self.stale && self.in_flight.is_empty() {
                break;
            }
        }
        // What the writer was handed is stored before it stops: its answers go out.
        self.drain().await;
        // Anything still queued is answered by the dropped reply channels: ended, or
        // unavailable at shutdown.
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Message { from, client_id, content, received, reply } => {
                match self.hand_over(from, client_id, content).await {
                    Ok(answer) => self.in_flight.push_back(InFlight { answer, reply, received }),
                    Err(e) => {
                        self.stale |= is_store_failure(&e);
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::Event { event, notice, reply } => {
                self.drain().await;
                if let Some(notice) = notice {
                    self.announce_notice(notice);
                }
                let answer = self.handle(event).await;
                self.stale |= store_failed(&answer);
                let _ = reply.send(answer);
            }
            Command::Signal { from, payload, reply } => {
                self.drain().await;
                let answer = self.relay_signal(from, payload).await;
                self.stale |= store_failed(&answer);
                let _ = reply.send(answer);
            }
        }
    }

    /// Waits for every answer of what was handed to the writer, and settles each.
    async fn drain(&mut self) {
        while !self.in_flight.is_empty() {
            let answer = next_answer(&mut self.in_flight).await;
            self.settle(answer);
        }
    }

    /// The writer answered the oldest message in flight: the sender hears it (the
    /// answer goes before the push, so the sender's socket, which takes answers before
    /// pushes, writes the `ack` before its own echo), then a new message goes to the
    /// room.
    fn settle(&mut self, answer: Result<Appended, WriteError>) {
        let Some(flight) = self.in_flight.pop_front() else { return };
        let posted = match answer {
            Ok(Appended::Stored(message)) => {
                self.last_seq = self.last_seq.max(message.seq);
                let at = Timestamp::from_millis(message.created_at);
                self.settled_activity = self.settled_activity.max(at);
                Ok((message, true))
            }
            // A retry: the original stands, nothing moves.
            Ok(Appended::Earlier { original, same_content: true }) => Ok((original, false)),
            Ok(Appended::Earlier { same_content: false, .. }) => Err(RoomError::ClientIdReused),
            Err(WriteError::Stopped) => Err(RoomError::Unavailable),
            Err(WriteError::Failed(detail)) => Err(RoomError::WriteFailed(detail)),
        };
        self.stale |= store_failed(&posted);
        let fresh = match &posted {
            Ok((message, true)) => Some(message.clone()),
            _ => None,
        };
        let _ = flight.reply.send(posted);
        if let Some(message) = fresh {
            let deps = self.deps();
            deps.outbox.push(&self.address, RoomPush::Message(&message));
            deps.metrics.messages_relayed.inc();
            deps.metrics.relay_latency.observe(flight.received.elapsed().as_secs_f64());
        }
        if self.in_flight.is_empty() {
            self.room.last_message_at = self.settled_activity;
        }
    }

    fn announce_notice(&self, notice: Notice) {
        match notice {
            Notice::Banned { user, until } => {
                self.deps().outbox.push(&self.address, RoomPush::Banned { user, until });
            }
        }
    }

    /// Fires the timers due by now and stores their outcome before anything else is
    /// applied: an event the rules then refuse (a late answer, a message to a room that
    /// has just ended) must not take the timers' effects down with it.
    async fn catch_up(&mut self) -> Result<Vec<Effect>, RoomError> {
        let now = self.deps().clock.now();
        self.catch_up_at(now).await
    }

    /// [`Owner::catch_up`] as of `now`. Messages in flight are answered before the
    /// timers' outcome is stored (it may end the room), and the timers are then
    /// looked at again with what those answers settled.
    async fn catch_up_at(&mut self, now: Timestamp) -> Result<Vec<Effect>, RoomError> {
        loop {
            if self.stale {
                self.drain().await;
                self.reload().await?;
            }
            let mut ticked = self.room.clone();
            let effects = ticked.on_event(RoomEvent::Tick, now, &self.ctx.timers)?;
            if effects.is_empty() && ticked == self.room {
                return Ok(effects);
            }
            if !self.in_flight.is_empty() {
                self.drain().await;
                continue;
            }
            let before = std::mem::replace(&mut self.room, ticked);
            self.commit(&before, &effects).await?;
            return Ok(effects);
        }
    }

    async fn handle(&mut self, event: RoomEvent) -> Result<Vec<Effect>, RoomError> {
        let mut effects = self.catch_up().await?;
        if event == RoomEvent::Tick {
            // A tick may come for a deadline that has since moved (a message moves the
            // inactivity deadline without filing it again): file the room's next one.
            self.ctx.deadlines.schedule(self.room_id(), self.room.next_deadline(self.timers()));
            return Ok(effects);
        }
        let before = self.room.clone();
        let now = self.deps().clock.now();
        let more = self.room.on_event(event, now, &self.ctx.timers)?;
        self.commit(&before, &more).await?;
        // Presence is the owner's to tell: it follows the order of everything else the
        // room pushes.
        let presence = match event {
            RoomEvent::SocketOpened { user } => Some((user, true)),
            RoomEvent::SocketClosed { user } => Some((user, false)),
            _ => None,
        };
        if let Some((user, online)) = presence {
            self.deps().outbox.push(&self.address, RoomPush::Presence { user, online });
        }
        effects.extend(more);
        Ok(effects)
    }

    /// Checks with the rules that the room's call takes signals, then hands the signal
    /// to the partner's sockets.
    async fn relay_signal(&mut self, from: UserId, payload: serde_json::Value) -> Result<(), RoomError> {
        self.handle(RoomEvent::Call { from, action: CallAction::Signal }).await?;
        let call = self.room.call.ok_or(RoomError::NoCall)?;
        let push = RoomPush::Signal { from, call: call.number, payload: &payload };
        self.deps().outbox.push(&self.address, push);
        Ok(())
    }

    /// The message's content as stored, or why it cannot be.
    fn checked_content(&self, content: &str) -> Result<String, RoomError> {
        let content = content.trim();
        let chars = content.chars().count();
        let max = self.deps().max_message_chars;
        if chars == 0 || chars > max {
            return Err(RoomError::InvalidContent { max });
        }
        Ok(content.to_owned())
    }

    /// Validates a message and hands it to the writer, which numbers and stores it (or
    /// recognises a retry); the answer comes when its batch commits. The machine counts
    /// the message as the room's activity now.
    async fn hand_over(
        &mut self,
        from: UserId,
        client_id: Option<String>,
        content: String,
    ) -> Result<WriteAnswer, RoomError> {
        let content = self.checked_content(&content)?;
        // The timers due by now fire first, and the message is sent at the same
        // instant, so it fires none of its own.
        let now = self.deps().clock.now();
        self.catch_up_at(now).await?;
        if self.room.ended.is_some() {
            return Err(RoomError::Ended);
        }
        self.room.side_of(from).ok_or(RoomError::NotParticipant)?;
        if client_id.as_deref().is_some_and(|c| !is_valid_client_id(c)) {
            return Err(RoomError::InvalidClientId);
        }
        if self.in_flight.is_empty() {
            self.settled_activity = self.room.last_message_at;
        }
        let before = self.room.clone();
        let effects = self.room.on_event(RoomEvent::Message { from }, now, &self.ctx.timers)?;
        if !effects.is_empty() {
            // Not expected (the timers due by `now` have fired), but never lost.
            self.drain().await;
            self.commit(&before, &effects).await?;
        }
        // A retry of a stored message is recognised by the store (its unique key), so
        // the owner keeps no memory of earlier client ids.
        let message = NewMessage { room_id: self.room_id(), user: from, client_id, content, at: now };
        self.deps().writer.submit(message, self.epoch).await.map_err(|_| RoomError::Unavailable)
    }

    /// [`Owner::reload`], logged when it fails; a tick then tries again soon.
    async fn try_reload(&mut self) {
        match self.reload().await {
            Ok(()) => {}
            // The room is gone from the database: nothing left to own.
            Err(RoomError::Ended) => {
                self.stale = false;
                let now = self.deps().clock.now();
                self.room.ended.get_or_insert((now, EndReason::Admin));
            }
            Err(e) => {
                tracing::warn!(room_id = self.room_id().0, error = %e, "reloading the room after a store error failed");
                let retry = self.deps().clock.now().plus(RELOAD_RETRY);
                self.ctx.deadlines.schedule(self.room_id(), Some(retry));
            }
        }
    }

    /// Reads the room again after a store error, which may have hidden a commit (its
    /// answer lost): the state machine's fields, the call and the last `seq` come from
    /// the database. Messages stored past what the owner knew were never pushed: they
    /// go to the room now, once, in order (a retry of one is then answered with the
    /// original by the store's `client_id` key, and not pushed again). An end that was
    /// stored unannounced is announced. Then the room's next deadline is filed.
    async fn reload(&mut self) -> Result<(), RoomError> {
        let room_id = self.room_id();
        // Every answer of the current epoch is in (the callers drain first): what the
        // writer failed in it is forgotten, and what is handed over from now on goes
        // under the next.
        debug_assert!(self.in_flight.is_empty());
        self.ctx.deps.writer.release(room_id, self.epoch).await;
        self.epoch += 1;
        let store = &self.ctx.deps.store;
        let row = store.room(room_id).await?.ok_or(RoomError::Ended)?;
        let (call, calls) = store.room_calls(room_id).await?;
        let missed = if row.last_seq > self.last_seq {
            store.messages_after(room_id, self.last_seq, row.last_seq.0 - self.last_seq.0).await?
        } else {
            Vec::new()
        };
        let deps = &self.ctx.deps;
        for message in &missed {
            tracing::info!(
                room_id = room_id.0,
                seq = message.seq.0,
                "a message stored unannounced is pushed now"
            );
            deps.outbox.push(&self.address, RoomPush::Message(message));
            deps.metrics.messages_relayed.inc();
        }
        self.last_seq = row.last_seq;
        let mut room = state_from_row(&row, None);
        self.settled_activity = room.last_message_at;
        room.call = call.as_ref().map(|c| call_from_row(c, &room));
        room.calls_started = u32::try_from(calls).unwrap_or(u32::MAX);
        if let Some((_, reason)) = room.ended {
            // The end committed but its answer was lost: nothing of it was announced.
            deps.metrics.rooms_active.dec();
            deps.metrics.rooms_ended.with_label_values(&[reason.as_str()]).inc();
            let effect = Effect::Ended { reason, by: room.ended_by };
            deps.outbox.push(&self.address, RoomPush::Effect(effect));
            if let Some(event) = event_of(room_id, self.address.users, effect) {
                deps.events.publish(event);
            }
        }
        self.room = room;
        self.stale = false;
        self.ctx.deadlines.schedule(room_id, self.room.next_deadline(&self.ctx.timers));
        Ok(())
    }

    /// Stores what changed, pushes and announces the effects, files the next deadline.
    async fn commit(&mut self, before: &RoomState, effects: &[Effect]) -> Result<(), RoomError> {
        let deps = &self.ctx.deps;
        let room_id = self.address.room_id;
        // The call's records first: the room's end erases them with the messages.
        let changes = call_changes(before, &self.room, effects);
        for change in &changes {
            deps.store.save_call(&call_row(room_id, self.address.users, change)).await?;
        }
        if !changes.is_empty() {
            self.count_call(effects);
        }
        if let Some((ended_at, reason)) = self.room.ended {
            let keep = deps.settings.keep_messages_after_end;
            if deps
                .store
                .end_room(room_id, reason.as_str(), self.room.ended_by, ended_at, keep)
                .await?
                .is_some()
            {
                deps.metrics.rooms_active.dec();
                deps.metrics.rooms_ended.with_label_values(&[reason.as_str()]).inc();
                tracing::info!(room_id = room_id.0, reason = reason.as_str(), "room ended");
            }
        } else if self.room != *before {
            deps.store.save_room_state(room_id, &fields_from_state(&self.room)).await?;
        }
        for effect in effects {
            match *effect {
                Effect::ImageReveal { reveal_level } => self.push_reveal(reveal_level).await?,
                effect => deps.outbox.push(&self.address, RoomPush::Effect(effect)),
            }
            if let Some(event) = event_of(room_id, self.address.users, *effect) {
                deps.events.publish(event);
            }
        }
        self.ctx.deadlines.schedule(room_id, self.room.next_deadline(self.timers()));
        Ok(())
    }

    /// Counts calls that rang and ended, and how long answered ones lasted.
    fn count_call(&self, effects: &[Effect]) {
        let metrics = &self.deps().metrics;
        for effect in effects {
            let Effect::Call(change) = effect else { continue };
            match (change.phase, change.reason) {
                (CallPhase::Ringing, _) => metrics.calls_started.inc(),
                (CallPhase::Ended, Some(reason)) => {
                    metrics.calls_ended.with_label_values(&[reason.as_str()]).inc();
                    if let Some(answered) = change.call.answered {
                        metrics.call_duration.observe(answered.until(change.at).as_secs_f64());
                    }
                }
                _ => {}
            }
        }
    }

    /// Each participant gets the URL of the other's picture at the new level. Rare (at
    /// most twice a room), so the owner reads the pictures' versions now rather than
    /// keeping them.
    async fn push_reveal(&self, reveal_level: u8) -> Result<(), RoomError> {
        let [a, b] = self.address.users;
        for (viewer, partner) in [(a, b), (b, a)] {
            let url = self
                .deps()
                .store
                .user(partner)
                .await?
                .and_then(|p| partner_avatar_url(&p, i64::from(reveal_level)));
            self.deps()
                .outbox
                .push(&self.address, RoomPush::Reveal { viewer, reveal_level, partner_avatar_url: url });
        }
        Ok(())
    }
}

/// The domain event of an effect; a call's changes stay within its room (its
/// sockets hear them through the outbox).
fn event_of(room_id: RoomId, users: [UserId; 2], effect: Effect) -> Option<Event> {
    Some(match effect {
        Effect::LikePrompt { round, deadline } => Event::LikePrompt { room_id, users, round, deadline },
        Effect::LikeAnswered { user } => Event::LikeAnswered { room_id, users, user },
        Effect::LikeResult { round, outcome, reveal_level } => {
            Event::LikeResult { room_id, users, round, outcome, reveal_level }
        }
        Effect::ImageReveal { reveal_level } => Event::ImageReveal { room_id, users, reveal_level },
        Effect::Kept => Event::RoomKept { room_id, users },
        Effect::Ended { reason, by } => Event::RoomEnded { room_id, users, reason, by },
        Effect::Call(_) | Effect::CallMute { .. } => return None,
    })
}

pub fn timers(r: &RoomSettings, call: CallTimers) -> RoomTimers {
    RoomTimers {
        like_after: r.like_after,
        like_answer_window: r.like_answer_window,
        inactivity_timeout: r.inactivity_timeout,
        room_max_age: r.room_max_age,
        abandon_grace: r.abandon_grace,
        call,
    }
}

/// The calls whose records changed with this command, as they are now: those that
/// ended (from their effects), then the ringing or active one when it is new, answered
/// or muted.
fn call_changes(before: &RoomState, after: &RoomState, effects: &[Effect]) -> Vec<CallChange> {
    let mut changes: Vec<CallChange> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call(change) if change.phase == CallPhase::Ended => Some(*change),
            _ => None,
        })
        .collect();
    if let Some(call) = after.call.filter(|c| before.call != Some(*c)) {
        changes.push(CallChange { call, phase: call.phase(), by: None, reason: None, at: call.started });
    }
    changes
}

/// The stored record of a call as `change` leaves it.
fn call_row(room_id: RoomId, users: [UserId; 2], change: &CallChange) -> CallRow {
    let call = change.call;
    let caller = call.caller as usize;
    let ended = change.phase == CallPhase::Ended;
    CallRow {
        room_id,
        number: i64::from(call.number),
        caller_id: users[caller].0,
        started_at: call.started.as_millis(),
        answered_at: call.answered.map(Timestamp::as_millis),
        caller_muted: i64::from(call.muted[caller]),
        callee_muted: i64::from(call.muted[1 - caller]),
        ended_at: ended.then(|| change.at.as_millis()),
        end_reason: change.reason.map(|r| r.as_str().to_owned()),
        duration_ms: call
            .answered
            .filter(|_| ended)
            .map(|answered| i64::try_from(answered.until(change.at).as_millis()).unwrap_or(i64::MAX)),
    }
}

/// The machine's view of a stored call of `room` that has not ended.
pub fn call_from_row(row: &CallRow, room: &RoomState) -> Call {
    let caller = if room.participants[1].0 == row.caller_id { Side::B } else { Side::A };
    let mut muted = [false; 2];
    muted[caller as usize] = row.caller_muted != 0;
    muted[caller.other() as usize] = row.callee_muted != 0;
    Call {
        number: u32::try_from(row.number).unwrap_or(u32::MAX),
        caller,
        started: Timestamp::from_millis(row.started_at),
        answered: row.answered_at.map(Timestamp::from_millis),
        muted,
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
    let presence = [presence(row.closed_since_a), presence(row.closed_since_b)];
    // The stored time is the later of the socket's close and the last HTTP use: close
    // enough for a call's grace after a reload.
    let socket_closed_at = presence.map(|p| match p {
        Presence::ClosedSince(since) => Some(since),
        Presence::Open => None,
    });
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
        presence,
        socket_closed_at,
        ended: row.end_time.map(|t| {
            (ts(t), row.end_reason.as_deref().and_then(EndReason::parse).unwrap_or(EndReason::Admin))
        }),
        ended_by: row.ended_by.map(UserId),
        // Calls are stored apart: the owner and the restore add the room's call.
        call: None,
        calls_started: 0,
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

/// Longest `client_id` a message may carry.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// A `client_id` is 1 to 64 characters of letters, digits and `-_.:` (a UUID, a
/// counter), so what the store keeps per message and a retry's lookup stay small.
pub fn is_valid_client_id(client_id: &str) -> bool {
    (1..=MAX_CLIENT_ID_CHARS).contains(&client_id.len())
        && client_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::call::CallEndReason;

    fn call(number: u32, at: i64) -> Call {
        Call {
            number,
            caller: Side::A,
            started: Timestamp::from_millis(at),
            answered: None,
            muted: [false; 2],
        }
    }

    #[test]
    fn a_call_that_ends_and_one_that_starts_in_one_command_are_both_written() {
        // A ring timeout due between the owner's catch-up and the event's own clock
        // read ends call 1 inside the same command that starts call 2.
        let timers = RoomTimers {
            like_after: Duration::from_secs(300),
            like_answer_window: Duration::from_secs(60),
            inactivity_timeout: Duration::from_secs(900),
            room_max_age: Duration::from_secs(86_400),
            abandon_grace: Duration::from_secs(600),
            call: CallTimers {
                ring_timeout: Duration::from_secs(30),
                reconnect_grace: Duration::from_secs(15),
            },
        };
        let mut before = RoomState::new([UserId(1), UserId(2)], Timestamp::from_millis(0), &timers);
        before.call = Some(call(1, 1_000));
        let mut after = before.clone();
        after.call = Some(call(2, 31_000));
        let ended = CallChange {
            call: call(1, 1_000),
            phase: CallPhase::Ended,
            by: None,
            reason: Some(CallEndReason::Missed),
            at: Timestamp::from_millis(31_000),
        };
        let changes = call_changes(&before, &after, &[Effect::Call(ended)]);
        let written: Vec<(u32, CallPhase)> = changes.iter().map(|c| (c.call.number, c.phase)).collect();
        assert_eq!(written, [(1, CallPhase::Ended), (2, CallPhase::Ringing)]);
        // Nothing changed: nothing written.
        assert!(call_changes(&after, &after, &[]).is_empty());
    }
}
