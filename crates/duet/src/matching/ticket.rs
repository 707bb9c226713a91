//! Search tickets as the matcher sees them: a user's type, gender, accepted genders,
//! and needs and interests as bitsets, so compatibility and scoring are a few bit
//! operations.

use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::profile::vocabulary::{GENDERS, INTERESTS, NEEDS};
pub use crate::types::ChatKind;

/// A gender as its index in the vocabulary (0 male, 1 female, 2 other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gender(pub u8);

/// A set of genders, one bit each; "any" is all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenderSet(pub u8);

pub const GENDER_COUNT: usize = 3;

impl GenderSet {
    pub const ANY: GenderSet = GenderSet((1 << GENDER_COUNT) - 1);

    pub fn contains(self, g: Gender) -> bool {
        self.0 & (1 << g.0) != 0
    }
}

/// One waiting search. `avoid` lists users this one must not meet (recent partners
/// within the rematch cooldown, and anyone reported by or reporting this user),
/// sorted so lookups are binary searches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub user: UserId,
    pub kind: ChatKind,
    pub gender: Gender,
    pub accepts: GenderSet,
    pub needs: u32,
    pub interests: u32,
    pub enqueued_at: Timestamp,
    pub avoid: Vec<UserId>,
}

impl Ticket {
    /// Whether the pair must never be matched now (cooldown or reports).
    pub fn avoids(&self, other: &Ticket) -> bool {
        self.avoid.binary_search(&other.user).is_ok() || other.avoid.binary_search(&self.user).is_ok()
    }

    /// Mutual gender acceptance and the same type.
    pub fn compatible(&self, other: &Ticket) -> bool {
        self.kind == other.kind && self.accepts.contains(other.gender) && other.accepts.contains(self.gender)
    }
}

/// SPEC 4: 10 per common need, 2 per common interest.
pub fn score(a: &Ticket, b: &Ticket) -> u32 {
    10 * (a.needs & b.needs).count_ones() + 2 * (a.interests & b.interests).count_ones()
}

fn index_of(list: &[crate::profile::vocabulary::Term], id: &str) -> Option<usize> {
    list.iter().position(|t| t.id == id)
}

pub fn gender_of(id: &str) -> Option<Gender> {
    index_of(GENDERS, id).map(|i| Gender(i as u8))
}

/// The set of accepted genders from stored ids (`any` is every gender).
pub fn gender_set(ids: &[&str]) -> GenderSet {
    ids.iter().fold(GenderSet(0), |set, id| {
        if *id == "any" {
            GenderSet::ANY
        } else {
            match gender_of(id) {
                Some(g) => GenderSet(set.0 | (1 << g.0)),
                None => set,
            }
        }
    })
}

pub fn need_bits(ids: &[&str]) -> u32 {
    ids.iter().filter_map(|id| index_of(NEEDS, id)).fold(0, |bits, i| bits | (1 << i))
}

pub fn interest_bits(ids: &[&str]) -> u32 {
    ids.iter().filter_map(|id| index_of(INTERESTS, id)).fold(0, |bits, i| bits | (1 << i))
}

/// The interest ids set in `bits`, in vocabulary order.
pub fn interest_ids(bits: u32) -> Vec<&'static str> {
    INTERESTS.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, t)| t.id).collect()
}

const _: () = assert!(NEEDS.len() <= 32 && INTERESTS.len() <= 32 && GENDERS.len() == GENDER_COUNT);
