//! `/rtc/config`: what a client needs to connect a voice call's audio: the ICE servers
//! (STUN, TURN) the operator configured, with short-lived TURN credentials for the
//! caller, and whether to send everything through TURN (which keeps each peer's
//! network address from the partner).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{AppJson, AuthUser};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::auth::turn_credentials;
use crate::config::is_turn_url;

pub fn routes(state: &AppState) -> Routes {
    limited(state, LimitClass::Default, OpenApiRouter::new().routes(routes!(get_config)))
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    /// TURN only: `expiry:user_id`, valid until `credentials_expire_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `RTCConfiguration.iceTransportPolicy`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IcePolicy {
    /// Direct connections allowed: the partner may learn the peer's addresses.
    All,
    /// Only through TURN: neither peer learns the other's address.
    Relay,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RtcConfig {
    /// Empty when the server has none: then only peers that reach each other
    /// directly (on one network) connect.
    pub ice_servers: Vec<IceServer>,
    /// `relay` whenever TURN is configured.
    pub ice_transport_policy: IcePolicy,
    /// When the TURN credentials stop working (fetch again before a later call).
    pub credentials_expire_at: Option<DateTime<Utc>>,
}

/// The ICE servers for the caller's calls.
#[utoipa::path(get, path = "/rtc/config", tag = "chat", security(("bearer" = [])),
    responses(
        (status = 200, body = RtcConfig),
    ))]
async fn get_config(State(state): State<AppState>, AuthUser(user): AuthUser) -> AppJson<RtcConfig> {
    let calls = &state.settings.calls;
    let expires = state.clock.now().plus(calls.turn_credential_ttl);
    let turn =
        calls.turn_secret.as_ref().map(|s| turn_credentials(s.expose().as_bytes(), user.user_id(), expires));
    let (stun, relays): (Vec<&str>, Vec<&str>) = calls.ice_urls().partition(|url| !is_turn_url(url));
    let mut ice_servers = Vec::new();
    if !stun.is_empty() {
        ice_servers.push(IceServer {
            urls: stun.into_iter().map(str::to_owned).collect(),
            username: None,
            credential: None,
        });
    }
    if let (false, Some(turn)) = (relays.is_empty(), &turn) {
        ice_servers.push(IceServer {
            urls: relays.into_iter().map(str::to_owned).collect(),
            username: Some(turn.username.clone()),
            credential: Some(turn.credential.clone()),
        });
    }
    AppJson(RtcConfig {
        ice_servers,
        ice_transport_policy: if calls.has_turn() { IcePolicy::Relay } else { IcePolicy::All },
        credentials_expire_at: calls.has_turn().then(|| expires.to_datetime()),
    })
}
