//! HTTP rate limits (SPEC 6): each route belongs to a class with its own quota, and a
//! request counts against both its client address and, when it carries a valid token,
//! its user. Exceeding either is 429 with `Retry-After`. Limits are per instance;
//! keyed token buckets come from `governor`.
//!
//! Sign-ups are counted per device and per address apart: a device (the random id a
//! client keeps and sends as `X-Duet-Device`; the address, for a client without one)
//! gets `--rate-signup` (5 an hour), and an address `--rate-signup-address` (60 an hour)
//! whatever its devices. So the people behind one shared address (a café, a dormitory,
//! a carrier's NAT) each get their own five, while one person who invents device ids
//! is still held to the address's sixty.

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use super::extract::{bearer_token, client_ip};
use super::AppState;
use crate::config::{Rate, RateLimitSettings};
use crate::ids::UserId;

/// The rate-limit class of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitClass {
    Login,
    Signup,
    Search,
    Avatar,
    Default,
}

impl LimitClass {
    /// The class's name, as in its `--rate-…` setting and the metrics.
    pub fn label(self) -> &'static str {
        match self {
            LimitClass::Login => "login",
            LimitClass::Signup => "signup",
            LimitClass::Search => "search",
            LimitClass::Avatar => "avatar",
            LimitClass::Default => "default",
        }
    }
}

/// Who a request is counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    User(UserId),
    /// A client's device id (`X-Duet-Device`), for sign-ups.
    Device(Box<str>),
}

/// The header in which a client names its device: 16 to 64 letters, digits, `-` or
/// `_` (the web client sends a random id kept in its storage). Anything else is as if
/// it were missing.
pub const DEVICE_HEADER: &str = "x-duet-device";

fn device_of(parts: &axum::http::request::Parts) -> Option<Box<str>> {
    let value = parts.headers.get(DEVICE_HEADER)?.to_str().ok()?;
    let valid = (16..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| value.into())
}

/// One keyed limiter per class.
pub struct RateLimits {
    login: DefaultKeyedRateLimiter<Key>,
    signup: DefaultKeyedRateLimiter<Key>,
    /// Sign-ups per address, whatever the device.
    signup_address: DefaultKeyedRateLimiter<Key>,
    search: DefaultKeyedRateLimiter<Key>,
    avatar: DefaultKeyedRateLimiter<Key>,
    default: DefaultKeyedRateLimiter<Key>,
    clock: DefaultClock,
}

fn limiter(rate: Rate) -> DefaultKeyedRateLimiter<Key> {
    // `count` per `per`, refilled evenly, with the whole count available as a burst.
    let count = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
    let period = rate.per / count.get();
    let quota = Quota::with_period(period.max(std::time::Duration::from_nanos(1)))
        .expect("period is not zero")
        .allow_burst(count);
    RateLimiter::keyed(quota)
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        RateLimits {
            login: limiter(settings.rate_login),
            signup: limiter(settings.rate_signup),
            signup_address: limiter(settings.rate_signup_address),
            search: limiter(settings.rate_search),
            avatar: limiter(settings.rate_avatar),
            default: limiter(settings.rate_default),
            clock: DefaultClock::default(),
        }
    }

    fn of(&self, class: LimitClass) -> &DefaultKeyedRateLimiter<Key> {
        match class {
            LimitClass::Login => &self.login,
            LimitClass::Signup => &self.signup,
            LimitClass::Search => &self.search,
            LimitClass::Avatar => &self.avatar,
            LimitClass::Default => &self.default,
        }
    }

    /// Counts one request for each key; on refusal, the seconds until it may retry.
    fn check(&self, class: LimitClass, keys: &[Key]) -> Result<(), u64> {
        self.check_in(self.of(class), keys)
    }

    fn check_in(&self, limiter: &DefaultKeyedRateLimiter<Key>, keys: &[Key]) -> Result<(), u64> {
        for key in keys {
            if let Err(not_until) = limiter.check_key(key) {
                let wait = not_until.wait_time_from(self.clock.now());
                return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            }
        }
        Ok(())
    }

    /// A sign-up: the device's budget (the address's, without a device), then the
    /// address's own, larger one.
    fn check_signup(&self, ip: Option<IpAddr>, device: Option<Box<str>>) -> Result<(), u64> {
        let per_device = match (device, ip) {
            (Some(device), _) => Some(Key::Device(device)),
            (None, Some(ip)) => Some(Key::Addr(ip)),
            (None, None) => None,
        };
        self.check_in(&self.signup, per_device.as_slice())?;
        self.check_in(&self.signup_address, ip.map(Key::Addr).as_slice())
    }

    /// Drops the state of keys that are back to a full bucket, so memory follows the
    /// number of recently active clients rather than every client ever seen.
    pub fn forget_idle(&self) {
        for class in [
            LimitClass::Login,
            LimitClass::Signup,
            LimitClass::Search,
            LimitClass::Avatar,
            LimitClass::Default,
        ] {
            let limiter = self.of(class);
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.signup_address.retain_recent();
        self.signup_address.shrink_to_fit();
    }
}

