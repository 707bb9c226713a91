//! The `duet` command line: `serve`, `demo`, `admin create` and `admin seed`, each
//! with its settings as flags. Parsing applies the optional TOML file beneath flags and environment.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use super::{file, Settings, StorageSettings};

/// Duet: anonymous matched one-to-one chat.
#[derive(Debug, Parser)]
#[command(name = "duet", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP API, WebSockets and the web client).
    Serve(Box<ServeArgs>),
    /// Run the server as `serve` does, in its own data folder (`./duet-demo`), with an
    /// administrator and simulated people who use it through the public API; shorter
    /// timers and higher rate limits unless set (see docs/demo.md).
    Demo(Box<DemoArgs>),
    /// Administration from the command line.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file with settings (keys as the flags, with underscores: like_after = "5s").
    #[arg(long, short, env = "DUET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Check the configuration, print the effective settings (secrets hidden) and exit.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub settings: Settings,
}

/// `duet demo`: every setting of `serve`, and how many simulated people to run.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many simulated people (bots) sign up and use the server.
    #[arg(long, env = "DUET_DEMO_BOTS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=500))]
    pub bots: u32,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// The settings given by a flag, an environment variable or the config file (by
    /// their ids, `like_after`), as opposed to left at their defaults: the demo changes
    /// only the others. Filled by [`parse_cli`].
    #[arg(skip)]
    pub explicit: BTreeSet<String>,
    /// The settings given by an environment variable (a subset of `explicit`).
    #[arg(skip)]
    pub from_env: BTreeSet<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator account. The password is asked for on the terminal, or
    /// read from the first line of standard input when it is not a terminal.
    Create {
        /// Username of the new administrator.
        #[arg(long)]
        username: String,
        /// TOML file with settings; only the storage settings are used here.
        #[arg(long, short, env = "DUET_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        storage: StorageSettings,
    },
    /// Create many ordinary accounts at once, for load tests and demos, and write an
    /// access token for each. Takes `serve`'s settings (the storage and the token
    /// settings are used: pass the same `--jwt-secret` or database as the server).
    /// Every account gets the one password given as for `create` (hashed once). Run it
    /// before `serve`; the accounts have no profile yet.
    Seed {
        /// How many accounts.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        users: u32,
        /// Usernames are this prefix and a number from 1: `seed1`, `seed2`, …
        #[arg(long, default_value = "seed")]
        prefix: String,
        /// Where to write one JSON line per account: `{"id", "username", "access_token"}`.
        /// The tokens last `--access-ttl`.
        #[arg(long, value_name = "FILE")]
        emit_tokens: PathBuf,
        /// TOML file with settings, as for `serve`.
        #[arg(long, short, env = "DUET_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<Settings>,
    },
}

/// Parses the command line, environment and config file into a [`Cli`]. Errors (bad
/// values, unknown keys in the file) are clap errors that name the setting.
pub fn parse_cli<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args.clone())?;
    let extra = match leaf(&matches) {
        Some(leaf) => match leaf.get_one::<PathBuf>("config") {
            Some(path) => file::args_from_file(path, leaf, &mut command)?,
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let matches = if extra.is_empty() {
        matches
    } else {
        let mut all = args;
        all.extend(extra);
        command.try_get_matches_from_mut(all)?
    };
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    if let (Command::Demo(demo), Some(leaf)) = (&mut cli.command, leaf(&matches)) {
        // The file's settings came in as flags, so they count as given on the command line.
        for id in leaf.ids() {
            match leaf.value_source(id.as_str()) {
                Some(ValueSource::CommandLine) => {
                    demo.explicit.insert(id.to_string());
                }
                Some(ValueSource::EnvVariable) => {
                    demo.explicit.insert(id.to_string());
                    demo.from_env.insert(id.to_string());
                }
                _ => {}
            }
        }
    }
    Ok(cli)
}

/// The matches of the innermost subcommand: where the settings live.
fn leaf(matches: &ArgMatches) -> Option<&ArgMatches> {
    let (_, sub) = matches.subcommand()?;
    Some(leaf(sub).unwrap_or(sub))
}
