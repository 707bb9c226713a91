//! `/admin`: account administration for administrators (everyone else gets 403).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorBody, FieldError};
use super::extract::{AdminUser, AppJson, AppPath, AppQuery};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::auth::Role;
use crate::clock::Timestamp;
use crate::ids::{RoomId, UserId};
use crate::moderation::{is_permanent, BanLength, Subject, MAX_BAN_DAYS};
use crate::profile::{self, OwnProfile, Status};
use crate::store::{AdminUserUpdate, UserFilter, UserRow, UserStatusFilter};

pub fn routes(state: &AppState) -> Routes {
    limited(
        state,
        LimitClass::Default,
        OpenApiRouter::new()
            .routes(routes!(list_users))
            .routes(routes!(get_user, update_user))
            .routes(routes!(ban_user))
            .routes(routes!(unban_user)),
    )
}

/// The largest page number a list accepts: far beyond any real list, and small
/// enough that its offset can never overflow.
const MAX_PAGE: i64 = 1_000_000;

/// Page and limit of a list query, checked: page 1–1,000,000 (default 1), limit
/// 1–100 (default 20). Returns the page, the limit and the offset of its first row.
pub(super) fn page_and_limit(page: Option<i64>, limit: Option<i64>) -> Result<(i64, i64, i64), ApiError> {
    let page = page.unwrap_or(1);
    let limit = limit.unwrap_or(20);
    let mut errors = Vec::new();
    if !(1..=MAX_PAGE).contains(&page) {
        errors.push(FieldError::new("page", "must be between 1 and 1000000"));
    }
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 100"));
    }
    if errors.is_empty() {
        Ok((page, limit, (page - 1) * limit))
    } else {
        Err(ApiError::validation(errors))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: i64,
    /// 1-based page number.
    pub page: i64,
    pub limit: i64,
}

/// An account as administrators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    #[serde(flatten)]
    pub profile: OwnProfile,
    pub status: Status,
    pub current_room_id: Option<RoomId>,
    /// End of the ban in force, if any (null for a permanent ban).
    pub banned_until: Option<chrono::DateTime<chrono::Utc>>,
    /// A permanent ban is in force.
    pub ban_permanent: bool,
    pub ban_reason: Option<String>,
}

impl AdminUserView {
    async fn new(state: &AppState, row: &UserRow) -> Result<Self, ApiError> {
        let now = state.clock.now();
        let banned = row.ban_in_force(now);
        Ok(AdminUserView {
            profile: state.profiles.own(row),
            status: state.profiles.status(row, false).await?.status,
            current_room_id: row.current_room_id,
            banned_until: banned.filter(|until| !is_permanent(*until)).map(Timestamp::to_datetime),
            ban_permanent: banned.is_some_and(is_permanent),
            ban_reason: banned.and(row.ban_reason.clone()),
        })
    }
}

/// Filter of the user list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    Idle,
    Searching,
    Connected,
    Banned,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// 1-based page, at most 1,000,000 (default 1).
    page: Option<i64>,
    /// Items per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Only users in this state.
    #[param(inline)]
    status: Option<StatusFilter>,
    /// Part of the username, nickname or email, ignoring case.
    q: Option<String>,
}

/// List accounts, oldest first.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = [])), params(UserListQuery),
    responses(
        (status = 200, body = Page<AdminUserView>),
        (status = 400, description = "Bad page, limit or status", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<UserListQuery>,
) -> Result<AppJson<Page<AdminUserView>>, ApiError> {
    let (page, limit, offset) = page_and_limit(query.page, query.limit)?;
    let filter = UserFilter {
        status: query.status.map(|s| match s {
            StatusFilter::Idle => UserStatusFilter::Idle,
            StatusFilter::Searching => UserStatusFilter::Searching,
            StatusFilter::Connected => UserStatusFilter::Connected,
            StatusFilter::Banned => UserStatusFilter::Banned,
        }),
        name: query.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
        offset,
        limit,
    };
    let (rows, total) = state.store.list_users(&filter, state.clock.now()).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(AdminUserView::new(&state, row).await?);
    }
    Ok(AppJson(Page { items, total, page, limit }))
}

/// One account.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = AdminUserView),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<AdminUserView>, ApiError> {
    let row = state.store.user(UserId(id)).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok(AppJson(AdminUserView::new(&state, &row).await?))
}

/// What an administrator may change; fields left out stay unchanged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// `user` or `admin`; takes effect on the user's next request (roles are read
    /// from the database, not from tokens). Administrators cannot change their own.
    role: Option<Role>,
    /// Replace an offensive nickname (1–32 characters).
    nickname: Option<String>,
    /// A new email, or `null` to remove it.
    #[serde(default, deserialize_with = "serde_with_none::deserialize")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
}

