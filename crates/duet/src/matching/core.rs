//! The matcher: waiting tickets and the decision of who meets whom. Pure: it takes
//! tickets and `now`, returns matches and expiries, and does no I/O, so tests and
//! benchmarks drive it directly and the service around it decides what to store.
//!
//! Index: tickets live in buckets by (type, own gender, accepted genders), 2 x 3 x 7
//! of them. A ticket's compatible buckets are fixed by its own gender and preference,
//! so the hard rules of type and mutual gender cost nothing per candidate. Inside a
//! bucket, tickets are ordered by enqueue time, in one queue for all and one per need.
//! An examination reads, per compatible bucket, the oldest `window` eligible tickets of
//! each queue that can hold an eligible partner, so its work is bounded by the window,
//! not the queue length. Tickets skipped for a hard rule (the `avoid` lists) do not
//! count against the window: a pair that is not allowed never hides one that is.
//!
//! Eligibility: a pair sharing a need is eligible at once; any compatible pair is
//! eligible once either ticket has waited `fallback_after`. An examination matches the
//! examined ticket whenever it has at least one eligible partner, choosing the best
//! score, then the longest wait. Each ticket is examined when it arrives and again when
//! it crosses the fallback threshold ([`Matcher::tick`]); together these are the only
//! moments a pair can become eligible, so no eligible pair is left waiting.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::time::Duration;

use super::ticket::{score, ChatKind, Gender, GenderSet, Ticket, GENDER_COUNT};
use crate::clock::Timestamp;
use crate::ids::UserId;

/// Order inside a queue: oldest first, user id to break ties.
type Key = (Timestamp, UserId);

const MASKS: usize = 1 << GENDER_COUNT;
const BUCKETS: usize = 2 * GENDER_COUNT * MASKS;

#[derive(Clone, Copy, Debug)]
pub struct MatchConfig {
    /// After this wait a ticket no longer needs a shared need.
    pub fallback_after: Duration,
    /// A ticket expires after this wait.
    pub search_timeout: Duration,
    /// Eligible candidates read per queue in one examination.
    pub window: usize,
}

/// Two tickets paired: `a` waited longer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub a: Ticket,
    pub b: Ticket,
    pub score: u32,
    /// True when the pair shares no need and met through the fallback.
    pub fallback: bool,
}

/// What a tick decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    pub matches: Vec<Match>,
    pub expired: Vec<Ticket>,
}

#[derive(Debug)]
pub enum EnqueueError {
    AlreadyWaiting,
}

#[derive(Default)]
struct Bucket {
    all: BTreeSet<Key>,
    by_need: Vec<BTreeSet<Key>>,
}

impl Bucket {
    fn need_queue(&mut self, bit: u32) -> &mut BTreeSet<Key> {
        let i = bit as usize;
        if self.by_need.len() <= i {
            self.by_need.resize_with(i + 1, BTreeSet::new);
        }
        &mut self.by_need[i]
    }
}

pub struct Matcher {
    config: MatchConfig,
    tickets: HashMap<UserId, Ticket>,
    buckets: Vec<Bucket>,
    /// Every ticket by enqueue time: expiry and fallback crossings walk it.
    by_time: BTreeSet<Key>,
    /// Tickets enqueued at or before this instant have been examined at their
    /// fallback crossing.
    crossed_until: Option<Timestamp>,
    waiting: [usize; 2],
}

fn bucket_index(kind: ChatKind, gender: Gender, accepts: GenderSet) -> usize {
    (kind.index() * GENDER_COUNT + gender.0 as usize) * MASKS + accepts.0 as usize
}

fn bits(mut set: u32) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        if set == 0 {
            return None;
        }
        let bit = set.trailing_zeros();
        set &= set - 1;
        Some(bit)
    })
}

impl Matcher {
    pub fn new(config: MatchConfig) -> Self {
        Matcher {
            config,
            tickets: HashMap::new(),
            buckets: (0..BUCKETS).map(|_| Bucket::default()).collect(),
            by_time: BTreeSet::new(),
            crossed_until: None,
            waiting: [0; 2],
        }
    }

    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// Waiting tickets of one type.
    pub fn waiting(&self, kind: ChatKind) -> usize {
        self.waiting[kind.index()]
    }

