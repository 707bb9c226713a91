//! `duet demo`: the whole product alive on one machine. The server starts exactly as
//! `duet serve` starts it (the same settings, the same [`App`]), in its own data folder
//! (`./duet-demo` unless `--data-dir` says otherwise), with shorter timers and higher
//! rate limits wherever the user did not set them ([`apply_defaults`]). Then an
//! administrator is made (or reused) and `--bots` simulated people sign up and use the
//! server through its public protocol only: HTTP and both WebSockets on the bound port,
//! never the store (`bot`). A live summary runs in the terminal (`summary`) until
//! Ctrl-C or SIGTERM, which stop the bots (closing their sockets) and then the server,
//! with its normal graceful shutdown. docs/demo.md tells what the bots do.

mod admin;
mod bot;
mod client;
mod phrases;
mod summary;

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use duet::app::App;
use duet::config::{DemoArgs, Rate, Settings};
use duet::{shutdown, telemetry};
use tokio_util::sync::CancellationToken;

use self::bot::World;

/// One setting the demo changed from its default, for the start-up message.
#[derive(Debug)]
pub struct Change {
    /// The flag, `--like-after`.
    flag: &'static str,
    /// The demo's value and the usual default, as written on the command line.
    value: String,
    default: String,
    why: &'static str,
}

/// How long the bots get to close their sockets before the server stops anyway.
const BOTS_STOP_GRACE: Duration = Duration::from_secs(10);

/// Applies the demo's own defaults to every setting the user did not give by a flag,
/// an environment variable or the config file, and returns what it changed: the data
/// folder; the room and matching timers, shortened so that a visitor sees like rounds,
/// reveals and ends within minutes; the HTTP rate limits, raised, because every bot
/// comes from 127.0.0.1 like a person using the web client on the same machine, and the
/// limits count per address. A database URL from the environment (`DATABASE_URL`) is
/// not used: it usually points at a real database, and demo accounts must not land
/// there (`--database-url` on the command line or in the config file still applies).
pub fn apply_defaults(args: &mut DemoArgs) -> Vec<Change> {
    let given = |id: &str| args.explicit.contains(id);
    let settings = &mut args.serve.settings;
    let mut changes = Vec::new();
    if !given("data_dir") {
        let default = settings.storage.data_dir.display().to_string();
        settings.storage.data_dir = "duet-demo".into();
        changes.push(Change {
            flag: "--data-dir",
            value: "duet-demo".into(),
            default,
            why: "demo accounts stay out of the real database",
        });
    }
    if args.from_env.contains("database_url") {
        settings.storage.database_url = None;
        args.explicit.remove("database_url");
        changes.push(Change {
            flag: "--database-url",
            value: "unset".into(),
            default: "DATABASE_URL".into(),
            why: "the environment's DATABASE_URL is ignored; pass --database-url to use another database",
        });
    }
    let given = |id: &str| args.explicit.contains(id);
    let mut duration = |id: &'static str,
                        flag: &'static str,
                        value: u64,
                        why: &'static str,
                        field: &mut Duration,
                        allowed: bool| {
        if given(id) || !allowed {
            return;
        }
        let default = humantime::format_duration(*field).to_string();
        *field = Duration::from_secs(value);
        changes.push(Change { flag, value: humantime::format_duration(*field).to_string(), default, why });
    };
    let window_given = given("like_answer_window");
    let room = &mut settings.room;
    // The answer window must stay shorter than the round interval, also when the user
    // set one of the two: the window in force is the user's, or else the demo's.
    let window = if window_given { room.like_answer_window } else { Duration::from_secs(DEMO_LIKE_WINDOW) };
    let like_after_ok = window < Duration::from_secs(DEMO_LIKE_AFTER);
    duration(
        "like_after",
        "--like-after",
        DEMO_LIKE_AFTER,
        "a like round every 20 s, so photos sharpen within a minute",
        &mut room.like_after,
        like_after_ok,
    );
    // With a round interval of the user's shorter than the demo's window, the window
    // is half the interval.
    let window_secs = DEMO_LIKE_WINDOW.min(room.like_after.as_secs() / 2);
    duration(
        "like_answer_window",
        "--like-answer-window",
        window_secs,
        "a short time to answer a like round",
        &mut room.like_answer_window,
        window_secs > 0,
    );
    duration(
        "inactivity_timeout",
        "--inactivity-timeout",
        180,
        "a silent room ends after 3 minutes",
        &mut room.inactivity_timeout,
        true,
    );
    duration(
        "abandon_grace",
        "--abandon-grace",
        60,
        "a room nobody has open ends after a minute",
        &mut room.abandon_grace,
        true,
    );
    let matching = &mut settings.matching;
    duration(
        "search_timeout",
        "--search-timeout",
        60,
        "a search gives up after a minute",
        &mut matching.search_timeout,
        true,
    );
    duration(
        "rematch_cooldown",
        "--rematch-cooldown",
        90,
        "the same two people may meet again after 90 s (there are few of them)",
        &mut matching.rematch_cooldown,
        true,
    );
    duration(
        "fallback_after",
        "--fallback-after",
        3,
        "after 3 s of waiting a match no longer needs a shared need",
        &mut matching.fallback_after,
        true,
    );
    let limits = &mut settings.rate_limits;
    let mut rate = |id: &'static str, flag: &'static str, value: &str, field: &mut Rate| {
        if given(id) {
            return;
        }
        let default = field.to_string();
        *field = value.parse().expect("the demo's rates parse");
        changes.push(Change {
            flag,
            value: value.to_owned(),
            default,
            why: "every bot comes from 127.0.0.1, like you: the limits are per address",
        });
    };
    rate("rate_login", "--rate-login", "600/min", &mut limits.rate_login);
    rate("rate_signup", "--rate-signup", "600/min", &mut limits.rate_signup);
    rate("rate_signup_address", "--rate-signup-address", "600/min", &mut limits.rate_signup_address);
    rate("rate_search", "--rate-search", "600/min", &mut limits.rate_search);
    rate("rate_avatar", "--rate-avatar", "600/min", &mut limits.rate_avatar);
    rate("rate_default", "--rate-default", "60000/min", &mut limits.rate_default);
    changes
}

