//! Rooms: created atomically with a match, read by participants, ended atomically.

use sqlx::FromRow;

use super::Store;
use crate::clock::Timestamp;
use crate::ids::{RoomId, Seq, UserId};

const ROOM_COLUMNS: &str = "id, kind, user_a, user_b, icebreaker, score, fallback, start_time, end_time, \
     end_reason, reveal_level, keep_a, keep_b, rounds_opened, round_deadline, answer_a, answer_b, \
     next_like_at, no_match_streak, last_message_at, closed_since_a, closed_since_b, last_seq, ended_by";

#[derive(Clone, Debug, FromRow)]
pub struct RoomRow {
    pub id: RoomId,
    pub kind: String,
    pub user_a: i64,
    pub user_b: i64,
    pub icebreaker: String,
    pub score: i64,
    pub fallback: i64,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub end_reason: Option<String>,
    pub reveal_level: i64,
    pub keep_a: i64,
    pub keep_b: i64,
    pub rounds_opened: i64,
    pub round_deadline: Option<i64>,
    pub answer_a: Option<i64>,
    pub answer_b: Option<i64>,
    pub next_like_at: Option<i64>,
    pub no_match_streak: i64,
    pub last_message_at: i64,
    pub closed_since_a: Option<i64>,
    pub closed_since_b: Option<i64>,
    pub last_seq: Seq,
    /// The participant who ended the room with *End* (migration 0006).
    pub ended_by: Option<i64>,
}

impl RoomRow {
    pub fn participants(&self) -> [UserId; 2] {
        [UserId(self.user_a), UserId(self.user_b)]
    }

    /// The other participant, when `user` is one of them.
    pub fn partner_of(&self, user: UserId) -> Option<UserId> {
        match user.0 {
            u if u == self.user_a => Some(UserId(self.user_b)),
            u if u == self.user_b => Some(UserId(self.user_a)),
            _ => None,
        }
    }

    /// Keep flags of (a, b). Booleans are stored as 0/1.
    pub fn keeps(&self) -> (bool, bool) {
        (self.keep_a != 0, self.keep_b != 0)
    }

    pub fn is_active(&self) -> bool {
        self.end_time.is_none()
    }
}

/// A match to store.
pub struct NewRoom<'a> {
    pub kind: &'a str,
    /// The participant who waited longer first.
    pub users: [UserId; 2],
    pub icebreaker: &'a str,
    pub score: u32,
    pub fallback: bool,
    pub now: Timestamp,
    /// When the first like round opens.
    pub first_like_at: Timestamp,
}

impl Store {
    /// The match as one transaction: both tickets removed, the room created, both
    /// users pointed at it. None (and nothing changed) when either ticket is gone,
    /// either user is already in a room or banned: the match lost a race and the
    /// caller decides again.
    pub async fn create_match(&self, room: &NewRoom<'_>) -> Result<Option<RoomRow>, sqlx::Error> {
        let [a, b] = room.users;
        let mut tx = self.pool.begin().await?;
        // The room first, then the users' rows (locked from here), then their tickets:
        // a search filing a ticket locks the user's row before the ticket
        // ([`Store::insert_ticket_if_free`]), so the two take the locks in one order.
        let sql = format!(
            "INSERT INTO rooms (kind, user_a, user_b, icebreaker, score, fallback, start_time, \
             next_like_at, last_message_at, closed_since_a, closed_since_b) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $7, $7) RETURNING {ROOM_COLUMNS}"
        );
        let row: RoomRow = sqlx::query_as(&sql)
            .bind(room.kind)
            .bind(a.0)
            .bind(b.0)
            .bind(room.icebreaker)
            .bind(i64::from(room.score))
            .bind(i64::from(room.fallback))
            .bind(room.now.as_millis())
            .bind(room.first_like_at.as_millis())
            .fetch_one(&mut *tx)
            .await?;
        let joined = sqlx::query(
            "UPDATE users SET current_room_id = $1, updated_at = $4 \
             WHERE (id = $2 OR id = $3) AND current_room_id IS NULL \
             AND (banned_until IS NULL OR banned_until <= $4)",
        )
        .bind(row.id)
        .bind(a.0)
        .bind(b.0)
        .bind(room.now.as_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if joined != 2 {
            return Ok(None);
        }
        let removed = sqlx::query("DELETE FROM search_tickets WHERE user_id = $1 OR user_id = $2")
            .bind(a.0)
            .bind(b.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed != 2 {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(row))
    }

    pub async fn room(&self, id: RoomId) -> Result<Option<RoomRow>, sqlx::Error> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = $1");
        sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await
    }

    /// Ends a room as one transaction: end time and reason set, both users back to
    /// idle, messages erased unless kept. Returns the room as it was ended, or None
    /// when it had already ended: two ends can race, the first commit wins and the
    /// second changes nothing.
    pub async fn end_room(
        &self,
        id: RoomId,
        reason: &str,
        by: Option<UserId>,
        now: Timestamp,
        keep_messages: bool,
    ) -> Result<Option<RoomRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE rooms SET end_time = $2, end_reason = $3, ended_by = $4, round_deadline = NULL, \
             next_like_at = NULL WHERE id = $1 AND end_time IS NULL RETURNING {ROOM_COLUMNS}"
        );
        let row: Option<RoomRow> = sqlx::query_as(&sql)
            .bind(id)
            .bind(now.as_millis())
            .bind(reason)
            .bind(by.map(|u| u.0))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        sqlx::query("UPDATE users SET current_room_id = NULL, updated_at = $2 WHERE current_room_id = $1")
            .bind(id)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        if !keep_messages {
            sqlx::query("DELETE FROM messages WHERE room_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM calls WHERE room_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if !keep_messages {
            self.erased();
        }
        Ok(Some(row))
    }

