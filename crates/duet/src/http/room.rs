//! `/chat` room calls: the caller's room, a room's info and messages, like answers,
//! keep, report, end. Non-participants get 404 (no existence leak); writes on an
//! ended room get 409 `room_ended`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::chat::room_view;
use super::error::{ApiError, ErrorBody, FieldError};
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::ids::{RoomId, Seq};
use crate::moderation::ReportReason;
use crate::room::{self, EndReason, MessageView, RoomError, RoomEvent, RoomView};
use crate::store::{RoomRow, UserRow};

pub fn routes(state: &AppState) -> Routes {
    limited(
        state,
        LimitClass::Default,
        OpenApiRouter::new()
            .routes(routes!(current_room))
            .routes(routes!(get_room))
            .routes(routes!(room_messages))
            .routes(routes!(like))
            .routes(routes!(keep))
            .routes(routes!(report))
            .routes(routes!(end_room)),
    )
}

/// A participant's room, after noting that they used it: an HTTP call counts as a
/// moment of presence, like a chat socket opened and closed, for the abandonment rule.
async fn participant_room(state: &AppState, room_id: RoomId, user: &UserRow) -> Result<RoomRow, ApiError> {
    let room = room::room_of_participant(&state.store, room_id, user.user_id()).await?;
    if room.is_active() {
        match state.rooms.apply(room_id, RoomEvent::Seen { user: user.user_id() }).await {
            Ok(_) | Err(RoomError::Ended) => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(room::room_of_participant(&state.store, room_id, user.user_id()).await?);
    }
    Ok(room)
}

/// The caller's active room with the partner view.
#[utoipa::path(get, path = "/chat/current-room", tag = "chat", security(("bearer" = [])),
    responses(
        (status = 200, body = RoomView),
        (status = 404, description = "Not in a room", body = ErrorBody),
    ))]
async fn current_room(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<AppJson<RoomView>, ApiError> {
    let room_id = user.current_room_id.ok_or_else(|| ApiError::not_found("room"))?;
    let room = participant_room(&state, room_id, &user).await?;
    if !room.is_active() {
        return Err(ApiError::not_found("room"));
    }
    Ok(AppJson(room_view(&state, &room, &user).await?))
}

/// A room of the caller's, active or ended.
#[utoipa::path(get, path = "/chat/room/{room_id}", tag = "chat", security(("bearer" = [])),
    params(("room_id" = i64, Path)),
    responses(
        (status = 200, body = RoomView),
        (status = 404, description = "No such room, or not the caller's", body = ErrorBody),
    ))]
async fn get_room(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(room_id): AppPath<RoomId>,
) -> Result<AppJson<RoomView>, ApiError> {
    let room = participant_room(&state, room_id, &user).await?;
    Ok(AppJson(room_view(&state, &room, &user).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Only messages with a larger `seq` (default 0: from the start).
    after_seq: Option<i64>,
    /// At most this many, 1–200 (default 50).
    limit: Option<i64>,
}

/// A page of a room's messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// The room's latest `seq`; more pages follow while the last item's `seq` is below.
    pub last_seq: Seq,
}

/// The messages of an active room, oldest first, paginated by `seq`. An ended room's
/// messages are erased, so its page is empty.
#[utoipa::path(get, path = "/chat/room/{room_id}/messages", tag = "chat", security(("bearer" = [])),
    params(("room_id" = i64, Path), MessagesQuery),
    responses(
        (status = 200, body = MessagePage),
        (status = 400, description = "Bad `after_seq` or `limit`", body = ErrorBody),
        (status = 404, description = "No such room, or not the caller's", body = ErrorBody),
    ))]
