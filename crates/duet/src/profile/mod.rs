//! Profiles' pure parts: the vocabulary, validation of updates, the views the API
//! returns, and avatar processing.
//!
//! Who calls it: the profile use cases (`accounts::Profiles`), the `/meta`
//! handlers, matching (completeness, the vocabulary as bit positions) and rooms (the
//! partner's age and avatar URL).

pub mod avatar;
pub mod validate;
mod view;
pub mod vocabulary;

pub use validate::ProfileUpdate;
pub use view::{missing_fields, partner_avatar_url, OwnProfile, SearchInfo, Status, StatusView};
