//! Search tickets: one per searching user, with the profile fields the matcher needs.

use sqlx::FromRow;

use super::{on_unique, Constraint, DatabaseKind, Store, StoreError};
use crate::clock::Timestamp;
use crate::ids::UserId;

/// A stored ticket joined with its user's matching profile.
#[derive(Clone, Debug, FromRow)]
pub struct TicketRow {
    pub user_id: i64,
    pub kind: String,
    pub enqueued_at: i64,
    pub gender: Option<String>,
    pub preferred_gender: Option<String>,
    pub needs: Option<String>,
    pub interests: Option<String>,
}

const TICKET_COLUMNS: &str =
    "t.user_id, t.kind, t.enqueued_at, u.gender, u.preferred_gender, u.needs, u.interests";

impl Store {
    /// Stores a ticket; `Conflict(Constraint::Ticket)` when the user already holds one.
    pub async fn insert_ticket(&self, user: UserId, kind: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO search_tickets (user_id, kind, enqueued_at) VALUES ($1, $2, $3)")
            .bind(user.0)
            .bind(kind)
            .bind(now.as_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| on_unique(e, &[Constraint::Ticket]))?;
        Ok(())
    }

    /// Stores a ticket only if the user is, at that moment, in no room and not banned:
    /// true when stored, false when the user was busy (matched meanwhile, or banned).
    /// `Conflict(Constraint::Ticket)` when the user already holds one. The check and
    /// the insert are one statement; on PostgreSQL the user's row is locked for it
    /// (`FOR SHARE`), so a match committing for this user at the same moment is
    /// waited for and then seen. [`Store::create_match`] locks the users' rows before
    /// it removes their tickets, so the two never wait on each other in a circle.
    pub async fn insert_ticket_if_free(
        &self,
        user: UserId,
        kind: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let lock = if self.kind == DatabaseKind::Postgres { " FOR SHARE" } else { "" };
        let sql = format!(
            "INSERT INTO search_tickets (user_id, kind, enqueued_at) \
             SELECT id, $2, $3 FROM users WHERE id = $1 AND current_room_id IS NULL \
             AND (banned_until IS NULL OR banned_until <= $3){lock}"
        );
        let done = sqlx::query(&sql)
            .bind(user.0)
            .bind(kind)
            .bind(now.as_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| on_unique(e, &[Constraint::Ticket]))?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a user's ticket; false when there was none.
    pub async fn delete_ticket(&self, user: UserId) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM search_tickets WHERE user_id = $1")
            .bind(user.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user's ticket, if searching: `(kind, enqueued_at)`.
    pub async fn ticket(&self, user: UserId) -> Result<Option<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT kind, enqueued_at FROM search_tickets WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await
    }

    /// Every ticket, oldest first, for reloading the matcher at start.
    pub async fn all_tickets(&self) -> Result<Vec<TicketRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM search_tickets t JOIN users u ON u.id = t.user_id ORDER BY t.enqueued_at, t.user_id"
        );
        sqlx::query_as(&sql).fetch_all(&self.pool).await
    }

    /// Users `user` must not be matched with: partners of rooms started after
    /// `since` (the rematch cooldown), and anyone who reported or was reported by them.
    pub async fn avoid_list(&self, user: UserId, since: Timestamp) -> Result<Vec<UserId>, sqlx::Error> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT user_b FROM rooms WHERE user_a = $1 AND start_time > $2 \
             UNION SELECT user_a FROM rooms WHERE user_b = $1 AND start_time > $2 \
             UNION SELECT reported_id FROM reports WHERE reporter_id = $1 \
             UNION SELECT reporter_id FROM reports WHERE reported_id = $1",
        )
        .bind(user.0)
        .bind(since.as_millis())
        .fetch_all(&self.pool)
        .await?;
        let mut ids: Vec<UserId> = rows.into_iter().map(|(id,)| UserId(id)).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Waiting tickets by kind, for the admin dashboard.
    pub async fn count_tickets(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT kind, COUNT(*) FROM search_tickets GROUP BY kind").fetch_all(&self.pool).await
    }
}
