//! Validation of profile updates: every rule of a profile field, applied to a partial
//! update, with every failing field reported at once.

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use utoipa::ToSchema;

use super::vocabulary;
use crate::store::ProfileFields;
use crate::validation::{FieldError, FieldErrors};

pub const NICKNAME_MAX_CHARS: usize = 32;
pub const MAX_INTERESTS: usize = 5;
/// Oldest plausible age; a birth date further back is a typing error.
const MAX_AGE: i32 = 120;

/// A partial profile update: fields left out stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 1–32 characters shown to partners; no control characters.
    #[schema(example = "Linh")]
    pub nickname: Option<String>,
    /// Birth date, `YYYY-MM-DD`; at least the minimum age on the server's date.
    #[schema(example = "1999-04-30")]
    pub dob: Option<String>,
    /// `male`, `female`, `other` (or `Nam`, `Nữ`, `Khác`).
    #[schema(example = "female")]
    pub gender: Option<String>,
    /// Non-empty subset of the genders, or `["any"]` (`Tất cả`).
    #[schema(example = json!(["male"]))]
    pub preferred_gender: Option<Vec<String>>,
    /// At least one need id from `/meta/vocabulary`.
    #[schema(example = json!(["friends", "casual"]))]
    pub needs: Option<Vec<String>>,
    /// One to five interest ids from `/meta/vocabulary`.
    #[schema(example = json!(["coffee", "travel"]))]
    pub interests: Option<Vec<String>>,
}