    /// Every waiting user, in no particular order.
    pub fn waiting_users(&self) -> impl Iterator<Item = UserId> + '_ {
        self.tickets.keys().copied()
    }

    pub fn ticket(&self, user: UserId) -> Option<&Ticket> {
        self.tickets.get(&user)
    }

    /// Examines a new ticket: matched at once with its best eligible partner, or left
    /// waiting.
    pub fn enqueue(&mut self, ticket: Ticket, now: Timestamp) -> Result<Option<Match>, EnqueueError> {
        if self.tickets.contains_key(&ticket.user) {
            return Err(EnqueueError::AlreadyWaiting);
        }
        if let Some((partner, score, fallback)) = self.best_partner(&ticket, now) {
            let partner = self.remove(partner).expect("candidates are waiting tickets");
            return Ok(Some(Match { a: partner, b: ticket, score, fallback }));
        }
        self.insert(ticket);
        Ok(None)
    }

    /// Adds a ticket without examining it (used when reloading after a restart; the
    /// next [`Matcher::tick`] examines it at its fallback crossing).
    pub fn restore(&mut self, ticket: Ticket) -> Result<(), EnqueueError> {
        if self.tickets.contains_key(&ticket.user) {
            return Err(EnqueueError::AlreadyWaiting);
        }
        self.insert(ticket);
        Ok(())
    }

    /// Withdraws a user's ticket (cancel, logout, ban, room start elsewhere).
    pub fn cancel(&mut self, user: UserId) -> Option<Ticket> {
        self.remove(user)
    }

    /// Expires tickets past the search timeout, then examines each ticket that has
    /// crossed the fallback threshold since the last tick.
    pub fn tick(&mut self, now: Timestamp) -> TickOutcome {
        let mut outcome = TickOutcome::default();
        let expire_before = now.minus(self.config.search_timeout);
        while let Some(&(at, user)) = self.by_time.first() {
            if at > expire_before {
                break;
            }
            outcome.expired.extend(self.remove(user));
        }
        let crossed = now.minus(self.config.fallback_after);
        let newly: Vec<Key> = self.not_yet_crossed().take_while(|(at, _)| *at <= crossed).copied().collect();
        self.crossed_until = Some(self.crossed_until.map_or(crossed, |c| c.max(crossed)));
        for (_, user) in newly {
            let Some(ticket) = self.tickets.get(&user).cloned() else {
                continue;
            };
            if let Some((partner, score, fallback)) = self.best_partner(&ticket, now) {
                let ticket = self.remove(user).expect("still waiting");
                let partner = self.remove(partner).expect("candidates are waiting tickets");
                let (a, b) = if (partner.enqueued_at, partner.user) <= (ticket.enqueued_at, ticket.user) {
                    (partner, ticket)
                } else {
                    (ticket, partner)
                };
                outcome.matches.push(Match { a, b, score, fallback });
            }
        }
        outcome
    }

    /// When [`Matcher::tick`] next has work: the next expiry or fallback crossing.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let expiry = self.by_time.first().map(|(at, _)| at.plus(self.config.search_timeout));
        let crossing = self.not_yet_crossed().next().map(|(at, _)| at.plus(self.config.fallback_after));
        match (expiry, crossing) {
            (Some(e), Some(c)) => Some(e.min(c)),
            (e, c) => e.or(c),
        }
    }

    /// Tickets not yet examined at their fallback crossing, oldest first.
    fn not_yet_crossed(&self) -> impl Iterator<Item = &Key> {
        let start = match self.crossed_until {
            Some(c) => Bound::Excluded((c, UserId(i64::MAX))),
            None => Bound::Unbounded,
        };
        self.by_time.range((start, Bound::Unbounded))
    }

    /// The best eligible partner of `ticket`: highest score, then longest wait.
    fn best_partner(&self, ticket: &Ticket, now: Timestamp) -> Option<(UserId, u32, bool)> {
        let fallback_since = now.minus(self.config.fallback_after);
        let ticket_relaxed = ticket.enqueued_at <= fallback_since;
        let mut best: Option<(u32, Key)> = None;
        let mut consider = |candidate: &Ticket| {
            let s = score(ticket, candidate);
            let key = (candidate.enqueued_at, candidate.user);
            let better = match best {
                None => true,
                Some((best_score, best_key)) => s > best_score || (s == best_score && key < best_key),
            };
            if better {
                best = Some((s, key));
            }
        };
        for g in 0..GENDER_COUNT as u8 {
            let gender = Gender(g);
            if !ticket.accepts.contains(gender) {
                continue;
            }
            for mask in 1..MASKS as u8 {
                let accepts = GenderSet(mask);
                if !accepts.contains(ticket.gender) {
                    continue;
                }
                let bucket = &self.buckets[bucket_index(ticket.kind, gender, accepts)];
                if bucket.all.is_empty() {
                    continue;
                }
                // Partners sharing a need are eligible whatever their wait.
                for need in bits(ticket.needs) {
                    if let Some(queue) = bucket.by_need.get(need as usize) {
                        self.scan(queue.iter(), ticket, &mut consider);
                    }
                }
                // Partners sharing no need: all of them once this ticket is relaxed,
                // otherwise only those that have waited past the threshold themselves
                // (the oldest, at the front of the queue).
                let relaxed = bucket.all.iter().take_while(|(at, _)| ticket_relaxed || *at <= fallback_since);
                self.scan(relaxed, ticket, &mut consider);
            }
        }
        best.map(|(s, (_, user))| {
            let partner = &self.tickets[&user];
            (user, s, ticket.needs & partner.needs == 0)
        })
    }

    /// Feeds up to `window` eligible tickets from `queue` to `consider`, skipping the
    /// ticket itself and pairs a hard rule forbids.
    fn scan<'a>(
        &self,
        queue: impl Iterator<Item = &'a Key>,
        ticket: &Ticket,
        consider: &mut impl FnMut(&Ticket),
    ) {
        let mut examined = 0;
        for (_, user) in queue {
            if examined == self.config.window {
                break;
            }
            let candidate = &self.tickets[user];
            if candidate.user == ticket.user || ticket.avoids(candidate) {
                continue;
            }
            examined += 1;
            consider(candidate);
        }
    }

    fn insert(&mut self, ticket: Ticket) {
        let key = (ticket.enqueued_at, ticket.user);
        let bucket = &mut self.buckets[bucket_index(ticket.kind, ticket.gender, ticket.accepts)];
        bucket.all.insert(key);
        for need in bits(ticket.needs) {
            bucket.need_queue(need).insert(key);
        }
        self.by_time.insert(key);
        self.waiting[ticket.kind.index()] += 1;
        self.tickets.insert(ticket.user, ticket);
    }

    fn remove(&mut self, user: UserId) -> Option<Ticket> {
        let ticket = self.tickets.remove(&user)?;
        let key = (ticket.enqueued_at, ticket.user);
        let bucket = &mut self.buckets[bucket_index(ticket.kind, ticket.gender, ticket.accepts)];
        bucket.all.remove(&key);
        for need in bits(ticket.needs) {
            bucket.need_queue(need).remove(&key);
        }
        self.by_time.remove(&key);
        self.waiting[ticket.kind.index()] -= 1;
        Some(ticket)
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "core_props.rs"]
mod props;
