//! `duet-bench`: see `duet-bench --help` and the crate's module map (`lib.rs`).

use clap::Parser;
use duet_bench::cli::{Cli, Cmd};
use duet_bench::record::Recorder;
use duet_bench::scenarios::{idle, matchmaking, reconnect, relay, smoke, soak, storm};
use duet_bench::target::{Kind, Spec};

/// High enough that Duet's per-connection frame limit never shapes a scenario.
const MSG_RATE: u32 = 1_000_000;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("duet-bench: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Ok(false) when a scenario saw loss, errors or failures.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let mut rec;
    match cli.command {
        Cmd::Idle { common, conns, per_worker } => {
            rec = Recorder::new(common.out.clone());
            idle::run(&common.specs(true, MSG_RATE), &conns, per_worker, common.reps, &mut rec).await?;
        }
        Cmd::Throughput { common, rooms, secs, window } => {
            rec = Recorder::new(common.out.clone());
            relay::throughput(&common.specs(true, MSG_RATE), &rooms, secs, window, common.reps, &mut rec)
                .await?;
        }
        Cmd::Latency { common, rates, rooms, secs } => {
            rec = Recorder::new(common.out.clone());
            relay::latency(
                "latency",
                &common.specs(true, MSG_RATE),
                &rates,
                rooms,
                secs,
                common.reps,
                &mut rec,
            )
            .await?;
        }
        Cmd::Matchmaking { common, waiting, direct, rates, secs } => {
            rec = Recorder::new(common.out.clone());
            matchmaking::run(
                &common.specs(false, MSG_RATE),
                &waiting,
                &direct,
                &rates,
                secs,
                common.reps,
                &mut rec,
            )
            .await?;
        }
        Cmd::Persistence { common, postgres, rates, rooms, secs } => {
            rec = Recorder::new(common.out.clone());
            let bin = common.server_bin.clone();
            let specs = [
                Spec {
                    name: "duet-sqlite".into(),
                    kind: Kind::Duet { bin: bin.clone(), seeder: bin.clone(), postgres: None },
                    msg_rate: MSG_RATE,
                },
                Spec {
                    name: "duet-postgres".into(),
                    kind: Kind::Duet { bin: bin.clone(), seeder: bin, postgres: Some(postgres) },
                    msg_rate: MSG_RATE,
                },
            ];
            relay::latency("persistence", &specs, &rates, rooms, secs, common.reps, &mut rec).await?;
        }
        Cmd::Storm { common, rates, secs, burst } => {
            rec = Recorder::new(common.out.clone());
            storm::run(&common.specs(false, MSG_RATE), &rates, secs, burst, common.reps, &mut rec).await?;
        }
        Cmd::Reconnect { common, clients } => {
            rec = Recorder::new(common.out.clone());
            let rooms: Vec<u64> = clients.iter().map(|c| (c / 2).max(1)).collect();
            reconnect::run(&common.specs(false, MSG_RATE), &rooms, common.reps, &mut rec).await?;
        }
        Cmd::Soak { common, rooms, minutes, access_ttl_secs, every_secs, memory_csv } => {
            rec = Recorder::new(common.out.clone());
            let spec = &common.specs(false, MSG_RATE)[0];
            let ttl = std::time::Duration::from_secs(access_ttl_secs);
            let every = std::time::Duration::from_secs_f64(every_secs);
            soak::run(spec, rooms, minutes, ttl, every, memory_csv.as_deref(), &mut rec).await?;
        }
        Cmd::Smoke { common, postgres } => return smoke::run(&common, postgres).await,
        Cmd::Report { input, benchmarks, plots, preamble } => {
            duet_bench::report::write(&input, &benchmarks, &plots, preamble.as_deref())?;
            return Ok(true);
        }
        Cmd::IdleWorker => {
            idle::worker().await?;
            return Ok(true);
        }
    }
    Ok(rec.all_ok())
}
