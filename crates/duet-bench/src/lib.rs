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
/// Signing secret given to every server under test (and to `duet admin seed`), so the
/// seeded tokens verify, and the relay's minted ones too.
pub const SECRET: &str = "duet-bench-secret-duet-bench-secret!";

#[cfg(test)]
mod tests {
    /// The generator drives public surfaces only: the server's commands, HTTP and
    /// WebSockets, never the server's database through its library.
    #[test]
    fn the_generator_never_opens_a_servers_database() {
        fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let forbidden = ["duet::", "store"].concat();
        let offenders: Vec<_> =
            files.iter().filter(|f| std::fs::read_to_string(f).unwrap().contains(&forbidden)).collect();
        assert!(offenders.is_empty(), "{offenders:?} use the server's store");
    }
}
