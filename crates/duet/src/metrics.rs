//! Prometheus metrics of one server instance, in a registry owned by the app (not a
//! process global, so test servers in one process do not mix their numbers). Each
//! subsystem registers what it measures here; `GET /metrics` renders the registry in
//! the Prometheus text format. Labels are bounded sets: matched routes, never raw paths.

use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::activity::{Activity, Counters};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by method, matched route and status.
    pub http_requests: IntCounterVec,
    /// HTTP request duration by method and matched route.
    pub http_duration: HistogramVec,
    /// Requests refused with 429, by limit class.
    pub rate_limited: IntCounterVec,
    /// Account events: signup, login, login_failed, refresh, refresh_reuse, logout.
    pub auth_events: IntCounterVec,
    /// Registered accounts by role and state, refreshed at each scrape.
    pub accounts: IntGaugeVec,
    /// Waiting search tickets by type.
    pub waiting: IntGaugeVec,
    /// Matches made, by mode: `scored` or `fallback`.
    pub matches: IntCounterVec,
    /// Seconds from enqueue to match, per ticket, by mode.
    pub time_to_match: HistogramVec,
    /// Rooms active on this instance's count (set at start from the store).
    pub rooms_active: IntGauge,
    /// Rooms ended, by reason.
    pub rooms_ended: IntCounterVec,
    /// Open WebSockets by kind (`status`, `chat`).
    pub sockets: IntGaugeVec,
    /// Chat messages stored and handed to the broker.
    pub messages_relayed: IntCounter,
    /// Seconds from a message's receipt to its fan-out (stored, ordered, published).
    pub relay_latency: Histogram,
    /// Calls that rang.
    pub calls_started: IntCounter,
    /// Calls ended, by reason.
    pub calls_ended: IntCounterVec,
    /// Seconds from answer to end, per answered call.
    pub call_duration: Histogram,
    /// Recent activity for the dashboard (not exported to Prometheus).
    pub activity: Arc<Activity>,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("duet".into()), None).expect("static prefix");
        Metrics {
            http_requests: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("http_requests_total", "HTTP requests by method, route and status"),
                    &["method", "route", "status"],
                ),
            ),
            http_duration: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("http_request_duration_seconds", "HTTP request duration").buckets(
                        vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
                    ),
                    &["method", "route"],
                ),
            ),
            rate_limited: register(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "rate_limited_total",
                        "Requests and chat frames refused by a rate limit, by class",
                    ),
                    &["class"],
                ),
            ),
            auth_events: register(
                &registry,
                IntCounterVec::new(Opts::new("auth_events_total", "Account events by kind"), &["event"]),
            ),
            accounts: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new("accounts", "Registered accounts by role and state"),
                    &["role", "state"],
                ),
            ),
            waiting: register(
                &registry,
                IntGaugeVec::new(Opts::new("waiting_tickets", "Waiting search tickets by type"), &["type"]),
            ),
            matches: register(
                &registry,
                IntCounterVec::new(Opts::new("matches_total", "Matches made, by mode"), &["mode"]),
            ),
            time_to_match: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("time_to_match_seconds", "Time from search to match, per ticket")
                        .buckets(vec![0.001, 0.005, 0.05, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0]),
                    &["mode"],
                ),
            ),
            rooms_active: register(&registry, IntGauge::new("rooms_active", "Rooms not yet ended")),
            rooms_ended: register(
                &registry,
                IntCounterVec::new(Opts::new("rooms_ended_total", "Rooms ended, by reason"), &["reason"]),
            ),
            sockets: register(
                &registry,
                IntGaugeVec::new(Opts::new("open_sockets", "Open WebSockets by kind"), &["kind"]),
            ),
            messages_relayed: register(
                &registry,
                IntCounter::new("messages_relayed_total", "Chat messages stored and fanned out"),
            ),
            relay_latency: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "message_relay_latency_seconds",
                        "From receipt of a chat message to its fan-out",
                    )
                    .buckets(vec![0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]),
                ),
            ),
            calls_started: register(
                &registry,
                IntCounter::new("calls_started_total", "Voice calls that rang"),
            ),
            calls_ended: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("calls_ended_total", "Voice calls ended, by reason"),
                    &["reason"],
                ),
            ),
            call_duration: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "call_duration_seconds",
                        "From answer to end, per answered voice call",
                    )
                    .buckets(vec![5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0]),
                ),
            ),
            activity: Arc::default(),
            registry,
        }
    }

    /// The counters the activity sampler reads.
    pub fn activity_counters(&self) -> Counters {
        let matches =
            ["scored", "fallback"].iter().map(|mode| self.matches.with_label_values(&[mode]).get()).sum();
        Counters { messages: self.messages_relayed.get(), matches }
    }

    /// The registry in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds a new metric to the registry and returns it. Both steps fail only on a bad or
/// repeated name, which is a bug in the list above.
fn register<M: Collector + Clone + 'static>(registry: &Registry, metric: prometheus::Result<M>) -> M {
    let metric = metric.expect("valid metric");
    registry.register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}
