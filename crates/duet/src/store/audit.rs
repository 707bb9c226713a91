//! The moderators' audit list: one row per moderation action.

use sqlx::FromRow;

use super::Store;
use crate::clock::Timestamp;
use crate::ids::{RoomId, UserId};

/// A recorded moderation action.
#[derive(Clone, Debug, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub created_at: i64,
    /// The administrator who acted; None for the automatic ban.
    pub admin_id: Option<i64>,
    /// The administrator's username, when the account still exists.
    pub admin_username: Option<String>,
    pub action: String,
    pub user_id: Option<i64>,
    pub report_id: Option<i64>,
    pub room_id: Option<i64>,
    pub details: Option<String>,
}

/// An action to record.
#[derive(Clone, Debug)]
pub struct NewAudit<'a> {
    pub admin: Option<UserId>,
    pub action: &'a str,
    pub user: Option<UserId>,
    pub report_id: Option<i64>,
    pub room: Option<RoomId>,
    pub details: Option<&'a str>,
    pub now: Timestamp,
}

impl Store {
    pub async fn record_action(&self, action: &NewAudit<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO moderation_actions (created_at, admin_id, action, user_id, report_id, room_id, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(action.now.as_millis())
        .bind(action.admin.map(|u| u.0))
        .bind(action.action)
        .bind(action.user.map(|u| u.0))
        .bind(action.report_id)
        .bind(action.room.map(|r| r.0))
        .bind(action.details)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One page of the audit list, newest first (only the actions on `user` when
    /// given), and the total.
    pub async fn list_actions(
        &self,
        user: Option<UserId>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AuditRow>, i64), sqlx::Error> {
        // `$1 IS NULL` does not type on PostgreSQL for an untyped parameter; -1 is no id.
        let user = user.map_or(-1, |u| u.0);
        let rows = sqlx::query_as(
            "SELECT a.id, a.created_at, a.admin_id, u.username AS admin_username, a.action, a.user_id, \
             a.report_id, a.room_id, a.details FROM moderation_actions a \
             LEFT JOIN users u ON u.id = a.admin_id \
             WHERE ($1 = -1 OR a.user_id = $1) ORDER BY a.id DESC LIMIT $2 OFFSET $3",
        )
        .bind(user)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let (total,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM moderation_actions WHERE ($1 = -1 OR user_id = $1)")
                .bind(user)
                .fetch_one(&self.pool)
                .await?;
        Ok((rows, total))
    }
}
