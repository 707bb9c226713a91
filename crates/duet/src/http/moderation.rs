//! `/admin` for moderation and operations: reports with their evidence, rooms,
//! ending a room, the dashboard counts and the state of the background tasks.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::admin::{page_and_limit, Page};
use super::error::{ApiError, ErrorBody};
use super::extract::{AdminUser, AppJson, AppPath, AppQuery};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::clock::Timestamp;
use crate::ids::{RoomId, Seq};
use crate::moderation::Resolution;
use crate::room::{CallEndReason, EndReason};
use crate::store::{ReportRow, RoomFilter, RoomRow};
use crate::tasks::TaskReport;
use crate::tasks::HOUSEKEEPING_INTERVAL;

pub fn routes(state: &AppState) -> Routes {
    limited(
        state,
        LimitClass::Default,
        OpenApiRouter::new()
            .routes(routes!(list_reports))
            .routes(routes!(resolve_report))
            .routes(routes!(list_rooms))
            .routes(routes!(end_room))
            .routes(routes!(dashboard))
            .routes(routes!(status)),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page, at most 1,000,000 (default 1).
    page: Option<i64>,
    /// Items per page, 1–100 (default 20).
    limit: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomStatus {
    Active,
    Ended,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoomListQuery {
    /// 1-based page, at most 1,000,000 (default 1).
    page: Option<i64>,
    /// Items per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Only active or only ended rooms (default both).
    #[param(inline)]
    status: Option<RoomStatus>,
}

fn time(ms: i64) -> DateTime<Utc> {
    Timestamp::from_millis(ms).to_datetime()
}

/// A report as moderators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub id: i64,
    pub reporter_id: i64,
    pub reported_id: i64,
    pub room_id: RoomId,
    pub reason: String,
    pub details: Option<String>,
    /// The room's last messages when the report was filed, oldest first; a message
    /// whose author deleted their account has `user_id` null; empty once the
    /// retention (`--evidence-retention`) has ended.
    #[schema(value_type = Vec<Object>)]
    pub evidence: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// `open`, `dismissed` or `actioned`.
    pub state: String,
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the evidence was erased, at the end of its retention.
    pub evidence_erased_at: Option<DateTime<Utc>>,
}

impl From<ReportRow> for ReportView {
    fn from(r: ReportRow) -> Self {
        ReportView {
            id: r.id,
            reporter_id: r.reporter_id,
            reported_id: r.reported_id,
            room_id: r.room_id,
            reason: r.reason,
            details: r.details,
            evidence: serde_json::from_str(&r.evidence).unwrap_or(serde_json::Value::Null),
            created_at: time(r.created_at),
            state: r.state,
            resolved_at: r.resolved_at.map(time),
            evidence_erased_at: r.evidence_purged_at.map(time),
        }
    }
}

/// Reports, newest first, with their evidence.
#[utoipa::path(get, path = "/admin/reports", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, body = Page<ReportView>),
        (status = 400, description = "Bad page or limit", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
async fn list_reports(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<PageQuery>,
) -> Result<AppJson<Page<ReportView>>, ApiError> {
    let (page, limit, offset) = page_and_limit(query.page, query.limit)?;
    let (rows, total) = state.store.list_reports(offset, limit).await?;
    Ok(AppJson(Page { items: rows.into_iter().map(ReportView::from).collect(), total, page, limit }))
}

/// A room as moderators see it (no messages).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRoomView {
    pub id: RoomId,
    #[serde(rename = "type")]
    pub kind: String,
    pub users: [i64; 2],
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub reveal_level: i64,
    pub kept: bool,
    pub score: i64,
    /// Matched through the fallback (no shared need).
    pub fallback: bool,
    pub last_seq: Seq,
}

impl From<RoomRow> for AdminRoomView {
    fn from(r: RoomRow) -> Self {
        let (keep_a, keep_b) = r.keeps();
        AdminRoomView {
            id: r.id,
            kind: r.kind,
            users: [r.user_a, r.user_b],
            start_time: time(r.start_time),
            end_time: r.end_time.map(time),
            end_reason: r.end_reason,
            reveal_level: r.reveal_level,
            kept: keep_a && keep_b,
            score: r.score,
            fallback: r.fallback != 0,
            last_seq: r.last_seq,
        }
    }
}

/// Rooms, newest first.
#[utoipa::path(get, path = "/admin/rooms", tag = "admin", security(("bearer" = [])), params(RoomListQuery),
    responses(
        (status = 200, body = Page<AdminRoomView>),
        (status = 400, description = "Bad page, limit or status", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
async fn list_rooms(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<RoomListQuery>,
) -> Result<AppJson<Page<AdminRoomView>>, ApiError> {
    let (page, limit, offset) = page_and_limit(query.page, query.limit)?;
    let filter = match query.status {
        None => RoomFilter::All,
        Some(RoomStatus::Active) => RoomFilter::Active,
        Some(RoomStatus::Ended) => RoomFilter::Ended,
    };
    let (rows, total) = state.store.list_rooms(filter, offset, limit).await?;
    Ok(AppJson(Page { items: rows.into_iter().map(AdminRoomView::from).collect(), total, page, limit }))
}

/// A moderator's decision about a report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub state: Resolution,
}

/// Resolve a report (`dismissed` or `actioned`; again to change it). Its evidence is
/// then kept `--evidence-retention` from now.
#[utoipa::path(post, path = "/admin/reports/{id}/resolve", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ResolveRequest,
    responses(
        (status = 200, body = ReportView),
        (status = 400, description = "Bad body or id", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn resolve_report(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(req): AppJson<ResolveRequest>,
) -> Result<AppJson<ReportView>, ApiError> {
    let row = state.moderation.resolve(id, req.state).await?.ok_or_else(|| ApiError::not_found("report"))?;
    Ok(AppJson(row.into()))
}

/// End a room as an administrator (reason `admin`). Idempotent.
#[utoipa::path(post, path = "/admin/rooms/{id}/end", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "`{room_id, already_ended}`"),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn end_room(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<RoomId>,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    state.store.room(id).await?.ok_or_else(|| ApiError::not_found("room"))?;
    let ended = state.rooms.end(id, EndReason::Admin).await?;
    Ok(AppJson(serde_json::json!({ "room_id": id, "already_ended": !ended })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserCounts {
    pub idle: i64,
    pub searching: i64,
    pub connected: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomCounts {
    pub active: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueCounts {
    pub chat: i64,
    pub voice: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub users: UserCounts,
    pub rooms: RoomCounts,
    /// Waiting search tickets by type.
    pub queues: QueueCounts,
    /// Reports filed since midnight UTC.
    pub reports_today: i64,
    /// Accounts with a ban in force.
    pub active_bans: i64,
    pub calls: CallCounts,
}

/// Voice calls: those ringing or active now, and, since this process started, the
/// aggregates that outlive the calls' records (erased with their rooms).
#[derive(Debug, Serialize, ToSchema)]
pub struct CallCounts {
    /// Calls ringing or active now.
    pub active: i64,
    pub started: u64,
    /// Calls that were answered and have ended, and their total length in seconds.
    pub answered: u64,
    pub talk_seconds: f64,
    /// Ended calls by reason (`declined`, `missed`, `hangup`, `room_ended`, `disconnected`).
    pub ended: std::collections::BTreeMap<String, u64>,
}

impl CallCounts {
    fn read(active: i64, metrics: &crate::metrics::Metrics) -> Self {
        let ended = CallEndReason::ALL
            .into_iter()
            .map(|r| (r.as_str().to_owned(), metrics.calls_ended.with_label_values(&[r.as_str()]).get()))
            .collect();
        CallCounts {
            active,
            started: metrics.calls_started.get(),
            answered: metrics.call_duration.get_sample_count(),
            talk_seconds: metrics.call_duration.get_sample_sum(),
            ended,
        }
    }
}

/// Counts for the moderators' dashboard.
#[utoipa::path(get, path = "/admin/dashboard", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Dashboard),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
async fn dashboard(State(state): State<AppState>, _admin: AdminUser) -> Result<AppJson<Dashboard>, ApiError> {
    let now = state.clock.now();
    let (idle, searching, connected, active_bans) = state.store.count_user_states(now).await?;
    let (active, total) = state.store.count_rooms().await?;
    let tickets = state.store.count_tickets().await?;
    let queue = |kind: &str| tickets.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
    let midnight = now.date().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis();
    let reports_today = state.store.count_reports_since(Timestamp::from_millis(midnight)).await?;
    let active_calls = state.store.count_open_calls().await?;
    Ok(AppJson(Dashboard {
        users: UserCounts { idle, searching, connected },
        rooms: RoomCounts { active, total },
        queues: QueueCounts { chat: queue("chat"), voice: queue("voice") },
        reports_today,
        active_bans,
        calls: CallCounts::read(active_calls, &state.metrics),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomLoop {
    #[serde(flatten)]
    pub task: TaskReport,
    /// Rooms with a pending timer.
    pub scheduled_rooms: usize,
    /// Rooms with a running owner task.
    pub room_owners: usize,
}

/// The background tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TasksStatus {
    pub matching: TaskReport,
    pub rooms: RoomLoop,
    pub housekeeping: TaskReport,
}

/// The state of the lifecycle tasks: how they are scheduled, runs and last runs.
#[utoipa::path(get, path = "/admin/status", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = TasksStatus),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
async fn status(State(state): State<AppState>, _admin: AdminUser) -> AppJson<TasksStatus> {
    let stopping = state.shutdown.is_triggered();
    let (next_room, scheduled_rooms, room_owners) = state.rooms.load();
    let deadline = "at the next deadline".to_owned();
    AppJson(TasksStatus {
        matching: state.matchmaker.stats().report(
            stopping,
            deadline.clone(),
            state.matchmaker.next_deadline().await,
        ),
        rooms: RoomLoop {
            task: state.rooms.stats().report(stopping, deadline, next_room),
            scheduled_rooms,
            room_owners,
        },
        housekeeping: state.housekeeping.report(
            stopping,
            format!("every {}", humantime::format_duration(HOUSEKEEPING_INTERVAL)),
            None,
        ),
    })
}
