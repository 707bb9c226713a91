//! Messages of a room, ordered by the room's sequence number.

use std::collections::HashMap;

use sqlx::FromRow;

use super::{on_unique, Constraint, Store, StoreError};
use crate::clock::Timestamp;
use crate::config::DatabaseKind;
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

/// Most rows per statement: at most six parameters a row, 1,536 in all, far below the
/// limits of the bundled SQLite (32,766) and of PostgreSQL (65,535).
const MAX_ROWS: usize = 256;

/// Splits `items` into runs whose lengths are powers of two (200 is 128, 64 and 8),
/// so each statement of a batch has one of nine shapes: the connections' statement
/// caches keep them prepared instead of preparing a new text for every batch size.
fn runs<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = MAX_ROWS.min(1 << rest.len().ilog2());
        let (run, tail) = rest.split_at(len);
        rest = tail;
        Some(run)
    })
}

/// The statements of [`Store::append_batch`], by kind and number of rows.
#[derive(Clone, Copy)]
enum Statement {
    /// The stored messages that hold a (room, sender, client id) of the batch.
    Earlier,
    /// The rooms' last numbers moved on by their new messages, and read back.
    Bump,
    /// The new messages; one whose client id is stored already is left out.
    Insert,
}

/// How a statement of [`Store::append_batch`] names its parameters. SQLite gets
/// anonymous `?`s, bound in order: for a numbered one, sqlx asks SQLite for each
/// parameter's name, a lookup that walks the statement's list of names, so a statement
/// of 1,536 numbered parameters cost a million steps to bind. PostgreSQL numbers them.
#[derive(Clone, Copy)]
enum Parameters {
    Anonymous,
    Numbered,
}

impl Parameters {
    fn of(kind: &DatabaseKind) -> Parameters {
        match kind {
            DatabaseKind::Sqlite => Parameters::Anonymous,
            DatabaseKind::Postgres => Parameters::Numbered,
        }
    }

    /// The `n`th parameter (from 1).
    fn nth(self, n: usize) -> String {
        match self {
            Parameters::Anonymous => "?".to_owned(),
            Parameters::Numbered => format!("${n}"),
        }
    }
}

/// The text of `statement` for `rows` rows (a power of two up to [`MAX_ROWS`]), built
/// once per way of naming parameters.
fn sql(kind: &DatabaseKind, statement: Statement, rows: usize) -> &'static str {
    type Texts = std::sync::OnceLock<Vec<[String; 3]>>;
    static ANONYMOUS: Texts = std::sync::OnceLock::new();
    static NUMBERED: Texts = std::sync::OnceLock::new();
    let parameters = Parameters::of(kind);
    let cell = match parameters {
        Parameters::Anonymous => &ANONYMOUS,
        Parameters::Numbered => &NUMBERED,
    };
    let texts = cell.get_or_init(|| {
        let p = |n| parameters.nth(n);
        (0..=MAX_ROWS.ilog2())
            .map(|power| {
                let rows = 1 << power;
                let earlier: Vec<String> = (0..rows)
                    .map(|i| {
                        let n = 3 * i;
                        format!(
                            "(room_id = {} AND user_id = {} AND client_id = {})",
                            p(n + 1),
                            p(n + 2),
                            p(n + 3)
                        )
                    })
                    .collect();
                [
                    // One term per message, so both databases search the unique key for
                    // each (a row-value `IN (VALUES ...)` makes SQLite scan the table).
                    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {}", earlier.join(" OR ")),
                    format!(
                        "UPDATE rooms SET last_seq = last_seq + v.column2, last_message_at = \
                         CASE WHEN last_message_at > v.column3 THEN last_message_at ELSE v.column3 END \
                         FROM (VALUES {}) AS v WHERE rooms.id = v.column1 RETURNING rooms.id, rooms.last_seq",
                        placeholders(parameters, rows, 3)
                    ),
                    format!(
                        "INSERT INTO messages (room_id, seq, user_id, client_id, content, created_at) \
                         VALUES {} ON CONFLICT (room_id, user_id, client_id) DO NOTHING RETURNING id, room_id, seq",
                        placeholders(parameters, rows, 6)
                    ),
                ]
            })
            .collect()
    });
    debug_assert!(rows.is_power_of_two() && rows <= MAX_ROWS);
    &texts[rows.ilog2() as usize][statement as usize]
}

