//! `/chat` search and cancel; the room calls are in [`super::room`].

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{AppJson, AuthUser};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::ids::RoomId;
use crate::matching::{ChatKind, SearchOutcome};
use crate::profile::{SearchInfo, Status};
use crate::room::{PartnerView, RoomView};
use crate::store::RoomRow;

pub fn routes(state: &AppState) -> Routes {
    OpenApiRouter::new()
        .merge(limited(state, LimitClass::Search, OpenApiRouter::new().routes(routes!(search))))
        .merge(limited(state, LimitClass::Default, OpenApiRouter::new().routes(routes!(cancel_search))))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchRequest {
    #[serde(rename = "type")]
    pub kind: ChatKind,
}

/// A search's answer: the room when matched (or already in one), else the waiting
/// search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub room_id: Option<RoomId>,
    pub matched_user: Option<PartnerView>,
    /// The prompt the room opens with: `{topic, vi, en}`.
    #[schema(value_type = Option<Object>)]
    pub icebreaker: Option<serde_json::Value>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchInfo>,
}

/// Look for a partner. Matched at once: 200 with the room; otherwise 202 and the match
/// arrives later (`match_found` on the status socket; `GET /user/status` meanwhile).
#[utoipa::path(post, path = "/chat/search", tag = "chat", security(("bearer" = [])), request_body = SearchRequest,
    responses(
        (status = 200, description = "Matched, or already in a room", body = SearchResponse),
        (status = 202, description = "Waiting for a partner", body = SearchResponse),
        (status = 400, description = "`incomplete_profile`, or a bad `type`", body = ErrorBody),
        (status = 409, description = "`already_searching`", body = ErrorBody),
        (status = 503, description = "`unavailable`: the server is shutting down; retry (see Retry-After)", body = ErrorBody),
    ))]
async fn search(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(req): AppJson<SearchRequest>,
) -> Result<(StatusCode, AppJson<SearchResponse>), ApiError> {
    match state.matchmaker.search(&user, req.kind).await? {
        SearchOutcome::Room(room) => {
            let view = room_view(&state, &room, &user).await?;
            Ok((
                StatusCode::OK,
                AppJson(SearchResponse {
                    room_id: Some(room.id),
                    matched_user: Some(view.partner),
                    icebreaker: Some(view.icebreaker),
                    status: Status::Connected,
                    search: None,
                }),
            ))
        }
        SearchOutcome::Waiting { kind, since } => Ok((
            StatusCode::ACCEPTED,
            AppJson(SearchResponse {
                room_id: None,
                matched_user: None,
                icebreaker: None,
                status: Status::Searching,
                search: Some(SearchInfo { kind: kind.as_str().to_owned(), since: since.to_datetime() }),
            }),
        )),
    }
}

/// Stop searching.
#[utoipa::path(post, path = "/chat/cancel-search", tag = "chat", security(("bearer" = [])),
    responses(
        (status = 200, description = "The search is cancelled; status is idle"),
        (status = 409, description = "`not_searching`", body = ErrorBody),
    ))]
async fn cancel_search(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    if !state.matchmaker.cancel(user.user_id()).await? {
        return Err(ApiError::new(ErrorCode::NotSearching, "not searching"));
    }
    Ok(AppJson(serde_json::json!({ "status": "idle" })))
}

pub(super) async fn room_view(
    state: &AppState,
    room: &RoomRow,
    viewer: &crate::store::UserRow,
) -> Result<RoomView, ApiError> {
    let partner_id = room.partner_of(viewer.user_id()).ok_or_else(|| ApiError::not_found("room"))?;
    let partner = state.store.user(partner_id).await?;
    Ok(RoomView::new(room, viewer.user_id(), partner.as_ref(), state.clock.now()))
}
