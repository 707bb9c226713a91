//! The `/auth/signup` body: deserialised as the JSON extractor does, then checked by
//! `SignupRequest::checked_email` (the rules of `auth::validate::signup`). Never
//! panics, and the verdict is the documented one: accepted exactly when the username
//! is 3–32 of `A-Z a-z 0-9 _ . -`, the password 8–128 characters and the email, once
//! trimmed, blank or plausible (one `@`, a dotted domain, at most 254 bytes, no spaces
//! or control characters); a refusal names each failing field once, in form order.
#![no_main]

use duet::accounts::SignupRequest;
use libfuzzer_sys::fuzz_target;

fn plausible(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<SignupRequest>(data) else {
        return;
    };
    let username_ok = (3..=32).contains(&req.username.chars().count())
        && req.username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let password_ok = (8..=128).contains(&req.password.chars().count());
    let email = req.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let email_ok = email.is_none_or(plausible);
    match req.checked_email() {
        Ok(stored) => {
            assert!(username_ok && password_ok && email_ok, "{req:?} accepted");
            assert_eq!(stored, email);
            if let Some(stored) = stored {
                assert_eq!(stored, stored.trim());
            }
        }
        Err(errors) => {
            let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
            let expected: Vec<&str> =
                [("username", username_ok), ("password", password_ok), ("email", email_ok)]
                    .into_iter()
                    .filter(|(_, ok)| !ok)
                    .map(|(field, _)| field)
                    .collect();
            assert_eq!(fields, expected, "{req:?}");
        }
    }
});
