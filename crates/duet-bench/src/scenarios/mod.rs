//! The scenarios of issue #7. Each runs its targets interleaved (for each repetition,
//! every target in turn, each on a fresh server), emits one [`Row`] per level, target
//! and repetition, and prints its table.
//!
//! - [`idle`]: 1, idle connections and RSS, with worker processes.
//! - [`relay`]: 2, 3 and 5: throughput (closed loop), latency (open loop), and the
//!   latency on SQLite against PostgreSQL.
//! - [`matchmaking`]: 4, over HTTP and through the matcher core.
//! - [`storm`]: 6, login plus upgrade at fixed rates.
//! - [`reconnect`]: 7, every client resuming at once after a restart.
//! - [`soak`]: 8, rooms chatting for an hour with token refreshes; RSS over time.
//! - [`smoke`]: all of them tiny, correctness only.

pub mod idle;
pub mod matchmaking;
pub mod reconnect;
pub mod relay;
pub mod smoke;
pub mod soak;
pub mod storm;

use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};

use crate::record::Row;

/// A progress bar on stderr (hidden when stderr is not a terminal, as in CI).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:40} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Writes the percentiles of a microsecond histogram into `row`.
pub fn percentiles(row: &mut Row, prefix: &str, h: &Histogram<u64>) {
    if h.is_empty() {
        return;
    }
    row.set(&format!("{prefix}p50_us"), h.value_at_quantile(0.50) as f64);
    row.set(&format!("{prefix}p99_us"), h.value_at_quantile(0.99) as f64);
    row.set(&format!("{prefix}p999_us"), h.value_at_quantile(0.999) as f64);
    row.set(&format!("{prefix}max_us"), h.max() as f64);
}
