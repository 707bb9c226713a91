//! `/admin` for moderation and operations: reports with their evidence, rooms,
//! ending a room, the audit list of moderation actions, the dashboard and the state of
//! the background tasks.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::admin::{page_and_limit, BanRequest, Page};
use super::error::{ApiError, ErrorBody, FieldError};
use super::extract::{AdminUser, AppJson, AppPath, AppQuery};
use super::ratelimit::LimitClass;
use super::AppState;
use super::{limited, Routes};
use crate::activity::ActivityReport;
use crate::clock::Timestamp;
use crate::ids::{RoomId, Seq, UserId};
use crate::moderation::Resolution;
use crate::room::{CallEndReason, EndReason};
use crate::store::{AuditRow, ReportFilter, ReportRow, RoomFilter, RoomRow};
use crate::tasks::TaskReport;
use crate::tasks::HOUSEKEEPING_INTERVAL;

pub fn routes(state: &AppState) -> Routes {
    limited(
        state,
        LimitClass::Default,
        OpenApiRouter::new()
            .routes(routes!(list_reports))
            .routes(routes!(resolve_report))
            .routes(routes!(list_audit))
            .routes(routes!(list_rooms))
            .routes(routes!(end_room))
            .routes(routes!(dashboard))
            .routes(routes!(status)),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportState {
    Open,
    Dismissed,
    Actioned,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportListQuery {
    /// 1-based page, at most 1,000,000 (default 1).
    page: Option<i64>,
    /// Items per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Only reports in this state.
    #[param(inline)]
    state: Option<ReportState>,
    /// Only reports about this user (their history).
    reported_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1-based page, at most 1,000,000 (default 1).
    page: Option<i64>,
    /// Items per page, 1–100 (default 20).
    limit: Option<i64>,
    /// Only actions on this user (their bans, unbans, reports resolved).
    user_id: Option<i64>,
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

/// A user id given as a list filter: ids start at 1, so anything lower is refused
/// rather than read as no filter.
fn user_filter(field: &'static str, id: Option<i64>) -> Result<Option<UserId>, ApiError> {
    match id {
        Some(id) if id < 1 => {
            Err(ApiError::validation(vec![FieldError::new(field, "must be a user id (1 or more)")]))
        }
        id => Ok(id.map(UserId)),
    }
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
    /// Null once the account is erased.
    pub reporter_username: Option<String>,
    pub reported_username: Option<String>,
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
    /// The administrator who resolved it.
    pub resolved_by: Option<i64>,
    /// When the evidence was erased, at the end of its retention.
    pub evidence_erased_at: Option<DateTime<Utc>>,
}

impl From<ReportRow> for ReportView {
    fn from(r: ReportRow) -> Self {
        ReportView {
            id: r.id,
            reporter_id: r.reporter_id,
            reported_id: r.reported_id,
            reporter_username: r.reporter_username,
            reported_username: r.reported_username,
            room_id: r.room_id,
            reason: r.reason,
            details: r.details,
            evidence: serde_json::from_str(&r.evidence).unwrap_or(serde_json::Value::Null),
            created_at: time(r.created_at),
            state: r.state,
            resolved_at: r.resolved_at.map(time),
            resolved_by: r.resolved_by,
            evidence_erased_at: r.evidence_purged_at.map(time),
        }
    }
}

/// Reports, newest first, with their evidence; by state, or about one user.
#[utoipa::path(get, path = "/admin/reports", tag = "admin", security(("bearer" = [])), params(ReportListQuery),
    responses(
        (status = 200, body = Page<ReportView>),
        (status = 400, description = "Bad page, limit, state or id", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
    ))]
async fn list_reports(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<ReportListQuery>,
) -> Result<AppJson<Page<ReportView>>, ApiError> {
    let (page, limit, offset) = page_and_limit(query.page, query.limit)?;
    let filter = ReportFilter {
        state: query.state.map(|s| match s {
            ReportState::Open => "open",
            ReportState::Dismissed => "dismissed",
            ReportState::Actioned => "actioned",
        }),
        reported: user_filter("reported_id", query.reported_id)?,
    };
    let (rows, total) = state.store.list_reports(filter, offset, limit).await?;
    Ok(AppJson(Page { items: rows.into_iter().map(ReportView::from).collect(), total, page, limit }))
}

/// A recorded moderation action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The administrator who acted; null for the automatic ban.
    pub admin_id: Option<i64>,
    /// Null for the automatic ban, or once the administrator's account is erased.
    pub admin_username: Option<String>,
    /// `ban`, `autoban`, `unban`, `report_dismissed`, `report_actioned`, `room_ended`
    /// or `user_updated`.
    pub action: String,
    pub user_id: Option<i64>,
    pub report_id: Option<i64>,
    pub room_id: Option<i64>,
    /// A ban's length and reason, a report's reason, the fields an edit changed.
    pub details: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(a: AuditRow) -> Self {
        AuditEntry {
            id: a.id,
            at: time(a.created_at),
            admin_id: a.admin_id,
            admin_username: a.admin_username,
            action: a.action,
            user_id: a.user_id,
            report_id: a.report_id,
            room_id: a.room_id,
            details: a.details,
        }
    }
}

/// The audit list: every moderation action, newest first, or those on one user.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses(
        (status = 200, body = Page<AuditEntry>),
        (status = 400, description = "Bad page, limit or id", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
    ))]
