//! Scenario 6: connect and auth storm. Arrivals at a fixed rate; each logs in over
//! HTTP (an argon2 verification on the server) and opens its status socket up to the
//! first `status_update`. Time from the intended arrival; failures counted. Then a
//! burst: `burst` logins at the same instant, with the server's resident memory
//! sampled throughout: before, at its peak, and [`SETTLE`] after the burst ended
//! (memory that argon2 took and did not give back shows there).

use std::time::{Duration, Instant};

use crate::api::Api;
use crate::procstat::{peak_rss_bytes, reset_peak_rss, rss_bytes, CpuMark};
use crate::record::{Recorder, Row};
use crate::scenarios::{percentiles, progress};
use crate::target::{Server, Spec, User};
use crate::ws::{histogram, open_until};
use crate::PASSWORD;

/// How long after a burst its memory is measured again.
const SETTLE: Duration = Duration::from_secs(15);

pub async fn run(
    specs: &[Spec],
    rates: &[u64],
    secs: f64,
    burst: usize,
    reps: u32,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    // Each level logs in accounts of its own.
    let count = |rate: u64| ((rate as f64 * secs) as u64).max(1);
    let total: u64 = rates.iter().map(|&r| count(r)).sum::<u64>() + burst as u64;
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
            if burst > 0 {
                let users = server.users(burst)?;
                rec.emit(login_burst(&server, spec, rep, users).await?);
            }
            server.stop().await;
        }
    }
    rec.table("storm", &["p99_us", "p50_us", "failed", "server_cpu_ms_per_login", "completed_per_s"]);
    if burst > 0 {
        rec.table("storm-burst", &["baseline_rss_mb", "peak_rss_mb", "rss_after_mb", "failed", "wall_ms"]);
    }
    Ok(())
}

/// Every user logs in at once; the server's RSS before, at its peak (the kernel's
/// high-water mark, reset just before), and [`SETTLE`] after the last answer.
async fn login_burst(server: &Server, spec: &Spec, rep: u32, users: Vec<User>) -> anyhow::Result<Row> {
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let baseline = rss_bytes(server.pid)?;
    reset_peak_rss(server.pid)?;
    let api = Api::new(&server.base);
    let count = users.len();
    let started = Instant::now();
    let logins: Vec<_> = users
        .into_iter()
        .map(|user| {
            let api = api.clone();
            tokio::spawn(async move { api.login(&user.username, PASSWORD).await })
        })
        .collect();
    let (mut failed, mut first_error) = (0, None);
    for login in logins {
        if let Err(e) = login.await.expect("a login task does not panic") {
            failed += 1;
            first_error.get_or_insert(e.to_string());
        }
    }
    let wall = started.elapsed();
    let peak = peak_rss_bytes(server.pid)?;
    tokio::time::sleep(SETTLE).await;
    let after = rss_bytes(server.pid)?;
    let mut row = Row::new("storm-burst", &spec.name, rep, "logins_at_once", count as f64);
    row.set("baseline_rss_mb", mb(baseline))
        .set("peak_rss_mb", mb(peak))
        .set("rss_after_mb", mb(after))
        .set("failed", failed as f64)
        .set("wall_ms", wall.as_secs_f64() * 1e3);
    row.ok = failed == 0;
    row.note = first_error;
    Ok(row)
}
