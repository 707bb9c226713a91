//! The live summary: the administrator's dashboard (`GET /admin/dashboard`), with what
//! the bots counted themselves where the dashboard has no such number. On a terminal
//! it redraws a few lines every second; otherwise it prints one plain line every 5 s.
//! Each tick also sends free bots to people waiting in the queue.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::bot::{self, World};

/// The dashboard's fields the summary shows. The activity numbers and the ends by
/// reason are newer than the rest: they are optional, and counted from the bots'
/// own observations when the server does not send them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Dashboard {
    users: Users,
    rooms: Rooms,
    queues: Queues,
    reports_today: u64,
    active_bans: u64,
    activity: Option<Activity>,
    ends: Option<Ends>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Users {
    idle: u64,
    searching: u64,
    connected: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Rooms {
    active: u64,
    total: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Queues {
    chat: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Activity {
    messages_per_second: Option<f64>,
    matches_last_minute: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Ends {
    last_hour: Option<BTreeMap<String, u64>>,
}

/// Redraws (or prints) the summary until the demo stops.
pub async fn run(world: Arc<World>, interactive: bool) {
    let every = if interactive { Duration::from_secs(1) } else { Duration::from_secs(5) };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let started = Instant::now();
    // Rooms made before the bots' first match count as earlier runs'.
    let mut first_total: Option<u64> = match world.admin.get("/admin/dashboard").await {
        Ok(reply) if reply.ok() => {
            serde_json::from_value::<Dashboard>(reply.body).ok().map(|d| d.rooms.total)
        }
        _ => None,
    };
    // (when, messages the bots saw, rooms made) for the rates over the last minute.
    let mut history: VecDeque<(Instant, u64, u64)> = VecDeque::new();
    let mut last_print = Instant::now();
    let mut drawn = 0;
    loop {
        tokio::select! {
            _ = world.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = bot::help_people_waiting(&world).await {
            tracing::debug!(error = %e, "demo: cannot read the searching users");
        }
        if last_print.elapsed() + Duration::from_millis(100) < every {
            continue;
        }
        last_print = Instant::now();
        let dashboard = match world.admin.get("/admin/dashboard").await {
            Ok(reply) if reply.ok() => serde_json::from_value::<Dashboard>(reply.body).unwrap_or_default(),
            _ => continue,
        };
        let now = Instant::now();
        let seen = seen_messages(&world);
        let base = *first_total.get_or_insert(dashboard.rooms.total);
        history.push_back((now, seen, dashboard.rooms.total));
        while history.front().is_some_and(|(at, _, _)| now.duration_since(*at) > Duration::from_secs(60)) {
            history.pop_front();
        }
        let lines = render(&world, &dashboard, &history, base, started.elapsed());
        let mut out = std::io::stdout().lock();
        if interactive {
            // Up to the first line drawn last time, then every line cleared and redrawn.
            if drawn > 0 {
                let _ = write!(out, "\x1b[{drawn}A");
            }
            for line in &lines {
                let _ = writeln!(out, "\x1b[2K{line}");
            }
            drawn = lines.len();
        } else {
            let _ = writeln!(out, "{}", lines.join(" | "));
        }
        let _ = out.flush();
    }
}

/// Messages the bots saw stored: their own (acknowledged) and those of people.
fn seen_messages(world: &World) -> u64 {
    world.stats.bot_messages.load(Ordering::Relaxed) + world.stats.person_messages.load(Ordering::Relaxed)
}

fn render(
    world: &World,
    d: &Dashboard,
    history: &VecDeque<(Instant, u64, u64)>,
    base_total: u64,
    uptime: Duration,
) -> Vec<String> {
    let stats = &world.stats;
    let (first, last) = (history.front(), history.back());
    let span = match (first, last) {
        (Some(a), Some(b)) => b.0.duration_since(a.0).as_secs_f64(),
        _ => 0.0,
    };
    let activity = d.activity.as_ref();
    let per_second = activity.and_then(|a| a.messages_per_second).unwrap_or_else(|| match (first, last) {
        (Some(a), Some(b)) if span > 0.0 => (b.1 - a.1) as f64 / span,
        _ => 0.0,
    });
    let last_minute = activity.and_then(|a| a.matches_last_minute).unwrap_or_else(|| match (first, last) {
        (Some(a), Some(b)) => b.2.saturating_sub(a.2),
        _ => 0,
    });
    let ends = match d.ends.as_ref().and_then(|e| e.last_hour.clone()) {
        Some(mut server) => {
            server.retain(|_, n| *n > 0);
            (server, "last hour")
        }
        None => {
            let mut own = BTreeMap::new();
            for reason in stats.ends.lock().unwrap().values() {
                *own.entry(reason.clone()).or_insert(0) += 1;
            }
            (own, "rooms of bots")
        }
    };
    let ends_text = if ends.0.is_empty() {
        "none yet".to_owned()
    } else {
        ends.0.iter().map(|(reason, n)| format!("{reason} {n}")).collect::<Vec<_>>().join(", ")
    };
    let signed_up = stats.signed_up.load(Ordering::Relaxed);
    vec![
        format!(
            "demo {}s: bots {signed_up}/{} ready; people idle {}, searching {}, in rooms {} (queue {})",
            uptime.as_secs(),
            world.bot_count,
            d.users.idle,
            d.users.searching,
            d.users.connected,
            d.queues.chat
        ),
        format!(
            "rooms: {} active, {} matches since start ({last_minute} in the last minute), {} with people",
            d.rooms.active,
            d.rooms.total.saturating_sub(base_total),
            stats.people_matched.load(Ordering::Relaxed)
        ),
        format!(
            "messages: {per_second:.1}/s, {} from bots, {} from people; like answers {}, keeps {}, reports {} (today {}), bans {}",
            stats.bot_messages.load(Ordering::Relaxed),
            stats.person_messages.load(Ordering::Relaxed),
            stats.like_answers.load(Ordering::Relaxed),
            stats.keeps.load(Ordering::Relaxed),
            stats.reports.load(Ordering::Relaxed),
            d.reports_today,
            d.active_bans
        ),
        format!("ends ({}): {ends_text}", ends.1),
    ]
}

/// One last line when the demo stops.
pub fn print_final(world: &World) {
    let stats = &world.stats;
    let ends = stats.ends.lock().unwrap().len();
    println!(
        "demo: the bots sent {} messages, answered {} like rounds, saw {} rooms end and met {} people",
        stats.bot_messages.load(Ordering::Relaxed),
        stats.like_answers.load(Ordering::Relaxed),
        ends,
        stats.people_matched.load(Ordering::Relaxed)
    );
}
