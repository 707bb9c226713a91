//! The command line. Every scenario is a subcommand; each prints one JSON line per
//! level, target and repetition on stdout and a human table (medians of the
//! repetitions, ratio to the reference relay) on stderr.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::target::{Kind, Spec};

#[derive(Debug, Parser)]
#[command(
    name = "duet-bench",
    about = "Load generator for Duet: drives the real protocol (profile, search, then the \
             WebSockets) against a server it starts itself, and compares it with the \
             reference relay (duet-refrelay) and optionally the previous build in the same run.",
    long_about = None,
    after_help = "Set-up: accounts are made before the server starts by its own \
                  `duet admin seed`, with one argon2 hash for all (an HTTP signup costs tens \
                  of ms of CPU each); profiles, searches, logins \
                  and sockets go through the real protocol. Server CPU is utime+stime of the \
                  server process from /proc/<pid>/stat, RSS is VmRSS from /proc/<pid>/status. \
                  Targets run interleaved: for each repetition, duet, then the relay, then \
                  the previous build; tables give medians of the repetitions."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// The Duet server binary to measure.
    #[arg(long, default_value = "target/release/duet")]
    pub server_bin: PathBuf,
    /// The reference relay binary (default: duet-refrelay beside this binary).
    #[arg(long)]
    pub relay_bin: Option<PathBuf>,
    /// A previous Duet build to measure in the same run (regressions), named "prev".
    #[arg(long)]
    pub prev_bin: Option<PathBuf>,
    /// Leave the reference relay out.
    #[arg(long)]
    pub no_relay: bool,
    /// Interleaved repetitions per target; tables report the median.
    #[arg(long, default_value_t = 3)]
    pub reps: u32,
    /// Also append each JSON line to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Common {
    pub fn relay_bin(&self) -> PathBuf {
        self.relay_bin.clone().unwrap_or_else(|| {
            let me = std::env::current_exe().expect("own path");
            me.with_file_name("duet-refrelay")
        })
    }

    /// Duet, then the relay (when `with_relay`), then the previous build.
    pub fn specs(&self, with_relay: bool, msg_rate: u32) -> Vec<Spec> {
        let mut specs = vec![Spec {
            name: "duet".into(),
            kind: Kind::Duet {
                bin: self.server_bin.clone(),
                seeder: self.server_bin.clone(),
                postgres: None,
            },
            msg_rate,
        }];
        if with_relay && !self.no_relay {
            specs.push(Spec {
                name: "refrelay".into(),
                kind: Kind::Relay { bin: self.relay_bin() },
                msg_rate,
            });
        }
        if let Some(prev) = &self.prev_bin {
            // A build from before `duet admin seed` has its accounts made by this one
            // (the two must then share their migrations, or the older refuses the
            // database).
            let seeder = if crate::target::can_seed(prev) { prev.clone() } else { self.server_bin.clone() };
            specs.push(Spec {
                name: "prev".into(),
                kind: Kind::Duet { bin: prev.clone(), seeder, postgres: None },
                msg_rate,
            });
        }
        specs
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// 1. Idle connections: hold N chat + status sockets (N/2 users, each with both
    ///    sockets, in N/4 matched rooms), opened in steps up to each N by worker
    ///    processes (the fd limit is per process). Reports server RSS per connection
    ///    ((RSS - RSS before any socket) / N) and connect time p50/p99 (upgrade to
    ///    first frame).
    Idle {
        #[command(flatten)]
        common: Common,
        /// Connection counts, in steps.
        #[arg(long, value_delimiter = ',', default_value = "2000,6000,10000,14000,18000")]
        conns: Vec<u64>,
        /// Most sockets one worker process holds.
        #[arg(long, default_value_t = 8000)]
        per_worker: usize,
    },
    /// 2. Relay throughput: R rooms, closed loop (each participant keeps `window`
    ///    messages in flight: not yet both acked and delivered), persistence on. Reports delivered msg/s and server
    ///    CPU microseconds per delivered message; every message must arrive and be acked.
    Throughput {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
        rooms: Vec<u64>,
        /// Seconds of sending per level.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        #[arg(long, default_value_t = 1)]
        window: usize,
    },
    /// 3. Relay latency: open loop at fixed offered rates over `rooms` rooms; every
    ///    participant sends on a fixed timeline, phases spread, never waiting for acks;
    ///    latency is from the intended send time to the partner's receipt (no
    ///    coordinated omission). p50, p99, p99.9, max; zero loss required.
    Latency {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', default_value = "2000,5000,10000,20000")]
        rates: Vec<u64>,
        #[arg(long, default_value_t = 100)]
        rooms: u64,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// 4. Matchmaking: a queue pre-filled with N waiting users, then arrivals at fixed
    ///    rates; through HTTP (POST /chat/search, time to the 200 answer with the room)
    ///    for `--waiting`, and through the matcher core directly for `--direct`.
    ///    Reports matches/s and time-to-match p50/p99 from the intended arrival time.
    Matchmaking {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        waiting: Vec<u64>,
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        direct: Vec<u64>,
        #[arg(long, value_delimiter = ',', default_value = "100,1000")]
        rates: Vec<u64>,
        #[arg(long, default_value_t = 2.0)]
        secs: f64,
    },
    /// 5. Persistence cost: the latency scenario on SQLite and on a fresh PostgreSQL
    ///    database (created and dropped per run on the server at `--postgres`).
    Persistence {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
        #[arg(long, value_delimiter = ',', default_value = "2000,10000")]
        rates: Vec<u64>,
        #[arg(long, default_value_t = 100)]
        rooms: u64,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// 6. Connect and auth storm: POST /auth/login (argon2) plus the status socket's
    ///    upgrade up to its first frame, at fixed arrival rates; p50/p99 from the
    ///    intended time, and failures; then a burst of logins at once and the memory
    ///    it takes and gives back.
    Storm {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', default_value = "10,25,50")]
        rates: Vec<u64>,
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
        /// Then this many logins at the same instant, with the server's memory before,
        /// at its peak and 15 s after (0: no burst).
        #[arg(long, default_value_t = 64)]
        burst: usize,
    },
    /// 7. Reconnect storm: N clients (N/2 rooms) chatting; the server restarts
    ///    (SIGTERM, then started again on its data) and every client reconnects at
    ///    once with `after_seq`, retries its unacknowledged messages and talks on; time
    ///    to catch up, and any loss, duplicate or gap (each fails the row).
    Reconnect {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', default_value = "5000")]
        clients: Vec<u64>,
    },
    /// 8. Soak: R rooms chatting for a long time as clients would (logged in over
    ///    HTTP, like rounds answered, tokens refreshed before they expire, sockets
    ///    reopened with `after_seq` when the old token's expiry closes them), spread
    ///    in time as real clients are; passes when nothing is lost or fails and the
    ///    server's RSS over the last minute is within 5 % of its RSS over the minute
    ///    after the first five. Not for CI: an hour by default.
    Soak {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 100)]
        rooms: usize,
        #[arg(long, default_value_t = 60.0)]
        minutes: f64,
        /// The server's `--access-ttl`, in seconds: short, so tokens are refreshed often.
        #[arg(long, default_value_t = 120)]
        access_ttl_secs: u64,
        /// Seconds between two messages of one participant.
        #[arg(long, default_value_t = 5.0)]
        every_secs: f64,
        /// Also write the server's memory every 10 s to this CSV file (seconds, then
        /// VmRSS, RssAnon, RssFile and RssShmem in KiB): the curve behind the verdict.
        #[arg(long)]
        memory_csv: Option<PathBuf>,
    },
    /// Every scenario at a tiny scale, against Duet and the relay; checks correctness
    /// only (no loss, no errors, no failures) and exits non-zero otherwise. For CI.
    Smoke {
        #[command(flatten)]
        common: Common,
        /// Also run the persistence scenario on PostgreSQL at this server URL.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Medians and ratios of a suite's JSON lines as Markdown between the suite markers
    /// of BENCHMARKS.md, and PNG plots.
    Report {
        /// JSON lines written by the scenarios (`--out`).
        #[arg(long)]
        input: PathBuf,
        /// The file whose `<!-- suite:begin -->`/`<!-- suite:end -->` section is rewritten.
        #[arg(long, default_value = "BENCHMARKS.md")]
        benchmarks: PathBuf,
        /// Folder for the PNG plots (linked from the section, relative to it).
        #[arg(long, default_value = "docs/bench")]
        plots: PathBuf,
        /// A Markdown file with the machine and the commands, put at the top.
        #[arg(long)]
        preamble: Option<PathBuf>,
    },
    /// Internal: a worker process of the idle scenario (reads jobs on stdin).
    #[command(hide = true)]
    IdleWorker,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Cmd};

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lists_split_on_commas() {
        let cli = Cli::parse_from(["duet-bench", "latency", "--rates", "10,20"]);
        let Cmd::Latency { rates, .. } = cli.command else { panic!("latency") };
        assert_eq!(rates, vec![10, 20]);
    }
}
