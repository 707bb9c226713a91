//! Identifier newtypes shared across modules, so a user id is never passed where a
//! room id belongs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