/// The demo's like round interval and answer window, in seconds.
const DEMO_LIKE_AFTER: u64 = 20;
const DEMO_LIKE_WINDOW: u64 = 10;

/// Prints the settings the demo changed (at start-up, and with `--check`).
pub fn print_changes(changes: &[Change]) {
    if changes.is_empty() {
        println!("demo: every setting is as you gave it or as `duet serve` has it");
        return;
    }
    println!("demo: settings changed for the demo (give a flag, variable or config key to keep yours):");
    for c in changes {
        println!("  {} {} (instead of {}): {}", c.flag, c.value, c.default, c.why);
    }
}

/// Runs the demo until Ctrl-C or SIGTERM: the server, the administrator, the bots and
/// the live summary; then stops the bots and shuts the server down as `serve` does.
pub async fn run(args: DemoArgs, changes: Vec<Change>) -> anyhow::Result<()> {
    let settings: Settings = args.serve.settings;
    settings.validate()?;
    let folder = settings.storage.data_folder();
    if !folder.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)
            .map_err(|e| anyhow::anyhow!("cannot create the demo folder {}: {e}", folder.display()))?;
    }
    // The server's log goes to a file, so that the terminal shows the summary.
    let log_path = folder.join("server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", log_path.display()))?;
    let server = &settings.server;
    telemetry::install(telemetry::subscriber(&server.log, server.log_format, std::sync::Mutex::new(log)));

    let app = App::build(settings).await?;
    let base = base_url(app.addr());
    let access_ttl = app.state().settings.auth.access_ttl;
    let credentials = admin::ensure(&app.state().store, &folder).await?;
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(app.run_until(async move {
        let _ = server_stopped.await;
    }));

    print_banner(&base, &folder, &log_path, &credentials, args.bots);
    print_changes(&changes);

    let stop = CancellationToken::new();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let admin = client::Session::log_in(
        http.clone(),
        &base,
        &credentials.admin_username,
        &credentials.admin_password,
        access_ttl,
    )
    .await
    .map_err(|e| anyhow::anyhow!("the demo administrator cannot log in: {e}"))?;
    let world = Arc::new(World::new(
        http,
        base.clone(),
        admin,
        credentials.bot_password.clone(),
        access_ttl,
        args.bots,
        stop.clone(),
    ));
    let bots = bot::spawn_all(&world, args.bots);
    let interactive = std::io::stdout().is_terminal();
    let summary = tokio::spawn(summary::run(world.clone(), interactive));

    let outcome = tokio::select! {
        _ = shutdown::signal() => Ok(()),
        joined = &mut server => Err(match joined {
            Ok(Ok(())) => anyhow::anyhow!("the server stopped by itself"),
            Ok(Err(e)) => e,
            Err(e) => anyhow::anyhow!("the server task failed: {e}"),
        }),
    };
    println!();
    println!("demo: stopping the bots…");
    stop.cancel();
    let _ = tokio::time::timeout(BOTS_STOP_GRACE, async {
        for bot in bots {
            let _ = bot.await;
        }
    })
    .await;
    let _ = summary.await;
    summary::print_final(&world);
    outcome?;
    println!("demo: stopping the server…");
    let _ = stop_server.send(());
    server.await??;
    println!("demo: stopped");
    Ok(())
}

