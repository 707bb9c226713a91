//! The real-time protocol's frames (SPEC 3), parsed once at the edge into typed enums.
//! Client frames are tagged by `type`; anything else (not JSON, unknown type, missing
//! field) is a [`FrameError`] that the socket answers with an `error` frame.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, RoomId, Seq};
use crate::profile::{SearchInfo, Status, StatusView};
use crate::room::{CallEndReason, CallPhase, EndReason, LikeOutcome, PartnerView, RoomError};

/// Largest `rtc_signal` payload, in bytes of its JSON: an SDP offer with many codecs
/// fits, and a relayed frame stays well under the socket's frame limit.
pub const MAX_SIGNAL_BYTES: usize = 8 * 1024;

/// `rtc_signal` frames a socket may send per second, after a burst of
/// [`SIGNAL_BURST`]: a budget of their own, apart from the chat rate.
pub const SIGNAL_RATE: u32 = 20;
pub const SIGNAL_BURST: u32 = 60;

/// What a client may send on a chat socket.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Message {
        content: String,
        #[serde(default)]
        client_id: Option<String>,
    },
    Typing {
        is_typing: bool,
    },
    LikeResponse {
        response: LikeAnswer,
    },
    Read {
        up_to_seq: Seq,
    },
    Heartbeat,
    /// Rings the partner.
    CallStart {},
    /// The callee accepts or declines a ringing call.
    CallAnswer {
        accept: bool,
    },
    /// Hangs up (or cancels a call that rings).
    CallEnd {},
    /// An SDP offer or answer, or an ICE candidate, for the partner: a JSON object of
    /// at most [`MAX_SIGNAL_BYTES`].
    RtcSignal {
        payload: serde_json::Value,
    },
    CallMute {
        muted: bool,
    },
}

impl ClientFrame {
    /// Whether the frame spends the signalling budget rather than the chat rate:
    /// trickle ICE sends a burst of candidates that must not eat the message rate.
    pub fn is_signal(&self) -> bool {
        matches!(self, ClientFrame::RtcSignal { .. })
    }
}

/// What a client may send on a status socket.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatusClientFrame {
    Heartbeat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LikeAnswer {
    Yes,
    No,
}

/// Why a client frame was refused: the text of the `error` frame.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameError(pub String);

impl ClientFrame {
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        serde_json::from_str(text).map_err(|e| FrameError(e.to_string()))
    }
}

/// Machine codes of `error` frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameErrorCode {
    InvalidFrame,
    InvalidMessage,
    RateLimited,
    NoOpenRound,
    AlreadyAnswered,
    RoomEnded,
    /// `call_start` while a call rings or is active.
    CallBusy,
    /// A call frame with no call ringing or active.
    NoCall,
    /// `call_answer` to a call that is not ringing.
    NotRinging,
    /// `call_answer` from the caller.
    NotCallee,
    /// An `rtc_signal` payload over the limit, or not a JSON object.
    InvalidSignal,
    /// The room cannot take this now (the server is shutting down): send it again after
    /// reconnecting.
    Unavailable,
    Internal,
}

impl From<&RoomError> for FrameErrorCode {
    fn from(e: &RoomError) -> Self {
        match e {
            RoomError::Ended => FrameErrorCode::RoomEnded,
            RoomError::NoOpenRound => FrameErrorCode::NoOpenRound,
            RoomError::AlreadyAnswered => FrameErrorCode::AlreadyAnswered,
            RoomError::CallBusy => FrameErrorCode::CallBusy,
            RoomError::NoCall => FrameErrorCode::NoCall,
            RoomError::NotRinging => FrameErrorCode::NotRinging,
            RoomError::NotCallee => FrameErrorCode::NotCallee,
            RoomError::InvalidContent { .. } | RoomError::ClientIdReused | RoomError::InvalidClientId => {
                FrameErrorCode::InvalidMessage
            }
            RoomError::Unavailable => FrameErrorCode::Unavailable,
            RoomError::NotParticipant | RoomError::WriteFailed(_) | RoomError::Store(_) => {
                FrameErrorCode::Internal
            }
        }
    }
}

/// The open like round in a `connection` frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LikeRoundInfo {
    pub round: i64,
    pub deadline: DateTime<Utc>,
    pub answered: bool,
}

/// The room's call in a `connection` frame (a socket that reconnects during a call
/// learns where it stands).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallInfo {
    pub call_id: u32,
    pub state: CallPhase,
    pub caller_id: i64,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    /// Whether the receiving participant, and the partner, have muted.
    pub muted: bool,
    pub partner_muted: bool,
}

