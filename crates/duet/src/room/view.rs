//! What participants see of a room and of each other. A partner is shown without
//! username, email, birth date or other rooms: nickname, gender, age, needs,
//! interests, and an avatar URL at the room's reveal level.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::EndReason;
use crate::clock::Timestamp;
use crate::ids::{MessageId, RoomId, Seq, UserId};
use crate::profile::partner_avatar_url;
use crate::profile::validate::age_on;
use crate::store::{list_ids, MessageRow, RoomRow, UserRow};
use crate::types::ChatKind;

/// A partner as the other participant sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub nickname: Option<String>,
    pub gender: Option<String>,
    pub age: Option<i32>,
    pub needs: Vec<String>,
    pub interests: Vec<String>,
    /// The avatar at the room's reveal level (blurred, semi-blurred or clear).
    pub avatar_url: Option<String>,
}

impl PartnerView {
    /// A partner whose account no longer exists.
    pub fn erased() -> Self {
        PartnerView {
            nickname: None,
            gender: None,
            age: None,
            needs: Vec::new(),
            interests: Vec::new(),
            avatar_url: None,
        }
    }

    pub fn new(partner: &UserRow, room: &RoomRow, now: Timestamp) -> Self {
        let list =
            |l: &Option<String>| -> Vec<String> { list_ids(l).into_iter().map(str::to_owned).collect() };
        PartnerView {
            nickname: partner.nickname.clone(),
            gender: partner.gender.clone(),
            age: partner
                .dob
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .map(|d| age_on(d, now.date())),
            needs: list(&partner.needs),
            interests: list(&partner.interests),
            avatar_url: partner_avatar_url(partner, room.reveal_level),
        }
    }
}

/// A stored message as the API and report evidence show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub message_id: MessageId,
    pub seq: Seq,
    pub client_id: Option<String>,
    pub user_id: i64,
    pub content: String,
    pub timestamp: DateTime<Utc>,
}

impl From<&MessageRow> for MessageView {
    fn from(m: &MessageRow) -> Self {
        MessageView {
            message_id: m.id,
            seq: m.seq,
            client_id: m.client_id.clone(),
            user_id: m.user_id,
            content: m.content.clone(),
            timestamp: Timestamp::from_millis(m.created_at).to_datetime(),
        }
    }
}

/// Keep flags from the caller's side.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeepView {
    pub me: bool,
    pub partner: bool,
}

/// The open like round, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct LikeRoundView {
    pub round: i64,
    pub deadline: DateTime<Utc>,
    /// Whether the caller has answered.
    pub answered: bool,
}

/// A room as a participant sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomView {
    pub id: RoomId,
    #[serde(rename = "type")]
    pub kind: ChatKind,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    /// The participant (their user id) who ended the room with *End*; null for every
    /// other end, and while the room lives.
    pub ended_by: Option<i64>,
    /// 0 blurred, 1 semi-blurred, 2 clear.
    pub reveal_level: i64,
    pub keep: KeepView,
    /// Both participants keep the room.
    pub kept: bool,
    pub like_round: Option<LikeRoundView>,
    /// The prompt the room opened with: `{topic, vi, en}`.
    #[schema(value_type = Object)]
    pub icebreaker: serde_json::Value,
    pub partner: PartnerView,
}

impl RoomView {
    /// `partner` is None when the partner's account has been erased.
    pub fn new(room: &RoomRow, viewer: UserId, partner: Option<&UserRow>, now: Timestamp) -> Self {
        let mine_is_a = room.user_a == viewer.0;
        let (keep_a, keep_b) = room.keeps();
        let (keep_me, keep_partner) = if mine_is_a { (keep_a, keep_b) } else { (keep_b, keep_a) };
        let my_answer = if mine_is_a { room.answer_a } else { room.answer_b };
        let ts = |ms: i64| Timestamp::from_millis(ms).to_datetime();
        RoomView {
            id: room.id,
            kind: ChatKind::parse(&room.kind).unwrap_or(ChatKind::Chat),
            start_time: ts(room.start_time),
            end_time: room.end_time.map(ts),
            end_reason: room.end_reason.as_deref().and_then(EndReason::parse),
            ended_by: room.ended_by,
            reveal_level: room.reveal_level,
            keep: KeepView { me: keep_me, partner: keep_partner },
            kept: keep_a && keep_b,
            like_round: room.round_deadline.map(|deadline| LikeRoundView {
                round: room.rounds_opened,
                deadline: ts(deadline),
                answered: my_answer.is_some(),
            }),
            icebreaker: serde_json::from_str(&room.icebreaker).unwrap_or(serde_json::Value::Null),
            partner: partner.map_or_else(PartnerView::erased, |p| PartnerView::new(p, room, now)),
        }
    }
}
