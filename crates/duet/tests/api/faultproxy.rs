//! A TCP fault proxy for the database and socket fault tests: it forwards to an
//! upstream and can be switched at run time to add latency, pause (hold the bytes until
//! resumed), reset connections, black-hole them (accept, never answer), or, for the
//! PostgreSQL wire protocol, lose the server's answer to one COMMIT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward as it comes.
    None,
    /// Forward each chunk after this delay.
    Latency(Duration),
    /// Hold every byte (both ways) until the fault changes; then forward it.
    Pause,
    /// Reset every open connection, and every new one as it arrives.
    Reset,
    /// Accept connections and never answer: bytes are swallowed. Connections that were
    /// black-holed are closed when the fault is lifted (their streams lost bytes).
    BlackHole,
}

struct Shared {
    fault: watch::Sender<Fault>,
    /// Set by [`FaultProxy::drop_next_commit_reply`]; cleared by the connection that
    /// takes it.
    drop_commit: AtomicBool,
    /// Set once an armed COMMIT's answer was swallowed.
    dropped_commit: AtomicBool,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free local port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the proxy binds");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            fault: watch::Sender::new(Fault::None),
            drop_commit: AtomicBool::new(false),
            dropped_commit: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                tokio::spawn(serve(client, upstream, accepting.clone()));
            }
        });
        FaultProxy { addr, shared, task }
    }

    pub fn set(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    /// The next client→server chunk holding a COMMIT is forwarded; the server's answer
    /// to it is swallowed and the connection cut both ways, so the client cannot know
    /// whether the transaction committed (it did).
    pub fn drop_next_commit_reply(&self) {
        self.shared.dropped_commit.store(false, Ordering::SeqCst);
        self.shared.drop_commit.store(true, Ordering::SeqCst);
    }

    /// Whether an armed COMMIT's answer has been swallowed.
    pub fn dropped_commit_reply(&self) -> bool {
        self.shared.dropped_commit.load(Ordering::SeqCst)
    }
}

/// Resets a connection: no FIN, an RST. (`set_linger` is deprecated because a linger
/// time blocks the thread on drop; a zero linger never waits.)
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn serve(client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) {
    let mut fault = shared.fault.subscribe();
    let current = *fault.borrow_and_update();
    match current {
        Fault::Reset => return reset(client),
        Fault::BlackHole => {
            // Held open and unanswered until the fault is lifted, then closed.
            let mut client = client;
            let mut sink = [0u8; 4096];
            loop {
                tokio::select! {
                    changed = fault.changed() => {
                        if changed.is_err() || *fault.borrow_and_update() != Fault::BlackHole {
                            return reset(client);
                        }
                    }
                    read = client.read(&mut sink) => if matches!(read, Ok(0) | Err(_)) { return },
                }
            }
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect(upstream).await else { return reset(client) };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Set when this connection took the armed COMMIT: the server's answer is swallowed.
    let cut = Arc::new(AtomicBool::new(false));
    let up = pump(client_read, server_write, shared.clone(), cut.clone(), Direction::Up);
    let down = pump(server_read, client_write, shared.clone(), cut, Direction::Down);
    // Either side ending (or a reset) ends both; the halves drop with their futures.
    tokio::select! { _ = up => {}, _ = down => {} }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// Marks both streams of a pump to be reset (RST) rather than closed when their halves
/// drop, which they do when the connection's two pumps end.
#[allow(deprecated)]
fn reset_both(from: &OwnedReadHalf, to: &OwnedWriteHalf) {
    let _ = from.as_ref().set_linger(Some(Duration::ZERO));
    let _ = to.as_ref().set_linger(Some(Duration::ZERO));
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: Arc<Shared>,
    cut: Arc<AtomicBool>,
    direction: Direction,
) {
    let mut fault = shared.fault.subscribe();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = fault.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *fault.borrow_and_update();
                match now {
                    Fault::Reset => return reset_both(&from, &to),
                    // An open connection goes silent: it is closed when the fault lifts.
                    Fault::BlackHole => return black_hole(from, to, fault).await,
                    _ => continue,
                }
            }
        };
        let chunk = &buf[..n];
        if direction == Direction::Down && cut.load(Ordering::SeqCst) {
            // The answer to the armed COMMIT (CommandComplete "COMMIT", ReadyForQuery):
            // swallowed, and the connection cut, once the server has sent it.
            if contains(chunk, b"COMMIT\0") {
                shared.dropped_commit.store(true, Ordering::SeqCst);
                return reset_both(&from, &to);
            }
        }
        // Whatever holds this chunk back (latency, a pause) applies before it goes.
        loop {
            let current = *fault.borrow_and_update();
            match current {
                Fault::None => break,
                Fault::Latency(d) => {
                    tokio::time::sleep(d).await;
                    break;
                }
                Fault::Pause => {
                    if fault.changed().await.is_err() {
                        return;
                    }
                }
                Fault::Reset => return reset_both(&from, &to),
                Fault::BlackHole => return black_hole(from, to, fault).await,
            }
        }
        if direction == Direction::Up
            && contains(chunk, b"COMMIT")
            && shared.drop_commit.compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst).is_ok()
        {
            cut.store(true, Ordering::SeqCst);
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

/// Swallows what comes until the fault lifts, then resets the connection.
async fn black_hole(mut from: OwnedReadHalf, to: OwnedWriteHalf, mut fault: watch::Receiver<Fault>) {
    let mut sink = [0u8; 4096];
    // After the reading side's end the other side stays open and silent.
    let mut open = true;
    loop {
        tokio::select! {
            changed = fault.changed() => {
                if changed.is_err() || *fault.borrow_and_update() != Fault::BlackHole {
                    return reset_both(&from, &to);
                }
            }
            read = from.read(&mut sink), if open => open = matches!(read, Ok(n) if n > 0),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The `host:port` of a PostgreSQL URL, and the URL with that replaced by `addr`.
pub fn through(url: &str, addr: SocketAddr) -> (SocketAddr, String) {
    let (scheme, rest) = url.split_once("://").expect("a database URL has a scheme");
    let (userinfo, rest) = match rest.split_once('@') {
        Some((user, rest)) => (format!("{user}@"), rest),
        None => (String::new(), rest),
    };
    let (hostport, path) = rest.split_once('/').expect("a database URL has a path");
    let hostport = if hostport.contains(':') { hostport.to_owned() } else { format!("{hostport}:5432") };
    let hostport = hostport.replace("localhost", "127.0.0.1");
    let upstream: SocketAddr = hostport.parse().expect("the test database's host is an IP address");
    (upstream, format!("{scheme}://{userinfo}{addr}/{path}"))
}
