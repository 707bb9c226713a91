//! Profiles: the vocabulary, validation of updates, the views the API returns, and
//! avatars (processing and who may see which variant).
//!
//! Who calls it: the `/user` and `/meta` handlers, matching (completeness) and rooms
//! (reveal levels for avatars). Storage goes through [`crate::store`].

pub mod avatar;
pub mod validate;
mod view;
pub mod vocabulary;

use crate::app::AppState;
use crate::auth::Role;
use crate::clock::Timestamp;
use crate::http::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::store::{AvatarVariant, UserRow};

pub use validate::ProfileUpdate;
pub use view::{avatar_url, missing_fields, partner_avatar_url, OwnProfile, SearchInfo, Status, StatusView};

pub fn own_profile(state: &AppState, user: &UserRow) -> OwnProfile {
    OwnProfile::from_row(user, &state.settings, state.clock.now())
}

pub async fn update_profile(
    state: &AppState,
    user: &UserRow,
    update: ProfileUpdate,
) -> Result<OwnProfile, ApiError> {
    let now = state.clock.now();
    let fields = validate::profile_update(&update, now.date(), state.settings.profile.min_age)?;
    let row = state
        .store
        .update_profile(user.user_id(), &fields, now)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    // A waiting search follows the new profile.
    state.matchmaker.refile(&row).await?;
    Ok(OwnProfile::from_row(&row, &state.settings, now))
}

/// Decodes, re-encodes and stores an uploaded avatar; returns the updated profile.
pub async fn upload_avatar(state: &AppState, user: &UserRow, bytes: Vec<u8>) -> Result<OwnProfile, ApiError> {
    let span = tracing::Span::current();
    let images = tokio::task::spawn_blocking(move || span.in_scope(|| avatar::process(&bytes)))
        .await?
        .map_err(|e| ApiError::new(ErrorCode::InvalidImage, e.to_string()))?;
    let now = state.clock.now();
    state.store.set_avatar(user.user_id(), &images, now).await?;
    let row = state.store.user(user.user_id()).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(OwnProfile::from_row(&row, &state.settings, now))
}

/// The variant of `owner`'s avatar that `viewer` may see: the owner and moderators
/// see it in full, the current partner at the room's reveal level; everyone else gets
/// 404, as if there were no avatar.
pub async fn avatar_for(
    state: &AppState,
    viewer: &UserRow,
    owner: UserId,
) -> Result<(Vec<u8>, i64, AvatarVariant), ApiError> {
    let variant = if viewer.user_id() == owner || Role::from_stored(&viewer.role) == Role::Admin {
        AvatarVariant::Full
    } else {
        let room = match viewer.current_room_id {
            Some(room_id) => state.store.room(room_id).await?,
            None => None,
        };
        match room.filter(|r| r.is_active() && r.partner_of(viewer.user_id()) == Some(owner)) {
            Some(room) => match room.reveal_level {
                0 => AvatarVariant::Blurred,
                1 => AvatarVariant::Semi,
                _ => AvatarVariant::Full,
            },
            None => return Err(ApiError::not_found("avatar")),
        }
    };
    let (bytes, version) =
        state.store.avatar(owner, variant).await?.ok_or_else(|| ApiError::not_found("avatar"))?;
    Ok((bytes, version, variant))
}

/// The caller's status: `connected` when in a room, `searching` when holding a
/// ticket, `idle` otherwise; `online` when a status socket of the user is open on
/// this instance.
pub async fn status(state: &AppState, user: &UserRow) -> Result<StatusView, ApiError> {
    let ticket = state.store.ticket(user.user_id()).await?;
    let status = match (user.current_room_id, &ticket) {
        (Some(_), _) => Status::Connected,
        (None, Some(_)) => Status::Searching,
        (None, None) => Status::Idle,
    };
    let search = ticket
        .filter(|_| status == Status::Searching)
        .map(|(kind, since)| SearchInfo { kind, since: Timestamp::from_millis(since).to_datetime() });
    let online = state.connections.is_online(user.user_id());
    Ok(StatusView { status, online, current_room_id: user.current_room_id, search })
}
