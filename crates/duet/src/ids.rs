//! Identifier newtypes shared across modules, so a user id is never passed where a
//! room id belongs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// A room's id.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct RoomId(pub i64);

/// A message's place in its room: 1, 2, 3… with no gap among stored messages (the
/// store numbers them as it commits them; see docs/protocol.md). 0 is "before the first".
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct Seq(pub i64);

impl Seq {
    /// Before the room's first message.
    pub const ZERO: Seq = Seq(0);

    /// The sequence number after this one.
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

/// A stored message's id.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct MessageId(pub i64);

/// Each shows as its number (in logs, paths and messages).
macro_rules! display_as_number {
    ($($id:ident),+) => {
        $(impl std::fmt::Display for $id {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        })+
    };
}

display_as_number!(UserId, RoomId, Seq, MessageId);
