//! Reports of one participant about the other, with an evidence copy of messages.

use sqlx::FromRow;

use super::{on_unique, Constraint, Store, StoreError};
use crate::clock::Timestamp;
use crate::ids::{RoomId, UserId};

#[derive(Clone, Debug, FromRow)]
pub struct ReportRow {
    pub id: i64,
    pub reporter_id: i64,
    pub reported_id: i64,
    pub room_id: RoomId,
    pub reason: String,
    pub details: Option<String>,
    /// JSON array of the copied messages (`[]` once purged).
    pub evidence: String,
    pub created_at: i64,
    /// `open`, `dismissed` or `actioned`.
    pub state: String,
    pub resolved_at: Option<i64>,
    /// When the evidence was erased at the end of its retention.
    pub evidence_purged_at: Option<i64>,
    /// The administrator who resolved it.
    pub resolved_by: Option<i64>,
    /// The reporter's and the reported user's usernames, while their accounts exist
    /// (read by the listing; None elsewhere).
    #[sqlx(default)]
    pub reporter_username: Option<String>,
    #[sqlx(default)]
    pub reported_username: Option<String>,
}

/// Which reports a listing shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReportFilter<'a> {
    /// `open`, `dismissed` or `actioned`.
    pub state: Option<&'a str>,
    pub reported: Option<UserId>,
}

pub struct NewReport<'a> {
    pub reporter: UserId,
    pub reported: UserId,
    pub room_id: RoomId,
    pub reason: &'a str,
    pub details: Option<&'a str>,
    pub evidence: &'a str,
    pub now: Timestamp,
}

const REPORT_COLUMNS: &str = "id, reporter_id, reported_id, room_id, reason, details, evidence, created_at, \
     state, resolved_at, evidence_purged_at, resolved_by";

/// The report columns qualified by `r.`, with the two usernames, for the listings.
const REPORT_LIST_COLUMNS: &str = "r.id, r.reporter_id, r.reported_id, r.room_id, r.reason, r.details, \
     r.evidence, r.created_at, r.state, r.resolved_at, r.evidence_purged_at, r.resolved_by, \
     a.username AS reporter_username, b.username AS reported_username";

impl Store {
    /// Stores a report; `Conflict(Constraint::Report)` when this reporter already reported
    /// this room.
    pub async fn insert_report(&self, report: &NewReport<'_>) -> Result<ReportRow, StoreError> {
        let sql = format!(
            "INSERT INTO reports (reporter_id, reported_id, room_id, reason, details, evidence, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {REPORT_COLUMNS}"
        );
        sqlx::query_as(&sql)
            .bind(report.reporter.0)
            .bind(report.reported.0)
            .bind(report.room_id)
            .bind(report.reason)
            .bind(report.details)
            .bind(report.evidence)
            .bind(report.now.as_millis())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| on_unique(e, &[Constraint::Report]))
    }

    /// Sets a report's state (`dismissed` or `actioned`), who resolved it and when; the
    /// report as it is now, None when there is no such report.
    pub async fn resolve_report(
        &self,
        id: i64,
        state: &str,
        by: UserId,
        now: Timestamp,
    ) -> Result<Option<ReportRow>, sqlx::Error> {
        let updated =
            sqlx::query("UPDATE reports SET state = $2, resolved_at = $3, resolved_by = $4 WHERE id = $1")
                .bind(id)
                .bind(state)
                .bind(now.as_millis())
                .bind(by.0)
                .execute(&self.pool)
                .await?
                .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        self.report(id).await
    }

    /// One report, with the usernames.
    pub async fn report(&self, id: i64) -> Result<Option<ReportRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {REPORT_LIST_COLUMNS} FROM reports r LEFT JOIN users a ON a.id = r.reporter_id \
             LEFT JOIN users b ON b.id = r.reported_id WHERE r.id = $1"
        );
        sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await
    }

    /// Erases the evidence of every report whose retention ended before `cutoff`
    /// (counted from the report, or from its resolution if that came later); how many.
    pub async fn purge_evidence_before(&self, cutoff: Timestamp, now: Timestamp) -> Result<u64, sqlx::Error> {
        let purged = sqlx::query(
            "UPDATE reports SET evidence = '[]', evidence_purged_at = $2 \
             WHERE evidence_purged_at IS NULL \
             AND (CASE WHEN resolved_at > created_at THEN resolved_at ELSE created_at END) < $1",
        )
        .bind(cutoff.as_millis())
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if purged > 0 {
            self.erased();
        }
        Ok(purged)
    }

    /// Distinct users who reported `user` since `since`, leaving out reports a moderator
    /// dismissed.
    pub async fn distinct_reporters(&self, user: UserId, since: Timestamp) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(DISTINCT reporter_id) FROM reports WHERE reported_id = $1 AND created_at >= $2 \
             AND state <> 'dismissed'",
        )
        .bind(user.0)
        .bind(since.as_millis())
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// One page of the reports `filter` selects, newest first, and the total.
    pub async fn list_reports(
        &self,
        filter: ReportFilter<'_>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ReportRow>, i64), sqlx::Error> {
        // '' and -1 stand for "any": an untyped NULL parameter does not type on PostgreSQL.
        let state = filter.state.unwrap_or("");
        let reported = filter.reported.map_or(-1, |u| u.0);
        let condition = "($1 = '' OR r.state = $1) AND ($2 = -1 OR r.reported_id = $2)";
        let sql = format!(
            "SELECT {REPORT_LIST_COLUMNS} FROM reports r LEFT JOIN users a ON a.id = r.reporter_id \
             LEFT JOIN users b ON b.id = r.reported_id WHERE {condition} ORDER BY r.id DESC LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query_as(&sql)
            .bind(state)
            .bind(reported)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM reports r WHERE {condition}"))
            .bind(state)
            .bind(reported)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// Reports waiting for a moderator.
    pub async fn count_open_reports(&self) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM reports WHERE state = 'open'").fetch_one(&self.pool).await?;
        Ok(n)
    }

    pub async fn count_reports_since(&self, since: Timestamp) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM reports WHERE created_at >= $1")
            .bind(since.as_millis())
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}