/// The URL the bots (and the visitor) use: the bound address, with a wildcard address
/// replaced by the loopback one.
fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn print_banner(base: &str, folder: &Path, log: &Path, credentials: &admin::Credentials, bots: u32) {
    println!("Duet demo: open {base}/ (sign up and search: a bot answers) and {base}/docs");
    println!(
        "demo: data in {} (server log {}); the credentials are kept in {}",
        folder.display(),
        log.display(),
        credentials.file.display()
    );
    println!(
        "demo: administrator username {} password {}",
        credentials.admin_username, credentials.admin_password
    );
    println!("demo: {bots} simulated people are signing up; Ctrl-C stops the demo");
}

#[cfg(test)]
mod tests {
    use duet::config::{parse_cli, Command};

    use super::*;

    fn demo_args(flags: &[&str]) -> DemoArgs {
        let mut args = vec!["duet", "demo"];
        args.extend_from_slice(flags);
        match parse_cli(args).expect("the flags parse").command {
            Command::Demo(demo) => *demo,
            other => panic!("not the demo: {other:?}"),
        }
    }

    #[test]
    fn the_demo_shortens_the_like_rounds_it_was_not_given() {
        let mut args = demo_args(&[]);
        apply_defaults(&mut args);
        let room = &args.serve.settings.room;
        assert_eq!(room.like_after, Duration::from_secs(DEMO_LIKE_AFTER));
        assert_eq!(room.like_answer_window, Duration::from_secs(DEMO_LIKE_WINDOW));
        assert_eq!(args.serve.settings.storage.data_dir, Path::new("duet-demo"));
        args.serve.settings.validate().expect("the demo's settings are valid");
    }

    #[test]
    fn the_users_own_timers_are_kept_and_stay_valid() {
        let mut args = demo_args(&["--like-after", "4s"]);
        apply_defaults(&mut args);
        let room = &args.serve.settings.room;
        assert_eq!(room.like_after, Duration::from_secs(4));
        assert_eq!(room.like_answer_window, Duration::from_secs(2));
        args.serve.settings.validate().expect("valid");

        let mut args = demo_args(&["--like-answer-window", "30s", "--data-dir", "mine"]);
        apply_defaults(&mut args);
        let room = &args.serve.settings.room;
        assert_eq!(room.like_answer_window, Duration::from_secs(30));
        assert!(room.like_after > Duration::from_secs(30), "the interval stays longer than the window");
        assert_eq!(args.serve.settings.storage.data_dir, Path::new("mine"));
        args.serve.settings.validate().expect("valid");
    }
}
