//! The profile use cases: reading and updating one's profile (a waiting search
//! follows the change), uploading an avatar, serving the avatar variant a viewer may
//! see, and the account status.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::cpu::CpuGate;
use crate::ids::UserId;
use crate::matching::{Matchmaker, SearchError};
use crate::profile::avatar::{self, AvatarError};
use crate::profile::{validate, OwnProfile, ProfileUpdate, StatusView};
use crate::store::{AvatarVariant, Store, StoreError, UserRow};
use crate::types::Role;
use crate::validation::FieldErrors;

/// Avatar decoding, a core's worth of uploads at a time (each may take ~100 MiB while
/// it decodes); an upload that waits longer than 10 s for its turn is refused as busy.
static DECODING: LazyLock<CpuGate> =
    LazyLock::new(|| CpuGate::per_core("image uploads", Duration::from_secs(10)));

/// Why a profile call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    #[error(transparent)]
    InvalidImage(#[from] AvatarError),
    /// The account is gone, or (avatars) there is none this viewer may see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Re-filing the waiting search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("image processing failed: {0}")]
    Processing(#[from] crate::cpu::CpuError),
}

crate::store::db_error_into!(ProfileError);

/// What profiles need, handed in at start-up.
pub struct ProfileDeps {
    pub store: Store,
    pub clock: SharedClock,
    /// Youngest age that may search (`--min-age`).
    pub min_age: u32,
    /// A waiting search is re-filed when the profile changes.
    pub matchmaker: Matchmaker,
}

/// The profile use cases; a cheap handle.
#[derive(Clone)]
pub struct Profiles(Arc<ProfileDeps>);

impl Profiles {
    pub fn new(deps: ProfileDeps) -> Profiles {
        Profiles(Arc::new(deps))
    }

    pub fn own(&self, user: &UserRow) -> OwnProfile {
        OwnProfile::from_row(user, self.0.min_age, self.0.clock.now())
    }

    pub async fn update(&self, user: &UserRow, update: ProfileUpdate) -> Result<OwnProfile, ProfileError> {
        let now = self.0.clock.now();
        let fields = validate::profile_update(&update, now.date(), self.0.min_age)?;
        let row = self
            .0
            .store
            .update_profile(user.user_id(), &fields, now)
            .await?
            .ok_or(ProfileError::NotFound("user"))?;
        // A waiting search follows the new profile.
        self.0.matchmaker.refile(&row).await?;
        Ok(OwnProfile::from_row(&row, self.0.min_age, now))
    }

    /// Decodes, re-encodes and stores an uploaded avatar; returns the updated profile.
    pub async fn upload_avatar(&self, user: &UserRow, bytes: Vec<u8>) -> Result<OwnProfile, ProfileError> {
        let images = DECODING.run(move || avatar::process(&bytes)).await??;
        let now = self.0.clock.now();
        self.0.store.set_avatar(user.user_id(), &images, now).await?;
        let row = self.0.store.user(user.user_id()).await?.ok_or(ProfileError::NotFound("user"))?;
        Ok(OwnProfile::from_row(&row, self.0.min_age, now))
    }

    /// The variant of `owner`'s avatar that `viewer` may see: the owner and moderators
    /// see it in full, the current partner at the room's reveal level; everyone else
    /// gets `NotFound`, as if there were no avatar.
    pub async fn avatar_for(
        &self,
        viewer: &UserRow,
        owner: UserId,
    ) -> Result<(Vec<u8>, i64, AvatarVariant), ProfileError> {
        let variant = if viewer.user_id() == owner || Role::from_stored(&viewer.role) == Role::Admin {
            AvatarVariant::Full
        } else {
            let room = match viewer.current_room_id {
                Some(room_id) => self.0.store.room(room_id).await?,
                None => None,
            };
            match room.filter(|r| r.is_active() && r.partner_of(viewer.user_id()) == Some(owner)) {
                Some(room) => match room.reveal_level {
                    0 => AvatarVariant::Blurred,
                    1 => AvatarVariant::Semi,
                    _ => AvatarVariant::Full,
                },
                None => return Err(ProfileError::NotFound("avatar")),
            }
        };
        let (bytes, version) =
            self.0.store.avatar(owner, variant).await?.ok_or(ProfileError::NotFound("avatar"))?;
        Ok((bytes, version, variant))
    }

    /// The user's status; `online` is whether a status socket of theirs is open, which
    /// the real-time layer knows.
    pub async fn status(&self, user: &UserRow, online: bool) -> Result<StatusView, ProfileError> {
        let ticket = self.0.store.ticket(user.user_id()).await?;
        Ok(StatusView::new(user, ticket, online))
    }
}
