//! Reports (SPEC 6): one per reporter per room, with a copy of the room's last
//! messages as evidence, and the automatic ban when enough distinct people report the
//! same user within the window.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BanError, BanLength, Moderation, Subject};
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::room::MessageView;
use crate::store::{Constraint, NewReport, ReportRow, RoomRow, StoreError};
use crate::validation::FieldErrors;

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

/// What a moderator decided about a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// Nothing to act on.
    Dismissed,
    /// Acted on (a ban, a warning).
    Actioned,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Dismissed => "dismissed",
            Resolution::Actioned => "actioned",
        }
    }
}

/// Longest note a reporter may add.
pub const MAX_DETAILS_CHARS: usize = 1000;

/// Why a report was not filed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The reporter is not in the room (told as "room not found").
    #[error("room not found")]
    NotParticipant,
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    #[error("this room ended too long ago to report")]
    WindowClosed,
    #[error("you already reported this room")]
    AlreadyReported,
    /// The report is stored; the automatic ban it triggered failed.
    #[error("automatic ban: {0}")]
    Autoban(#[from] BanError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store::db_error_into!(ReportError);

impl Moderation {
    /// Files `reporter`'s report about their partner in `room`; returns the report id
    /// and how many messages were copied. May ban the partner automatically.
    pub async fn report(
        &self,
        room: &RoomRow,
        reporter: UserId,
        reason: ReportReason,
        details: Option<&str>,
    ) -> Result<(i64, usize), ReportError> {
        let deps = &self.0;
        let reported = room.partner_of(reporter).ok_or(ReportError::NotParticipant)?;
        let details = details.map(str::trim).filter(|d| !d.is_empty());
        if details.is_some_and(|d| d.chars().count() > MAX_DETAILS_CHARS) {
            let message = format!("must be at most {MAX_DETAILS_CHARS} characters");
            return Err(FieldErrors::one("details", message).into());
        }
        let now = deps.clock.now();
        if room.end_time.is_some_and(|ended| Timestamp::from_millis(ended).plus(deps.report_window) < now) {
            return Err(ReportError::WindowClosed);
        }
        let evidence =
            deps.store.last_messages(room.id, i64::from(deps.settings.report_evidence_messages)).await?;
        let evidence: Vec<MessageView> = evidence.iter().map(MessageView::from).collect();
        let evidence_json = serde_json::to_string(&evidence).expect("messages serialise");
        let report = deps
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
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Constraint::Report) => ReportError::AlreadyReported,
                other => other.into(),
            })?;
        tracing::info!(report_id = report.id, room_id = room.id.0, reason = reason.as_str(), "report filed");
        self.autoban(reported).await?;
        Ok((report.id, evidence.len()))
    }

    /// Resolves report `id` as administrator `by`, banning the reported user first when
    /// `ban` says so (only with [`Resolution::Actioned`]); the report as it is now,
    /// None when there is none. Its evidence is then kept `--evidence-retention` from
    /// the resolution. A dismissed report no longer counts toward the automatic ban.
    pub async fn resolve(
        &self,
        id: i64,
        resolution: Resolution,
        by: UserId,
        ban: Option<(BanLength, &str)>,
    ) -> Result<Option<ReportRow>, BanError> {
        let Some(report) = self.0.store.report(id).await? else { return Ok(None) };
        let reported = UserId(report.reported_id);
        if let Some((length, reason)) = ban {
            debug_assert_eq!(resolution, Resolution::Actioned, "a ban actions the report");
            self.ban(reported, length, reason, Some(by), Some(id)).await?;
        }
        let now = self.0.clock.now();
        let row = self.0.store.resolve_report(id, resolution.as_str(), by, now).await?;
        if row.is_some() {
            tracing::info!(report_id = id, state = resolution.as_str(), "report resolved");
            let action = match resolution {
                Resolution::Dismissed => "report_dismissed",
                Resolution::Actioned => "report_actioned",
            };
            let subject = Subject { user: Some(reported), report_id: Some(id), room: Some(report.room_id) };
            self.record(Some(by), action, subject, Some(&report.reason)).await?;
        }
        Ok(row)
    }

    /// Erases the evidence of reports whose retention has ended (housekeeping); how
    /// many.
    pub async fn purge_expired_evidence(&self) -> Result<u64, sqlx::Error> {
        let now = self.0.clock.now();
        let purged =
            self.0.store.purge_evidence_before(now.minus(self.0.settings.evidence_retention), now).await?;
        if purged > 0 {
            tracing::info!(reports = purged, "erased the evidence of reports past their retention");
        }
        Ok(purged)
    }

    /// Bans `user` for `autoban_days` when `autoban_reporters` distinct people reported
    /// them within `autoban_window` (dismissed reports left out), unless a ban is
    /// already in force.
    async fn autoban(&self, user: UserId) -> Result<(), BanError> {
        let deps = &self.0;
        let settings = &deps.settings;
        let now = deps.clock.now();
        let reporters = deps.store.distinct_reporters(user, now.minus(settings.autoban_window)).await?;
        if reporters < i64::from(settings.autoban_reporters) {
            return Ok(());
        }
        let Some(row) = deps.store.user(user).await? else { return Ok(()) };
        if row.ban_in_force(now).is_some() {
            return Ok(());
        }
        let reason = format!(
            "automatic: reported by {reporters} people within {}",
            humantime::format_duration(settings.autoban_window)
        );
        self.ban(user, BanLength::Days(settings.autoban_days), &reason, None, None).await?;
        Ok(())
    }
}
