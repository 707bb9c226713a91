//! The chat socket's frame parser, `ClientFrame::parse`, on any text (a socket hands it
//! only UTF-8 text frames). Never panics; a frame that parses means the same after it
//! is written back as JSON and parsed again (nothing the parser accepts is lost or
//! changed on the way to the room), and `is_signal` is true exactly for `rtc_signal`.
#![no_main]

use duet::realtime::protocol::{ClientFrame, LikeAnswer};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// The frame as the client protocol writes it (docs/protocol.md). Exhaustive on purpose:
/// a new frame type does not build here until it is written back too.
fn encode(frame: &ClientFrame) -> Value {
    match frame {
        ClientFrame::Message { content, client_id } => {
            json!({"type": "message", "content": content, "client_id": client_id})
        }
        ClientFrame::Typing { is_typing } => json!({"type": "typing", "is_typing": is_typing}),
        ClientFrame::LikeResponse { response } => json!({
            "type": "like_response",
            "response": match response { LikeAnswer::Yes => "yes", LikeAnswer::No => "no" },
        }),
        ClientFrame::Read { up_to_seq } => json!({"type": "read", "up_to_seq": up_to_seq.0}),
        ClientFrame::Heartbeat => json!({"type": "heartbeat"}),
        ClientFrame::CallStart {} => json!({"type": "call_start"}),
        ClientFrame::CallAnswer { accept } => json!({"type": "call_answer", "accept": accept}),
        ClientFrame::CallEnd {} => json!({"type": "call_end"}),
        ClientFrame::RtcSignal { payload } => json!({"type": "rtc_signal", "payload": payload}),
        ClientFrame::CallMute { muted } => json!({"type": "call_mute", "muted": muted}),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = ClientFrame::parse(text) else {
        return;
    };
    assert_eq!(frame.is_signal(), matches!(frame, ClientFrame::RtcSignal { .. }));
    let written = encode(&frame).to_string();
    let again =
        ClientFrame::parse(&written).unwrap_or_else(|e| panic!("{written} does not parse again: {e:?}"));
    assert_eq!(again, frame, "{text} -> {written}");
});
