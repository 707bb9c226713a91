//! Prometheus metrics of one server instance, in a registry owned by the app (not a
//! process global, so test servers in one process do not mix their numbers). Each
//! subsystem registers what it measures here; `GET /metrics` renders the registry in
//! the Prometheus text format. Labels are bounded sets: matched routes, never raw paths.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

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
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("duet".into()), None).expect("static prefix");
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request duration")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["method", "route"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new("rate_limited_total", "Requests and chat frames refused by a rate limit, by class"),
            &["class"],
        )
        .expect("valid metric");
        let auth_events =
            IntCounterVec::new(Opts::new("auth_events_total", "Account events by kind"), &["event"])
                .expect("valid metric");
        let accounts = IntGaugeVec::new(
            Opts::new("accounts", "Registered accounts by role and state"),
            &["role", "state"],
        )
        .expect("valid metric");
        let waiting =
            IntGaugeVec::new(Opts::new("waiting_tickets", "Waiting search tickets by type"), &["type"])
                .expect("valid metric");
        let matches = IntCounterVec::new(Opts::new("matches_total", "Matches made, by mode"), &["mode"])
            .expect("valid metric");
        let time_to_match = HistogramVec::new(
            HistogramOpts::new("time_to_match_seconds", "Time from search to match, per ticket")
                .buckets(vec![0.001, 0.005, 0.05, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0]),
            &["mode"],
        )
        .expect("valid metric");
        let rooms_active = IntGauge::new("rooms_active", "Rooms not yet ended").expect("valid metric");
        let rooms_ended =
            IntCounterVec::new(Opts::new("rooms_ended_total", "Rooms ended, by reason"), &["reason"])
                .expect("valid metric");
        let sockets = IntGaugeVec::new(Opts::new("open_sockets", "Open WebSockets by kind"), &["kind"])
            .expect("valid metric");
        let messages_relayed =
            IntCounter::new("messages_relayed_total", "Chat messages stored and fanned out")
                .expect("valid metric");
        let relay_latency = Histogram::with_opts(
            HistogramOpts::new(
                "message_relay_latency_seconds",
                "From receipt of a chat message to its fan-out",
            )
            .buckets(vec![0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]),
        )
        .expect("valid metric");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(rate_limited.clone()),
            Box::new(auth_events.clone()),
            Box::new(accounts.clone()),
            Box::new(waiting.clone()),
            Box::new(matches.clone()),
            Box::new(time_to_match.clone()),
            Box::new(rooms_active.clone()),
            Box::new(rooms_ended.clone()),
            Box::new(sockets.clone()),
            Box::new(messages_relayed.clone()),
            Box::new(relay_latency.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            rate_limited,
            auth_events,
            accounts,
            waiting,
            matches,
            time_to_match,
            rooms_active,
            rooms_ended,
            sockets,
            messages_relayed,
            relay_latency,
        }
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