async fn room_messages(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(room_id): AppPath<RoomId>,
    AppQuery(query): AppQuery<MessagesQuery>,
) -> Result<AppJson<MessagePage>, ApiError> {
    let after_seq = query.after_seq.unwrap_or(0);
    let limit = query.limit.unwrap_or(50);
    let mut errors = Vec::new();
    if after_seq < 0 {
        errors.push(FieldError::new("after_seq", "must not be negative"));
    }
    if !(1..=200).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 200"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let room = participant_room(&state, room_id, &user).await?;
    let items = state
        .store
        .messages_after(room_id, Seq(after_seq), limit)
        .await?
        .iter()
        .map(MessageView::from)
        .collect();
    Ok(AppJson(MessagePage { items, last_seq: room.last_seq }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LikeAnswer {
    Yes,
    No,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LikeRequest {
    pub response: LikeAnswer,
}

/// Answer the open like round. The answer stays hidden until the round closes.
#[utoipa::path(post, path = "/chat/like/{room_id}", tag = "chat", security(("bearer" = [])),
    params(("room_id" = i64, Path)), request_body = LikeRequest,
    responses(
        (status = 200, description = "`{answered: true}`"),
        (status = 400, description = "`response` is not yes or no", body = ErrorBody),
        (status = 404, description = "No such room, or not the caller's", body = ErrorBody),
        (status = 409, description = "`no_open_round`, `already_answered` or `room_ended`", body = ErrorBody),
    ))]
async fn like(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(room_id): AppPath<RoomId>,
    AppJson(req): AppJson<LikeRequest>,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    participant_room(&state, room_id, &user).await?;
    let yes = matches!(req.response, LikeAnswer::Yes);
    state.rooms.apply(room_id, RoomEvent::LikeAnswer { from: user.user_id(), yes }).await?;
    Ok(AppJson(serde_json::json!({ "answered": true })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct KeepRequest {
    pub keep_active: bool,
}

/// Set or clear the caller's keep flag. When both are set the room is kept: it no
/// longer ends for inactivity, and a like round without a match no longer ends it.
#[utoipa::path(post, path = "/chat/keep/{room_id}", tag = "chat", security(("bearer" = [])),
    params(("room_id" = i64, Path)), request_body = KeepRequest,
    responses(
        (status = 200, body = RoomView),
        (status = 404, description = "No such room, or not the caller's", body = ErrorBody),
        (status = 409, description = "`room_ended`", body = ErrorBody),
    ))]
async fn keep(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(room_id): AppPath<RoomId>,
    AppJson(req): AppJson<KeepRequest>,
) -> Result<AppJson<RoomView>, ApiError> {
    participant_room(&state, room_id, &user).await?;
    state.rooms.apply(room_id, RoomEvent::Keep { from: user.user_id(), keep: req.keep_active }).await?;
    let room = room::room_of_participant(&state.store, room_id, user.user_id()).await?;
    Ok(AppJson(room_view(&state, &room, &user).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    pub reason: ReportReason,
    /// Up to 1000 characters.
    pub details: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResponse {
    pub report_id: i64,
    /// Messages copied as evidence (none once the room's messages are erased).
    pub evidence_messages: usize,
}

/// Report the partner. Allowed while the room is active and up to the report window
/// after it ended; once per room. The last messages are copied for moderators, so
/// report before ending the room.
#[utoipa::path(post, path = "/chat/report/{room_id}", tag = "chat", security(("bearer" = [])),
    params(("room_id" = i64, Path)), request_body = ReportRequest,
    responses(
        (status = 201, body = ReportResponse),
        (status = 400, description = "Unknown reason or details too long", body = ErrorBody),
        (status = 404, description = "No such room, or not the caller's", body = ErrorBody),
        (status = 409, description = "`already_reported` or `report_window_closed`", body = ErrorBody),
    ))]
async fn report(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(room_id): AppPath<RoomId>,
    AppJson(req): AppJson<ReportRequest>,
) -> Result<(StatusCode, AppJson<ReportResponse>), ApiError> {
    let room = participant_room(&state, room_id, &user).await?;
    let (report_id, evidence_messages) =
        state.moderation.report(&room, user.user_id(), req.reason, req.details.as_deref()).await?;
    Ok((StatusCode::CREATED, AppJson(ReportResponse { report_id, evidence_messages })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndResponse {
    pub room_id: RoomId,
    /// True when the room had ended before this call.
    pub already_ended: bool,
    pub reason: Option<EndReason>,
}

/// End the room. Idempotent: ending an ended room answers `already_ended: true`.
#[utoipa::path(post, path = "/chat/end/{room_id}", tag = "chat", security(("bearer" = [])),
    params(("room_id" = i64, Path)),
    responses(
        (status = 200, body = EndResponse),
        (status = 404, description = "No such room, or not the caller's", body = ErrorBody),
    ))]
async fn end_room(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(room_id): AppPath<RoomId>,
) -> Result<AppJson<EndResponse>, ApiError> {
    room::room_of_participant(&state.store, room_id, user.user_id()).await?;
    let ended_now = state.rooms.end_by(room_id, user.user_id()).await?;
    let room = room::room_of_participant(&state.store, room_id, user.user_id()).await?;
    Ok(AppJson(EndResponse {
        room_id,
        already_ended: !ended_now,
        reason: room.end_reason.as_deref().and_then(EndReason::parse),
    }))
}
