//! Batched message persistence: room owners hand their messages (already numbered)
//! to the writer, which stores whatever has queued up in one transaction and answers
//! each message once its batch has committed. Under load many messages share a
//! commit, so throughput is not one database round trip and flush per message; when
//! idle, a lone message is written at once.
//!
//! Owners do not wait for one message's commit before handing over the next: a room
//! may have messages in several batches at once. The store numbers each message as it
//! commits it, from the room's stored `last_seq`, so stored `seq` values stay
//! contiguous whatever happened to an earlier batch. The writer keeps a room's
//! messages in the order they were handed over, also when a batch fails: every
//! message of that room handed over after the failed ones, under the same *epoch*,
//! fails too, unstored (it would otherwise be stored before the failed ones, which
//! their senders send again). The owner, which re-reads the room after a failure,
//! then moves to its next epoch and releases the old one ([`MessageWriter::release`]).
//!
//! The writer has one or more *lanes*, each a task that commits one batch at a time;
//! a room always uses the same lane, so its messages are stored in the order they
//! were handed over. SQLite has one connection, so one lane; on PostgreSQL several
//! lanes commit side by side on their own connections.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use crate::ids::RoomId;
use crate::shutdown::Shutdown;
use crate::store::{Appended, NewMessage, Store, StoreError};

/// Most messages in one transaction.
const MAX_BATCH: usize = 256;
/// Messages waiting in one lane: each owner has a bounded number in flight, so this
/// only guards against a stuck database (owners then wait to hand over more).
const QUEUE: usize = 4096;

/// Why a message was not stored. Nothing of it was stored: a batch is one
/// transaction, and what follows a failed batch in its room and epoch is not tried.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the message writer has stopped")]
    Stopped,
    #[error("{0}")]
    Failed(String),
}

/// The answer to one message handed to the writer.
pub type WriteAnswer = oneshot::Receiver<Result<Appended, WriteError>>;

struct Write {
    message: NewMessage,
    epoch: u64,
    reply: oneshot::Sender<Result<Appended, WriteError>>,
}

enum Job {
    Write(Write),
    /// The owner of `room` has every answer of `epoch` and writes under a later one.
    Release {
        room: RoomId,
        epoch: u64,
    },
}

/// A handle to the writer's lanes; cheap to clone.
#[derive(Clone)]
pub struct MessageWriter {
    lanes: std::sync::Arc<[mpsc::Sender<Job>]>,
}

impl MessageWriter {
    /// Starts the writer with `lanes` lanes (at least one), stopped by `shutdown` after
    /// storing what is queued.
    pub fn spawn(store: Store, lanes: usize, shutdown: &Shutdown) -> MessageWriter {
        Self::spawn_with(store, lanes, MAX_BATCH, shutdown)
    }

    fn spawn_with(store: Store, lanes: usize, max_batch: usize, shutdown: &Shutdown) -> MessageWriter {
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (sender, receiver) = mpsc::channel(QUEUE);
                let lane = Lane { store: store.clone(), max_batch, failed: HashMap::new() };
                shutdown.spawn(lane.run(shutdown.clone(), receiver));
                sender
            })
            .collect();
        MessageWriter { lanes }
    }

    fn lane(&self, room: RoomId) -> &mpsc::Sender<Job> {
        &self.lanes[room.0.unsigned_abs() as usize % self.lanes.len()]
    }

    /// Hands `message` over; waits only for room in its lane's queue. The answer comes
    /// once its batch has committed. Messages of one room are stored in the order they
    /// were handed over; after one fails, the later ones of the same room and `epoch`
    /// fail unstored.
    pub async fn submit(&self, message: NewMessage, epoch: u64) -> Result<WriteAnswer, WriteError> {
        let (reply, answer) = oneshot::channel();
        let lane = self.lane(message.room_id);
        lane.send(Job::Write(Write { message, epoch, reply })).await.map_err(|_| WriteError::Stopped)?;
        Ok(answer)
    }

    /// Stores `message`; returns once its batch has committed.
    #[cfg(test)]
    async fn write(&self, message: NewMessage, epoch: u64) -> Result<Appended, WriteError> {
        self.submit(message, epoch).await?.await.map_err(|_| WriteError::Stopped)?
    }

    /// Says that `room`'s owner has the answers of everything it handed over under
    /// `epoch`, and hands over later messages under a later epoch: the writer forgets
    /// the room's failure.
    pub async fn release(&self, room: RoomId, epoch: u64) {
        let _ = self.lane(room).send(Job::Release { room, epoch }).await;
    }
}