mod serde_with_none {
    //! Tells a field sent as `null` (Some(None)) from a field left out (None).
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Edit an account.
#[utoipa::path(put, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = UserUpdate,
    responses(
        (status = 200, body = AdminUserView),
        (status = 400, description = "`validation_error` (nickname, email, own role) or `bad_request` (unknown role or field)", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(update): AppJson<UserUpdate>,
) -> Result<AppJson<AdminUserView>, ApiError> {
    let mut errors = Vec::new();
    let nickname = match update.nickname.as_deref().map(profile::validate::nickname) {
        Some(Err(message)) => {
            errors.push(FieldError::new("nickname", message));
            None
        }
        Some(Ok(nickname)) => Some(nickname),
        None => None,
    };
    let email = update.email.map(|e| e.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()));
    if let Some(Some(email)) = &email {
        if !crate::auth::plausible_email(email) {
            errors.push(FieldError::new("email", "is not an email address"));
        }
    }
    if update.role.is_some() && id == admin.id {
        errors.push(FieldError::new("role", "administrators cannot change their own role"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut changed = Vec::new();
    if let Some(role) = update.role {
        changed.push(format!("role: {}", role.as_str()));
    }
    if let Some(nickname) = &nickname {
        changed.push(format!("nickname: {nickname}"));
    }
    if email.is_some() {
        // The address itself stays out of the audit list.
        changed.push("email".to_owned());
    }
    let change = AdminUserUpdate { role: update.role.map(|r| r.as_str().to_owned()), nickname, email };
    let row = state
        .store
        .admin_update_user(UserId(id), &change, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if !changed.is_empty() {
        let subject = Subject { user: Some(UserId(id)), ..Subject::default() };
        state
            .moderation
            .record(Some(UserId(admin.id)), "user_updated", subject, Some(&changed.join(", ")))
            .await?;
    }
    Ok(AppJson(AdminUserView::new(&state, &row).await?))
}

/// A ban: `days` (1–3650) or `permanent: true`, exactly one of them, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// Length of the ban in days (1–3650).
    days: Option<u32>,
    /// A ban with no end (until an administrator lifts it).
    permanent: Option<bool>,
    /// Why; shown to moderators (1–500 characters).
    reason: String,
}

impl BanRequest {
    /// The ban's length and its trimmed reason, or the field errors.
    pub(super) fn check(&self) -> Result<(BanLength, &str), Vec<FieldError>> {
        let mut errors = Vec::new();
        let length = match (self.days, self.permanent) {
            (Some(days), None | Some(false)) if (1..=MAX_BAN_DAYS).contains(&days) => {
                Some(BanLength::Days(days))
            }
            (Some(_), None | Some(false)) => {
                errors.push(FieldError::new("days", format!("must be between 1 and {MAX_BAN_DAYS}")));
                None
            }
            (None, Some(true)) => Some(BanLength::Permanent),
            (Some(_), Some(true)) => {
                errors.push(FieldError::new("permanent", "give either days or permanent, not both"));
                None
            }
            (None, None | Some(false)) => {
                errors.push(FieldError::new("days", "give days (1 to 3650) or permanent: true"));
                None
            }
        };
        let reason = self.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            errors.push(FieldError::new("reason", "must be 1 to 500 characters"));
        }
        match length {
            Some(length) if errors.is_empty() => Ok((length, reason)),
            _ => Err(errors),
        }
    }
}

/// Ban an account, for a number of days or permanently: its tokens stop working at
/// once; it cannot sign in until the ban lapses or is lifted. Recorded in the audit list.
#[utoipa::path(post, path = "/admin/users/{id}/ban", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = BanRequest,
    responses(
        (status = 200, body = AdminUserView),
        (status = 400, description = "`validation_error`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn ban_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(req): AppJson<BanRequest>,
) -> Result<AppJson<AdminUserView>, ApiError> {
    let checked = req.check();
    let mut errors = checked.as_ref().err().cloned().unwrap_or_default();
    if id == admin.id {
        errors.push(FieldError::new("id", "administrators cannot ban themselves"));
    }
    let (length, reason) = match checked {
        Ok(ok) if errors.is_empty() => ok,
        _ => return Err(ApiError::validation(errors)),
    };
    let row = state.moderation.ban(UserId(id), length, reason, Some(UserId(admin.id)), None).await?;
    Ok(AppJson(AdminUserView::new(&state, &row).await?))
}

/// Lift a ban. Recorded in the audit list.
#[utoipa::path(post, path = "/admin/users/{id}/unban", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = AdminUserView),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn unban_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<AdminUserView>, ApiError> {
    let row = state.moderation.unban(UserId(id), UserId(admin.id)).await?;
    Ok(AppJson(AdminUserView::new(&state, &row).await?))
}
