//! The matching service: the pure [`Matcher`] plus what it cannot do itself, namely
//! storing tickets and rooms, checking profiles, telling others. One instance owns the
//! matcher; every change to the waiting set (search, cancel, logout, ban, expiry)
//! goes through its lock, so the store and the matcher never disagree about who
//! waits. A match is written in one transaction ([`crate::store::Store::create_match`]).

use std::time::Duration;

use rand::thread_rng;
use tokio::sync::{Mutex, Notify};

use super::icebreakers::{self, Icebreaker};
use super::ticket::{gender_of, gender_set, interest_bits, interest_ids, need_bits, ChatKind, Ticket};
use super::{Match, MatchConfig, Matcher};
use crate::app::AppState;
use crate::clock::Timestamp;
use crate::events::Event;
use crate::http::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::profile::missing_fields;
use crate::store::{list_ids, Constraint, NewRoom, RoomRow, StoreError, TicketRow, UserRow};
use crate::tasks::TaskStats;

/// Eligible candidates read per queue in one examination (see `core`).
const WINDOW: usize = 32;

pub struct Matchmaker {
    matcher: Mutex<Matcher>,
    /// Wakes the lifecycle loop when the next deadline may have moved earlier.
    wake: Notify,
    pub stats: TaskStats,
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
    pub fn new(fallback_after: Duration, search_timeout: Duration) -> Self {
        Matchmaker {
            matcher: Mutex::new(Matcher::new(MatchConfig { fallback_after, search_timeout, window: WINDOW })),
            wake: Notify::new(),
            stats: TaskStats::default(),
        }
    }

    /// Reloads stored tickets at start. Tickets of users who may no longer search
    /// (banned, in a room, profile no longer complete) are dropped.
    pub async fn restore(&self, state: &AppState) -> Result<(), ApiError> {
        let mut matcher = self.matcher.lock().await;
        let now = state.clock.now();
        for row in state.store.all_tickets().await? {
            let user = UserId(row.user_id);
            let eligible = match state.store.user(user).await? {
                Some(u) => {
                    u.ban_in_force(now).is_none()
                        && u.current_room_id.is_none()
                        && missing_fields(&u, state.settings.profile.min_age, now).is_empty()
                }
                None => false,
            };
            let ticket = match eligible {
                true => ticket_from_row(&row, self.avoid(state, user, now).await?),
                false => None,
            };
            match ticket {
                Some(ticket) => {
                    let _ = matcher.restore(ticket);
                }
                None => {
                    state.store.delete_ticket(user).await?;
                }
            }
        }
        self.publish_waiting(state, &matcher);
        self.wake.notify_one();
        Ok(())
    }

    /// `POST /chat/search`.
    pub async fn search(
        &self,
        state: &AppState,
        user: &UserRow,
        kind: ChatKind,
    ) -> Result<SearchOutcome, ApiError> {
        let mut matcher = self.matcher.lock().await;
        // The user row is re-read under the lock: a match made a moment ago by another
        // request must be seen.
        let user = state.store.user(user.user_id()).await?.ok_or_else(|| ApiError::not_found("user"))?;
        if let Some(until) = user.ban_in_force(state.clock.now()) {
            // Banned between authentication and now: no ticket may be filed.
            return Err(crate::auth::banned(until));
        }
        if let Some(room_id) = user.current_room_id {
            if let Some(room) = state.store.room(room_id).await?.filter(RoomRow::is_active) {
                return Ok(SearchOutcome::Room(Box::new(room)));
            }
        }
        if matcher.ticket(user.user_id()).is_some() {
            return Err(ApiError::new(ErrorCode::AlreadySearching, "already searching; cancel first"));
        }
        let now = state.clock.now();
        let missing = missing_fields(&user, state.settings.profile.min_age, now);
        if !missing.is_empty() {
            return Err(ApiError::new(
                ErrorCode::IncompleteProfile,
                format!("complete your profile first: {} missing", missing.join(", ")),
            ));
        }
        let avoid = self.avoid(state, user.user_id(), now).await?;
        let ticket = ticket_for(&user, kind, now, avoid)
            .ok_or_else(|| ApiError::internal("stored profile does not parse"))?;
        match state.store.insert_ticket(user.user_id(), kind.as_str(), now).await {
            Err(StoreError::Conflict(Constraint::Ticket)) => {
                return Err(ApiError::new(ErrorCode::AlreadySearching, "already searching; cancel first"))
            }
            other => other?,
        }
        let found = matcher
            .enqueue(ticket, now)
            .map_err(|_| ApiError::new(ErrorCode::AlreadySearching, "already searching"))?;
        let outcome = match found {
            Some(m) => match self.store_match(state, &mut matcher, m, now).await? {
                Some(room) => SearchOutcome::Room(Box::new(room)),
                None => SearchOutcome::Waiting { kind, since: now },
            },
            None => SearchOutcome::Waiting { kind, since: now },
        };
        if let SearchOutcome::Waiting { .. } = outcome {
            state.events.publish(Event::SearchStarted { user: user.user_id() });
        }
        self.publish_waiting(state, &matcher);
        self.wake.notify_one();
        Ok(outcome)
    }

