//! The fixed vocabulary of profiles: genders, needs and interests, each with a stable
//! id and labels in Vietnamese and English. Ids are what the API stores and returns;
//! the Vietnamese gender words of the original product are accepted on input as
//! aliases (in any Unicode normal form and letter case).

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

/// One vocabulary entry.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct Term {
    #[schema(example = "coffee")]
    pub id: &'static str,
    #[schema(example = "Cà phê")]
    pub vi: &'static str,
    #[schema(example = "Coffee")]
    pub en: &'static str,
}

const fn term(id: &'static str, vi: &'static str, en: &'static str) -> Term {
    Term { id, vi, en }
}

pub const GENDERS: &[Term] =
    &[term("male", "Nam", "Male"), term("female", "Nữ", "Female"), term("other", "Khác", "Other")];

/// The preference that accepts every gender; it stands alone in `preferred_gender`.
pub const ANY: Term = term("any", "Tất cả", "Anyone");

pub const NEEDS: &[Term] = &[
    term("casual", "Nhẹ nhàng vui vẻ", "Something light and fun"),
    term("serious", "Nghiêm túc", "Something serious"),
    term("exploring", "Khám phá", "Exploring"),
    term("marriage", "Kết hôn", "Marriage"),
    term("long_term", "Bạn đời lâu dài", "A long-term partner"),
    term("open", "Mối quan hệ mở", "An open relationship"),
    term("friends", "Kết bạn mới", "New friends"),
];

pub const INTERESTS: &[Term] = &[
    term("gym", "Tập gym", "Gym"),
    term("dance", "Nhảy múa", "Dance"),
    term("photo", "Chụp ảnh", "Photography"),
    term("coffee", "Cà phê", "Coffee"),
    term("travel", "Du lịch", "Travel"),
    term("games", "Chơi game", "Games"),
    term("reading", "Đọc sách", "Reading"),
    term("music", "Âm nhạc", "Music"),
    term("volunteering", "Tình nguyện", "Volunteering"),
    term("film", "Xem phim", "Film"),
    term("hiking", "Leo núi", "Hiking"),
    term("art", "Nghệ thuật", "Art"),
    term("food", "Ẩm thực", "Food"),
    term("spirituality", "Tâm linh", "Spirituality"),
    term("fashion", "Thời trang", "Fashion"),
];

/// The whole vocabulary, as served by `GET /meta/vocabulary`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Vocabulary {
    pub genders: &'static [Term],
    /// Choices for `preferred_gender`: the genders, or `any` alone.
    pub preferred_genders: Vec<Term>,
    pub needs: &'static [Term],
    pub interests: &'static [Term],
}

pub fn vocabulary() -> Vocabulary {
    let mut preferred_genders = GENDERS.to_vec();
    preferred_genders.push(ANY);
    Vocabulary { genders: GENDERS, preferred_genders, needs: NEEDS, interests: INTERESTS }
}

fn fold(text: &str) -> String {
    text.trim().nfc().collect::<String>().to_lowercase()
}

/// The id of a gender given by id or Vietnamese alias.
pub fn gender(input: &str) -> Option<&'static str> {
    let folded = fold(input);
    GENDERS.iter().find(|t| t.id == folded || fold(t.vi) == folded).map(|t| t.id)
}

/// A gender or `any`, by id or Vietnamese alias (`Tất cả`).
pub fn preferred_gender(input: &str) -> Option<&'static str> {
    let folded = fold(input);
    if folded == ANY.id || folded == fold(ANY.vi) {
        return Some(ANY.id);
    }
    gender(input)
}

pub fn need(input: &str) -> Option<&'static str> {
    let folded = fold(input);
    NEEDS.iter().find(|t| t.id == folded).map(|t| t.id)
}

pub fn interest(input: &str) -> Option<&'static str> {
    let folded = fold(input);
    INTERESTS.iter().find(|t| t.id == folded).map(|t| t.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_aliases_in_any_normal_form() {
        assert_eq!(gender("Nam"), Some("male"));
        assert_eq!(gender("Nữ"), Some("female"));
        // "Nữ" decomposed (NFD), as some keyboards send it.
        assert_eq!(gender("Nu\u{31b}\u{303}"), Some("female"));
        assert_eq!(gender("khác"), Some("other"));
        assert_eq!(gender("FEMALE"), Some("female"));
        assert_eq!(preferred_gender("Tất cả"), Some("any"));
        assert_eq!(gender("Tất cả"), None);
        assert_eq!(gender("robot"), None);
    }

    #[test]
    fn spec_vocabulary_is_complete() {
        assert_eq!(NEEDS.len(), 7);
        assert_eq!(INTERESTS.len(), 15);
        assert_eq!(need("long_term"), Some("long_term"));
        assert_eq!(interest("spirituality"), Some("spirituality"));
        assert_eq!(interest("knitting"), None);
    }
}
