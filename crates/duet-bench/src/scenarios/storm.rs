//! Scenario 6: connect and auth storm. Arrivals at a fixed rate; each logs in over
//! HTTP (an argon2 verification on the server) and opens its status socket up to the
//! first `status_update`. Time from the intended arrival; failures counted.

use std::time::{Duration, Instant};

use crate::api::Api;
use crate::procstat::CpuMark;
use crate::record::{Recorder, Row};
use crate::scenarios::{percentiles, progress};
use crate::target::{Server, Spec};
use crate::ws::{histogram, open_until};
use crate::PASSWORD;

pub async fn run(
    specs: &[Spec],
    rates: &[u64],
    secs: f64,
    reps: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    // Each level logs in accounts of its own.
    let count = |rate: u64| ((rate as f64 * secs) as u64).max(1);
    let total: u64 = rates.iter().map(|&r| count(r)).sum();
    for rep in 0..reps {
        for spec in specs {
            let mut server = Server::start(spec, total as usize).await?;
            for &rate in rates {
                let count = count(rate);
                let users = server.users(count as usize)?;
                let api = Api::new(&server.base);
                let cpu = CpuMark::now(server.pid);
                let start = Instant::now() + Duration::from_millis(20);
                let interval = Duration::from_secs_f64(1.0 / rate as f64);
                let bar = progress(count, &format!("{}: storm {rate}/s", spec.name));
                let mut tasks = Vec::new();
                for (i, user) in users.into_iter().enumerate() {
                    let intended = start + interval * i as u32;
                    let (api, ws_base) = (api.clone(), server.ws_base.clone());
                    tasks.push(tokio::spawn(async move {
                        tokio::time::sleep_until(intended.into()).await;
                        let token = api.login(&user.username, PASSWORD).await?;
                        let mut ws =
                            open_until(&format!("{ws_base}/ws/status?token={token}"), "status_update")
                                .await?;
                        let took = intended.elapsed();
                        let _ = ws.close(None).await;
                        Ok::<_, anyhow::Error>(took)
                    }));
                }
                let mut h = histogram();
                let (mut failed, mut first_error) = (0u64, None);
                for t in tasks {
                    match t.await.expect("a storm task does not panic") {
                        Ok(took) => {
                            h.saturating_record(took.as_micros().max(1) as u64);
                        }
                        Err(e) => {
                            failed += 1;
                            first_error.get_or_insert(e.to_string());
                        }
                    }
                    bar.inc(1);
                }
                let wall = start.elapsed().as_secs_f64();
                let cpu = cpu.elapsed();
                bar.finish_and_clear();
                let mut row = Row::new("storm", &spec.name, rep, "arrivals_per_s", rate as f64);
                row.set("arrivals", count as f64)
                    .set("failed", failed as f64)
                    .set("completed_per_s", (count - failed) as f64 / wall)
                    .set("server_cpu_ms_per_login", cpu * 1e3 / count as f64);
                percentiles(&mut row, "", &h);
                row.ok = failed == 0;
                row.note = first_error;
                rec.emit(row);
            }
            server.stop().await;
        }
    }
    rec.table("storm", &["p99_us", "p50_us", "failed", "server_cpu_ms_per_login", "completed_per_s"]);
    Ok(())
}