/// One lane: commits one batch at a time.
struct Lane {
    store: Store,
    max_batch: usize,
    /// Rooms whose messages of an epoch failed: later messages of that epoch fail too.
    failed: HashMap<RoomId, (u64, String)>,
}

/// What one transaction stores: the messages, and who waits for each.
#[derive(Default)]
struct Batch {
    messages: Vec<NewMessage>,
    /// Per message: its epoch and its answer.
    waiting: Vec<(u64, oneshot::Sender<Result<Appended, WriteError>>)>,
}

impl Lane {
    /// Runs until shutdown, then stores what is still queued.
    async fn run(mut self, shutdown: Shutdown, mut receiver: mpsc::Receiver<Job>) {
        loop {
            let first = tokio::select! {
                _ = shutdown.requested() => break,
                first = receiver.recv() => match first {
                    Some(first) => first,
                    None => break,
                },
            };
            let mut batch = Batch::default();
            self.take(first, &mut batch);
            while batch.messages.len() < self.max_batch {
                match receiver.try_recv() {
                    Ok(next) => self.take(next, &mut batch),
                    Err(_) => break,
                }
            }
            self.commit(batch).await;
        }
        // Shutdown: what was handed over is stored before the process goes.
        receiver.close();
        let mut rest = Batch::default();
        while let Ok(next) = receiver.try_recv() {
            self.take(next, &mut rest);
        }
        self.commit(rest).await;
    }

    /// Adds a write to the batch, or answers it at once when an earlier message of its
    /// room and epoch failed.
    fn take(&mut self, job: Job, batch: &mut Batch) {
        match job {
            Job::Write(write) => match self.failed.get(&write.message.room_id) {
                Some((epoch, detail)) if *epoch == write.epoch => {
                    let _ = write.reply.send(Err(WriteError::Failed(detail.clone())));
                }
                _ => {
                    batch.messages.push(write.message);
                    batch.waiting.push((write.epoch, write.reply));
                }
            },
            Job::Release { room, epoch } => {
                if self.failed.get(&room).is_some_and(|(failed, _)| *failed <= epoch) {
                    self.failed.remove(&room);
                }
            }
        }
    }

