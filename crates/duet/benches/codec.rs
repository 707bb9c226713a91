//! Cost of the real-time frame codec on the chat path: parsing what a client sends
//! (`ClientFrame::parse`) and writing what the server sends (`ServerFrame::to_text`).
//! Every relayed message is parsed once and written three times (the sender's `ack`,
//! and the `message` frame rendered for each of the two participants' sockets), so
//! these numbers bound the codec's share of the CPU per relayed message
//! (BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use duet::ids::{MessageId, Seq};
use duet::realtime::protocol::{ClientFrame, ServerFrame};

/// Message bodies: a short chat line, a typical one with Vietnamese diacritics and an
/// emoji, and the longest allowed (1,000 characters, 2 to 3 bytes each in UTF-8).
fn contents() -> [(&'static str, String); 3] {
    [
        ("short", "hi!".to_owned()),
        ("typical", "Chào bạn 👋 hôm nay bạn thế nào? Mình thích đi bộ đường dài và cà phê.".to_owned()),
        ("max", "Việt".repeat(250)),
    ]
}

fn client_message(content: &str) -> String {
    serde_json::json!({
        "type": "message",
        "content": content,
        "client_id": "6f1c2a9e-3b7d-4c51-9a0e-2d8f4b6c1e73",
    })
    .to_string()
}

fn server_message(content: &str) -> ServerFrame {
    ServerFrame::Message {
        message_id: MessageId(1_234_567),
        seq: Seq(4_821),
        client_id: Some("6f1c2a9e-3b7d-4c51-9a0e-2d8f4b6c1e73".to_owned()),
        user_id: 98_765,
        nickname: Some("Hoa".to_owned()),
        content: content.to_owned(),
        timestamp: Utc.timestamp_millis_opt(1_800_000_000_123).single().expect("a valid instant"),
    }
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/parse");
    for (name, content) in contents() {
        let text = client_message(&content);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("message", name), &text, |b, text| {
            b.iter(|| ClientFrame::parse(black_box(text)).expect("a valid frame"))
        });
    }
    group.throughput(Throughput::Elements(1));
    let typing = r#"{"type":"typing","is_typing":true}"#;
    group.bench_function("typing", |b| b.iter(|| ClientFrame::parse(black_box(typing)).expect("valid")));
    let read = r#"{"type":"read","up_to_seq":4821}"#;
    group.bench_function("read", |b| b.iter(|| ClientFrame::parse(black_box(read)).expect("valid")));
    // A malformed frame costs an error frame's text too; it must not be a cheap way to
    // make the server work hard.
    let bad = r#"{"type":"message","content":42}"#;
    group.bench_function("invalid", |b| b.iter(|| ClientFrame::parse(black_box(bad)).unwrap_err()));
    group.finish();
}

fn write(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/write");
    for (name, content) in contents() {
        let frame = server_message(&content);
        group.throughput(Throughput::Bytes(frame.to_text().len() as u64));
        group.bench_with_input(BenchmarkId::new("message", name), &frame, |b, frame| {
            b.iter(|| black_box(frame).to_text())
        });
    }
    group.throughput(Throughput::Elements(1));
    let ack = ServerFrame::Ack {
        client_id: Some("6f1c2a9e-3b7d-4c51-9a0e-2d8f4b6c1e73".to_owned()),
        message_id: MessageId(1_234_567),
        seq: Seq(4_821),
    };
    group.bench_function("ack", |b| b.iter(|| black_box(&ack).to_text()));
    let typing = ServerFrame::Typing { user_id: 98_765, is_typing: true };
    group.bench_function("typing", |b| b.iter(|| black_box(&typing).to_text()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = parse, write
}
criterion_main!(benches);