    /// Rooms still active, for the admin dashboard and for reloading at start.
    pub async fn active_rooms(&self) -> Result<Vec<RoomRow>, sqlx::Error> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE end_time IS NULL ORDER BY id");
        sqlx::query_as(&sql).fetch_all(&self.pool).await
    }
}

/// The room state machine's stored fields (see `room::runtime` for the mapping).
#[derive(Clone, Debug, Default)]
pub struct RoomStateFields {
    pub reveal_level: i64,
    pub keep_a: bool,
    pub keep_b: bool,
    pub rounds_opened: i64,
    pub round_deadline: Option<i64>,
    pub answer_a: Option<bool>,
    pub answer_b: Option<bool>,
    pub next_like_at: Option<i64>,
    pub no_match_streak: i64,
    pub last_message_at: i64,
    pub closed_since_a: Option<i64>,
    pub closed_since_b: Option<i64>,
}

/// Filter of the admin room list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomFilter {
    All,
    Active,
    Ended,
}

impl Store {
    /// Writes the state machine's fields of an active room.
    pub async fn save_room_state(&self, id: RoomId, f: &RoomStateFields) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE rooms SET reveal_level = $2, keep_a = $3, keep_b = $4, rounds_opened = $5, \
             round_deadline = $6, answer_a = $7, answer_b = $8, next_like_at = $9, no_match_streak = $10, \
             last_message_at = $11, closed_since_a = $12, closed_since_b = $13 \
             WHERE id = $1 AND end_time IS NULL",
        )
        .bind(id)
        .bind(f.reveal_level)
        .bind(i64::from(f.keep_a))
        .bind(i64::from(f.keep_b))
        .bind(f.rounds_opened)
        .bind(f.round_deadline)
        .bind(f.answer_a.map(i64::from))
        .bind(f.answer_b.map(i64::from))
        .bind(f.next_like_at)
        .bind(f.no_match_streak)
        .bind(f.last_message_at)
        .bind(f.closed_since_a)
        .bind(f.closed_since_b)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One page of rooms, newest first, and the total matching.
    pub async fn list_rooms(
        &self,
        filter: RoomFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RoomRow>, i64), sqlx::Error> {
        let condition = match filter {
            RoomFilter::All => "1 = 1",
            RoomFilter::Active => "end_time IS NULL",
            RoomFilter::Ended => "end_time IS NOT NULL",
        };
        let sql =
            format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE {condition} ORDER BY id DESC LIMIT $1 OFFSET $2");
        let rows = sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM rooms WHERE {condition}"))
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// (active, total) rooms.
    pub async fn count_rooms(&self) -> Result<(i64, i64), sqlx::Error> {
        sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN end_time IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT), COUNT(*) FROM rooms",
        )
        .fetch_one(&self.pool)
        .await
    }

    /// Rooms that ended since `since`, by end reason.
    pub async fn count_ends_since(&self, since: Timestamp) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT end_reason, COUNT(*) FROM rooms WHERE end_time >= $1 AND end_reason IS NOT NULL \
             GROUP BY end_reason",
        )
        .bind(since.as_millis())
        .fetch_all(&self.pool)
        .await
    }
}