async fn list_audit(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<AppJson<Page<AuditEntry>>, ApiError> {
    let (page, limit, offset) = page_and_limit(query.page, query.limit)?;
    let user = user_filter("user_id", query.user_id)?;
    let (rows, total) = state.store.list_actions(user, offset, limit).await?;
    Ok(AppJson(Page { items: rows.into_iter().map(AuditEntry::from).collect(), total, page, limit }))
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
    /// Seconds from the start to the end, or to now for an active room.
    pub age_seconds: i64,
    pub reveal_level: i64,
    /// Both participants keep the room.
    pub kept: bool,
    /// Whether each participant (in `users` order) asked to keep it.
    pub keeps: [bool; 2],
    /// Participants with a chat socket open on this instance (0–2; 0 once ended).
    pub connections: u8,
    /// The next timer of an active room.
    pub next_timer: Option<NextTimer>,
    pub score: i64,
    /// Matched through the fallback (no shared need).
    pub fallback: bool,
    pub last_seq: Seq,
}

/// What a room's lifecycle does next, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextTimer {
    /// `expiry`, `abandoned`, `inactivity`, `ring_timeout`, `call_disconnect`,
    /// `answer_deadline` (a like round closes) or `open_round` (a like round opens).
    pub kind: &'static str,
    pub at: DateTime<Utc>,
}

impl AdminRoomView {
    fn new(state: &AppState, r: RoomRow, call: Option<&crate::store::CallRow>) -> Self {
        let (keep_a, keep_b) = r.keeps();
        let active = r.end_time.is_none();
        let end = r.end_time.unwrap_or_else(|| state.clock.now().as_millis());
        let connections = if active {
            r.participants().iter().filter(|u| state.realtime.connections.has_chat_socket(**u, r.id)).count()
                as u8
        } else {
            0
        };
        let next_timer = if active { state.rooms.next_timer(&r, call) } else { None }
            .map(|(at, timer)| NextTimer { kind: timer.as_str(), at: at.to_datetime() });
        AdminRoomView {
            id: r.id,
            kind: r.kind,
            users: [r.user_a, r.user_b],
            start_time: time(r.start_time),
            end_time: r.end_time.map(time),
            end_reason: r.end_reason,
            age_seconds: (end - r.start_time).max(0) / 1000,
            reveal_level: r.reveal_level,
            kept: keep_a && keep_b,
            keeps: [keep_a, keep_b],
            connections,
            next_timer,
            score: r.score,
            fallback: r.fallback != 0,
            last_seq: r.last_seq,
        }
    }
}

/// Rooms, newest first, with their connections and next timer.
#[utoipa::path(get, path = "/admin/rooms", tag = "admin", security(("bearer" = [])), params(RoomListQuery),
    responses(
        (status = 200, body = Page<AdminRoomView>),
        (status = 400, description = "Bad page, limit or status", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
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
    let mut calls = std::collections::HashMap::new();
    if rows.iter().any(|r| r.end_time.is_none()) {
        for call in state.store.open_calls().await? {
            calls.insert(call.room_id, call);
        }
    }
    let items = rows
        .into_iter()
        .map(|r| {
            let call = calls.get(&r.id);
            AdminRoomView::new(&state, r, call)
        })
        .collect();
    Ok(AppJson(Page { items, total, page, limit }))
}

/// A moderator's decision about a report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub state: Resolution,
    /// Ban the reported user as well (only with `actioned`).
    pub ban: Option<BanRequest>,
}

