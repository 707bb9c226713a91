//! Batched message persistence: room owners hand their messages (already numbered)
//! to one writer task, which stores whatever has queued up in one transaction and
//! answers each owner once the batch has committed. Under load many messages share a
//! commit, so throughput is not one database round trip and flush per message; when
//! idle, a lone message is written at once.

use tokio::sync::{mpsc, oneshot};

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::store::{MessageRow, NewMessage, StoreError};

/// Most messages in one transaction.
const MAX_BATCH: usize = 256;
/// Messages waiting for the writer: owners wait for their answer, so at most one per
/// active owner is ever queued; the bound only guards against a stuck database.
const QUEUE: usize = 4096;

struct Write {
    message: NewMessage,
    reply: oneshot::Sender<Result<MessageRow, ApiError>>,
}

pub struct MessageWriter {
    sender: mpsc::Sender<Write>,
    receiver: std::sync::Mutex<Option<mpsc::Receiver<Write>>>,
}

impl Default for MessageWriter {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        MessageWriter { sender, receiver: std::sync::Mutex::new(Some(receiver)) }
    }
}

impl MessageWriter {
    /// Stores `message`; returns once its batch has committed.
    pub async fn write(&self, message: NewMessage) -> Result<MessageRow, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Write { message, reply })
            .await
            .map_err(|_| ApiError::internal("the message writer has stopped"))?;
        answer.await.map_err(|_| ApiError::internal("the message writer has stopped"))?
    }

    /// The writer loop; runs until shutdown, then stores what is still queued.
    pub async fn run(&self, state: AppState) {
        let Some(mut receiver) = self.receiver.lock().expect("writer lock").take() else { return };
        loop {
            let first = tokio::select! {
                _ = state.shutdown.requested() => break,
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
            commit(&state, batch).await;
        }
        // Shutdown: what was handed over is stored before the process goes.
        receiver.close();
        let mut rest = Vec::new();
        while let Ok(next) = receiver.try_recv() {
            rest.push(next);
        }
        if !rest.is_empty() {
            commit(&state, rest).await;
        }
    }
}

async fn commit(state: &AppState, batch: Vec<Write>) {
    let messages: Vec<NewMessage> = batch.iter().map(|w| w.message.clone()).collect();
    match state.store.append_batch(&messages).await {
        Ok(rows) => {
            for (write, row) in batch.into_iter().zip(rows) {
                let _ = write.reply.send(Ok(row));
            }
        }
        Err(e) => {
            let detail = match &e {
                StoreError::Conflict(_) => "a message clashed with a stored one".to_owned(),
                StoreError::Db(e) => e.to_string(),
            };
            tracing::error!(messages = batch.len(), error = %detail, "storing a batch of messages failed");
            for write in batch {
                let _ = write
                    .reply
                    .send(Err(ApiError::internal(format!("storing the message failed: {detail}"))));
            }
        }
    }
}
