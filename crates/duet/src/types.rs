//! Value types every layer shares: who an account is ([`Role`]), what a search is for
//! ([`ChatKind`]), how a like round and a room end ([`LikeOutcome`], [`EndReason`]).
//! They depend on nothing else in the crate, so the store, the pure cores, the
//! services and the edges can all name them without importing one another.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an account may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn from_stored(text: &str) -> Role {
        if text == "admin" {
            Role::Admin
        } else {
            Role::User
        }
    }
}

/// What the two people want to do: text chat or a voice call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Chat,
    Voice,
}

impl ChatKind {
    pub const ALL: [ChatKind; 2] = [ChatKind::Chat, ChatKind::Voice];

    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Chat => "chat",
            ChatKind::Voice => "voice",
        }
    }

    pub fn parse(text: &str) -> Option<ChatKind> {
        match text {
            "chat" => Some(ChatKind::Chat),
            "voice" => Some(ChatKind::Voice),
            _ => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a room ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    EndedByUser,
    Admin,
    Banned,
    AccountDeleted,
    NoMutualLike,
    Inactive,
    Expired,
    Abandoned,
}

impl EndReason {
    pub const ALL: [EndReason; 8] = [
        EndReason::EndedByUser,
        EndReason::Admin,
        EndReason::Banned,
        EndReason::AccountDeleted,
        EndReason::NoMutualLike,
        EndReason::Inactive,
        EndReason::Expired,
        EndReason::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::EndedByUser => "ended_by_user",
            EndReason::Admin => "admin",
            EndReason::Banned => "banned",
            EndReason::AccountDeleted => "account_deleted",
            EndReason::NoMutualLike => "no_mutual_like",
            EndReason::Inactive => "inactive",
            EndReason::Expired => "expired",
            EndReason::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The outcome of a like round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LikeOutcome {
    Mutual,
    NoMatch,
}
