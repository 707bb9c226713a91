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

/// A message to store; the store gives it its room's next sequence number.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub room_id: RoomId,
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

/// Rows per statement: at most six parameters a row, so 64 rows stay far below
/// SQLite's oldest limit of 999 parameters per statement.
const ROWS_PER_STATEMENT: usize = 64;

/// `($1, $2, $3), ($4, $5, $6), ...`: `rows` groups of `width` placeholders.
fn placeholders(rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * width + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// What one message of a batch becomes before the insert.
enum Planned {
    /// Inserted with this `seq`.
    Insert(Seq),
    /// A retry of a stored message, or of an earlier message of the same batch (by
    /// its index there).
    Stored(MessageRow),
    SameBatch(usize),
}

impl Store {
    /// Stores a batch of messages in one transaction: one commit (one disk flush)
    /// for many messages of many rooms. Each message gets its room's next `seq`, in the
    /// batch's order, counted from the room's stored `last_seq`; each room's `last_seq`
    /// and `last_message_at` move to the highest values stored. Numbering here, from
    /// what is committed, keeps a room's stored `seq` values contiguous whatever
    /// happened to earlier batches (one that failed, or one whose commit's answer was
    /// lost). A message whose sender already used its `client_id` in the room is not
    /// stored and takes no number; its answer is the original ([`Appended::Earlier`]):
    /// the unique key `(room_id, user_id, client_id)`, not the room owner's memory, is
    /// what keeps a retry from being stored twice. A batch that fails stores nothing.
    pub async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Retries: the stored messages that hold a client id of the batch.
        let mut earlier: Vec<MessageRow> = Vec::new();
        let with_ids: Vec<&NewMessage> = batch.iter().filter(|m| m.client_id.is_some()).collect();
        for chunk in with_ids.chunks(ROWS_PER_STATEMENT) {
            // One term per message, so both databases search the unique key for each (a
            // row-value `IN (VALUES ...)` makes SQLite scan the table).
            let terms: Vec<String> = (0..chunk.len())
                .map(|i| {
                    format!(
                        "(room_id = ${} AND user_id = ${} AND client_id = ${})",
                        3 * i + 1,
                        3 * i + 2,
                        3 * i + 3
                    )
                })
                .collect();
            let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {}", terms.join(" OR "));
            let mut query = sqlx::query_as::<_, MessageRow>(&sql);
            for m in chunk {
                query = query.bind(m.room_id).bind(m.user.0).bind(m.client_id.as_deref());
            }
            earlier.extend(query.fetch_all(&mut *tx).await?);
        }
        // The rooms' last numbers, as committed.
        let mut rooms: Vec<(RoomId, Seq, i64)> = Vec::new();
        for m in batch {
            if !rooms.iter().any(|(room, _, _)| *room == m.room_id) {
                rooms.push((m.room_id, Seq::ZERO, i64::MIN));
            }
        }
        for chunk in rooms.chunks_mut(ROWS_PER_STATEMENT) {
            let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let sql = format!("SELECT id, last_seq, last_message_at FROM rooms WHERE id IN ({list})");
            let mut query = sqlx::query_as::<_, (RoomId, Seq, i64)>(&sql);
            for (room, _, _) in chunk.iter() {
                query = query.bind(*room);
            }
            for (id, last_seq, last_at) in query.fetch_all(&mut *tx).await? {
                if let Some(room) = chunk.iter_mut().find(|(room, _, _)| *room == id) {
                    *room = (id, last_seq, last_at);
                }
            }
        }
        // Number what is new, in the batch's order.
        let mut plan = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let same_sender = |other: &NewMessage| {
                other.room_id == m.room_id && other.user == m.user && other.client_id == m.client_id
            };
            let stored = m.client_id.as_ref().and_then(|client_id| {
                earlier.iter().find(|r| {
                    r.room_id == m.room_id && r.user_id == m.user.0 && r.client_id.as_ref() == Some(client_id)
                })
            });
            let before = m.client_id.as_ref().and_then(|_| batch[..i].iter().position(same_sender));
            plan.push(match (stored, before) {
                (Some(original), _) => Planned::Stored(original.clone()),
                (None, Some(first)) => Planned::SameBatch(first),
                (None, None) => {
                    let room =
                        rooms.iter_mut().find(|(room, _, _)| *room == m.room_id).expect("listed above");
                    room.1 = room.1.next();
                    room.2 = room.2.max(m.at.as_millis());
                    Planned::Insert(room.1)
                }
            });
        }
        // The new messages, many rows per statement.
        let new: Vec<(&NewMessage, Seq)> = batch
            .iter()
            .zip(&plan)
            .filter_map(|(m, p)| match p {
                Planned::Insert(seq) => Some((m, *seq)),
                _ => None,
            })
            .collect();
        let mut inserted: Vec<MessageRow> = Vec::with_capacity(new.len());
        for chunk in new.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO messages (room_id, seq, user_id, client_id, content, created_at) \
                 VALUES {} RETURNING {MESSAGE_COLUMNS}",
                placeholders(chunk.len(), 6)
            );
            let mut query = sqlx::query_as::<_, MessageRow>(&sql);
            for (m, seq) in chunk {
                query = query
                    .bind(m.room_id)
                    .bind(*seq)
                    .bind(m.user.0)
                    .bind(m.client_id.as_deref())
                    .bind(&m.content)
                    .bind(m.at.as_millis());
            }
            inserted.extend(
                query
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| on_unique(e, &[Constraint::MessageClientId, Constraint::MessageSeq]))?,
            );
        }
        for (room, seq, at) in &rooms {
            if !new.iter().any(|(m, _)| m.room_id == *room) {
                continue;
            }
            sqlx::query("UPDATE rooms SET last_seq = $2, last_message_at = $3 WHERE id = $1")
                .bind(*room)
                .bind(*seq)
                .bind(*at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // Neither database promises that RETURNING follows the VALUES order; (room,
        // seq) is unique, so each row is found by it.
        let mut answers: Vec<Appended> = Vec::with_capacity(batch.len());
        for (m, planned) in batch.iter().zip(plan) {
            let answer = match planned {
                Planned::Insert(seq) => {
                    let at = inserted.iter().position(|r| r.room_id == m.room_id && r.seq == seq);
                    Appended::Stored(inserted.swap_remove(at.ok_or(sqlx::Error::RowNotFound)?))
                }
                Planned::Stored(original) => {
                    let same_content = original.content == m.content;
                    Appended::Earlier { original, same_content }
                }
                Planned::SameBatch(first) => {
                    let original = match &answers[first] {
                        Appended::Stored(row) | Appended::Earlier { original: row, .. } => row.clone(),
                    };
                    let same_content = original.content == m.content;
                    Appended::Earlier { original, same_content }
                }
            };
            answers.push(answer);
        }
        Ok(answers)
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