/// Middleware applying `class` to the routes it wraps.
pub async fn limit(
    State((state, class)): State<(AppState, LimitClass)>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts, state.settings.forwarded_hops());
    if class == LimitClass::Signup {
        if let Err(retry_after) = state.limits.check_signup(ip, device_of(&parts)) {
            state.metrics.rate_limited.with_label_values(&[class.label()]).inc();
            return ApiError::rate_limited(retry_after).into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    let mut keys = Vec::with_capacity(2);
    if let Some(ip) = ip {
        keys.push(Key::Addr(ip));
    }
    // Signature and expiry only: the handler does the full check. A forged token
    // cannot spend someone else's quota.
    if let Some(token) = bearer_token(&parts) {
        if let Ok((user, _)) = state.keys.verify(token, state.clock.now()) {
            keys.push(Key::User(user));
        }
    }
    if let Err(retry_after) = state.limits.check(class, &keys) {
        state.metrics.rate_limited.with_label_values(&[class.label()]).inc();
        return ApiError::rate_limited(retry_after).into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Limits with login at 3/min, sign-ups at 5/h per device and `signup_address` per address.
    fn limits(signup_address: &str) -> RateLimits {
        RateLimits::new(&RateLimitSettings {
            rate_login: "3/min".parse().unwrap(),
            rate_signup: "5/h".parse().unwrap(),
            rate_signup_address: signup_address.parse().unwrap(),
            rate_search: "10/min".parse().unwrap(),
            rate_avatar: "10/min".parse().unwrap(),
            rate_default: "600/min".parse().unwrap(),
        })
    }

    #[test]
    fn a_burst_then_refusal_with_retry_after() {
        let limits = limits("60/h");
        let a = [Key::Addr(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        let b = [Key::Addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))];
        for _ in 0..3 {
            assert!(limits.check(LimitClass::Login, &a).is_ok());
        }
        let retry = limits.check(LimitClass::Login, &a).unwrap_err();
        assert!((1..=20).contains(&retry), "one token returns every 20 s, got {retry}");
        assert!(limits.check(LimitClass::Login, &b).is_ok(), "other addresses are not affected");
        assert!(limits.check(LimitClass::Default, &a).is_ok(), "other classes are not affected");
    }

    #[test]
    fn sign_ups_count_per_device_and_per_address() {
        let limits = limits("30/h");
        let cafe = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
        let device = |n: u32| Some(format!("device-{n:012}").into_boxed_str());
        // Six people behind one address: five each.
        for n in 0..6 {
            for _ in 0..5 {
                assert!(limits.check_signup(cafe, device(n)).is_ok());
            }
            assert!(limits.check_signup(cafe, device(n)).is_err(), "a sixth from device {n}");
        }
        // The address's own budget: 30 spent above, so a new device is refused too.
        assert!(limits.check_signup(cafe, device(99)).is_err(), "the address is held to its 30");
        // Without a device, the address is the device.
        let home = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
        for _ in 0..5 {
            assert!(limits.check_signup(home, None).is_ok());
        }
        assert!(limits.check_signup(home, None).is_err());
    }
}
