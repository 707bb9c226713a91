//! Every scenario at a tiny scale, against Duet and the reference relay (and the
//! persistence scenario on PostgreSQL when a server URL is given). Correctness only:
//! any loss, error or failure fails the run. Timing numbers are printed but never
//! judged.

use crate::cli::Common;
use crate::record::Recorder;
use crate::scenarios::{idle, matchmaking, reconnect, relay, storm};
use crate::target::{Kind, Spec};

pub async fn run(common: &Common, postgres: Option<String>) -> anyhow::Result<bool> {
    let mut rec = Recorder::new(common.out.clone());
    // Rates here stay far below any limit of a debug build.
    let specs = common.specs(true, 1000);
    idle::run(&specs, &[20, 40], 8000, 1, &mut rec).await?;
    relay::throughput(&specs, &[2, 4], 1.0, 2, 1, &mut rec).await?;
    relay::latency("latency", &specs, &[200], 4, 1.0, 1, &mut rec).await?;
    let duet_only = common.specs(false, 1000);
    matchmaking::run(&duet_only, &[40], &[1000], &[20], 1.0, 1, &mut rec).await?;
    let mut stores = vec![Spec {
        name: "duet-sqlite".into(),
        kind: Kind::Duet {
            bin: common.server_bin.clone(),
            seeder: common.server_bin.clone(),
            postgres: None,
        },
        msg_rate: 1000,
    }];
    if let Some(url) = postgres {
        stores.push(Spec {
            name: "duet-postgres".into(),
            kind: Kind::Duet {
                bin: common.server_bin.clone(),
                seeder: common.server_bin.clone(),
                postgres: Some(url),
            },
            msg_rate: 1000,
        });
    }
    relay::latency("persistence", &stores, &[100], 4, 1.0, 1, &mut rec).await?;
    storm::run(&duet_only, &[5], 1.0, 4, 1, &mut rec).await?;
    reconnect::run(&duet_only, &[10], 1, &mut rec).await?;
    let ok = rec.all_ok();
    let failed = rec.rows.iter().filter(|r| !r.ok).count();
    eprintln!("\nsmoke: {} rows, {} failed", rec.rows.len(), failed);
    Ok(ok)
}