/// `($1, $2, $3), ($4, $5, $6), ...`: `rows` groups of `width` parameters.
fn placeholders(parameters: Parameters, rows: usize, width: usize) -> String {
    let groups: Vec<String> = (0..rows)
        .map(|row| {
            let group: Vec<String> = (1..=width).map(|column| parameters.nth(row * width + column)).collect();
            format!("({})", group.join(", "))
        })
        .collect();
    groups.join(", ")
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

/// For each message of a batch, the earlier message of the same batch with the same
/// room, sender and client id, if any (a retry sent before the first was answered).
fn first_in_batch(batch: &[NewMessage]) -> Vec<Option<usize>> {
    let mut first: HashMap<(RoomId, i64, &str), usize> = HashMap::new();
    batch
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let key = (m.room_id, m.user.0, m.client_id.as_deref()?);
            match first.get(&key) {
                Some(earlier) => Some(*earlier),
                None => {
                    first.insert(key, i);
                    None
                }
            }
        })
        .collect()
}

/// The answers of a committed batch, in its order: `plan` says what became of each
/// message, `inserted` holds the ids the new ones got.
fn answers(
    batch: &[NewMessage],
    plan: Vec<Planned>,
    mut inserted: HashMap<(RoomId, Seq), MessageId>,
) -> Result<Vec<Appended>, StoreError> {
    let mut answers: Vec<Appended> = Vec::with_capacity(batch.len());
    for (m, planned) in batch.iter().zip(plan) {
        let answer = match planned {
            Planned::Insert(seq) => Appended::Stored(MessageRow {
                id: inserted.remove(&(m.room_id, seq)).ok_or(sqlx::Error::RowNotFound)?,
                room_id: m.room_id,
                seq,
                user_id: m.user.0,
                client_id: m.client_id.clone(),
                content: m.content.clone(),
                created_at: m.at.as_millis(),
            }),
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
    ///
    /// Most batches hold no retry of a stored message, so they are tried first as if
    /// they held none (four statements: begin, move the rooms' numbers on, insert,
    /// commit); when the insert finds a client id already stored, that transaction is
    /// rolled back and the batch is stored again with its retries looked up first.
    pub async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        let firsts = first_in_batch(batch);
        if let Some(answers) = self.append(batch, &firsts, false).await? {
            return Ok(answers);
        }
        // With the retries looked up in the same transaction, only another writer's
        // message stored meanwhile can make the insert come back short.
        self.append(batch, &firsts, true).await?.ok_or(StoreError::Conflict(Constraint::MessageClientId))
    }

    /// One attempt of [`Store::append_batch`], looking up the stored messages that the
    /// batch retries when `look_up_retries`, else assuming there are none. None, with
    /// nothing stored, when the insert finds a client id already stored.
    async fn append(
        &self,
        batch: &[NewMessage],
        firsts: &[Option<usize>],
        look_up_retries: bool,
    ) -> Result<Option<Vec<Appended>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let earlier = if look_up_retries { self.earlier(&mut tx, batch).await? } else { Vec::new() };
        let earlier: HashMap<(RoomId, i64, &str), &MessageRow> = earlier
            .iter()
            .filter_map(|r| Some(((r.room_id, r.user_id, r.client_id.as_deref()?), r)))
            .collect();
        // What becomes of each message; and each room's new messages, with the latest
        // time among them.
        let mut plan: Vec<Option<Planned>> = Vec::with_capacity(batch.len());
        let mut rooms: Vec<(RoomId, i64, i64)> = Vec::new();
        let mut index: HashMap<RoomId, usize> = HashMap::new();
        for (m, first) in batch.iter().zip(firsts) {
            let key = m.client_id.as_deref().map(|client_id| (m.room_id, m.user.0, client_id));
            plan.push(match (key.and_then(|key| earlier.get(&key)), first) {
                (Some(original), _) => Some(Planned::Stored((*original).clone())),
                (None, Some(first)) => Some(Planned::SameBatch(*first)),
                // New: numbered below.
                (None, None) => {
                    let at = m.at.as_millis();
                    match index.get(&m.room_id) {
                        Some(&i) => {
                            rooms[i].1 += 1;
                            rooms[i].2 = rooms[i].2.max(at);
                        }
                        None => {
                            index.insert(m.room_id, rooms.len());
                            rooms.push((m.room_id, 1, at));
                        }
                    }
                    None
                }
            });
        }
        // The rooms' numbers moved on, and read back: a room's new messages take the
        // numbers up to its new last_seq.
        let mut next: HashMap<RoomId, Seq> = HashMap::with_capacity(rooms.len());
        for run in runs(&rooms) {
            let mut query = sqlx::query_as::<_, (RoomId, Seq)>(sql(&self.kind, Statement::Bump, run.len()));
            for (room, count, at) in run {
                query = query.bind(*room).bind(*count).bind(*at);
            }
            for (room, last) in query.fetch_all(&mut *tx).await? {
                next.insert(room, Seq(last.0 - rooms[index[&room]].1));
            }
        }
        if next.len() != rooms.len() {
            // A room that is not stored: no message of it can be.
            return Err(StoreError::Db(sqlx::Error::RowNotFound));
        }
        let mut new: Vec<(&NewMessage, Seq)> = Vec::with_capacity(rooms.len());
        let plan: Vec<Planned> = batch
            .iter()
            .zip(plan)
            .map(|(m, planned)| {
                planned.unwrap_or_else(|| {
                    let seq = next.get_mut(&m.room_id).expect("every room was moved on");
                    *seq = seq.next();
                    new.push((m, *seq));
                    Planned::Insert(*seq)
                })
            })
            .collect();
        // The ids the database gave the new messages: the rest of each row is the
        // batch's. Neither database promises that RETURNING follows the VALUES order;
        // (room, seq) is unique, so each row is found by it.
        let mut inserted: HashMap<(RoomId, Seq), MessageId> = HashMap::with_capacity(new.len());
        for run in runs(&new) {
            let mut query =
                sqlx::query_as::<_, (MessageId, RoomId, Seq)>(sql(&self.kind, Statement::Insert, run.len()));
            for (m, seq) in run {
                query = query
                    .bind(m.room_id)
                    .bind(*seq)
                    .bind(m.user.0)
                    .bind(m.client_id.as_deref())
                    .bind(&m.content)
                    .bind(m.at.as_millis());
            }
            let rows = query
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| on_unique(e, &[Constraint::MessageClientId, Constraint::MessageSeq]))?;
            inserted.extend(rows.into_iter().map(|(id, room, seq)| ((room, seq), id)));
        }
        if inserted.len() < new.len() {
            // A client id was already stored: a retry. Numbers were given to it, so
            // none of this stands.
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        answers(batch, plan, inserted).map(Some)
    }

    /// The stored messages that hold a (room, sender, client id) of the batch.
    async fn earlier(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        batch: &[NewMessage],
    ) -> Result<Vec<MessageRow>, sqlx::Error> {
        let mut earlier = Vec::new();
        let with_ids: Vec<&NewMessage> = batch.iter().filter(|m| m.client_id.is_some()).collect();
        for run in runs(&with_ids) {
            let mut query = sqlx::query_as::<_, MessageRow>(sql(&self.kind, Statement::Earlier, run.len()));
            for m in run {
                query = query.bind(m.room_id).bind(m.user.0).bind(m.client_id.as_deref());
            }
            earlier.extend(query.fetch_all(&mut **tx).await?);
        }
        Ok(earlier)
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
