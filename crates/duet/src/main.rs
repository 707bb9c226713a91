//! The `duet` binary: `duet serve` runs the server, `duet admin create` makes an
//! administrator. Everything else lives in the library.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use duet::app::App;
use duet::clock::{Clock, SystemClock};
use duet::config::{parse_cli, AdminCommand, Command, LogFormat};
use duet::{shutdown, store, telemetry};

fn main() -> ExitCode {
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
        Command::Admin(AdminCommand::Create { username, storage, .. }) => {
            telemetry::install(telemetry::subscriber("warn", LogFormat::Text, std::io::stderr));
            runtime.block_on(create_admin(&username, storage))
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