    async fn commit(&mut self, batch: Batch) {
        if batch.messages.is_empty() {
            return;
        }
        match self.store.append_batch(&batch.messages).await {
            Ok(rows) => {
                for ((_, reply), row) in batch.waiting.into_iter().zip(rows) {
                    let _ = reply.send(Ok(row));
                }
            }
            Err(e) => {
                let detail = match &e {
                    StoreError::Conflict(key) => format!("a message clashed with a stored one ({key:?})"),
                    StoreError::Db(e) => e.to_string(),
                };
                tracing::error!(messages = batch.messages.len(), error = %detail, "storing a batch of messages failed");
                for (message, (epoch, reply)) in batch.messages.iter().zip(batch.waiting) {
                    self.failed.insert(message.room_id, (epoch, detail.clone()));
                    let _ = reply.send(Err(WriteError::Failed(detail.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::config::StorageSettings;
    use crate::ids::{Seq, UserId};
    use crate::store::{MessageRow, NewRoom, NewUser};

    fn message(room: RoomId, client_id: &str) -> NewMessage {
        NewMessage {
            room_id: room,
            user: UserId(1),
            client_id: Some(client_id.to_owned()),
            content: format!("message {client_id}"),
            at: Timestamp::from_millis(2_000),
        }
    }

    /// A store in `dir` with two rooms, matched as the matchmaker matches.
    async fn store_with_rooms(dir: &tempfile::TempDir) -> (Store, [RoomId; 2]) {
        let settings = StorageSettings {
            data_dir: dir.path().to_owned(),
            database_url: None,
            database_max_connections: 1,
            database_timeout: std::time::Duration::from_secs(1),
        };
        let store = Store::connect(&settings).await.expect("store");
        let now = Timestamp::from_millis(1_000);
        let mut rooms = Vec::new();
        for pair in 0..2 {
            let mut users = Vec::new();
            for side in 0..2 {
                let username = format!("user{pair}{side}");
                let new = NewUser { username: &username, email: None, password_hash: "x", role: "user", now };
                let user = store.create_user(new).await.expect("user").user_id();
                store.insert_ticket(user, "friend", now).await.expect("ticket");
                users.push(user);
            }
            let room = NewRoom {
                kind: "friend",
                users: [users[0], users[1]],
                icebreaker: "{}",
                score: 0,
                fallback: false,
                now,
                first_like_at: now,
            };
            rooms.push(store.create_match(&room).await.expect("match").expect("matched").id);
        }
        (store, [rooms[0], rooms[1]])
    }

    fn sent(rows: &[MessageRow]) -> Vec<(i64, String)> {
        rows.iter().map(|m| (m.seq.0, m.client_id.clone().unwrap_or_default())).collect()
    }

    async fn stored(store: &Store, room: RoomId) -> Vec<(i64, String)> {
        sent(&store.messages_after(room, Seq(0), 100).await.expect("read"))
    }

    /// Seven messages handed over at once, stored in batches of two: [a, b] is stored;
    /// [c, x] fails, because x's room does not exist. What follows in room one under
    /// the same epoch (d, f) then fails unstored, so d is not stored before c, which
    /// its sender will send again; room two's e, in no failed batch, is stored. Once
    /// the owner releases the epoch, room one carries on from what is stored, in the
    /// order its sender sends again.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_batch_fails_what_follows_in_its_rooms_and_epoch_until_released() {
        let dir = tempfile::tempdir().expect("dir");
        let (store, [one, two]) = store_with_rooms(&dir).await;
        let ghost = RoomId(9_999);
        let shutdown = Shutdown::new();
        let writer = MessageWriter::spawn_with(store.clone(), 1, 2, &shutdown);
        let order = [(one, "a"), (one, "b"), (one, "c"), (ghost, "x"), (one, "d"), (two, "e"), (one, "f")];
        // Handed over before the lane runs (one thread, and nothing here waits), so
        // the batches are exactly as above.
        let mut answers = Vec::new();
        for (room, client_id) in order {
            answers.push(writer.submit(message(room, client_id), 0).await.expect("handed over"));
        }
        let mut outcomes = Vec::new();
        for answer in answers {
            outcomes.push(answer.await.expect("answered").is_ok());
        }
        assert_eq!(outcomes, [true, true, false, false, false, true, false]);
        assert_eq!(stored(&store, one).await, [(1, "a".into()), (2, "b".into())]);
        assert_eq!(stored(&store, two).await, [(1, "e".into())]);
        // Until released, the failed epoch stays failed.
        assert!(writer.write(message(one, "c"), 0).await.is_err());
        // The owner reads its room again and goes on under the next epoch.
        writer.release(one, 0).await;
        for client_id in ["c", "d", "f"] {
            assert!(writer.write(message(one, client_id), 1).await.is_ok());
        }
        let expected: Vec<(i64, String)> =
            ["a", "b", "c", "d", "f"].iter().zip(1..).map(|(c, seq)| (seq, c.to_string())).collect();
        assert_eq!(stored(&store, one).await, expected);
        shutdown.trigger();
    }
}
