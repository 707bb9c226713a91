//! Reports (SPEC 6): one per reporter per room, with a copy of the room's last
//! messages as evidence, and the automatic ban when enough distinct people report the
//! same user within the window.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorCode, FieldError};
use crate::ids::UserId;
use crate::room::MessageView;
use crate::store::{Constraint, NewReport, RoomRow, StoreError};

/// Why someone is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportReason {
    Spam,
    Harassment,
    Underage,
    Inappropriate,
    Other,
}

impl ReportReason {
    pub const ALL: [ReportReason; 5] = [
        ReportReason::Spam,
        ReportReason::Harassment,
        ReportReason::Underage,
        ReportReason::Inappropriate,
        ReportReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Spam => "spam",
            ReportReason::Harassment => "harassment",
            ReportReason::Underage => "underage",
            ReportReason::Inappropriate => "inappropriate",
            ReportReason::Other => "other",
        }
    }
}

/// Longest note a reporter may add.
pub const MAX_DETAILS_CHARS: usize = 1000;

/// Files `reporter`'s report about their partner in `room`; returns the report id and
/// how many messages were copied. May ban the partner automatically.
pub async fn report(
    state: &AppState,
    room: &RoomRow,
    reporter: UserId,
    reason: ReportReason,
    details: Option<&str>,
) -> Result<(i64, usize), ApiError> {
    let reported = room.partner_of(reporter).ok_or_else(|| ApiError::not_found("room"))?;
    let details = details.map(str::trim).filter(|d| !d.is_empty());
    if details.is_some_and(|d| d.chars().count() > MAX_DETAILS_CHARS) {
        return Err(ApiError::validation(vec![FieldError::new(
            "details",
            format!("must be at most {MAX_DETAILS_CHARS} characters"),
        )]));
    }
    let now = state.clock.now();
    if let Some(ended) = room.end_time {
        let window = state.settings.room.report_window;
        if crate::clock::Timestamp::from_millis(ended).plus(window) < now {
            return Err(ApiError::new(
                ErrorCode::ReportWindowClosed,
                "this room ended too long ago to report",
            ));
        }
    }
    let evidence = state
        .store
        .last_messages(room.id, i64::from(state.settings.moderation.report_evidence_messages))
        .await?;
    let evidence: Vec<MessageView> = evidence.iter().map(MessageView::from).collect();
    let evidence_json = serde_json::to_string(&evidence).expect("messages serialise");
    let stored = state
        .store
        .insert_report(&NewReport {
            reporter,
            reported,
            room_id: room.id,
            reason: reason.as_str(),
            details,
            evidence: &evidence_json,
            now,
        })
        .await;
    let report = match stored {
        Ok(report) => report,
        Err(StoreError::Conflict(Constraint::Report)) => {
            return Err(ApiError::new(ErrorCode::AlreadyReported, "you already reported this room"))
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(report_id = report.id, room_id = room.id, reason = reason.as_str(), "report filed");
    autoban(state, reported).await?;
    Ok((report.id, evidence.len()))
}

/// Bans `user` for `autoban_days` when `autoban_reporters` distinct people reported
/// them within `autoban_window`, unless a ban is already in force.
async fn autoban(state: &AppState, user: UserId) -> Result<(), ApiError> {
    let settings = &state.settings.moderation;
    let now = state.clock.now();
    let reporters = state.store.distinct_reporters(user, now.minus(settings.autoban_window)).await?;
    if reporters < i64::from(settings.autoban_reporters) {
        return Ok(());
    }
    let Some(row) = state.store.user(user).await? else { return Ok(()) };
    if row.ban_in_force(now).is_some() {
        return Ok(());
    }
    let reason = format!(
        "automatic: reported by {reporters} people within {}",
        humantime::format_duration(settings.autoban_window)
    );
    super::ban_for(state, user, Duration::from_secs(u64::from(settings.autoban_days) * 86_400), &reason)
        .await?;
    Ok(())
}
