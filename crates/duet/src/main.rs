//! The `duet` binary: `duet serve` runs the server, `duet demo` runs it with simulated
//! people (the `demo` module), `duet admin create` makes an administrator, `duet admin
//! seed` makes many accounts for a load test. Everything else lives in the library.

mod demo;

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use duet::app::App;
use duet::clock::{Clock, SystemClock};
use duet::config::{parse_cli, AdminCommand, Command, LogFormat};
use duet::{shutdown, store, telemetry};

fn main() -> ExitCode {
    give_large_allocations_back();
    let cli = match parse_cli(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the tokio runtime starts");
    let result = match cli.command {
        Command::Serve(args) if args.check => match args.settings.validate() {
            Ok(()) => {
                println!("{:#?}", args.settings);
                Ok(())
            }
            Err(e) => Err(e.into()),
        },
        Command::Serve(args) => {
            let server = &args.settings.server;
            telemetry::install(telemetry::subscriber(&server.log, server.log_format, std::io::stdout));
            runtime.block_on(serve(args.settings))
        }
        Command::Demo(args) => {
            let mut args = *args;
            let changed = demo::apply_defaults(&mut args);
            if args.serve.check {
                match args.serve.settings.validate() {
                    Ok(()) => {
                        demo::print_changes(&changed);
                        println!("{:#?}", args.serve.settings);
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            } else {
                runtime.block_on(async {
                    tokio::spawn(trim_freed_memory());
                    demo::run(args, changed).await
                })
            }
        }
        Command::Admin(AdminCommand::Create { username, storage, .. }) => {
            telemetry::install(telemetry::subscriber("warn", LogFormat::Text, std::io::stderr));
            runtime.block_on(create_admin(&username, storage))
        }
        Command::Admin(AdminCommand::Seed { users, prefix, emit_tokens, settings, .. }) => {
            telemetry::install(telemetry::subscriber("warn", LogFormat::Text, std::io::stderr));
            runtime.block_on(seed(&settings, users, &prefix, &emit_tokens))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("duet: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: duet::config::Settings) -> anyhow::Result<()> {
    tokio::spawn(trim_freed_memory());
    let app = App::build(settings).await?;
    app.run_until(shutdown::signal()).await
}

async fn create_admin(username: &str, storage: duet::config::StorageSettings) -> anyhow::Result<()> {
    let password = read_password()?;
    let store = store::Store::connect(&storage).await?;
    let id = duet::accounts::create_admin(&store, username, password, SystemClock.now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    println!("created administrator {username} (id {id})");
    Ok(())
}

/// Makes glibc serve every allocation of 1 MiB or more (an argon2 hash's 19 MiB, a
/// decoded image) with its own mapping, returned to the system when freed. By default
/// the threshold rises to the largest block freed so far, after which such blocks
/// come from the arenas of the blocking threads and stay there: 64 logins at once
/// used to leave the server at 2.3 GB for good.
///
/// It also caps glibc at two arenas (by default up to eight per core, one per thread
/// that allocates: tokio's workers, the blocking pool, SQLite's thread). Memory freed
/// in one arena is not reused by another, and the hour's soak (docs/reliability.md)
/// grew 7.4 % after its warm-up with a flat live heap; with two arenas, 4.9 %, and
/// 4 MiB less throughout. The two cores' worth of threads contend little for two.
fn give_large_allocations_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; it runs before any thread
    // is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// How often the freed memory glibc keeps is given back.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Every [`TRIM_EVERY`], hands the pages that glibc's allocator keeps after they were
/// freed back to the system (`malloc_trim(0)`: also free pages in the middle of its
/// heaps, not only at their top). The server's live heap rises and falls with its
/// traffic (sockets reconnecting, bursts of requests); without this, its RSS follows
/// the highest the heap has been since start, not what it holds now. Walking two
/// arenas takes well under a millisecond.
async fn trim_freed_memory() {
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free pages to the system; it takes the
        // allocator's own locks.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

async fn seed(settings: &duet::config::Settings, count: u32, prefix: &str, out: &Path) -> anyhow::Result<()> {
    settings.validate()?;
    let password = read_password()?;
    // The file holds working access tokens: readable by its owner only.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    let mut file = std::io::BufWriter::new(file);
    let store = store::Store::connect(&settings.storage).await?;
    let now = SystemClock.now();
    let secret = duet::auth::load_signing_secret(settings, &store).await?;
    let auth = &settings.auth;
    let keys = duet::auth::Keys::new(&secret, &auth.jwt_issuer, auth.access_ttl);
    let mut seeded = Vec::new();
    let outcome = duet::accounts::seed_users(&store, &keys, prefix, count, password, now, &mut seeded).await;
    store.close().await;
    // Whatever was created gets its token written, also when seeding stopped early.
    for user in &seeded {
        serde_json::to_writer(&mut file, user)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    let made = seeded.len();
    match outcome {
        Ok(()) => {
            println!("created {made} accounts {prefix}1 to {prefix}{made}; tokens in {}", out.display())
        }
        Err(e) => anyhow::bail!(
            "stopped after creating {made} of {count} accounts (their tokens are in {}): {e}",
            out.display()
        ),
    }
    Ok(())
}

/// From a prompt on a terminal (twice, to catch typos), else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == second, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        Ok(password)
    }
}