    /// Re-files a waiting user's ticket after a profile change, keeping its place in
    /// the queue: the matcher never pairs on a profile the user has since changed.
    pub async fn refile(&self, state: &AppState, user: &UserRow) -> Result<(), ApiError> {
        let mut matcher = self.matcher.lock().await;
        let Some(old) = matcher.cancel(user.user_id()) else { return Ok(()) };
        let now = state.clock.now();
        let avoid = self.avoid(state, user.user_id(), now).await?;
        let ticket = ticket_for(user, old.kind, old.enqueued_at, avoid)
            .ok_or_else(|| ApiError::internal("stored profile does not parse"))?;
        if let Some(m) = matcher.enqueue(ticket, now).map_err(|_| ApiError::internal("ticket filed twice"))? {
            self.store_match(state, &mut matcher, m, now).await?;
        }
        self.publish_waiting(state, &matcher);
        self.wake.notify_one();
        Ok(())
    }

    /// Withdraws the user's ticket; false when there was none.
    pub async fn cancel(&self, state: &AppState, user: UserId) -> Result<bool, ApiError> {
        let mut matcher = self.matcher.lock().await;
        let in_matcher = matcher.cancel(user).is_some();
        let in_store = state.store.delete_ticket(user).await?;
        self.publish_waiting(state, &matcher);
        if in_matcher || in_store {
            state.events.publish(Event::SearchCancelled { user });
        }
        Ok(in_matcher || in_store)
    }

    /// Expires old tickets and examines those crossing the fallback threshold.
    pub async fn tick(&self, state: &AppState) -> Result<(), ApiError> {
        let mut matcher = self.matcher.lock().await;
        let now = state.clock.now();
        self.stats.ran(now);
        let outcome = matcher.tick(now);
        for ticket in outcome.expired {
            if state.store.delete_ticket(ticket.user).await? {
                state.events.publish(Event::SearchTimeout { user: ticket.user });
            }
        }
        for m in outcome.matches {
            self.store_match(state, &mut matcher, m, now).await?;
        }
        self.publish_waiting(state, &matcher);
        Ok(())
    }

    /// The lifecycle loop: sleeps until the next expiry or fallback crossing (or a
    /// wake-up), then ticks. Runs until shutdown.
    pub async fn run(&self, state: AppState) {
        loop {
            let next = self.matcher.lock().await.next_deadline();
            let wait = next.map_or(Duration::from_secs(3600), |at| state.clock.now().until(at));
            tokio::select! {
                _ = state.shutdown.requested() => break,
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(wait) => {},
            }
            if let Err(e) = self.tick(&state).await {
                tracing::error!(error = %e, "matching tick failed");
            }
        }
    }

    /// The users the matcher holds tickets for, sorted (for checks against the store).
    pub async fn waiting_users(&self) -> Vec<UserId> {
        let mut users: Vec<UserId> = self.matcher.lock().await.waiting_users().collect();
        users.sort();
        users
    }

    /// When the matcher next has an expiry or a fallback crossing.
    pub async fn next_deadline(&self) -> Option<Timestamp> {
        self.matcher.lock().await.next_deadline()
    }

    /// Asks the lifecycle loop to look at the clock again (tests move a manual clock).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Writes a match; if it lost a race in the store, the tickets that still exist
    /// go back to the matcher and nothing else happens.
    async fn store_match(
        &self,
        state: &AppState,
        matcher: &mut Matcher,
        m: Match,
        now: Timestamp,
    ) -> Result<Option<RoomRow>, ApiError> {
        let common = interest_ids(m.a.interests & m.b.interests);
        let icebreaker: Icebreaker = icebreakers::draw(&common, &mut thread_rng());
        let icebreaker = serde_json::to_string(&icebreaker).expect("icebreakers serialise");
        let room = state
            .store
            .create_match(&NewRoom {
                kind: m.a.kind.as_str(),
                users: [m.a.user, m.b.user],
                icebreaker: &icebreaker,
                score: m.score,
                fallback: m.fallback,
                now,
                first_like_at: now.plus(state.settings.room.like_after),
            })
            .await?;
        let Some(room) = room else {
            tracing::warn!(a = m.a.user.0, b = m.b.user.0, "match lost a race in the store; re-queueing");
            for ticket in [m.a, m.b] {
                if state.store.ticket(ticket.user).await?.is_some() {
                    let _ = matcher.restore(ticket);
                }
            }
            return Ok(None);
        };
        let mode = if m.fallback { "fallback" } else { "scored" };
        state.metrics.matches.with_label_values(&[mode]).inc();
        for waited in
            [now.as_millis() - m.a.enqueued_at.as_millis(), now.as_millis() - m.b.enqueued_at.as_millis()]
        {
            state.metrics.time_to_match.with_label_values(&[mode]).observe(waited.max(0) as f64 / 1000.0);
        }
        state.metrics.rooms_active.inc();
        state.rooms.track(&room);
        tracing::info!(room_id = room.id, fallback = m.fallback, "match found");
        state.events.publish(Event::MatchFound {
            room_id: room.id,
            users: room.participants(),
            fallback: m.fallback,
        });
        Ok(Some(room))
    }

    async fn avoid(&self, state: &AppState, user: UserId, now: Timestamp) -> Result<Vec<UserId>, ApiError> {
        Ok(state.store.avoid_list(user, now.minus(state.settings.matching.rematch_cooldown)).await?)
    }

    fn publish_waiting(&self, state: &AppState, matcher: &Matcher) {
        for kind in ChatKind::ALL {
            state.metrics.waiting.with_label_values(&[kind.as_str()]).set(matcher.waiting(kind) as i64);
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
