//! `duet-bench`: the load generator of issue #7 and the reference relay it compares
//! Duet with.
//!
//! Module map:
//! - [`cli`]: the command line (each scenario is a subcommand; `--help` explains them).
//! - [`target`]: starting a server under test (Duet, the previous build, or the
//!   reference relay) on a free loopback port, seeding accounts, stopping it.
//! - [`procstat`]: server CPU time and RSS from `/proc/<pid>`.
//! - [`api`]: the HTTP calls of the protocol (profile, search, status, login) and the
//!   set-up of matched rooms.
//! - [`ws`]: WebSocket clients: chat sockets with a reader task that checks delivery.
//! - [`record`]: one result row (printed as a JSON line) and the human tables.
//! - [`scenarios`]: the six scenarios and the smoke run.
//! - [`report`]: medians and ratios over a suite's JSON lines, the Markdown section of
//!   BENCHMARKS.md and the PNG plots.
//! - [`refrelay`]: the reference relay: the same frames and token check, nothing else.

pub mod api;
pub mod cli;
pub mod procstat;
pub mod record;
pub mod refrelay;
pub mod report;
pub mod scenarios;
pub mod target;
pub mod ws;

/// Password of every seeded account (the storm logs in with it).
pub const PASSWORD: &str = "bench password 1";
/// Signing secret given to every server under test, so the generator can mint access
/// tokens for seeded accounts.
pub const SECRET: &str = "duet-bench-secret-duet-bench-secret!";
