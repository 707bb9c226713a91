//! `/user`: the caller's profile, avatar and status, and avatars of others as far as
//! the caller may see them.

use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::accounts::DeleteAccountRequest;
use crate::ids::UserId;
use crate::profile::{OwnProfile, ProfileUpdate, StatusView};

/// Multipart framing around the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

pub fn routes(state: &AppState) -> Routes {
    let max_upload = state.settings.profile.max_avatar_bytes + MULTIPART_OVERHEAD;
    let avatar_upload = OpenApiRouter::new()
        .routes(routes!(upload_avatar))
        .layer(axum::extract::DefaultBodyLimit::max(usize::try_from(max_upload).unwrap_or(usize::MAX)));
    // Deleting the account checks a password: limited like a login.
    let deletion = OpenApiRouter::new().routes(routes!(delete_account));
    OpenApiRouter::new()
        .merge(limited(state, LimitClass::Avatar, avatar_upload))
        .merge(limited(state, LimitClass::Login, deletion))
        .merge(limited(
            state,
            LimitClass::Default,
            OpenApiRouter::new()
                .routes(routes!(get_profile, update_profile))
                .routes(routes!(get_avatar))
                .routes(routes!(get_status)),
        ))
}

/// The caller's account and profile.
#[utoipa::path(get, path = "/user/profile", tag = "user", security(("bearer" = [])),
    responses(
        (status = 200, body = OwnProfile),
    ))]
async fn get_profile(State(state): State<AppState>, AuthUser(user): AuthUser) -> AppJson<OwnProfile> {
    AppJson(state.profiles.own(&user))
}

/// Update the caller's profile. Fields left out stay unchanged; every invalid field
/// is listed in the error.
#[utoipa::path(put, path = "/user/profile", tag = "user", security(("bearer" = [])), request_body = ProfileUpdate,
    responses(
        (status = 200, body = OwnProfile),
        (status = 400, description = "`validation_error` with `errors` per field, or `bad_request` (unknown field, wrong type)", body = ErrorBody),
    ))]
async fn update_profile(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(update): AppJson<ProfileUpdate>,
) -> Result<AppJson<OwnProfile>, ApiError> {
    Ok(AppJson(state.profiles.update(&user, update).await?))
}

/// Erase the caller's account (password required): ends its room and search, revokes
/// its tokens, deletes profile, avatar and messages. Reports keep the bare user id.
#[utoipa::path(delete, path = "/user/account", tag = "user", security(("bearer" = [])), request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "Erased"),
        (status = 400, description = "`validation_error` on `password` (incorrect) or a bad body", body = ErrorBody),
        (status = 503, description = "Every core is busy with password checks; see Retry-After", body = ErrorBody),
    ))]
async fn delete_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(req): AppJson<DeleteAccountRequest>,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_account(&user, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The upload form: one `file` part.
#[derive(ToSchema)]
#[allow(dead_code)]
struct AvatarUpload {
    /// JPEG, PNG, WebP or GIF.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
}

/// Upload an avatar (multipart field `file`). It is decoded and re-encoded; full,
/// semi-blurred and blurred variants are stored.
#[utoipa::path(post, path = "/user/avatar", tag = "user", security(("bearer" = [])),
    request_body(content = AvatarUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored; the profile with its new `avatar_url`", body = OwnProfile),
        (status = 400, description = "`invalid_image` (not a JPEG/PNG/WebP/GIF that decodes), `validation_error` on `file` (no `file` part) or `bad_request` (not multipart)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over the size limit", body = ErrorBody),
        (status = 503, description = "Every core is busy decoding images; see Retry-After", body = ErrorBody),
    ))]
async fn upload_avatar(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    mut multipart: Multipart,
) -> Result<AppJson<OwnProfile>, ApiError> {
    let limit = state.settings.profile.max_avatar_bytes;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        // Counted while streaming: an oversized upload is refused as soon as it
        // crosses the limit, without buffering the rest.
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(AppJson(state.profiles.upload_avatar(&user, bytes).await?));
    }
    Err(ApiError::field("file", "a multipart part named `file` is required"))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the image is larger than {}", bytesize::ByteSize(limit).display().iec()),
    )
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::PayloadTooLarge, "the upload is too large")
    } else {
        ApiError::new(ErrorCode::BadRequest, format!("invalid multipart body: {}", e.body_text()))
    }
}

#[derive(Deserialize, IntoParams)]
#[allow(dead_code)]
struct AvatarQuery {
    /// The avatar version from `avatar_url`; only there so a new upload gets a new URL.
    v: Option<String>,
}

/// A user's avatar in the variant the caller may see: their own in full, any in full
/// for administrators (moderation), the current partner's at the room's reveal level;
/// anyone else gets 404.
#[utoipa::path(get, path = "/user/avatar/{user_id}", tag = "user", security(("bearer" = [])),
    params(("user_id" = i64, Path, description = "Whose avatar"), AvatarQuery),
    responses(
        (status = 200, description = "JPEG image", content_type = "image/jpeg"),
        (status = 304, description = "Unchanged since the given ETag"),
        (status = 404, description = "No avatar, or not one the caller may see", body = ErrorBody),
    ))]
async fn get_avatar(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppPath(owner): AppPath<i64>,
    AppQuery(_version): AppQuery<AvatarQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (bytes, version, variant) = state.profiles.avatar_for(&viewer, UserId(owner)).await?;
    let etag = format!("\"{version}-{variant:?}\"");
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
        (header::ETAG, HeaderValue::from_str(&etag).expect("ascii etag")),
    ];
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"))], bytes).into_response())
}

/// The caller's status: idle, searching or connected, and the current room.
#[utoipa::path(get, path = "/user/status", tag = "user", security(("bearer" = [])),
    responses(
        (status = 200, body = StatusView),
    ))]
async fn get_status(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<AppJson<StatusView>, ApiError> {
    Ok(AppJson(state.profiles.status(&user, state.realtime.connections.is_online(user.user_id())).await?))
}
