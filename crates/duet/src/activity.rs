//! Recent activity for the operations dashboard: matches and messages per minute over
//! the last hour, messages per second, and the time to match of the last hour's
//! matches.
//!
//! The message path pays nothing for it: a sampler reads the existing counters
//! (`messages_relayed_total`, `matches_total`) once a second and keeps one sample per
//! second for an hour (3,600 small entries), from which the per-minute series and the
//! rates are differences. Times to match are kept exactly (the histogram's buckets are
//! too coarse for a p99 of milliseconds), as one entry per matched ticket for an hour,
//! capped at [`MAX_WAITS`] so a burst cannot grow memory without bound. Like the
//! metrics, this is one instance's view.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;

/// How far back the dashboard looks.
pub const WINDOW: Duration = Duration::from_secs(3600);
/// Minutes in the per-minute series.
pub const MINUTES: usize = 60;
/// The most times to match kept (the newest).
pub const MAX_WAITS: usize = 50_000;
/// The span of `messages_per_second`.
const RATE_SPAN_SECS: i64 = 10;

/// Counter readings at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub messages: u64,
    pub matches: u64,
}

#[derive(Debug)]
struct Inner {
    /// When the first sample was taken.
    since: Option<Timestamp>,
    /// One sample per second at most, oldest first, covering [`WINDOW`] and a little.
    samples: VecDeque<(Timestamp, Counters)>,
    /// (when matched, milliseconds waited), oldest first.
    waits: VecDeque<(Timestamp, u32)>,
}

/// The recent activity of this instance; shared by the sampler, the matchmaker and
/// the dashboard.
#[derive(Debug)]
pub struct Activity(Mutex<Inner>);

/// What the dashboard shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityReport {
    pub since: Option<Timestamp>,
    /// Oldest first; the last is the minute in progress.
    pub matches_per_minute: Vec<u64>,
    pub messages_per_minute: Vec<u64>,
    pub matches_last_minute: u64,
    pub messages_per_second: f64,
    /// Over the matches of the last hour, in milliseconds.
    pub time_to_match_p50_ms: Option<f64>,
    pub time_to_match_p99_ms: Option<f64>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity(Mutex::new(Inner { since: None, samples: VecDeque::new(), waits: VecDeque::new() }))
    }
}

impl Activity {
    /// Records the counters at `now` (the sampler, once a second).
    pub fn sample(&self, now: Timestamp, counters: Counters) {
        let mut inner = self.0.lock().expect("activity lock");
        inner.since.get_or_insert(now);
        if let Some((last, _)) = inner.samples.back() {
            if now.as_millis() < last.as_millis() + 1000 {
                // Keep one per second: replace a sample taken within the same second.
                inner.samples.pop_back();
            }
        }
        inner.samples.push_back((now, counters));
        let horizon = now.minus(WINDOW + Duration::from_secs(60));
        while inner.samples.front().is_some_and(|(at, _)| *at < horizon) {
            inner.samples.pop_front();
        }
        prune_waits(&mut inner.waits, now);
    }

    /// Records that a ticket was matched at `at` after waiting `waited`.
    pub fn matched(&self, at: Timestamp, waited: Duration) {
        let mut inner = self.0.lock().expect("activity lock");
        let ms = u32::try_from(waited.as_millis()).unwrap_or(u32::MAX);
        inner.waits.push_back((at, ms));
        if inner.waits.len() > MAX_WAITS {
            inner.waits.pop_front();
        }
    }

    /// The activity up to `now`, with `current` the counters now.
    pub fn report(&self, now: Timestamp, current: Counters) -> ActivityReport {
        let mut inner = self.0.lock().expect("activity lock");
        prune_waits(&mut inner.waits, now);
        // The counters at `t`: the newest sample not after it, else zero (sampling
        // starts with the process, when every counter is zero).
        let at = |t: Timestamp| -> Counters {
            if t >= now {
                return current;
            }
            match inner.samples.partition_point(|(when, _)| *when <= t) {
                0 => Counters { messages: 0, matches: 0 },
                n => inner.samples[n - 1].1,
            }
        };
        let minute = Duration::from_secs(60);
        let mut matches_per_minute = Vec::with_capacity(MINUTES);
        let mut messages_per_minute = Vec::with_capacity(MINUTES);
        // Minute k (0 = oldest) spans [now - (MINUTES - k) min, now - (MINUTES - k - 1) min].
        let mut start = at(now.minus(minute * MINUTES as u32));
        for k in (0..MINUTES as u32).rev() {
            let end = at(now.minus(minute * k));
            matches_per_minute.push(end.matches.saturating_sub(start.matches));
            messages_per_minute.push(end.messages.saturating_sub(start.messages));
            start = end;
        }
        let span = Duration::from_secs(RATE_SPAN_SECS as u64);
        let rate_from = at(now.minus(span));
        // Before RATE_SPAN_SECS of samples exist, divide by the time actually sampled.
        let sampled_secs = inner.since.map_or(0.0, |since| {
            (now.as_millis() - since.as_millis()).clamp(0, RATE_SPAN_SECS * 1000) as f64 / 1000.0
        });
        let messages_per_second = if sampled_secs > 0.0 {
            current.messages.saturating_sub(rate_from.messages) as f64 / sampled_secs
        } else {
            0.0
        };
        let since = inner.since;
        let mut waits: Vec<u32> = inner.waits.iter().map(|(_, ms)| *ms).collect();
        // Sorted after the lock is released: the matchmaker records waits under it.
        drop(inner);
        waits.sort_unstable();
        ActivityReport {
            since,
            matches_last_minute: *matches_per_minute.last().expect("MINUTES > 0"),
            matches_per_minute,
            messages_per_minute,
            messages_per_second,
            time_to_match_p50_ms: quantile(&waits, 0.5),
            time_to_match_p99_ms: quantile(&waits, 0.99),
        }
    }
}