/// What the server sends, on the chat socket and on the status socket.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Connection {
        room_id: RoomId,
        user_id: i64,
        reveal_level: i64,
        like_round: Option<LikeRoundInfo>,
        last_seq: Seq,
        /// Whether the partner has a chat socket open in this room now; later changes
        /// come as `presence` frames.
        partner_online: bool,
        /// The call ringing or active now, if any; later changes come as `call_state`.
        call: Option<CallInfo>,
    },
    Message {
        message_id: MessageId,
        seq: Seq,
        client_id: Option<String>,
        user_id: i64,
        nickname: Option<String>,
        content: String,
        timestamp: DateTime<Utc>,
    },
    Ack {
        client_id: Option<String>,
        message_id: MessageId,
        seq: Seq,
    },
    Typing {
        user_id: i64,
        is_typing: bool,
    },
    Presence {
        user_id: i64,
        online: bool,
    },
    Read {
        user_id: i64,
        up_to_seq: Seq,
    },
    LikePrompt {
        round: u32,
        deadline: DateTime<Utc>,
    },
    LikeResponse {
        user_id: i64,
        answered: bool,
    },
    LikeResult {
        round: u32,
        outcome: LikeOutcome,
        reveal_level: u8,
    },
    ImageReveal {
        reveal_level: u8,
        partner_avatar_url: Option<String>,
    },
    RoomKept,
    RoomEnded {
        room_id: RoomId,
        reason: EndReason,
        /// The participant who pressed *End* (only with `ended_by_user`).
        #[serde(skip_serializing_if = "Option::is_none")]
        ended_by: Option<i64>,
    },
    /// The room's call rang, was answered or ended; `by` is the participant whose
    /// action (or absence, for `disconnected`) caused it, null for a timer or the
    /// room's end; `at` is when.
    CallState {
        call_id: u32,
        state: CallPhase,
        caller_id: i64,
        by: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<CallEndReason>,
        at: DateTime<Utc>,
    },
    /// The partner's WebRTC signal, as they sent it.
    RtcSignal {
        call_id: u32,
        from: i64,
        payload: serde_json::Value,
    },
    /// The partner muted or unmuted.
    CallMute {
        user_id: i64,
        muted: bool,
    },
    Error {
        code: FrameErrorCode,
        detail: String,
        /// The refused message's `client_id`, when the error is about a message.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    Heartbeat,
    StatusUpdate {
        status: Status,
        current_room_id: Option<RoomId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        search: Option<SearchInfo>,
    },
    MatchFound {
        room_id: RoomId,
        matched_user: Box<PartnerView>,
        icebreaker: serde_json::Value,
    },
    SearchTimeout,
    /// `until` is null for a permanent ban (`permanent` true).
    Banned {
        until: Option<DateTime<Utc>>,
        permanent: bool,
    },
}

impl ServerFrame {
    /// The `banned` frame of a ban lasting until `until`.
    pub fn banned(until: crate::clock::Timestamp) -> ServerFrame {
        let permanent = crate::moderation::is_permanent(until);
        ServerFrame::Banned { until: (!permanent).then(|| until.to_datetime()), permanent }
    }

    pub fn error(code: FrameErrorCode, detail: impl Into<String>) -> ServerFrame {
        ServerFrame::Error { code, detail: detail.into(), client_id: None }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("server frames serialise")
    }
}

/// A status view as the `status_update` push (which leaves out `online`: the
/// receiving socket is the user's online presence).
impl From<StatusView> for ServerFrame {
    fn from(view: StatusView) -> Self {
        ServerFrame::StatusUpdate {
            status: view.status,
            current_room_id: view.current_room_id,
            search: view.search,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_by_type() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"message","content":"chào","client_id":"c1"}"#),
            Ok(ClientFrame::Message { content: "chào".into(), client_id: Some("c1".into()) })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"message","content":"hi"}"#),
            Ok(ClientFrame::Message { content: "hi".into(), client_id: None })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"typing","is_typing":true}"#),
            Ok(ClientFrame::Typing { is_typing: true })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"read","up_to_seq":7}"#),
            Ok(ClientFrame::Read { up_to_seq: Seq(7) })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"like_response","response":"yes"}"#),
            Ok(ClientFrame::LikeResponse { response: LikeAnswer::Yes })
        );
        assert_eq!(ClientFrame::parse(r#"{"type":"heartbeat"}"#), Ok(ClientFrame::Heartbeat));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for bad in [
            "not json",
            "{}",
            r#"{"type":"shout","content":"x"}"#,
            r#"{"type":"message"}"#,
            r#"{"type":"typing","is_typing":"yes"}"#,
            r#"{"type":"like_response","response":"maybe"}"#,
            "[1,2,3]",
        ] {
            assert!(ClientFrame::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signal_payload_numbers_are_relayed_as_sent() {
        // Found by fuzzing: serde_json's default float parser can be one ulp off, so the
        // partner got a number other than the one sent.
        let digits = "11111111111110000000000000000000000011068937866009604102";
        let text = format!(r#"{{"type":"rtc_signal","payload":{{"sdpMLineIndex":{digits}}}}}"#);
        let Ok(ClientFrame::RtcSignal { payload }) = ClientFrame::parse(&text) else {
            panic!("{text} is a signal");
        };
        assert_eq!(payload["sdpMLineIndex"].as_f64(), Some(digits.parse::<f64>().unwrap()));
        let relayed: serde_json::Value = serde_json::from_str(&payload.to_string()).unwrap();
        assert_eq!(relayed, payload);
    }

    #[test]
    fn server_frames_carry_their_type() {
        let frame = ServerFrame::Ack { client_id: Some("c1".into()), message_id: MessageId(9), seq: Seq(3) };
        assert_eq!(frame.to_text(), r#"{"type":"ack","client_id":"c1","message_id":9,"seq":3}"#);
        assert_eq!(ServerFrame::Heartbeat.to_text(), r#"{"type":"heartbeat"}"#);
        let ended =
            ServerFrame::RoomEnded { room_id: RoomId(4), reason: EndReason::Inactive, ended_by: None };
        assert_eq!(ended.to_text(), r#"{"type":"room_ended","room_id":4,"reason":"inactive"}"#);
    }
}
