//! What the API shows of a user: the owner's own profile, and the account status.
//! (The partner view, which hides username, email and dob, comes with rooms.)

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::validate::age_on;
use crate::clock::Timestamp;
use crate::ids::RoomId;
use crate::store::{list_ids, UserRow};
use crate::types::Role;

/// The caller's own account and profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnProfile {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub role: Role,
    pub nickname: Option<String>,
    /// `YYYY-MM-DD`.
    pub dob: Option<String>,
    /// Full years on the server's date.
    pub age: Option<i32>,
    pub gender: Option<String>,
    pub preferred_gender: Vec<String>,
    pub needs: Vec<String>,
    pub interests: Vec<String>,
    /// Where the avatar is served, if there is one.
    pub avatar_url: Option<String>,
    /// True when the profile may search.
    pub profile_complete: bool,
    /// What is missing or invalid for the profile to be complete.
    pub missing: Vec<&'static str>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl OwnProfile {
    /// `min_age` is the youngest age that may search (`--min-age`).
    pub fn from_row(row: &UserRow, min_age: u32, now: Timestamp) -> Self {
        let missing = missing_fields(row, min_age, now);
        OwnProfile {
            id: row.id,
            username: row.username.clone(),
            email: row.email.clone(),
            role: Role::from_stored(&row.role),
            nickname: row.nickname.clone(),
            dob: row.dob.clone(),
            age: dob(row).map(|d| age_on(d, now.date())),
            gender: row.gender.clone(),
            preferred_gender: split(&row.preferred_gender),
            needs: split(&row.needs),
            interests: split(&row.interests),
            avatar_url: avatar_url(row),
            profile_complete: missing.is_empty(),
            missing,
            created_at: Timestamp::from_millis(row.created_at).to_datetime(),
        }
    }
}

/// The URL of a user's avatar, versioned so a new upload is fetched anew.
pub fn avatar_url(row: &UserRow) -> Option<String> {
    row.avatar_version.map(|v| format!("/user/avatar/{}?v={v}", row.id))
}

/// The URL of a partner's avatar at a room's reveal level: a new level is a new URL,
/// so a cached picture never shows more or less than the level allows.
pub fn partner_avatar_url(partner: &UserRow, reveal_level: i64) -> Option<String> {
    partner.avatar_version.map(|v| format!("/user/avatar/{}?v={v}-{reveal_level}", partner.id))
}

/// The fields that keep a profile from being complete (SPEC: dob, gender, preferred
/// gender, needs and interests set, and old enough on the server's date).
pub fn missing_fields(row: &UserRow, min_age: u32, now: Timestamp) -> Vec<&'static str> {
    let mut missing = Vec::new();
    match dob(row) {
        None => missing.push("dob"),
        Some(d) if age_on(d, now.date()) < i32::try_from(min_age).unwrap_or(i32::MAX) => missing.push("dob"),
        Some(_) => {}
    }
    if row.gender.is_none() {
        missing.push("gender");
    }
    if split(&row.preferred_gender).is_empty() {
        missing.push("preferred_gender");
    }
    if split(&row.needs).is_empty() {
        missing.push("needs");
    }
    if split(&row.interests).is_empty() {
        missing.push("interests");
    }
    missing
}

fn dob(row: &UserRow) -> Option<NaiveDate> {
    row.dob.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

fn split(list: &Option<String>) -> Vec<String> {
    list_ids(list).into_iter().map(str::to_owned).collect()
}

/// `idle`, `searching` or `connected`, derived from the user's ticket and room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Idle,
    Searching,
    Connected,
}

/// The caller's live state.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    pub status: Status,
    /// Whether the user has a status socket open (the real-time layer reports it).
    pub online: bool,
    pub current_room_id: Option<RoomId>,
    /// Present while searching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchInfo>,
}

impl StatusView {
    /// The status of `user`: `connected` when in a room, `searching` when holding a
    /// `ticket` (its kind and since when), `idle` otherwise.
    pub fn new(user: &UserRow, ticket: Option<(String, i64)>, online: bool) -> StatusView {
        let status = match (user.current_room_id, &ticket) {
            (Some(_), _) => Status::Connected,
            (None, Some(_)) => Status::Searching,
            (None, None) => Status::Idle,
        };
        let search = ticket
            .filter(|_| status == Status::Searching)
            .map(|(kind, since)| SearchInfo { kind, since: Timestamp::from_millis(since).to_datetime() });
        StatusView { status, online, current_room_id: user.current_room_id, search }
    }
}

/// The running search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchInfo {
    /// `chat` or `voice`.
    #[serde(rename = "type")]
    pub kind: String,
    pub since: chrono::DateTime<chrono::Utc>,
}
