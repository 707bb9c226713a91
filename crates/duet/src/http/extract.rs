//! Extractors that give handlers typed, checked input or the app's error: JSON bodies,
//! path and query parameters, the authenticated user, the administrator, the client
//! address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::store::UserRow;
use crate::types::Role;

/// A JSON body; a bad one is the app's 400 (or 413) rather than axum's plain text.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large");
        }
        let detail = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "expected a body with Content-Type: application/json".to_owned()
            }
            other => other.body_text(),
        };
        ApiError::new(ErrorCode::BadRequest, detail)
    }
}

/// Path parameters, with the app's 400 when they do not parse.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(ErrorCode::BadRequest, rejection.body_text())
    }
}

/// Query parameters, with the app's 400 when they do not parse.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(ErrorCode::BadRequest, rejection.body_text())
    }
}

/// The bearer token of a request, if it carries one.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// A request from a signed-in user whose token is valid, current and not banned.
pub struct AuthUser(pub UserRow);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        let user = state.accounts.authenticate(token).await?;
        tracing::Span::current().record("user_id", user.id);
        Ok(AuthUser(user))
    }
}

/// A signed-in administrator; anyone else signed in gets 403.
pub struct AdminUser(pub UserRow);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if Role::from_stored(&user.role) != Role::Admin {
            return Err(ApiError::new(ErrorCode::Forbidden, "administrators only"));
        }
        Ok(AdminUser(user))
    }
}

/// The client's address, as the rate limits see it ([`client_ip`]).
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_ip(parts, state.settings.forwarded_hops())))
    }
}

/// The client's address: the peer, or, when the server trusts `proxies` proxies in
/// front of it, the `proxies`-th address of `X-Forwarded-For` from the right. Each
/// proxy appends the address it saw, so that one was written by the outermost
/// trusted proxy; anything left of it is the client's own text and is ignored.
pub fn client_ip(parts: &Parts, proxies: Option<u8>) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let Some(proxies) = proxies else { return peer };
    // Several headers form one list, in order.
    let hops: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    hops.len().checked_sub(usize::from(proxies)).and_then(|i| hops[i].parse().ok()).or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(forwarded: &[&str]) -> Parts {
        let mut request = Request::builder();
        for value in forwarded {
            request = request.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts.extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
        parts
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_peer_is_the_client_unless_forwarded_for_is_trusted() {
        assert_eq!(client_ip(&parts(&["1.2.3.4"]), None), ip("10.0.0.1"));
    }

    #[test]
    fn the_address_the_trusted_proxies_wrote_wins_over_what_the_client_wrote() {
        // The client wrote "6.6.6.6"; the one proxy appended the address it saw.
        assert_eq!(client_ip(&parts(&["6.6.6.6, 1.2.3.4"]), Some(1)), ip("1.2.3.4"));
        assert_eq!(client_ip(&parts(&["6.6.6.6", "1.2.3.4"]), Some(1)), ip("1.2.3.4"));
        // Two proxies: the outer one wrote the client, the inner one the outer proxy.
        assert_eq!(client_ip(&parts(&["6.6.6.6, 1.2.3.4, 172.16.0.9"]), Some(2)), ip("1.2.3.4"));
        assert_eq!(client_ip(&parts(&["2001:db8::1"]), Some(1)), ip("2001:db8::1"));
    }

    #[test]
    fn a_short_or_unreadable_header_falls_back_to_the_peer() {
        assert_eq!(client_ip(&parts(&[]), Some(1)), ip("10.0.0.1"));
        assert_eq!(client_ip(&parts(&["1.2.3.4"]), Some(2)), ip("10.0.0.1"));
        assert_eq!(client_ip(&parts(&["6.6.6.6, not-an-address"]), Some(1)), ip("10.0.0.1"));
    }
}
