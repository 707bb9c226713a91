//! The matching service: the pure [`Matcher`] plus what it cannot do itself, namely
//! storing tickets and rooms, checking profiles, telling others. One instance owns the
//! matcher; every change to the waiting set (search, cancel, logout, ban, expiry)
//! goes through its lock, so the store and the matcher never disagree about who
//! waits. A match is written in one transaction ([`crate::store::Store::create_match`]).
//!
//! The lock is held for decisions, not for the database. A search reads the user and
//! files its ticket before it takes the lock (the store files it only if the user is in
//! no room and not banned, in the same statement), then enqueues under the lock, and a
//! match it makes is written after the lock is released; its two tickets are out of the
//! matcher meanwhile, so nobody else can be paired with them, and if the write loses a
//! race the tickets still in the store go back. What the reads outside the lock could
//! miss is a withdrawal or a re-filing of the same user in between (a cancel, logout,
//! ban, profile change): those are counted on the queue's clock, and a search that
//! sees one of its user's since it began does it all again under the lock, as before.
//! [`Matchmaker::spawn`] builds it with exactly what it uses ([`MatchDeps`]) and starts
//! its lifecycle loop; it answers with [`SearchError`], which the HTTP edge maps.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::thread_rng;
use tokio::sync::{Mutex, Notify};

use super::icebreakers::{self, Icebreaker};
use super::ticket::{gender_of, gender_set, interest_bits, interest_ids, need_bits, ChatKind, Ticket};
use super::{Match, MatchConfig, Matcher};
use crate::clock::{SharedClock, Timestamp};
use crate::config::MatchingSettings;
use crate::events::{Event, Events};
use crate::ids::UserId;
use crate::metrics::Metrics;
use crate::profile::missing_fields;
use crate::room::Rooms;
use crate::shutdown::Shutdown;
use crate::store::{list_ids, Constraint, NewRoom, RoomRow, Store, StoreError, TicketRow, UserRow};
use crate::tasks::TaskStats;

/// Eligible candidates read per queue in one examination (see `core`).
const WINDOW: usize = 32;

/// What the matchmaker is built with.
pub struct MatchDeps {
    pub store: Store,
    pub clock: SharedClock,
    pub settings: MatchingSettings,
    /// Youngest age that may search (`--min-age`).
    pub min_age: u32,
    /// When a new room's first like round opens (`--like-after`).
    pub like_after: Duration,
    /// New rooms are handed to their lifecycle here.
    pub rooms: Rooms,
    pub events: Events,
    pub metrics: Metrics,
}

