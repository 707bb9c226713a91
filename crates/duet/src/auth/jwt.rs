//! Access tokens: HS256 JWTs with `sub`, `iat`, `exp`, `iss` and the user's token
//! version `ver`. The algorithm is pinned (a token claiming `none` or RS256 is
//! refused), the issuer must match, and expiry is checked against the injected clock
//! rather than the system time so tests can move time. A token may not claim a longer
//! life (`exp - iat`) than the configured access TTL: one signed with a leaked secret
//! cannot be made to last for years.

use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::UserId;

/// Tolerance for `iat` in the future, for instances whose clocks differ slightly.
const CLOCK_SKEW_SECS: i64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    /// The user's token version when issued; a later logout or ban moves it on.
    pub ver: i64,
}

/// Why a token was refused. All of them are a 401 (or close 4001) to the client.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed or wrongly signed token")]
    Invalid,
    #[error("token expired")]
    Expired,
}

/// Signing and checking of access tokens.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl: Duration,
}

impl Keys {
    pub fn new(secret: &[u8], issuer: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        // Expiry is checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues an access token for `user` at token version `ver`.
    pub fn issue(&self, user: UserId, ver: i64, now: Timestamp) -> String {
        let claims = Claims {
            sub: user.0.to_string(),
            iat: now.as_secs(),
            exp: now.plus(self.ttl).as_secs(),
            iss: self.issuer.clone(),
            ver,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// Checks signature, algorithm, issuer, required claims and time.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<(UserId, i64), TokenError> {
        self.verify_until(token, now).map(|(user, ver, _)| (user, ver))
    }

    /// As [`Keys::verify`], with the token's expiry.
    pub fn verify_until(&self, token: &str, now: Timestamp) -> Result<(UserId, i64, Timestamp), TokenError> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        let user: i64 = claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        if claims.iat > now.as_secs() + CLOCK_SKEW_SECS {
            return Err(TokenError::Invalid);
        }
        if claims.exp.saturating_sub(claims.iat) > self.ttl.as_secs_f64().ceil() as i64 {
            return Err(TokenError::Invalid);
        }
        if claims.exp <= now.as_secs() {
            return Err(TokenError::Expired);
        }
        Ok((UserId(user), claims.ver, Timestamp::from_millis(claims.exp.saturating_mul(1000))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn keys() -> Keys {
        Keys::new(SECRET, "duet", Duration::from_secs(900))
    }

    #[test]
    fn issued_tokens_verify() {
        let token = keys().issue(UserId(7), 3, NOW);
        assert_eq!(keys().verify(&token, NOW), Ok((UserId(7), 3)));
    }

    #[test]
    fn expiry_follows_the_clock() {
        let token = keys().issue(UserId(7), 0, NOW);
        let later = NOW.plus(Duration::from_secs(901));
        assert_eq!(keys().verify(&token, later), Err(TokenError::Expired));
    }

    #[test]
    fn wrong_key_wrong_issuer_and_alg_none_are_refused() {
        let other = Keys::new(b"another-secret-another-secret-xx", "duet", Duration::from_secs(900));
        assert_eq!(keys().verify(&other.issue(UserId(1), 0, NOW), NOW), Err(TokenError::Invalid));
        let foreign = Keys::new(SECRET, "someone-else", Duration::from_secs(900));
        assert_eq!(keys().verify(&foreign.issue(UserId(1), 0, NOW), NOW), Err(TokenError::Invalid));

        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64.encode(
            format!(
                r#"{{"sub":"1","iat":{},"exp":{},"iss":"duet","ver":0}}"#,
                NOW.as_secs(),
                NOW.as_secs() + 60
            )
            .as_bytes(),
        );
        assert_eq!(keys().verify(&format!("{header}.{claims}."), NOW), Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_may_not_claim_a_longer_life_than_the_access_ttl() {
        // Tokens issued under a longer TTL (or forged with the key) are refused.
        let long = Keys::new(SECRET, "duet", Duration::from_secs(901));
        assert_eq!(keys().verify(&long.issue(UserId(1), 0, NOW), NOW), Err(TokenError::Invalid));
        let ten_years = Keys::new(SECRET, "duet", Duration::from_secs(10 * 365 * 86_400));
        assert_eq!(keys().verify(&ten_years.issue(UserId(1), 0, NOW), NOW), Err(TokenError::Invalid));
        // A fractional TTL rounds up, whatever the millisecond of issue.
        let fractional = Keys::new(SECRET, "duet", Duration::from_millis(1500));
        for ms in [0, 300, 499, 500, 999] {
            let at = Timestamp::from_millis(NOW.as_millis() + ms);
            assert!(fractional.verify(&fractional.issue(UserId(1), 0, at), at).is_ok(), "{ms}");
        }
    }

    #[test]
    fn tokens_from_the_future_are_refused() {
        let token = keys().issue(UserId(1), 0, NOW.plus(Duration::from_secs(3600)));
        assert_eq!(keys().verify(&token, NOW), Err(TokenError::Invalid));
    }
}
