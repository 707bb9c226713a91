//! The `duet` command line: `serve` and `admin create`, each with every setting as a
//! flag. Parsing applies the optional TOML file beneath flags and environment.

use std::ffi::OsString;
use std::path::PathBuf;

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
    if extra.is_empty() {
        return Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command));
    }
    let mut all = args;
    all.extend(extra);
    let matches = command.try_get_matches_from_mut(all)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
}

/// The matches of the innermost subcommand: where the settings live.
fn leaf(matches: &ArgMatches) -> Option<&ArgMatches> {
    let (_, sub) = matches.subcommand()?;
    Some(leaf(sub).unwrap_or(sub))
}
