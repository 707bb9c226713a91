//! Short-lived TURN credentials, the way TURN servers check them without a call back
//! to us (coturn's `use-auth-secret`, the "TURN REST API" draft): the username is
//! `expiry:user` (expiry in Unix seconds) and the password is the base64 HMAC-SHA1 of
//! that username under the secret the operator gave both servers. A client gets the
//! pair, never the secret, and the pair stops working at its expiry.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::clock::Timestamp;
use crate::ids::UserId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnCredentials {
    pub username: String,
    pub credential: String,
}

/// The credentials of `user` that expire at `expires`.
pub fn turn_credentials(secret: &[u8], user: UserId, expires: Timestamp) -> TurnCredentials {
    let username = format!("{}:{}", expires.as_millis().div_euclid(1000), user.0);
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    TurnCredentials { username, credential }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_scheme() {
        // Worked out independently with:
        //   printf '1700000000:42' | openssl dgst -sha1 -hmac 'north-wind' -binary | base64
        let c = turn_credentials(b"north-wind", UserId(42), Timestamp::from_millis(1_700_000_000_500));
        assert_eq!(c.username, "1700000000:42");
        assert_eq!(c.credential, "6hwnrZiUDHkxY5CYq4XHhx2DHas=");
    }
}
