//! Bookkeeping of the background loops (matching, rooms, housekeeping): how often
//! they ran and when last, for `/admin/status`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::Timestamp;

#[derive(Debug, Default)]
pub struct TaskStats {
    runs: AtomicU64,
    last_run: AtomicI64,
}

/// A loop's record as `/admin/status` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskReport {
    /// `running` until shutdown begins, then `stopping`.
    pub state: &'static str,
    /// How the loop is woken: a fixed interval, or the next deadline it holds.
    pub schedule: String,
    pub runs: u64,
    pub last_run: Option<chrono::DateTime<chrono::Utc>>,
    pub next_run: Option<chrono::DateTime<chrono::Utc>>,
}

impl TaskStats {
    pub fn ran(&self, at: Timestamp) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.last_run.store(at.as_millis(), Ordering::Relaxed);
    }

    pub fn report(&self, stopping: bool, schedule: String, next_run: Option<Timestamp>) -> TaskReport {
        let last = self.last_run.load(Ordering::Relaxed);
        TaskReport {
            state: if stopping { "stopping" } else { "running" },
            schedule,
            runs: self.runs.load(Ordering::Relaxed),
            last_run: (last != 0).then(|| Timestamp::from_millis(last).to_datetime()),
            next_run: next_run.map(Timestamp::to_datetime),
        }
    }
}

/// How often housekeeping (idle rate-limit keys, expired refresh tokens) runs.
pub const HOUSEKEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
