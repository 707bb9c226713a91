//! The matching service: the pure [`Matcher`] plus what it cannot do itself, namely
//! storing tickets and rooms, checking profiles, telling others. One instance owns the
//! matcher; every change to the waiting set (search, cancel, logout, ban, expiry)
//! goes through its lock, so the store and the matcher never disagree about who
//! waits. A match is written in one transaction ([`crate::store::Store::create_match`]).
//! [`Matchmaker::spawn`] builds it with exactly what it uses ([`MatchDeps`]) and starts
//! its lifecycle loop; it answers with [`SearchError`], which the HTTP edge maps.

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
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store::db_error_into!(SearchError);

/// The matchmaker; a cheap handle.
#[derive(Clone)]
pub struct Matchmaker(Arc<Shared>);

struct Shared {
    deps: MatchDeps,
    matcher: Mutex<Matcher>,
    /// Wakes the lifecycle loop when the next deadline may have moved earlier.
    wake: Notify,
    stats: TaskStats,
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
            matcher: Mutex::new(Matcher::new(config)),
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
        let mut matcher = self.0.matcher.lock().await;
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
        self.publish_waiting(&matcher);
        self.0.wake.notify_one();
        Ok(())
    }

    /// `POST /chat/search`.
    pub async fn search(&self, user: &UserRow, kind: ChatKind) -> Result<SearchOutcome, SearchError> {
        let deps = self.deps();
        let mut matcher = self.0.matcher.lock().await;
        // The user row is re-read under the lock: a match made a moment ago by another
        // request must be seen.
        let user = deps.store.user(user.user_id()).await?.ok_or(SearchError::UnknownUser)?;
        if let Some(until) = user.ban_in_force(deps.clock.now()) {
            // Banned between authentication and now: no ticket may be filed.
            return Err(SearchError::Banned(until));
        }
        if let Some(room_id) = user.current_room_id {
            if let Some(room) = deps.store.room(room_id).await?.filter(RoomRow::is_active) {
                return Ok(SearchOutcome::Room(Box::new(room)));
            }
        }
        if matcher.ticket(user.user_id()).is_some() {
            return Err(SearchError::AlreadySearching);
        }
        let now = deps.clock.now();
        let missing = missing_fields(&user, deps.min_age, now);
        if !missing.is_empty() {
            return Err(SearchError::IncompleteProfile(missing));
        }
        let avoid = self.avoid(user.user_id(), now).await?;
        let ticket = ticket_for(&user, kind, now, avoid).ok_or(SearchError::CorruptProfile)?;
        match deps.store.insert_ticket(user.user_id(), kind.as_str(), now).await {
            Err(StoreError::Conflict(Constraint::Ticket)) => return Err(SearchError::AlreadySearching),
            other => other?,
        }
        let found = matcher.enqueue(ticket, now).map_err(|_| SearchError::AlreadySearching)?;
        let outcome = match found {
            Some(m) => match self.store_match(&mut matcher, m, now).await? {
                Some(room) => SearchOutcome::Room(Box::new(room)),
                None => SearchOutcome::Waiting { kind, since: now },
            },
            None => SearchOutcome::Waiting { kind, since: now },
        };
        if let SearchOutcome::Waiting { .. } = outcome {
            deps.events.publish(Event::SearchStarted { user: user.user_id() });
        }
        self.publish_waiting(&matcher);
        self.0.wake.notify_one();
        Ok(outcome)
    }

    /// Re-files a waiting user's ticket after a profile change, keeping its place in
    /// the queue: the matcher never pairs on a profile the user has since changed.
    pub async fn refile(&self, user: &UserRow) -> Result<(), SearchError> {
        let mut matcher = self.0.matcher.lock().await;
        let Some(old) = matcher.cancel(user.user_id()) else { return Ok(()) };
        let now = self.deps().clock.now();
        let avoid = self.avoid(user.user_id(), now).await?;
        let ticket = ticket_for(user, old.kind, old.enqueued_at, avoid).ok_or(SearchError::CorruptProfile)?;
        // The old ticket was just taken out, so this one cannot be a second.
        if let Ok(Some(m)) = matcher.enqueue(ticket, now) {
            self.store_match(&mut matcher, m, now).await?;
        }
        self.publish_waiting(&matcher);
        self.0.wake.notify_one();
        Ok(())
    }

    /// Withdraws the user's ticket; false when there was none.
    pub async fn cancel(&self, user: UserId) -> Result<bool, SearchError> {
        let mut matcher = self.0.matcher.lock().await;
        let in_matcher = matcher.cancel(user).is_some();
        let in_store = self.deps().store.delete_ticket(user).await?;
        self.publish_waiting(&matcher);
        if in_matcher || in_store {
            self.deps().events.publish(Event::SearchCancelled { user });
        }
        Ok(in_matcher || in_store)
    }

    /// Expires old tickets and examines those crossing the fallback threshold.
    pub async fn tick(&self) -> Result<(), SearchError> {
        let deps = self.deps();
        let mut matcher = self.0.matcher.lock().await;
        let now = deps.clock.now();
        self.0.stats.ran(now);
        let outcome = matcher.tick(now);
        for ticket in outcome.expired {
            if deps.store.delete_ticket(ticket.user).await? {
                deps.events.publish(Event::SearchTimeout { user: ticket.user });
            }
        }
        for m in outcome.matches {
            self.store_match(&mut matcher, m, now).await?;
        }
        self.publish_waiting(&matcher);
        Ok(())
    }

    /// The lifecycle loop: sleeps until the next expiry or fallback crossing (or a
    /// wake-up), then ticks. Runs until shutdown.
    async fn run(self, shutdown: Shutdown) {
        loop {
            let next = self.0.matcher.lock().await.next_deadline();
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
        let mut users: Vec<UserId> = self.0.matcher.lock().await.waiting_users().collect();
        users.sort();
        users
    }

    /// When the matcher next has an expiry or a fallback crossing.
    pub async fn next_deadline(&self) -> Option<Timestamp> {
        self.0.matcher.lock().await.next_deadline()
    }

    /// Asks the lifecycle loop to look at the clock again (tests move a manual clock).
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// The lifecycle loop's bookkeeping, for `/admin/status`.
    pub fn stats(&self) -> &TaskStats {
        &self.0.stats
    }

    /// Writes a match; if it lost a race in the store, the tickets that still exist
    /// go back to the matcher and nothing else happens.
    async fn store_match(
        &self,
        matcher: &mut Matcher,
        m: Match,
        now: Timestamp,
    ) -> Result<Option<RoomRow>, SearchError> {
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
            for ticket in [m.a, m.b] {
                if deps.store.ticket(ticket.user).await?.is_some() {
                    let _ = matcher.restore(ticket);
                }
            }
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