/// Checks `update` against the rules; `today` is the server's date.
pub fn profile_update(
    update: &ProfileUpdate,
    today: NaiveDate,
    min_age: u32,
) -> Result<ProfileFields, FieldErrors> {
    let mut errors = Vec::new();
    let mut fields = ProfileFields::default();

    if let Some(nickname) = &update.nickname {
        match self::nickname(nickname) {
            Ok(n) => fields.nickname = Some(n),
            Err(message) => errors.push(FieldError::new("nickname", message)),
        }
    }
    if let Some(dob) = &update.dob {
        match dob_rule(dob, today, min_age) {
            Ok(d) => fields.dob = Some(d.format("%Y-%m-%d").to_string()),
            Err(message) => errors.push(FieldError::new("dob", message)),
        }
    }
    if let Some(gender) = &update.gender {
        match vocabulary::gender(gender) {
            Some(id) => fields.gender = Some(id.to_owned()),
            None => errors.push(FieldError::new(
                "gender",
                format!("unknown gender `{gender}`; use male, female or other"),
            )),
        }
    }
    if let Some(list) = &update.preferred_gender {
        match list_rule(list, vocabulary::preferred_gender, "gender", 1, usize::MAX) {
            Ok(ids) if ids.len() > 1 && ids.contains(&"any") => errors
                .push(FieldError::new("preferred_gender", "`any` cannot be combined with other genders")),
            Ok(ids) => fields.preferred_gender = Some(ids.join(",")),
            Err(message) => errors.push(FieldError::new("preferred_gender", message)),
        }
    }
    if let Some(list) = &update.needs {
        match list_rule(list, vocabulary::need, "need", 1, usize::MAX) {
            Ok(ids) => fields.needs = Some(ids.join(",")),
            Err(message) => errors.push(FieldError::new("needs", message)),
        }
    }
    if let Some(list) = &update.interests {
        match list_rule(list, vocabulary::interest, "interest", 1, MAX_INTERESTS) {
            Ok(ids) => fields.interests = Some(ids.join(",")),
            Err(message) => errors.push(FieldError::new("interests", message)),
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(FieldErrors(errors))
    }
}

/// Trims a nickname and checks it: 1–32 characters, no control or direction marks.
pub fn nickname(nickname: &str) -> Result<String, String> {
    let trimmed = nickname.trim();
    let len = trimmed.chars().count();
    if len == 0 {
        return Err("must not be empty".into());
    }
    if len > NICKNAME_MAX_CHARS {
        return Err(format!("must be at most {NICKNAME_MAX_CHARS} characters"));
    }
    if trimmed.chars().any(|c| c.is_control() || matches!(c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')) {
        return Err("must not contain control or direction characters".into());
    }
    Ok(trimmed.to_owned())
}

fn dob_rule(dob: &str, today: NaiveDate, min_age: u32) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(dob.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{dob}` is not a date written YYYY-MM-DD"))?;
    let age = age_on(date, today);
    if date > today {
        return Err("is in the future".into());
    }
    if age < i32::try_from(min_age).unwrap_or(i32::MAX) {
        return Err(format!("you must be at least {min_age} years old"));
    }
    if age > MAX_AGE {
        return Err(format!("is more than {MAX_AGE} years ago"));
    }
    Ok(date)
}

/// Full years between `dob` and `today`.
pub fn age_on(dob: NaiveDate, today: NaiveDate) -> i32 {
    let had_birthday = (today.month(), today.day()) >= (dob.month(), dob.day());
    today.year() - dob.year() - i32::from(!had_birthday)
}

/// Resolves every item, drops repeats (keeping first-seen order) and checks the count.
fn list_rule(
    items: &[String],
    resolve: fn(&str) -> Option<&'static str>,
    what: &str,
    min: usize,
    max: usize,
) -> Result<Vec<&'static str>, String> {
    let mut ids: Vec<&'static str> = Vec::with_capacity(items.len());
    for item in items {
        let id = resolve(item).ok_or_else(|| format!("unknown {what} `{item}`"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() < min {
        return Err(format!("choose at least {min}"));
    }
    if ids.len() > max {
        return Err(format!("choose at most {max}"));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn check(update: ProfileUpdate) -> Result<ProfileFields, Vec<String>> {
        profile_update(&update, today(), 18).map_err(|e| e.0.into_iter().map(|f| f.field).collect())
    }

    #[test]
    fn a_full_valid_update_is_encoded() {
        let fields = check(ProfileUpdate {
            nickname: Some("  Linh ".into()),
            dob: Some("2000-01-31".into()),
            gender: Some("Nữ".into()),
            preferred_gender: Some(vec!["Nam".into(), "male".into(), "other".into()]),
            needs: Some(vec!["friends".into()]),
            interests: Some(vec!["coffee".into(), "travel".into()]),
        })
        .unwrap();
        assert_eq!(fields.nickname.as_deref(), Some("Linh"));
        assert_eq!(fields.gender.as_deref(), Some("female"));
        assert_eq!(fields.preferred_gender.as_deref(), Some("male,other"));
        assert_eq!(fields.interests.as_deref(), Some("coffee,travel"));
    }

    #[test]
    fn age_is_counted_on_the_server_date() {
        assert!(check(ProfileUpdate { dob: Some("2008-11-24".into()), ..Default::default() }).is_ok());
        assert_eq!(
            check(ProfileUpdate { dob: Some("2008-11-25".into()), ..Default::default() }).unwrap_err(),
            ["dob"]
        );
        assert!(check(ProfileUpdate { dob: Some("2030-01-01".into()), ..Default::default() }).is_err());
        assert!(check(ProfileUpdate { dob: Some("24/11/2000".into()), ..Default::default() }).is_err());
        assert_eq!(
            age_on(
                NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(),
                NaiveDate::from_ymd_opt(2018, 2, 28).unwrap()
            ),
            17
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        let errors = check(ProfileUpdate {
            nickname: Some("   ".into()),
            dob: None,
            gender: Some("robot".into()),
            preferred_gender: Some(vec!["any".into(), "male".into()]),
            needs: Some(vec![]),
            interests: Some(
                vec!["gym", "dance", "photo", "coffee", "travel", "games"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ),
        })
        .unwrap_err();
        assert_eq!(errors, ["nickname", "gender", "preferred_gender", "needs", "interests"]);
        assert_eq!(
            check(ProfileUpdate { preferred_gender: Some(vec![]), ..Default::default() }).unwrap_err(),
            ["preferred_gender"]
        );
        assert_eq!(
            check(ProfileUpdate { nickname: Some("x".repeat(33)), ..Default::default() }).unwrap_err(),
            ["nickname"]
        );
        assert_eq!(
            check(ProfileUpdate { nickname: Some("a\u{202E}b".into()), ..Default::default() }).unwrap_err(),
            ["nickname"]
        );
        assert_eq!(
            check(ProfileUpdate { interests: Some(vec!["knitting".into()]), ..Default::default() })
                .unwrap_err(),
            ["interests"]
        );
    }

    #[test]
    fn emoji_built_with_joiners_are_fine_in_nicknames() {
        assert_eq!(nickname(" 👩\u{200D}💻 Linh ").unwrap(), "👩\u{200D}💻 Linh");
        assert!(nickname("a\u{200B}b").is_err(), "zero-width space");
    }

    #[test]
    fn repeats_do_not_count_twice() {
        let fields = check(ProfileUpdate {
            interests: Some(
                vec!["gym", "gym", "dance", "photo", "coffee", "travel"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(fields.interests.as_deref(), Some("gym,dance,photo,coffee,travel"));
    }
}
