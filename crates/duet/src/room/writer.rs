//! Batched message persistence: room owners hand their messages (already numbered)
//! to one writer task, which stores whatever has queued up in one transaction and
//! answers each owner once the batch has committed. Under load many messages share a
//! commit, so throughput is not one database round trip and flush per message; when
//! idle, a lone message is written at once.

use tokio::sync::{mpsc, oneshot};

use crate::shutdown::Shutdown;
use crate::store::{Appended, NewMessage, Store, StoreError};

/// Most messages in one transaction.
const MAX_BATCH: usize = 256;
/// Messages waiting for the writer: owners wait for their answer, so at most one per
/// active owner is ever queued; the bound only guards against a stuck database.
const QUEUE: usize = 4096;

/// Why a message was not stored. Either way nothing of its batch was stored (a batch
/// is one transaction), so the room's stored `seq` values stay contiguous.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the message writer has stopped")]
    Stopped,
    #[error("{0}")]
    Failed(String),
}

struct Write {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended, WriteError>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct MessageWriter {
    sender: mpsc::Sender<Write>,
}

impl MessageWriter {
    /// Starts the writer task (stopped by `shutdown`, after storing what is queued).
    pub fn spawn(store: Store, shutdown: &Shutdown) -> MessageWriter {
        let (sender, receiver) = mpsc::channel(QUEUE);
        shutdown.spawn(run(store, shutdown.clone(), receiver));
        MessageWriter { sender }
    }

    /// Stores `message`; returns once its batch has committed.
    pub async fn write(&self, message: NewMessage) -> Result<Appended, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(Write { message, reply }).await.map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

/// The writer loop; runs until shutdown, then stores what is still queued.
async fn run(store: Store, shutdown: Shutdown, mut receiver: mpsc::Receiver<Write>) {
    loop {
        let first = tokio::select! {
            _ = shutdown.requested() => break,
            first = receiver.recv() => match first {
                Some(first) => first,
                None => break,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        commit(&store, batch).await;
    }
    // Shutdown: what was handed over is stored before the process goes.
    receiver.close();
    let mut rest = Vec::new();
    while let Ok(next) = receiver.try_recv() {
        rest.push(next);
    }
    if !rest.is_empty() {
        commit(&store, rest).await;
    }
}

async fn commit(store: &Store, batch: Vec<Write>) {
    let messages: Vec<NewMessage> = batch.iter().map(|w| w.message.clone()).collect();
    match store.append_batch(&messages).await {
        Ok(rows) => {
            for (write, row) in batch.into_iter().zip(rows) {
                let _ = write.reply.send(Ok(row));
            }
        }
        Err(e) => {
            let detail = match &e {
                StoreError::Conflict(key) => format!("a message clashed with a stored one ({key:?})"),
                StoreError::Db(e) => e.to_string(),
            };
            tracing::error!(messages = batch.len(), error = %detail, "storing a batch of messages failed");
            for write in batch {
                let _ = write.reply.send(Err(WriteError::Failed(detail.clone())));
            }
        }
    }
}
