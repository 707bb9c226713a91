//! `/meta`: facts about the service clients need to build their forms (the vocabulary
//! and the limits, as this server is configured) and the public count of people online
//! that the first screen shows.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::AppJson;
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::auth::validate;
use crate::moderation::{ReportReason, MAX_DETAILS_CHARS};
use crate::profile::validate as profile_rules;
use crate::profile::vocabulary::{self, Vocabulary};
use crate::realtime::protocol::{MAX_SIGNAL_BYTES, SIGNAL_BURST, SIGNAL_RATE};

pub fn routes(state: &AppState) -> Routes {
    limited(
        state,
        LimitClass::Default,
        OpenApiRouter::new()
            .routes(routes!(get_vocabulary))
            .routes(routes!(get_limits))
            .routes(routes!(get_online)),
    )
}

/// The limits a client checks before it sends, as this server is configured: forms and
/// the composer read them here instead of copying the server's numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Limits {
    /// Longest chat message, in characters after trimming (`--max-message-chars`).
    pub message_max_chars: u32,
    /// Chat frames a socket may send per second (`--msg-rate`), after a burst of
    /// `chat_burst` (`--msg-burst`).
    pub chat_rate_per_sec: u32,
    pub chat_burst: u32,
    pub username_min_chars: usize,
    pub username_max_chars: usize,
    pub password_min_chars: usize,
    pub password_max_chars: usize,
    pub nickname_max_chars: usize,
    /// Most interests in a profile.
    pub interests_max: usize,
    /// Largest avatar upload, in bytes (`--max-avatar-bytes`).
    pub avatar_max_bytes: u64,
    /// Youngest age that may search (`--min-age`).
    pub min_age: u32,
    /// Seconds from a room's start (or the previous round) to a like round
    /// (`--like-after`), and to answer one (`--like-answer-window`).
    pub like_after_secs: u64,
    pub like_answer_window_secs: u64,
    /// The reasons a report may give, and the longest note it may add.
    pub report_reasons: Vec<ReportReason>,
    pub report_details_max_chars: usize,
    /// Seconds after a room's end during which a participant may still report the
    /// partner (`--report-window`).
    pub report_window_secs: u64,
    /// `rtc_signal` frames a socket may send per second, after a burst of
    /// `signal_burst`: a budget apart from the chat rate.
    pub signal_rate_per_sec: u32,
    pub signal_burst: u32,
    /// Largest `rtc_signal` payload, in bytes of JSON.
    pub signal_max_bytes: usize,
    /// Seconds a call rings before it is missed (`--call-ring-timeout`), and a
    /// participant may stay disconnected during a call (`--call-reconnect-grace`).
    pub call_ring_timeout_secs: u64,
    pub call_reconnect_grace_secs: u64,
}

/// The limits of this server's forms, messages and like rounds.
#[utoipa::path(get, path = "/meta/limits", tag = "meta",
    responses(
        (status = 200, description = "The limits", body = Limits),
    ))]
async fn get_limits(State(state): State<AppState>) -> AppJson<Limits> {
    let s = &state.settings;
    AppJson(Limits {
        message_max_chars: s.realtime.max_message_chars,
        chat_rate_per_sec: s.realtime.msg_rate,
        chat_burst: s.realtime.msg_burst,
        username_min_chars: validate::USERNAME_MIN_CHARS,
        username_max_chars: validate::USERNAME_MAX_CHARS,
        password_min_chars: validate::PASSWORD_MIN_CHARS,
        password_max_chars: validate::PASSWORD_MAX_CHARS,
        nickname_max_chars: profile_rules::NICKNAME_MAX_CHARS,
        interests_max: profile_rules::MAX_INTERESTS,
        avatar_max_bytes: s.profile.max_avatar_bytes,
        min_age: s.profile.min_age,
        like_after_secs: s.room.like_after.as_secs(),
        like_answer_window_secs: s.room.like_answer_window.as_secs(),
        report_reasons: ReportReason::ALL.to_vec(),
        report_details_max_chars: MAX_DETAILS_CHARS,
        report_window_secs: s.room.report_window.as_secs(),
        signal_rate_per_sec: SIGNAL_RATE,
        signal_burst: SIGNAL_BURST,
        signal_max_bytes: MAX_SIGNAL_BYTES,
        call_ring_timeout_secs: s.calls.call_ring_timeout.as_secs(),
        call_reconnect_grace_secs: s.calls.call_reconnect_grace.as_secs(),
    })
}

/// Genders, needs and interests with their ids and Vietnamese and English labels.
#[utoipa::path(get, path = "/meta/vocabulary", tag = "meta",
    responses(
        (status = 200, description = "The vocabulary", body = Vocabulary),
    ))]
async fn get_vocabulary() -> AppJson<Vocabulary> {
    AppJson(vocabulary::vocabulary())
}

/// How long the public count of people online is served before it is taken again.
pub const ONLINE_MAX_AGE: Duration = Duration::from_secs(10);

/// How many people are here now, for the first screen.
#[derive(Debug, Serialize, ToSchema)]
pub struct Online {
    /// People with the app open (a status or chat socket) on this server.
    pub online: u64,
    /// When the count was taken; it is taken again at most every 10 seconds.
    pub counted_at: chrono::DateTime<chrono::Utc>,
}

/// The number of people online: public (no token), counted at most every 10 seconds
/// and rate-limited per address like every `/meta` call.
#[utoipa::path(get, path = "/meta/online", tag = "meta",
    responses(
        (status = 200, description = "The count, cacheable for 10 seconds", body = Online),
    ))]
async fn get_online(State(state): State<AppState>) -> impl IntoResponse {
    let (online, at) = state.realtime.connections.online_users_cached(state.clock.now(), ONLINE_MAX_AGE);
    let cache = HeaderValue::from_str(&format!("public, max-age={}", ONLINE_MAX_AGE.as_secs()))
        .expect("a valid header value");
    (
        [(header::CACHE_CONTROL, cache)],
        AppJson(Online { online: online as u64, counted_at: at.to_datetime() }),
    )
}