fn prune_waits(waits: &mut VecDeque<(Timestamp, u32)>, now: Timestamp) {
    let horizon = now.minus(WINDOW);
    while waits.front().is_some_and(|(at, _)| *at < horizon) {
        waits.pop_front();
    }
}

/// The `q` quantile of sorted values (nearest rank), None when there are none.
fn quantile(sorted: &[u32], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(f64::from(sorted[rank - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000 + secs * 1000)
    }

    fn counters(messages: u64, matches: u64) -> Counters {
        Counters { messages, matches }
    }

    #[test]
    fn nothing_recorded_reports_zeros() {
        let a = Activity::default();
        let r = a.report(at(0), counters(0, 0));
        assert_eq!(r.matches_per_minute, vec![0; MINUTES]);
        assert_eq!(r.messages_per_second, 0.0);
        assert_eq!(r.time_to_match_p50_ms, None);
        assert_eq!(r.since, None);
    }

    #[test]
    fn per_minute_series_are_differences_of_the_counters() {
        let a = Activity::default();
        // 2 matches and 30 messages a minute for five minutes.
        for s in 0..=300 {
            a.sample(at(s), counters(s as u64 / 2, s as u64 / 30));
        }
        let r = a.report(at(300), counters(150, 10));
        assert_eq!(&r.matches_per_minute[MINUTES - 5..], &[2, 2, 2, 2, 2]);
        assert_eq!(&r.messages_per_minute[MINUTES - 5..], &[30, 30, 30, 30, 30]);
        assert_eq!(r.matches_per_minute[..MINUTES - 5].iter().sum::<u64>(), 0);
        assert_eq!(r.matches_last_minute, 2);
        assert!((r.messages_per_second - 0.5).abs() < 1e-9, "{}", r.messages_per_second);
        assert_eq!(r.since, Some(at(0)));
    }

    #[test]
    fn the_rate_counts_only_the_time_sampled() {
        let a = Activity::default();
        a.sample(at(0), counters(0, 0));
        a.sample(at(2), counters(10, 0));
        let r = a.report(at(2), counters(10, 0));
        assert!((r.messages_per_second - 5.0).abs() < 1e-9, "{}", r.messages_per_second);
    }

    #[test]
    fn samples_older_than_the_window_are_dropped() {
        let a = Activity::default();
        for s in (0..=7200).step_by(10) {
            a.sample(at(s), counters(s as u64, 0));
        }
        let samples = a.0.lock().unwrap().samples.len();
        assert!(samples <= 3660 / 10 + 1, "{samples} samples kept");
        let r = a.report(at(7200), counters(7200, 0));
        assert_eq!(r.messages_per_minute, vec![60; MINUTES]);
    }

    #[test]
    fn time_to_match_quantiles_cover_the_last_hour() {
        let a = Activity::default();
        a.matched(at(0), Duration::from_secs(100)); // older than an hour at the report
        for ms in 1..=100u64 {
            a.matched(at(3000), Duration::from_millis(ms));
        }
        let r = a.report(at(3601), counters(0, 0));
        assert_eq!(r.time_to_match_p50_ms, Some(50.0));
        assert_eq!(r.time_to_match_p99_ms, Some(99.0));
    }

    #[test]
    fn waits_are_capped() {
        let a = Activity::default();
        for _ in 0..MAX_WAITS + 10 {
            a.matched(at(0), Duration::from_millis(1));
        }
        assert_eq!(a.0.lock().unwrap().waits.len(), MAX_WAITS);
    }
}
