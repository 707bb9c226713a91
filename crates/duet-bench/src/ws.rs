//! WebSocket clients. A chat socket is a write half the scenario drives and a reader
//! task that checks what arrives: the partner's messages (counted, latency recorded
//! from the intended send time carried in `content`), the acks (counted), errors and
//! unexpected closes.
//!
//! The closed-loop window: a message is in flight until both its ack (on the
//! sender's socket) and its delivery (on the partner's) have been read. Gating on the
//! ack alone let a fast server run ahead of a partner's reader that the two shared
//! cores had not scheduled: its queue filled and the server dropped the socket for
//! falling behind, which measures the generator, not the server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::target::User;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Most time to wait for a socket's first frame.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// Microseconds since a process-wide epoch: the clock of intended send times, shared
/// by senders and receivers (they are in the same process).
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A latency histogram in microseconds, 1 µs to 10 min, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// What the reader tasks of one run saw, shared by all its sockets. Counters are
/// cumulative; a scenario takes differences around a level and resets the histogram
/// between levels (when nothing is in flight).
pub struct Tally {
    pub sent: AtomicU64,
    pub delivered: AtomicU64,
    pub acked: AtomicU64,
    pub errors: AtomicU64,
    pub latency: Mutex<Histogram<u64>>,
    first_error: Mutex<Option<String>>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: Mutex::new(histogram()),
            first_error: Mutex::new(None),
        }
    }
}

impl Tally {
    pub fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().expect("not poisoned");
        if first.is_none() {
            *first = Some(what);
        }
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().expect("not poisoned").clone()
    }

    pub fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.delivered.load(Ordering::Relaxed),
            self.acked.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }

    /// Waits until every sent message was delivered and acked, or `limit` passed.
    pub async fn drain(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        loop {
            let (sent, delivered, acked, _) = self.get();
            if delivered >= sent && acked >= sent {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    user_id: Option<i64>,
    content: Option<String>,
    code: Option<String>,
}

/// The chat socket of one participant.
pub struct ChatSocket {
    sink: SplitSink<Ws, Message>,
    /// The closed-loop window: two permits per message in flight, one given back by
    /// its ack (read here) and one by its delivery (read by the partner's socket).
    window: Arc<Semaphore>,
    closing: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
    tally: Arc<Tally>,
    next: u64,
    user: i64,
}

impl ChatSocket {
    /// Opens `WS /ws/chat/{room}` and waits for its `connection` frame; returns the
    /// socket and how long that took. `windows` are the room's two [`window`]s, this
    /// participant's first: each delivery of the partner's message gives one permit
    /// back to the partner's.
    pub async fn connect(
        ws_base: &str,
        room: i64,
        user: &User,
        tally: Arc<Tally>,
        windows: [Arc<Semaphore>; 2],
    ) -> anyhow::Result<(ChatSocket, Duration)> {
        let started = Instant::now();
        let url = format!("{ws_base}/ws/chat/{room}?token={}", user.token);
        let mut ws = open_until(&url, "connection").await?;
        let took = started.elapsed();
        // Nothing has been sent yet: drop nothing that came before `connection`.
        ws.flush().await.ok();
        let (sink, stream) = ws.split();
        let [window, partner_window] = windows;
        let closing = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_chat(
            stream,
            user.id,
            tally.clone(),
            [window.clone(), partner_window],
            closing.clone(),
        ));
        Ok((ChatSocket { sink, window, closing, reader, tally, next: 0, user: user.id }, took))
    }

    /// Waits for a slot of the window (see [`window`]); false if `until` passed first
    /// (a lost ack or delivery, on a socket the server closed, stops the sender at
    /// the level's end instead of hanging it).
    pub async fn wait_for_slot(&self, until: Instant) -> bool {
        match tokio::time::timeout_at(until.into(), self.window.acquire_many(2)).await {
            Ok(Ok(permits)) => {
                permits.forget();
                true
            }
            _ => false,
        }
    }

    /// Sends one message whose content is the intended send time; counts it as sent.
    pub async fn send(&mut self, intended_us: u64) -> anyhow::Result<()> {
        self.next += 1;
        let frame = format!(
            r#"{{"type":"message","content":"{intended_us}","client_id":"c{}-{}"}}"#,
            self.user, self.next
        );
        self.tally.sent.fetch_add(1, Ordering::Relaxed);
        self.sink.send(Message::text(frame)).await.context("sending a chat message")
    }

    /// Closes the socket normally; the reader stops counting it as an error.
    pub async fn close(mut self) {
        self.closing.store(true, Ordering::Relaxed);
        let _ = self.sink.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.reader).await;
        self.reader.abort();
    }
}

async fn read_chat(
    mut stream: SplitStream<Ws>,
    me: i64,
    tally: Arc<Tally>,
    [window, partner_window]: [Arc<Semaphore>; 2],
    closing: Arc<AtomicBool>,
) {
    while let Some(item) = stream.next().await {
        let text = match item {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => {
                if !closing.load(Ordering::Relaxed) {
                    tally.error(format!("chat socket of user {me} closed by the server: {frame:?}"));
                }
                return;
            }
            Ok(_) => continue,
            Err(e) => {
                if !closing.load(Ordering::Relaxed) {
                    tally.error(format!("chat socket of user {me}: {e}"));
                }
                return;
            }
        };
        let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
            tally.error(format!("unparsable frame: {text}"));
            continue;
        };
        match frame.kind.as_str() {
            "ack" => {
                tally.acked.fetch_add(1, Ordering::Relaxed);
                window.add_permits(1);
            }
            "message" if frame.user_id != Some(me) => {
                let intended: u64 = frame.content.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
                let latency = now_us().saturating_sub(intended).max(1);
                tally.delivered.fetch_add(1, Ordering::Relaxed);
                partner_window.add_permits(1);
                tally.latency.lock().expect("not poisoned").saturating_record(latency);
            }
            "error" => tally.error(format!("error frame {:?} on user {me}'s chat socket", frame.code)),
            // Own echoes, presence, like prompts: not what is measured.
            _ => {}
        }
    }
}

/// Opens a socket and reads until a frame of type `first` arrives (other frames
/// before it are skipped); a close or a timeout first is an error.
pub async fn open_until(url: &str, first: &str) -> anyhow::Result<Ws> {
    let (mut ws, _) = tokio::time::timeout(FIRST_FRAME_TIMEOUT, connect_async(url))
        .await
        .context("the upgrade timed out")??;
    let wait = async {
        while let Some(item) = ws.next().await {
            match item? {
                Message::Text(text) => {
                    let frame: Frame = serde_json::from_str(&text)?;
                    if frame.kind == first {
                        return Ok(());
                    }
                }
                Message::Close(frame) => anyhow::bail!("closed before `{first}`: {frame:?}"),
                _ => {}
            }
        }
        anyhow::bail!("the socket ended before `{first}`")
    };
    tokio::time::timeout(FIRST_FRAME_TIMEOUT, wait).await.context("no first frame in time")??;
    Ok(ws)
}

/// Keeps a socket open, answering pings, until the server closes it or the task is
/// aborted; counts a close it did not expect.
pub async fn hold(mut ws: Ws, unexpected_closes: Arc<AtomicU64>) {
    while let Some(item) = ws.next().await {
        match item {
            Ok(Message::Close(_)) | Err(_) => {
                unexpected_closes.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(_) => {}
        }
    }
}
