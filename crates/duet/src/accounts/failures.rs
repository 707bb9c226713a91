//! Failed logins per account, beside the per-address rate limit: many addresses
//! guessing one account's password are slowed down, and its owner is never locked
//! out. Each account has a budget of [`BUDGET`] failed logins per [`WINDOW`]. Once it
//! is spent, an address that has itself failed for that account within the window is
//! refused (429) until its failures age out; an address with no recent failure for
//! the account is still checked, so the owner, signing in from anywhere a guesser has
//! not failed from, gets in with the right password. A guesser thus has one try per
//! address and window on that account instead of the address limit's 5 a minute.
//! Kept in memory per instance, like the rate limits.

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
/// addresses.
const REMEMBERED: usize = 256;

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

impl LoginFailures {
    /// Whether a login for `username` from `addr` may be checked now; if not, how
    /// long until it may.
    pub fn check(&self, username: &str, addr: Option<IpAddr>, now: Timestamp) -> Result<(), Duration> {
        let accounts = self.accounts.lock().expect("not poisoned");
        let Some(failures) = accounts.get(&key(username)) else { return Ok(()) };
        let recent = failures.iter().filter(|(at, _)| at.until(now) < WINDOW);
        if recent.clone().count() < BUDGET {
            return Ok(());
        }
        match recent.filter(|(_, from)| *from == addr).map(|(at, _)| *at).max() {
            Some(last) => Err(WINDOW.saturating_sub(last.until(now)).max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    /// Notes a failed login for `username` from `addr`.
    pub fn failed(&self, username: &str, addr: Option<IpAddr>, now: Timestamp) {
        let mut accounts = self.accounts.lock().expect("not poisoned");
        let failures = accounts.entry(key(username)).or_default();
        failures.push_back((now, addr));
        while failures.len() > REMEMBERED {
            failures.pop_front();
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
            assert!(guard.check("Victim", addr(i), T0).is_ok());
            guard.failed("victim", addr(i), T0);
        }
        // Names match ignoring case and spaces, as logins do.
        let wait = guard.check(" VICTIM ", addr(0), T0.plus(Duration::from_secs(60))).unwrap_err();
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        assert!(guard.check("victim", addr(200), T0).is_ok(), "a new address is still checked");
        assert!(guard.check("someone-else", addr(0), T0).is_ok(), "other accounts are not affected");
        // Failures age out.
        assert!(guard.check("victim", addr(0), T0.plus(WINDOW)).is_ok());
        guard.forget_old(T0.plus(WINDOW));
        assert!(guard.accounts.lock().unwrap().is_empty());
    }

    #[test]
    fn below_the_budget_an_address_may_keep_trying() {
        let guard = LoginFailures::default();
        for _ in 0..BUDGET - 1 {
            guard.failed("user", addr(1), T0);
        }
        assert!(guard.check("user", addr(1), T0).is_ok());
    }
}
