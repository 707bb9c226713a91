//! Messages of a room, ordered by the room's sequence number.

use sqlx::FromRow;

use super::{on_unique, Constraint, Store, StoreError};
use crate::clock::Timestamp;
use crate::ids::{MessageId, RoomId, Seq, UserId};

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct MessageRow {
    pub id: MessageId,
    pub room_id: RoomId,
    pub seq: Seq,
    pub user_id: i64,
    pub client_id: Option<String>,
    pub content: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// A message to store, with the sequence number its room's owner gave it.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub room_id: RoomId,
    pub seq: Seq,
    pub user: UserId,
    pub client_id: Option<String>,
    pub content: String,
    pub at: Timestamp,
}

/// What storing one message of a batch came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored as the room's next message.
    Stored(MessageRow),
    /// Its sender had already stored a message with this `client_id` in this room
    /// (a retry): nothing new was stored; the original, and whether the retry's
    /// content is the same.
    Earlier { original: MessageRow, same_content: bool },
}

const MESSAGE_COLUMNS: &str = "id, room_id, seq, user_id, client_id, content, created_at";

/// Messages per `INSERT`: six parameters each, so 64 rows stay far below SQLite's
/// oldest limit of 999 parameters per statement.
const ROWS_PER_INSERT: usize = 64;

impl Store {
    /// Stores a batch of messages in one transaction: one commit (one disk flush)
    /// for many messages of many rooms. Each room's `last_seq` and `last_message_at`
    /// move to the highest values stored. A message whose sender already used its
    /// `client_id` in the room is not stored; its answer is the original
    /// ([`Appended::Earlier`]): the unique key `(room_id, user_id, client_id)`, not
    /// the room owner's memory, is what keeps a retry from being stored twice. The
    /// sequence numbers were assigned by the rooms' owners; a clash means a bug, and
    /// fails the whole batch.
    pub async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut rows = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(ROWS_PER_INSERT) {
            // One statement per chunk rather than per message: under load the cost of a
            // message is mostly the round trip of its statement, not the row.
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = i * 6;
                    format!("(${}, ${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6)
                })
                .collect();
            let sql = format!(
                "INSERT INTO messages (room_id, seq, user_id, client_id, content, created_at) \
                 VALUES {} ON CONFLICT (room_id, user_id, client_id) DO NOTHING RETURNING {MESSAGE_COLUMNS}",
                values.join(", ")
            );
            let mut query = sqlx::query_as::<_, MessageRow>(&sql);
            for m in chunk {
                query = query
                    .bind(m.room_id)
                    .bind(m.seq)
                    .bind(m.user.0)
                    .bind(m.client_id.as_deref())
                    .bind(&m.content)
                    .bind(m.at.as_millis());
            }
            let mut stored = query
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| on_unique(e, &[Constraint::MessageClientId, Constraint::MessageSeq]))?;
            // Neither database promises that RETURNING follows the VALUES order; (room,
            // seq) is unique, so put the rows back in the batch's order by it. A
            // message with no row came back was a retry of an earlier client id.
            for m in chunk {
                match stored.iter().position(|r| r.room_id == m.room_id && r.seq == m.seq) {
                    Some(at) => rows.push(Appended::Stored(stored.swap_remove(at))),
                    None => {
                        let client_id = m.client_id.as_deref().ok_or(sqlx::Error::RowNotFound)?;
                        let sql = format!(
                            "SELECT {MESSAGE_COLUMNS} FROM messages \
                             WHERE room_id = $1 AND user_id = $2 AND client_id = $3"
                        );
                        let original: MessageRow = sqlx::query_as(&sql)
                            .bind(m.room_id)
                            .bind(m.user.0)
                            .bind(client_id)
                            .fetch_one(&mut *tx)
                            .await?;
                        let same_content = original.content == m.content;
                        rows.push(Appended::Earlier { original, same_content });
                    }
                }
            }
        }
        let mut rooms: Vec<(RoomId, Seq, i64)> = Vec::new();
        let stored = batch.iter().zip(&rows).filter(|(_, a)| matches!(a, Appended::Stored(_)));
        for (m, _) in stored {
            match rooms.iter_mut().find(|(room, _, _)| *room == m.room_id) {
                Some((_, seq, at)) => {
                    *seq = (*seq).max(m.seq);
                    *at = (*at).max(m.at.as_millis());
                }
                None => rooms.push((m.room_id, m.seq, m.at.as_millis())),
            }
        }
        for (room, seq, at) in rooms {
            sqlx::query(
                "UPDATE rooms SET last_seq = CASE WHEN last_seq > $2 THEN last_seq ELSE $2 END, \
                 last_message_at = CASE WHEN last_message_at > $3 THEN last_message_at ELSE $3 END WHERE id = $1",
            )
            .bind(room)
            .bind(seq)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows)
    }

    /// Messages with `seq > after_seq`, oldest first, at most `limit`.
    pub async fn messages_after(
        &self,
        room_id: RoomId,
        after_seq: Seq,
        limit: i64,
    ) -> Result<Vec<MessageRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        sqlx::query_as(&sql).bind(room_id).bind(after_seq).bind(limit).fetch_all(&self.pool).await
    }

    /// The last `n` messages of a room, oldest first (report evidence).
    pub async fn last_messages(&self, room_id: RoomId, n: i64) -> Result<Vec<MessageRow>, sqlx::Error> {
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 ORDER BY seq DESC LIMIT $2");
        let mut rows: Vec<MessageRow> =
            sqlx::query_as(&sql).bind(room_id).bind(n).fetch_all(&self.pool).await?;
        rows.reverse();
        Ok(rows)
    }
}
