//! The state the HTTP edge's handlers share: one handle per service, built at start-up.

use std::ops::Deref;
use std::sync::Arc;

use super::ratelimit::RateLimits;
use crate::accounts::{Accounts, Profiles};
use crate::auth::Keys;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::events::Events;
use crate::matching::Matchmaker;
use crate::metrics::Metrics;
use crate::moderation::Moderation;
use crate::realtime::Realtime;
use crate::room::Rooms;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::tasks::TaskStats;

/// Every handle a request handler needs; cheap to clone. Built by
/// [`crate::app::App::build`]; handlers take the service they need from it.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub store: Store,
    pub clock: SharedClock,
    pub keys: Keys,
    pub metrics: Metrics,
    pub limits: RateLimits,
    pub shutdown: Shutdown,
    pub events: Events,
    pub matchmaker: Matchmaker,
    pub rooms: Rooms,
    pub housekeeping: TaskStats,
    pub accounts: Accounts,
    pub profiles: Profiles,
    pub moderation: Moderation,
    pub realtime: Realtime,
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
