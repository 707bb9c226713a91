//! Startup and the shared state. [`App::build`] reads top to bottom: validate
//! settings, open and migrate the store, load the signing key, build the state and
//! the router, bind the listener (recording the real port), start the background
//! tasks. `main` and the integration tests take the same path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::accounts::{AccountDeps, Accounts, ProfileDeps, Profiles};
use crate::auth::{self, Keys};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{DatabaseKind, Settings};
use crate::events::Events;
pub use crate::http::AppState;
use crate::http::{self, ratelimit::RateLimits, Inner};
use crate::matching::{MatchDeps, Matchmaker};
use crate::metrics::Metrics;
use crate::moderation::{Moderation, ModerationDeps};
use crate::realtime::{self, Broker, Connections, Fanout, InProcessBroker, Realtime, RealtimeDeps};
use crate::room::writer::MessageWriter;
use crate::room::{CallTimers, RoomDeps, Rooms};
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::tasks::{TaskStats, HOUSEKEEPING_INTERVAL};

/// A built server, bound to its port, not yet serving.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    addr: SocketAddr,
}

impl App {
    /// Builds the server with the system clock.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Builds the server with a given clock (tests pass a manual one).
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<App> {
        settings.validate()?;
        let store = Store::connect(&settings.storage).await?;
        let secret = auth::load_signing_secret(&settings, &store).await?;
        let keys = Keys::new(&secret, &settings.auth.jwt_issuer, settings.auth.access_ttl);
        let base = Base {
            settings,
            store,
            clock,
            keys,
            metrics: Metrics::new(),
            shutdown: Shutdown::new(),
            events: Events::new(),
            broker: Arc::new(InProcessBroker::default()),
        };
        let state = base.wire();
        // Subscribed before anything can publish, so the sockets miss no event.
        let socket_events = state.events.subscribe();
        // Waiting tickets come back before the first request; overdue expiries and
        // fallback crossings fire at the matcher's first tick.
        state.matchmaker.restore().await.map_err(|e| anyhow::anyhow!("reloading search tickets: {e}"))?;
        // Room timers resume: every active room's next deadline is filed; overdue
        // ones fire as soon as the lifecycle loop starts.
        let active = state.rooms.restore().await.map_err(|e| anyhow::anyhow!("reloading rooms: {e}"))?;
        state.metrics.rooms_active.set(active as i64);
        let router = http::router(state.clone());
        let listener = TcpListener::bind(state.settings.server.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {} (--bind): {e}", state.settings.server.bind))?;
        let addr = listener.local_addr()?;
        spawn_housekeeping(&state);
        spawn_activity_sampler(&state);
        spawn_wal_truncation(&state);
        state.shutdown.spawn(realtime::bridge::run(state.realtime.clone(), socket_events));
        Ok(App { listener, router, state, addr })
    }

    /// The address actually bound (the real port when configured with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `stop` resolves, then shuts down: stop accepting, let requests in
    /// flight finish, stop background tasks, close the database, all within the
    /// configured grace period.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App { listener, router, state, addr } = self;
        tracing::info!(%addr, database = ?state.store.kind(), "duet is listening");
        let shutdown = state.shutdown.clone();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let trigger = shutdown.clone();
        let serve = axum::serve(listener, service).with_graceful_shutdown(async move {
            tokio::select! {
                _ = stop => trigger.trigger(),
                _ = trigger.requested() => {},
            }
        });
        let grace = state.settings.server.shutdown_grace;
        let server = tokio::spawn(async move { serve.await });
        shutdown.requested().await;
        tracing::info!("shutting down");
        // One deadline for the whole shutdown: connections, then background tasks.
        let deadline = tokio::time::Instant::now() + grace;
        match tokio::time::timeout_at(deadline, server).await {
            Ok(joined) => joined??,
            Err(_) => tracing::warn!("connections still open after {grace:?}; closing anyway"),
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !shutdown.wait(left).await {
            tracing::warn!("background tasks did not stop within {grace:?}");
        }
        state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// What every service is built from: settings, the store, time, keys, and the shared
/// plumbing (metrics, the shutdown handle, the event channel, the broker).
struct Base {
    settings: Settings,
    store: Store,
    clock: SharedClock,
    keys: Keys,
    metrics: Metrics,
    shutdown: Shutdown,
    events: Events,
    broker: Arc<dyn Broker>,
}

impl Base {
    /// Builds every service with exactly its dependencies, lowest layer first, and the
    /// state that holds one handle of each.
    fn wire(self) -> AppState {
        let rooms = self.rooms();
        let matchmaker = self.matchmaker(&rooms);
        let accounts = Accounts::new(AccountDeps {
            store: self.store.clone(),
            clock: self.clock.clone(),
            keys: self.keys.clone(),
            refresh_ttl: self.settings.auth.refresh_ttl,
            min_age: self.settings.profile.min_age,
            matchmaker: matchmaker.clone(),
            rooms: rooms.clone(),
            events: self.events.clone(),
            metrics: self.metrics.clone(),
        });
        let profiles = Profiles::new(ProfileDeps {
            store: self.store.clone(),
            clock: self.clock.clone(),
            min_age: self.settings.profile.min_age,
            matchmaker: matchmaker.clone(),
        });
        let moderation = Moderation::new(ModerationDeps {
            store: self.store.clone(),
            clock: self.clock.clone(),
            settings: self.settings.moderation.clone(),
            report_window: self.settings.room.report_window,
            matchmaker: matchmaker.clone(),
            rooms: rooms.clone(),
            events: self.events.clone(),
        });
        let realtime = Realtime::new(RealtimeDeps {
            accounts: accounts.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            rooms: rooms.clone(),
            broker: self.broker.clone(),
            connections: Connections::default(),
            settings: self.settings.realtime.clone(),
            metrics: self.metrics.clone(),
            shutdown: self.shutdown.clone(),
        });
        AppState::new(Inner {
            limits: RateLimits::new(&self.settings.rate_limits),
            settings: self.settings,
            store: self.store,
            clock: self.clock,
            keys: self.keys,
            metrics: self.metrics,
            shutdown: self.shutdown,
            events: self.events,
            matchmaker,
            rooms,
            housekeeping: TaskStats::default(),
            accounts,
            profiles,
            moderation,
            realtime,
        })
    }

    /// The room owners and their lifecycle loop, with the message writer they share.
    fn rooms(&self) -> Rooms {
        // SQLite has one connection: one lane. PostgreSQL commits several batches side
        // by side, each on its own connection, leaving the rest of the pool to the API.
        let lanes = match self.store.kind() {
            DatabaseKind::Sqlite => 1,
            DatabaseKind::Postgres => {
                (self.settings.storage.database_max_connections / 2).clamp(1, 4) as usize
            }
        };
        let writer = MessageWriter::spawn(self.store.clone(), lanes, &self.shutdown);
        let deps = RoomDeps {
            store: self.store.clone(),
            clock: self.clock.clone(),
            settings: self.settings.room.clone(),
            call_timers: CallTimers {
                ring_timeout: self.settings.calls.call_ring_timeout,
                reconnect_grace: self.settings.calls.call_reconnect_grace,
            },
            max_message_chars: self.settings.realtime.max_message_chars as usize,
            writer,
            outbox: Arc::new(Fanout::new(self.broker.clone())),
            events: self.events.clone(),
            metrics: self.metrics.clone(),
        };
        Rooms::spawn(deps, &self.shutdown)
    }

    /// The matchmaker and its loop; a match opens its room through `rooms`.
    fn matchmaker(&self, rooms: &Rooms) -> Matchmaker {
        let deps = MatchDeps {
            store: self.store.clone(),
            clock: self.clock.clone(),
            settings: self.settings.matching.clone(),
            min_age: self.settings.profile.min_age,
            like_after: self.settings.room.like_after,
            rooms: rooms.clone(),
            events: self.events.clone(),
            metrics: self.metrics.clone(),
        };
        Matchmaker::spawn(deps, &self.shutdown)
    }
}

/// How long after an erasure the SQLite write-ahead log is truncated: erasures that
/// come together share one truncation, and every one is gone from disk within 10 s.
const WAL_TRUNCATION_DELAY: Duration = Duration::from_secs(2);

/// After each erasure (a room's messages, an account), truncates SQLite's
/// write-ahead log, which holds the page images of the erased rows until then. A
/// truncation that an outside reader blocks is tried again each second.
fn spawn_wal_truncation(state: &AppState) {
    if *state.store.kind() != DatabaseKind::Sqlite {
        return;
    }
    let (store, shutdown) = (state.store.clone(), state.shutdown.clone());
    state.shutdown.spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.requested() => break,
                _ = store.erasure_committed() => {}
            }
            // The truncation at shutdown (`Store::close`) covers a stop meanwhile.
            tokio::select! {
                _ = shutdown.requested() => break,
                _ = tokio::time::sleep(WAL_TRUNCATION_DELAY) => {}
            }
            loop {
                match store.truncate_wal().await {
                    Ok(true) => break,
                    Ok(false) => {
                        tracing::warn!("another reader holds the write-ahead log; truncating again in 1 s")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "truncating the write-ahead log failed; again in 1 s")
                    }
                }
                tokio::select! {
                    _ = shutdown.requested() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    });
}

/// Once a second, the counters the dashboard's activity series are made of.
fn spawn_activity_sampler(state: &AppState) {
    let (metrics, clock, shutdown) = (state.metrics.clone(), state.clock.clone(), state.shutdown.clone());
    state.shutdown.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.requested() => break,
                _ = tick.tick() => metrics.activity.sample(clock.now(), metrics.activity_counters()),
            }
        }
    });
}

/// Periodic clean-up: forget idle rate-limit keys, delete expired refresh tokens.
fn spawn_housekeeping(state: &AppState) {
    let state = state.clone();
    let shutdown = state.shutdown.clone();
    shutdown.spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.requested() => break,
                _ = tick.tick() => {
                    state.limits.forget_idle();
                    state.accounts.forget_old_failures();
                    if let Err(e) = state.moderation.purge_expired_evidence().await {
                        tracing::warn!(error = %e, "erasing expired report evidence failed");
                    }
                    let now = state.clock.now();
                    state.housekeeping.ran(now);
                    if let Err(e) = state.store.purge_expired_refresh_tokens(now).await {
                        tracing::warn!(error = %e, "purging expired refresh tokens failed");
                    }
                }
            }
        }
    });
}
