//! The calls of a room: one row per call, written by the room's owner whenever its
//! call changes (rang, answered, muted, ended), read back when an owner starts and when
//! a chat socket connects.

use sqlx::FromRow;

use super::Store;
use crate::ids::RoomId;

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct CallRow {
    pub room_id: RoomId,
    pub number: i64,
    pub caller_id: i64,
    /// Milliseconds since the Unix epoch, like every time below.
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub caller_muted: i64,
    pub callee_muted: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    /// From answer to end, once an answered call has ended.
    pub duration_ms: Option<i64>,
}

const CALL_COLUMNS: &str =
    "room_id, number, caller_id, started_at, answered_at, caller_muted, callee_muted, ended_at, end_reason, \
     duration_ms";

impl Store {
    /// Writes a call as it is now: the first write of a call inserts it.
    pub async fn save_call(&self, call: &CallRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO calls (room_id, number, caller_id, started_at, answered_at, caller_muted, \
             callee_muted, ended_at, end_reason, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (room_id, number) DO UPDATE SET answered_at = excluded.answered_at, \
             caller_muted = excluded.caller_muted, callee_muted = excluded.callee_muted, \
             ended_at = excluded.ended_at, end_reason = excluded.end_reason, duration_ms = excluded.duration_ms",
        )
        .bind(call.room_id)
        .bind(call.number)
        .bind(call.caller_id)
        .bind(call.started_at)
        .bind(call.answered_at)
        .bind(call.caller_muted)
        .bind(call.callee_muted)
        .bind(call.ended_at)
        .bind(call.end_reason.as_deref())
        .bind(call.duration_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The room's call that has not ended, if any (what a chat socket is told when it
    /// connects).
    pub async fn open_call(&self, room_id: RoomId) -> Result<Option<CallRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE room_id = $1 AND ended_at IS NULL ORDER BY number DESC LIMIT 1"
        );
        sqlx::query_as(&sql).bind(room_id).fetch_optional(&self.pool).await
    }

    /// The room's call that has not ended, if any, and how many calls the room has had
    /// (what a room's owner starts from).
    pub async fn room_calls(&self, room_id: RoomId) -> Result<(Option<CallRow>, i64), sqlx::Error> {
        let open = self.open_call(room_id).await?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(MAX(number), 0) AS BIGINT) FROM calls WHERE room_id = $1")
                .bind(room_id)
                .fetch_one(&self.pool)
                .await?;
        Ok((open, count))
    }

    /// Calls ringing or active, for the dashboard.
    pub async fn count_open_calls(&self) -> Result<i64, sqlx::Error> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM calls WHERE ended_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    /// Every call that has not ended, for reloading the rooms' timers at start.
    pub async fn open_calls(&self) -> Result<Vec<CallRow>, sqlx::Error> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE ended_at IS NULL ORDER BY room_id, number");
        sqlx::query_as(&sql).fetch_all(&self.pool).await
    }
}
