//! Access and refresh tokens as a request presents them: the `Authorization` header
//! read by `bearer_token`, the JWT checked by `Keys::verify_until`, and the refresh
//! body hashed for lookup. Never panics, and:
//! - whatever the header, a token that verifies expires after `now` and at most the
//!   access TTL (plus the clock skew) later;
//! - a token we issue verifies as its user and version until its expiry, then is
//!   `Expired`;
//! - the issued token with one byte changed (or cut short) is refused, or still names
//!   the same user and version: no edit forges another identity;
//! - a refresh token's lookup hash is 64 lowercase hex digits.
#![no_main]

use std::time::Duration;

use axum::http::{header, HeaderValue, Request};
use duet::accounts::RefreshRequest;
use duet::auth::{hash_refresh_token, Keys, TokenError};
use duet::clock::Timestamp;
use duet::http::extract::bearer_token;
use duet::ids::UserId;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzzing-secret-fuzzing-secret-32";
const TTL: Duration = Duration::from_secs(900);
/// 2020-01-01; `now` is up to 2^32 ms (about 50 days) later, `later_ms` as far again.
const BASE_MS: i64 = 1_577_836_800_000;

/// The input: 30 bytes of numbers (little-endian), then the `Authorization` header's
/// value up to a newline, then a refresh body; plain bytes so seeds are easy to write.
#[derive(Debug)]
struct Input<'a> {
    user: i64,
    ver: i64,
    now_ms: u32,
    /// When the issued token is presented, after it was issued.
    later_ms: u32,
    edit_at: u16,
    edit_to: u8,
    cut: bool,
    authorization: &'a [u8],
    refresh_body: &'a [u8],
}

impl<'a> Input<'a> {
    fn read(data: &'a [u8]) -> Option<Input<'a>> {
        let (numbers, rest) = data.split_at_checked(30)?;
        let int = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 8];
            bytes[..range.len()].copy_from_slice(&numbers[range]);
            u64::from_le_bytes(bytes)
        };
        let (authorization, refresh_body) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        Some(Input {
            user: int(0..8) as i64,
            ver: int(8..16) as i64,
            now_ms: int(16..20) as u32,
            later_ms: int(20..24) as u32,
            edit_at: int(24..26) as u16,
            edit_to: numbers[26],
            cut: numbers[27] & 1 == 1,
            authorization,
            refresh_body,
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::read(data) else {
        return;
    };
    let keys = Keys::new(SECRET, "duet", TTL);
    let now = Timestamp::from_millis(BASE_MS + i64::from(input.now_ms));

    // A header as a client sends it.
    if let Ok(value) = HeaderValue::from_bytes(input.authorization) {
        let (parts, ()) =
            Request::builder().header(header::AUTHORIZATION, value).body(()).unwrap().into_parts();
        if let Some(token) = bearer_token(&parts) {
            assert!(!token.is_empty() && token == token.trim(), "{token:?}");
            if let Ok((_, _, expires)) = keys.verify_until(token, now) {
                assert!(expires > now && expires <= now.plus(TTL + Duration::from_secs(5)), "{token}");
            }
        }
    }

    // A token we issued, presented later.
    let token = keys.issue(UserId(input.user), input.ver, now);
    let at = now.plus(Duration::from_millis(u64::from(input.later_ms)));
    let expiry_secs = now.plus(TTL).as_secs();
    match keys.verify_until(&token, at) {
        Ok((user, ver, expires)) => {
            assert!(at.as_secs() < expiry_secs, "verified after its expiry");
            assert_eq!((user, ver), (UserId(input.user), input.ver));
            assert_eq!(expires.as_millis(), expiry_secs * 1000);
        }
        Err(e) => {
            assert_eq!(e, TokenError::Expired);
            assert!(at.as_secs() >= expiry_secs, "refused before its expiry");
        }
    }

    // The same token, edited.
    let mut edited = token.clone().into_bytes();
    let i = usize::from(input.edit_at) % edited.len();
    if input.cut {
        edited.truncate(i);
    } else {
        edited[i] = input.edit_to;
    }
    if edited != token.as_bytes() {
        if let Ok(edited) = String::from_utf8(edited) {
            if let Ok((user, ver)) = keys.verify(&edited, now) {
                assert_eq!((user, ver), (UserId(input.user), input.ver), "{token} edited into {edited}");
            }
        }
    }

    // A refresh body, as `/auth/refresh` and `/auth/logout` read it.
    if let Ok(req) = serde_json::from_slice::<RefreshRequest>(input.refresh_body) {
        let hash = hash_refresh_token(&req.refresh_token);
        assert!(hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{hash}");
        assert_eq!(hash, hash_refresh_token(&req.refresh_token));
    }
});
