//! The `PUT /user/profile` body: deserialised as the JSON extractor does, then checked
//! by `profile_update` on a server date and minimum age taken from the input's first
//! three bytes. Never panics, and what it accepts is within the documented limits
//! (`ProfileUpdate`'s field docs): a nickname of 1–32 characters, trimmed, without
//! control characters; a `YYYY-MM-DD` birth date not in the future, between the minimum
//! age and 120 years back; vocabulary ids only, each once, `any` alone, one to five
//! interests; only the fields sent are set. A refusal names only fields that were sent,
//! each once.
#![no_main]

use chrono::{Days, NaiveDate};
use duet::fuzzing::{
    age_on, profile_update, ProfileUpdate, ANY, GENDERS, INTERESTS, MAX_INTERESTS, NEEDS, NICKNAME_MAX_CHARS,
};
use libfuzzer_sys::fuzz_target;

fn ids(list: &str, allowed: &[&str], max: usize) {
    let ids: Vec<&str> = list.split(',').collect();
    assert!(!ids.is_empty() && ids.len() <= max, "{list}");
    for (i, id) in ids.iter().enumerate() {
        assert!(allowed.contains(id), "{id} in {list}");
        assert!(!ids[..i].contains(id), "{id} twice in {list}");
    }
}

fuzz_target!(|data: &[u8]| {
    let [min_age, d0, d1, body @ ..] = data else {
        return;
    };
    let min_age = u32::from(*min_age % 100);
    // 2000-01-01 plus up to 179 years.
    let today =
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + Days::new(u64::from(u16::from_le_bytes([*d0, *d1])));
    let Ok(update) = serde_json::from_slice::<ProfileUpdate>(body) else {
        return;
    };
    match profile_update(&update, today, min_age) {
        Ok(fields) => {
            assert_eq!(fields.nickname.is_some(), update.nickname.is_some());
            if let Some(nickname) = &fields.nickname {
                let len = nickname.chars().count();
                assert!((1..=NICKNAME_MAX_CHARS).contains(&len), "{nickname:?}");
                assert_eq!(nickname, nickname.trim());
                assert_eq!(nickname, update.nickname.as_deref().unwrap().trim());
                assert!(!nickname.chars().any(char::is_control), "{nickname:?}");
            }
            assert_eq!(fields.dob.is_some(), update.dob.is_some());
            if let Some(dob) = &fields.dob {
                let date = NaiveDate::parse_from_str(dob, "%Y-%m-%d").unwrap();
                assert_eq!(date.format("%Y-%m-%d").to_string(), *dob);
                let age = age_on(date, today);
                assert!(
                    date <= today && age >= min_age as i32 && age <= 120,
                    "{dob} on {today}, min {min_age}"
                );
            }
            let genders: Vec<&str> = GENDERS.iter().map(|t| t.id).collect();
            assert_eq!(fields.gender.is_some(), update.gender.is_some());
            if let Some(gender) = &fields.gender {
                assert!(genders.contains(&gender.as_str()), "{gender}");
            }
            assert_eq!(fields.preferred_gender.is_some(), update.preferred_gender.is_some());
            if let Some(preferred) = &fields.preferred_gender {
                if preferred.split(',').any(|id| id == ANY.id) {
                    assert_eq!(preferred, ANY.id, "`any` stands alone");
                } else {
                    ids(preferred, &genders, genders.len());
                }
            }
            assert_eq!(fields.needs.is_some(), update.needs.is_some());
            if let Some(needs) = &fields.needs {
                ids(needs, &NEEDS.iter().map(|t| t.id).collect::<Vec<_>>(), NEEDS.len());
            }
            assert_eq!(fields.interests.is_some(), update.interests.is_some());
            if let Some(interests) = &fields.interests {
                ids(interests, &INTERESTS.iter().map(|t| t.id).collect::<Vec<_>>(), MAX_INTERESTS);
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            let sent = [
                ("nickname", update.nickname.is_some()),
                ("dob", update.dob.is_some()),
                ("gender", update.gender.is_some()),
                ("preferred_gender", update.preferred_gender.is_some()),
                ("needs", update.needs.is_some()),
                ("interests", update.interests.is_some()),
            ];
            for (i, error) in errors.0.iter().enumerate() {
                assert!(sent.contains(&(error.field.as_str(), true)), "{} was not sent", error.field);
                assert!(!errors.0[..i].iter().any(|e| e.field == error.field), "{} twice", error.field);
            }
        }
    }
});
