//! Closing handshakes that finish (RFC 6455 §7): a client that keeps sending while the
//! server closes it still reads the close frame and its code; the server answers a
//! client's close; every 1001 names its cause; a client that stops reading (its writes
//! stall) or stops answering pings is closed and shown away.

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::spawn_app_with;
use crate::ws::{expect_frame, Socket};

/// Sends `frame()` every 250 ms until the connection refuses it, as a client that
/// does not notice it is being closed.
fn keep_sending(mut sink: SplitSink<Socket, Message>, frame: fn() -> Message) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while sink.send(frame()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Reads until the server's close frame: its code and reason. A reset or an end
/// before it fails the test (the frame was lost). Starts reading a second late, as a
/// busy client does: a server that drops the connection right after its close frame
/// answers the frames sent meanwhile with a reset, and the reset discards the close
/// frame the client had not read yet.
async fn close_of(stream: &mut SplitStream<Socket>) -> (u16, String) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    loop {
        let next =
            tokio::time::timeout(Duration::from_secs(15), stream.next()).await.expect("the socket closes");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.into(), frame.reason.to_string()),
            Some(Ok(Message::Close(None))) => panic!("closed without a code"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("the connection failed before the close frame: {e}"),
            None => panic!("the connection ended before the close frame"),
        }
    }
}

fn junk() -> Message {
    Message::Text("junk".into())
}

fn heartbeat() -> Message {
    Message::Text(r#"{"type":"heartbeat"}"#.into())
}

/// Opens a status socket over a connection with a small receive buffer and sends 600
/// heartbeats without reading their answers: those fill the client's receive buffer,
/// and the rest wait in the server's send queue. A server that drops such a connection
/// right after its close frame has the frame queued behind them; the client's next
/// frame (or the frame bytes the server left unread) then resets the connection, and
/// the reset discards the queue, close frame included. One that holds the connection
/// open until the client answers (or a timeout) delivers it.
async fn backed_up_status_socket(
    app: &crate::helpers::TestApp,
    token: &str,
) -> (SplitSink<Socket, Message>, SplitStream<Socket>) {
    let socket = open_slow_reader(app, &format!("/ws/status?token={token}")).await;
    let (mut sink, stream) = socket.split();
    for _ in 0..600 {
        sink.send(heartbeat()).await.unwrap();
    }
    (sink, stream)
}

#[tokio::test]
async fn a_client_sending_invalid_frames_every_250_ms_reads_its_4008() {
    let app = spawn_app_with(&["--max-invalid-frames=3"]).await;
    let user = app.signup("junk_sender").await;
    let (sink, mut stream) = backed_up_status_socket(&app, &user.access).await;
    let sender = keep_sending(sink, junk);
    assert_eq!(close_of(&mut stream).await.0, 4008);
    sender.abort();
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009_while_the_client_keeps_sending() {
    let app = spawn_app_with(&["--max-frame-bytes=16KiB"]).await;
    let user = app.signup("big_sender").await;
    let (mut sink, mut stream) = backed_up_status_socket(&app, &user.access).await;
    let big = format!(r#"{{"type":"heartbeat","padding":"{}"}}"#, "x".repeat(64 * 1024));
    sink.send(Message::Text(big.into())).await.unwrap();
    let sender = keep_sending(sink, heartbeat);
    assert_eq!(close_of(&mut stream).await.0, 1009);
    sender.abort();
}

#[tokio::test]
async fn text_that_is_not_utf8_closes_with_1007_while_the_client_keeps_sending() {
    let app = spawn_app_with(&[]).await;
    let user = app.signup("bad_text").await;
    let (mut sink, mut stream) = backed_up_status_socket(&app, &user.access).await;
    let invalid = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    sink.send(Message::Frame(invalid)).await.unwrap();
    let sender = keep_sending(sink, heartbeat);
    assert_eq!(close_of(&mut stream).await.0, 1007);
    sender.abort();
}

#[tokio::test]
async fn the_server_answers_a_clients_close() {
    let app = spawn_app_with(&[]).await;
    let (a, _b, room) = app.pair("polite").await;
    let mut socket = app.chat_socket(&a, room, 0).await;
    expect_frame(&mut socket, "connection").await;
    socket.close(None).await.unwrap();
    // The library reads the server's answering close frame, then the end of the
    // connection; without an answer it reports a reset without a closing handshake.
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("the server answers") {
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("no closing handshake: {e}"),
        }
    }
}

#[tokio::test]
async fn shutdown_closes_a_busy_client_with_1001_and_says_so() {
    let app = spawn_app_with(&[]).await;
    let user = app.signup("busy_at_shutdown").await;
    let (sink, mut stream) = backed_up_status_socket(&app, &user.access).await;
    let sender = keep_sending(sink, heartbeat);
    app.state.shutdown.trigger();
    assert_eq!(close_of(&mut stream).await, (1001, "server shutting down".to_owned()));
    sender.abort();
}

#[tokio::test]
async fn a_client_that_answers_no_ping_is_closed_with_1001_for_silence() {
    let app = spawn_app_with(&["--ping-interval=1s"]).await;
    let user = app.signup("silent").await;
    let socket = app.status_socket(&user.access).await;
    // Not reading: the pings go unanswered (a client library answers them as it reads).
    // The server closes two intervals (2 s) after the socket opened and holds the
    // connection 2 s more for the client's answer; `close_of` reads from 2.5 s on.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_sink, mut stream) = socket.split();
    assert_eq!(close_of(&mut stream).await, (1001, "no answer to pings".to_owned()));
    let status = app.status(&user.access).await;
    assert_eq!(status["online"], false, "{status}");
}

/// A socket at `path` over a connection with a small receive buffer, so that the
/// server's writes to it wait (and, if it never reads, stall) once the buffers are full.
async fn open_slow_reader(app: &crate::helpers::TestApp, path: &str) -> Socket {
    let addr = app.base.trim_start_matches("http://").parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let tcp = tcp.connect(addr).await.unwrap();
    let url = format!("{}{path}", app.ws_base());
    tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await.unwrap().0
}

#[tokio::test]
async fn a_reader_that_stalls_is_closed_and_shown_away() {
    let app = spawn_app_with(&["--socket-write-timeout=1s", "--msg-rate=100000", "--msg-burst=100000"]).await;
    let (a, b, room) = app.pair("stall").await;
    let mut sa = app.chat_socket(&a, room, 0).await;
    expect_frame(&mut sa, "connection").await;
    let _stalled = open_slow_reader(&app, &format!("/ws/chat/{room}?token={}", b.access)).await;
    let presence = expect_frame(&mut sa, "presence").await;
    assert_eq!(presence["online"], true);

    // A talks (and reads its acks and echoes) until B is shown away; B reads nothing.
    let (mut sink, mut stream) = sa.split();
    let content = "x".repeat(1000);
    let talker = tokio::spawn(async move {
        for i in 0..20_000 {
            let frame = json!({"type": "message", "content": content, "client_id": format!("c{i}")});
            if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                return;
            }
        }
    });
    let away = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "presence" && frame["online"] == false {
                    return frame;
                }
            }
        }
        panic!("A's socket ended before B was shown away");
    })
    .await
    .expect("the stalled socket is closed within a minute");
    assert_eq!(away["user_id"], b.id);
    talker.abort();
}