/// Resolve a report (`dismissed` or `actioned`; again to change it), and with `ban`
/// ban the reported user in the same step. A dismissed report no longer counts toward
/// the automatic ban. Its evidence is then kept `--evidence-retention` from now. Both
/// the resolution and the ban are recorded in the audit list.
#[utoipa::path(post, path = "/admin/reports/{id}/resolve", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ResolveRequest,
    responses(
        (status = 200, body = ReportView),
        (status = 400, description = "Bad body or id; `validation_error` for the ban", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn resolve_report(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<i64>,
    AppJson(req): AppJson<ResolveRequest>,
) -> Result<AppJson<ReportView>, ApiError> {
    let ban = match &req.ban {
        None => None,
        Some(_) if req.state != Resolution::Actioned => {
            return Err(ApiError::validation(vec![FieldError::new(
                "ban",
                "a ban goes with the state actioned",
            )]));
        }
        Some(ban) => Some(ban.check().map_err(ApiError::validation)?),
    };
    if ban.is_some() {
        let report = state.store.report(id).await?.ok_or_else(|| ApiError::not_found("report"))?;
        if report.reported_id == admin.id {
            return Err(ApiError::validation(vec![FieldError::new(
                "ban",
                "administrators cannot ban themselves",
            )]));
        }
    }
    let row = state
        .moderation
        .resolve(id, req.state, UserId(admin.id), ban)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    Ok(AppJson(row.into()))
}

/// End a room as an administrator (reason `admin`), recorded in the audit list.
/// Idempotent.
#[utoipa::path(post, path = "/admin/rooms/{id}/end", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "`{room_id, already_ended}`"),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn end_room(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(id): AppPath<RoomId>,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    state.store.room(id).await?.ok_or_else(|| ApiError::not_found("room"))?;
    let ended = state.moderation.end_room(id, UserId(admin.id)).await?;
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
    /// People with a socket (status or chat) open to this instance now.
    pub online: i64,
    /// Reports waiting for a moderator (state `open`).
    pub reports_open: i64,
    pub activity: ActivityView,
    /// Rooms ended by reason.
    pub ends: EndCounts,
}

/// This instance's recent activity, sampled once a second.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    /// The series cover this many minutes.
    pub window_minutes: u32,
    /// Matches made in each minute, oldest first; the last is the minute up to now.
    pub matches_per_minute: Vec<u64>,
    /// Messages stored and delivered in each minute, oldest first.
    pub messages_per_minute: Vec<u64>,
    pub matches_last_minute: u64,
    /// Over the last 10 seconds.
    pub messages_per_second: f64,
    /// Over the matches of the last hour (each ticket's wait).
    pub time_to_match_ms: Quantiles,
    /// When sampling began (the process start); the series are zero before it.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

impl From<ActivityReport> for ActivityView {
    fn from(r: ActivityReport) -> Self {
        ActivityView {
            window_minutes: crate::activity::MINUTES as u32,
            matches_per_minute: r.matches_per_minute,
            messages_per_minute: r.messages_per_minute,
            matches_last_minute: r.matches_last_minute,
            messages_per_second: r.messages_per_second,
            time_to_match_ms: Quantiles { p50: r.time_to_match_p50_ms, p99: r.time_to_match_p99_ms },
            since: r.since.map(Timestamp::to_datetime),
        }
    }
}

/// Room ends by reason (every reason, zeros included), from the store.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndCounts {
    pub last_hour: std::collections::BTreeMap<String, i64>,
    pub last_day: std::collections::BTreeMap<String, i64>,
}

async fn ends_since(
    state: &AppState,
    since: Timestamp,
) -> Result<std::collections::BTreeMap<String, i64>, ApiError> {
    let mut counts: std::collections::BTreeMap<String, i64> =
        EndReason::ALL.iter().map(|r| (r.as_str().to_owned(), 0)).collect();
    for (reason, n) in state.store.count_ends_since(since).await? {
        *counts.entry(reason).or_default() += n;
    }
    Ok(counts)
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

/// Counts for the moderators' dashboard: people, rooms, queues, reports, calls, the
/// last hour's activity of this instance and room ends by reason.
#[utoipa::path(get, path = "/admin/dashboard", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Dashboard),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
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
    let reports_open = state.store.count_open_reports().await?;
    let hour = std::time::Duration::from_secs(3600);
    let ends = EndCounts {
        last_hour: ends_since(&state, now.minus(hour)).await?,
        last_day: ends_since(&state, now.minus(hour * 24)).await?,
    };
    let activity = state.metrics.activity.report(now, state.metrics.activity_counters());
    Ok(AppJson(Dashboard {
        users: UserCounts { idle, searching, connected },
        rooms: RoomCounts { active, total },
        queues: QueueCounts { chat: queue("chat"), voice: queue("voice") },
        reports_today,
        active_bans,
        calls: CallCounts::read(active_calls, &state.metrics),
        online: state.realtime.connections.online_users() as i64,
        reports_open,
        activity: activity.into(),
        ends,
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
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
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