/// Why a search (or a re-filing) was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("account banned until {}", .0.to_datetime().to_rfc3339())]
    Banned(Timestamp),
    #[error("already searching; cancel first")]
    AlreadySearching,
    /// The profile lacks these fields (or the user is too young: `dob`).
    #[error("complete your profile first: {} missing", .0.join(", "))]
    IncompleteProfile(Vec<&'static str>),
    /// The account is gone (deleted meanwhile).
    #[error("user not found")]
    UnknownUser,
    /// A stored profile the ticket cannot be built from: a bug or a bad migration.
    #[error("the stored profile does not parse")]
    CorruptProfile,
    /// The server is stopping: the search was not run to its end; the client retries.
    #[error("the server is shutting down; retry")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store::db_error_into!(SearchError);

/// The matchmaker; a cheap handle.
#[derive(Clone)]
pub struct Matchmaker(Arc<Shared>);

struct Shared {
    deps: MatchDeps,
    queue: Mutex<Queue>,
    /// Wakes the lifecycle loop when the next deadline may have moved earlier.
    wake: Notify,
    stats: TaskStats,
}

/// The matcher and the bookkeeping of searches that did their reads outside the lock.
struct Queue {
    matcher: Matcher,
    /// Counts starts and changes, so a search can tell what happened since it began.
    clock: u64,
    /// Searches begun and not yet enqueued, by the clock at their start.
    begun: BTreeSet<u64>,
    /// When each user's ticket was last withdrawn or re-filed, by the clock; kept only
    /// while a search begun before it may still be running.
    changed: HashMap<UserId, u64>,
}

impl Queue {
    fn begin(&mut self) -> u64 {
        self.clock += 1;
        self.begun.insert(self.clock);
        self.clock
    }

    /// Ends the search begun at `mark`; true when `user`'s ticket was withdrawn or
    /// re-filed since.
    fn finish(&mut self, mark: u64, user: UserId) -> bool {
        let raced = self.changed.get(&user).is_some_and(|at| *at > mark);
        self.begun.remove(&mark);
        match self.begun.first() {
            None => self.changed.clear(),
            Some(&oldest) => self.changed.retain(|_, at| *at > oldest),
        }
        raced
    }

    /// Notes a withdrawal or re-filing of `user`'s ticket for the searches under way.
    fn changed(&mut self, user: UserId) {
        if !self.begun.is_empty() {
            self.clock += 1;
            self.changed.insert(user, self.clock);
        }
    }
}

/// A search's work outside the lock: an answer already, or a ticket filed in the store
/// and ready to be enqueued.
enum Prepared {
    Done(SearchOutcome),
    Filed(Ticket),
    /// The user was busy when the ticket was to be filed (matched meanwhile, or
    /// banned): answered under the lock.
    Busy,
}

/// What [`Matchmaker::check`] found: the room the user is in, or the ticket to file.
enum Checked {
    Room(Box<RoomRow>),
    Ticket(Ticket),
}

/// What a search led to.
pub enum SearchOutcome {
    /// Already in a room, or matched at once.
    Room(Box<RoomRow>),
    Waiting {
        kind: ChatKind,
        since: Timestamp,
    },
}

impl Matchmaker {
    /// Builds the matchmaker and starts its lifecycle loop (stopped by `shutdown`).
    pub fn spawn(deps: MatchDeps, shutdown: &Shutdown) -> Matchmaker {
        let config = MatchConfig {
            fallback_after: deps.settings.fallback_after,
            search_timeout: deps.settings.search_timeout,
            window: WINDOW,
        };
        let matchmaker = Matchmaker(Arc::new(Shared {
            deps,
            queue: Mutex::new(Queue {
                matcher: Matcher::new(config),
                clock: 0,
                begun: BTreeSet::new(),
                changed: HashMap::new(),
            }),
            wake: Notify::new(),
            stats: TaskStats::default(),
        }));
        shutdown.spawn(matchmaker.clone().run(shutdown.clone()));
        matchmaker
    }

    fn deps(&self) -> &MatchDeps {
        &self.0.deps
    }

    /// Reloads stored tickets at start. Tickets of users who may no longer search
    /// (banned, in a room, profile no longer complete) are dropped.
    pub async fn restore(&self) -> Result<(), SearchError> {
        let deps = self.deps();
        let mut queue = self.0.queue.lock().await;
        let matcher = &mut queue.matcher;
        let now = deps.clock.now();
        for row in deps.store.all_tickets().await? {
            let user = UserId(row.user_id);
            let eligible = match deps.store.user(user).await? {
                Some(u) => {
                    u.ban_in_force(now).is_none()
                        && u.current_room_id.is_none()
                        && missing_fields(&u, deps.min_age, now).is_empty()
                }
                None => false,
            };
            let ticket = match eligible {
                true => ticket_from_row(&row, self.avoid(user, now).await?),
                false => None,
            };
            match ticket {
                Some(ticket) => {
                    let _ = matcher.restore(ticket);
                }
                None => {
                    deps.store.delete_ticket(user).await?;
                }
            }
        }
        self.publish_waiting(matcher);
        self.0.wake.notify_one();
        Ok(())
    }

    /// `POST /chat/search`. Like every change to the waiting set that a request makes,
    /// it runs as a task of its own (see `detached`).
    pub async fn search(&self, user: &UserRow, kind: ChatKind) -> Result<SearchOutcome, SearchError> {
        let (this, id) = (self.clone(), user.user_id());
        detached(async move { this.run_search(id, kind).await }).await
    }

    async fn run_search(&self, id: UserId, kind: ChatKind) -> Result<SearchOutcome, SearchError> {
        let mark = self.0.queue.lock().await.begin();
        let prepared = self.prepare(id, kind).await;
        let mut queue = self.0.queue.lock().await;
        let raced = queue.finish(mark, id);
        let ticket = match prepared? {
            Prepared::Done(outcome) => return Ok(outcome),
            Prepared::Filed(ticket) if !raced => ticket,
            Prepared::Filed(ticket) => {
                // A withdrawal or a re-filing of this user came between the reads and
                // now. If the matcher holds a ticket, a later search of the same user
                // filed it and stands (the search below says so).
                if queue.matcher.ticket(id).is_none() {
                    if self.deps().store.ticket(id).await?.is_none() {
                        // Withdrawn (a cancel, logout, ban, deletion) after it was
                        // filed: this search took effect just before the withdrawal,
                        // which has announced its end; nothing is filed again.
                        return Ok(SearchOutcome::Waiting { kind, since: ticket.enqueued_at });
                    }
                    // Filed on a profile read before a change: decided again.
                    self.deps().store.delete_ticket(id).await?;
                }
                return self.search_locked(&mut queue, id, kind).await;
            }
            // Matched or banned since the reads: decided again under the lock.
            Prepared::Busy => return self.search_locked(&mut queue, id, kind).await,
        };
        let now = ticket.enqueued_at;
        let found = queue.matcher.enqueue(ticket, now).map_err(|_| SearchError::AlreadySearching)?;
        self.publish_waiting(&queue.matcher);
        self.0.wake.notify_one();
        let Some(m) = found else {
            // Announced under the lock: nobody can match the ticket before this.
            self.deps().events.publish(Event::SearchStarted { user: id });
            return Ok(SearchOutcome::Waiting { kind, since: now });
        };
        drop(queue);
        match self.store_match(m, now, Some(id)).await? {
            Some(room) => Ok(SearchOutcome::Room(Box::new(room))),
            None => Ok(SearchOutcome::Waiting { kind, since: now }),
        }
    }

    /// A search's reads and its ticket, outside the lock.
    async fn prepare(&self, id: UserId, kind: ChatKind) -> Result<Prepared, SearchError> {
        let ticket = match self.check(id, kind, || false).await? {
            Checked::Room(room) => return Ok(Prepared::Done(SearchOutcome::Room(room))),
            Checked::Ticket(ticket) => ticket,
        };
        let now = ticket.enqueued_at;
        match self.deps().store.insert_ticket_if_free(id, kind.as_str(), now).await {
            Err(StoreError::Conflict(Constraint::Ticket)) => Err(SearchError::AlreadySearching),
            Err(e) => Err(e.into()),
            Ok(true) => Ok(Prepared::Filed(ticket)),
            Ok(false) => Ok(Prepared::Busy),
        }
    }

    /// What a search checks before it files a ticket, in this order: the user (read
    /// again: a ban may have landed since authentication), the ban, the room the user is
    /// in, `searching` (whether the matcher already holds a ticket, when the caller has
    /// the lock), the profile; then the ticket, with the avoid list.
    async fn check(
        &self,
        id: UserId,
        kind: ChatKind,
        searching: impl FnOnce() -> bool,
    ) -> Result<Checked, SearchError> {
        let deps = self.deps();
        let user = deps.store.user(id).await?.ok_or(SearchError::UnknownUser)?;
        let now = deps.clock.now();
        if let Some(until) = user.ban_in_force(now) {
            return Err(SearchError::Banned(until));
        }
        if let Some(room_id) = user.current_room_id {
            if let Some(room) = deps.store.room(room_id).await?.filter(RoomRow::is_active) {
                return Ok(Checked::Room(Box::new(room)));
            }
        }
        if searching() {
            return Err(SearchError::AlreadySearching);
        }
        let missing = missing_fields(&user, deps.min_age, now);
        if !missing.is_empty() {
            return Err(SearchError::IncompleteProfile(missing));
        }
        let avoid = self.avoid(id, now).await?;
        let ticket = ticket_for(&user, kind, now, avoid).ok_or(SearchError::CorruptProfile)?;
        Ok(Checked::Ticket(ticket))
    }

    /// The whole search under the lock: the user re-read, so a match or a ban made a
    /// moment ago is seen. Taken when the search outside the lock raced with a change.
    async fn search_locked(
        &self,
        queue: &mut Queue,
        id: UserId,
        kind: ChatKind,
    ) -> Result<SearchOutcome, SearchError> {
        let deps = self.deps();
        let ticket = match self.check(id, kind, || queue.matcher.ticket(id).is_some()).await? {
            Checked::Room(room) => return Ok(SearchOutcome::Room(room)),
            Checked::Ticket(ticket) => ticket,
        };
        let now = ticket.enqueued_at;
        match deps.store.insert_ticket(id, kind.as_str(), now).await {
            Err(StoreError::Conflict(Constraint::Ticket)) => return Err(SearchError::AlreadySearching),
            other => other?,
        }
        let found = queue.matcher.enqueue(ticket, now).map_err(|_| SearchError::AlreadySearching)?;
        let outcome = match found {
            // Written under the lock on this path: it is the rare one.
            Some(m) => match self.store_match_with(&mut queue.matcher, m, now).await? {
                Some(room) => SearchOutcome::Room(Box::new(room)),
                None => SearchOutcome::Waiting { kind, since: now },
            },
            None => SearchOutcome::Waiting { kind, since: now },
        };
        if let SearchOutcome::Waiting { .. } = outcome {
            deps.events.publish(Event::SearchStarted { user: id });
        }
        self.publish_waiting(&queue.matcher);
        self.0.wake.notify_one();
        Ok(outcome)
    }

    /// Re-files a waiting user's ticket after a profile change, keeping its place in
    /// the queue: the matcher never pairs on a profile the user has since changed.
    pub async fn refile(&self, user: &UserRow) -> Result<(), SearchError> {
        let (this, user) = (self.clone(), user.clone());
        detached(async move { this.run_refile(&user).await }).await
    }

    async fn run_refile(&self, user: &UserRow) -> Result<(), SearchError> {
        let mut queue = self.0.queue.lock().await;
        // A search of this user under way read the profile before this change.
        queue.changed(user.user_id());
        let Some(old) = queue.matcher.cancel(user.user_id()) else { return Ok(()) };
        let now = self.deps().clock.now();
        let avoid = self.avoid(user.user_id(), now).await?;
        let ticket = ticket_for(user, old.kind, old.enqueued_at, avoid).ok_or(SearchError::CorruptProfile)?;
        // The old ticket was just taken out, so this one cannot be a second.
        let found = queue.matcher.enqueue(ticket, now).ok().flatten();
        self.publish_waiting(&queue.matcher);
        self.0.wake.notify_one();
        drop(queue);
        if let Some(m) = found {
            self.store_match(m, now, None).await?;
        }
        Ok(())
    }

    /// Withdraws the user's ticket; false when there was none.
    pub async fn cancel(&self, user: UserId) -> Result<bool, SearchError> {
        let this = self.clone();
        detached(async move { this.run_cancel(user).await }).await
    }

    async fn run_cancel(&self, user: UserId) -> Result<bool, SearchError> {
        let mut queue = self.0.queue.lock().await;
        queue.changed(user);
        let in_matcher = queue.matcher.cancel(user).is_some();
        // Under the lock: a search filing a ticket meanwhile is enqueued before this
        // (and so withdrawn here) or sees the change and starts again after it.
        let in_store = self.deps().store.delete_ticket(user).await?;
        self.publish_waiting(&queue.matcher);
        if in_matcher || in_store {
            self.deps().events.publish(Event::SearchCancelled { user });
        }
        Ok(in_matcher || in_store)
    }

    /// Expires old tickets and examines those crossing the fallback threshold.
    pub async fn tick(&self) -> Result<(), SearchError> {
        let deps = self.deps();
        let mut queue = self.0.queue.lock().await;
        let now = deps.clock.now();
        self.0.stats.ran(now);
        let outcome = queue.matcher.tick(now);
        for ticket in outcome.expired {
            if deps.store.delete_ticket(ticket.user).await? {
                deps.events.publish(Event::SearchTimeout { user: ticket.user });
            }
        }
        self.publish_waiting(&queue.matcher);
        drop(queue);
        // Every match is written even if one fails (its tickets go back to the matcher).
        let mut failed = Ok(());
        for m in outcome.matches {
            if let Err(e) = self.store_match(m, now, None).await {
                failed = failed.and(Err(e));
            }
        }
        failed
    }

    /// The lifecycle loop: sleeps until the next expiry or fallback crossing (or a
    /// wake-up), then ticks. Runs until shutdown.
    async fn run(self, shutdown: Shutdown) {
        loop {
            let next = self.0.queue.lock().await.matcher.next_deadline();
            let wait = next.map_or(Duration::from_secs(3600), |at| self.deps().clock.now().until(at));
            tokio::select! {
                _ = shutdown.requested() => break,
                _ = self.0.wake.notified() => {},
                _ = tokio::time::sleep(wait) => {},
            }
            if let Err(e) = self.tick().await {
                tracing::error!(error = %e, "matching tick failed");
            }
        }
    }

    /// The users the matcher holds tickets for, sorted (for checks against the store).
    pub async fn waiting_users(&self) -> Vec<UserId> {
        let mut users: Vec<UserId> = self.0.queue.lock().await.matcher.waiting_users().collect();
        users.sort();
        users
    }

    /// When the matcher next has an expiry or a fallback crossing.
    pub async fn next_deadline(&self) -> Option<Timestamp> {
        self.0.queue.lock().await.matcher.next_deadline()
    }

    /// Asks the lifecycle loop to look at the clock again (tests move a manual clock).
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// The lifecycle loop's bookkeeping, for `/admin/status`.
    pub fn stats(&self) -> &TaskStats {
        &self.0.stats
    }

    /// Writes a match decided under the lock, after it is released; if the write lost a
    /// race in the store, the tickets that still exist go back to the matcher (under
    /// the lock again: a cancel meanwhile has removed its ticket from the store), and
    /// `searcher`, whose search made the match, is announced as searching if theirs did.
    async fn store_match(
        &self,
        m: Match,
        now: Timestamp,
        searcher: Option<UserId>,
    ) -> Result<Option<RoomRow>, SearchError> {
        let tickets = [m.a.clone(), m.b.clone()];
        let stored = self.write_match(m, now).await;
        if !matches!(stored, Ok(Some(_))) {
            let mut queue = self.0.queue.lock().await;
            self.requeue(&mut queue.matcher, tickets).await?;
            if let Some(user) = searcher.filter(|u| queue.matcher.ticket(*u).is_some()) {
                self.deps().events.publish(Event::SearchStarted { user });
            }
            self.publish_waiting(&queue.matcher);
            self.0.wake.notify_one();
        }
        stored
    }

    /// [`Matchmaker::store_match`] with the lock held throughout.
    async fn store_match_with(
        &self,
        matcher: &mut Matcher,
        m: Match,
        now: Timestamp,
    ) -> Result<Option<RoomRow>, SearchError> {
        let tickets = [m.a.clone(), m.b.clone()];
        let stored = self.write_match(m, now).await;
        if !matches!(stored, Ok(Some(_))) {
            self.requeue(matcher, tickets).await?;
        }
        stored
    }

    /// The tickets of a match that was not written go back, those still in the store.
    async fn requeue(&self, matcher: &mut Matcher, tickets: [Ticket; 2]) -> Result<(), SearchError> {
        for ticket in tickets {
            if self.deps().store.ticket(ticket.user).await?.is_some() {
                let _ = matcher.restore(ticket);
            }
        }
        Ok(())
    }

    /// The match's transaction and its announcements; None when it lost a race.
    async fn write_match(&self, m: Match, now: Timestamp) -> Result<Option<RoomRow>, SearchError> {
        let deps = self.deps();
        let common = interest_ids(m.a.interests & m.b.interests);
        let icebreaker: Icebreaker = icebreakers::draw(&common, &mut thread_rng());
        let icebreaker = serde_json::to_string(&icebreaker).expect("icebreakers serialise");
        let room = deps
            .store
            .create_match(&NewRoom {
                kind: m.a.kind.as_str(),
                users: [m.a.user, m.b.user],
                icebreaker: &icebreaker,
                score: m.score,
                fallback: m.fallback,
                now,
                first_like_at: now.plus(deps.like_after),
            })
            .await?;
        let Some(room) = room else {
            tracing::warn!(a = m.a.user.0, b = m.b.user.0, "match lost a race in the store; re-queueing");
            return Ok(None);
        };
        let mode = if m.fallback { "fallback" } else { "scored" };
        deps.metrics.matches.with_label_values(&[mode]).inc();
        for waited in
            [now.as_millis() - m.a.enqueued_at.as_millis(), now.as_millis() - m.b.enqueued_at.as_millis()]
        {
            deps.metrics.time_to_match.with_label_values(&[mode]).observe(waited.max(0) as f64 / 1000.0);
            deps.metrics.activity.matched(now, Duration::from_millis(waited.max(0) as u64));
        }
        deps.metrics.rooms_active.inc();
        deps.rooms.track(&room);
        tracing::info!(room_id = room.id.0, fallback = m.fallback, "match found");
        deps.events.publish(Event::MatchFound {
            room_id: room.id,
            users: room.participants(),
            fallback: m.fallback,
        });
        Ok(Some(room))
    }

    async fn avoid(&self, user: UserId, now: Timestamp) -> Result<Vec<UserId>, SearchError> {
        let since = now.minus(self.deps().settings.rematch_cooldown);
        Ok(self.deps().store.avoid_list(user, since).await?)
    }

    fn publish_waiting(&self, matcher: &Matcher) {
        for kind in ChatKind::ALL {
            self.deps().metrics.waiting.with_label_values(&[kind.as_str()]).set(matcher.waiting(kind) as i64);
        }
    }
}

/// Runs `work` as a task of its own and waits for it: a request dropped halfway (its
/// client gone) cannot stop it between two steps that must go together, such as a
/// ticket filed in the store and enqueued, or taken out of the matcher and matched.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, SearchError>> + Send + 'static,
) -> Result<T, SearchError> {
    match tokio::spawn(work).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: the runtime is shutting down.
        Err(_) => Err(SearchError::Unavailable),
    }
}

fn ticket_for(user: &UserRow, kind: ChatKind, now: Timestamp, avoid: Vec<UserId>) -> Option<Ticket> {
    Some(Ticket {
        user: user.user_id(),
        kind,
        gender: gender_of(user.gender.as_deref()?)?,
        accepts: gender_set(&list_ids(&user.preferred_gender)),
        needs: need_bits(&list_ids(&user.needs)),
        interests: interest_bits(&list_ids(&user.interests)),
        enqueued_at: now,
        avoid,
    })
}

fn ticket_from_row(row: &TicketRow, avoid: Vec<UserId>) -> Option<Ticket> {
    Some(Ticket {
        user: UserId(row.user_id),
        kind: ChatKind::parse(&row.kind)?,
        gender: gender_of(row.gender.as_deref()?)?,
        accepts: gender_set(&list_ids(&row.preferred_gender)),
        needs: need_bits(&list_ids(&row.needs)),
        interests: interest_bits(&list_ids(&row.interests)),
        enqueued_at: Timestamp::from_millis(row.enqueued_at),
        avoid,
    })
}
