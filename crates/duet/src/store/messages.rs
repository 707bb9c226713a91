//! Messages of a room, ordered by the room's sequence number.

use sqlx::FromRow;

use super::{on_unique, Store, StoreError};
use crate::clock::Timestamp;
use crate::ids::UserId;

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub client_id: Option<String>,
    pub content: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

const MESSAGE_COLUMNS: &str = "id, room_id, seq, user_id, client_id, content, created_at";

impl Store {
    /// Stores a message with the room's next sequence number, in one transaction. A
    /// `client_id` the sender already used in this room is not stored twice: the
    /// original is returned with `false`. None when the room is not active.
    pub async fn append_message(
        &self,
        room_id: i64,
        user: UserId,
        client_id: Option<&str>,
        content: &str,
        now: Timestamp,
    ) -> Result<Option<(MessageRow, bool)>, StoreError> {
        if let Some(client_id) = client_id {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND user_id = $2 AND client_id = $3"
            );
            let existing: Option<MessageRow> = sqlx::query_as(&sql)
                .bind(room_id)
                .bind(user.0)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(existing) = existing {
                return Ok(Some((existing, false)));
            }
        }
        let mut tx = self.pool.begin().await?;
        let seq: Option<(i64,)> = sqlx::query_as(
            "UPDATE rooms SET last_seq = last_seq + 1, last_message_at = $2 \
             WHERE id = $1 AND end_time IS NULL RETURNING last_seq",
        )
        .bind(room_id)
        .bind(now.as_millis())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((seq,)) = seq else {
            return Ok(None);
        };
        let sql = format!(
            "INSERT INTO messages (room_id, seq, user_id, client_id, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {MESSAGE_COLUMNS}"
        );
        let row: MessageRow = sqlx::query_as(&sql)
            .bind(room_id)
            .bind(seq)
            .bind(user.0)
            .bind(client_id)
            .bind(content)
            .bind(now.as_millis())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| on_unique(e, &["client_id"]))?;
        tx.commit().await?;
        Ok(Some((row, true)))
    }

    /// Messages with `seq > after_seq`, oldest first, at most `limit`.
    pub async fn messages_after(
        &self,
        room_id: i64,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<MessageRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        sqlx::query_as(&sql).bind(room_id).bind(after_seq).bind(limit).fetch_all(&self.pool).await
    }

    /// The last `n` messages of a room, oldest first (report evidence).
    pub async fn last_messages(&self, room_id: i64, n: i64) -> Result<Vec<MessageRow>, sqlx::Error> {
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 ORDER BY seq DESC LIMIT $2");
        let mut rows: Vec<MessageRow> =
            sqlx::query_as(&sql).bind(room_id).bind(n).fetch_all(&self.pool).await?;
        rows.reverse();
        Ok(rows)
    }
}
