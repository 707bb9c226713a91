//! Failed logins per account, beside the per-address rate limit: many addresses
//! guessing one account's password are slowed down, and its owner is never locked
//! out. Each account has a budget of [`BUDGET`] failed logins per [`WINDOW`]. Once it
//! is spent, an address that has itself failed for that account within the window is
//! refused (429) until its failures age out; an address with no recent failure for
//! the account is still checked, so the owner, signing in from anywhere a guesser has
//! not failed from, gets in with the right password. A guesser thus has one try per
//! address and window on that account instead of the address limit's 5 a minute.
//! An attempt counts as a failure from the moment it is let through until its
//! password proves right, so attempts at the same time cannot all pass the check. An
//! IPv6 address counts by its /64 (one host's share of a network). Up to
//! [`REMEMBERED`] failures are kept per account. Kept in memory per instance, like
//! the rate limits.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;

/// Failed logins an account takes within [`WINDOW`] before addresses that failed
/// are held back.
pub const BUDGET: usize = 10;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures remembered per account (the newest); enough to hold back that many
/// addresses within a window.
pub const REMEMBERED: usize = 4096;

/// One account's recent failures: when, and from which address.
type Failures = VecDeque<(Timestamp, Option<IpAddr>)>;

#[derive(Debug, Default)]
pub struct LoginFailures {
    /// By account name (trimmed, lower case: logins match names ignoring case),
    /// known or not, so an unknown name behaves as a known one.
    accounts: Mutex<HashMap<String, Failures>>,
}

fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// What an address counts as: itself, or its /64 for IPv6.
fn source(addr: Option<IpAddr>) -> Option<IpAddr> {
    match addr {
        Some(IpAddr::V6(v6)) => {
            Some(IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))))
        }
        other => other,
    }
}

/// A login let through by [`LoginFailures::begin`]: counted as a failure until
/// [`LoginFailures::succeeded`] says otherwise.
#[must_use]
pub struct Attempt {
    at: Timestamp,
    from: Option<IpAddr>,
}

impl LoginFailures {
    /// Lets a login for `username` from `addr` be checked now, counting it as a
    /// failure until it succeeds; if it may not, how long until it may.
    pub fn begin(&self, username: &str, addr: Option<IpAddr>, now: Timestamp) -> Result<Attempt, Duration> {
        let from = source(addr);
        let mut accounts = self.accounts.lock().expect("not poisoned");
        let failures = accounts.entry(key(username)).or_default();
        let recent = failures.iter().filter(|(at, _)| at.until(now) < WINDOW);
        if recent.clone().count() >= BUDGET {
            if let Some(last) = recent.filter(|(_, f)| *f == from).map(|(at, _)| *at).max() {
                return Err(WINDOW.saturating_sub(last.until(now)).max(Duration::from_secs(1)));
            }
        }
        failures.push_back((now, from));
        while failures.len() > REMEMBERED {
            failures.pop_front();
        }
        Ok(Attempt { at: now, from })
    }

    /// The attempt's password was right: it no longer counts as a failure.
    pub fn succeeded(&self, username: &str, attempt: Attempt) {
        let mut accounts = self.accounts.lock().expect("not poisoned");
        if let Some(failures) = accounts.get_mut(&key(username)) {
            if let Some(i) = failures.iter().rposition(|&(at, from)| at == attempt.at && from == attempt.from)
            {
                failures.remove(i);
            }
        }
    }

    /// Forgets failures older than the window (housekeeping), and accounts with none.
    pub fn forget_old(&self, now: Timestamp) {
        let mut accounts = self.accounts.lock().expect("not poisoned");
        accounts.retain(|_, failures| {
            failures.retain(|(at, _)| at.until(now) < WINDOW);
            !failures.is_empty()
        });
        accounts.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn addr(i: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, i]))
    }

    #[test]
    fn a_spent_budget_holds_back_the_addresses_that_failed_but_not_new_ones() {
        let guard = LoginFailures::default();
        for i in 0..BUDGET as u8 {
            let _failed = guard.begin("Victim", addr(i), T0).unwrap();
        }
        // Names match ignoring case and spaces, as logins do.
        let wait = guard.begin(" VICTIM ", addr(0), T0.plus(Duration::from_secs(60))).err().unwrap();
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        let owner = guard.begin("victim", addr(200), T0).expect("a new address is still checked");
        guard.succeeded("victim", owner);
        assert!(guard.begin("victim", addr(200), T0).is_ok(), "a success holds nothing back");
        assert!(guard.begin("someone-else", addr(0), T0).is_ok(), "other accounts are not affected");
        // Failures age out.
        assert!(guard.begin("victim", addr(0), T0.plus(WINDOW)).is_ok());
        guard.forget_old(T0.plus(WINDOW + WINDOW));
        assert!(guard.accounts.lock().unwrap().is_empty());
    }

    #[test]
    fn attempts_at_the_same_time_count_before_their_passwords_are_checked() {
        let guard = LoginFailures::default();
        // BUDGET attempts in flight at once, none answered yet: the next from one of
        // those addresses is held back already.
        let pending: Vec<Attempt> =
            (0..BUDGET as u8).map(|i| guard.begin("user", addr(i), T0).unwrap()).collect();
        assert!(guard.begin("user", addr(3), T0).is_err());
        drop(pending);
    }

    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        let guard = LoginFailures::default();
        let host = |i: u16| Some(IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i]));
        for i in 0..BUDGET as u16 {
            let _failed = guard.begin("v6", host(i), T0).unwrap();
        }
        assert!(guard.begin("v6", host(999), T0).is_err(), "another host of the same /64");
        assert!(guard.begin("v6", Some(IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1])), T0).is_ok());
    }

    #[test]
    fn below_the_budget_an_address_may_keep_trying() {
        let guard = LoginFailures::default();
        for _ in 0..BUDGET - 1 {
            let _failed = guard.begin("user", addr(1), T0).unwrap();
        }
        assert!(guard.begin("user", addr(1), T0).is_ok());
    }
}
