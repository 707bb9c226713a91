//! The real-time side of a room's outbox: [`Fanout`] turns what a room's owner pushes
//! into deliveries on the room's topic. A message is rendered to its frame's text once
//! for the whole room (not once per socket); the sockets only copy a reference to it.

use std::sync::Arc;

use super::broker::{Broker, Delivery, RenderedMessage, Topic};
use super::protocol::ServerFrame;
use super::CloseCode;
use crate::clock::Timestamp;
use crate::room::{Effect, RoomAddress, RoomOutbox, RoomPush};
use crate::store::MessageRow;

pub struct Fanout {
    broker: Arc<dyn Broker>,
}

impl Fanout {
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Fanout { broker }
    }
}

impl RoomOutbox for Fanout {
    fn push(&self, room: &RoomAddress, push: RoomPush<'_>) {
        let topic = Topic::Room(room.room_id);
        let delivery = match push {
            RoomPush::Message(message) => Delivery {
                message: Some(RenderedMessage {
                    seq: message.seq,
                    text: message_frame(message, room).to_text().into(),
                }),
                ..Delivery::default()
            },
            RoomPush::Effect(effect) => match effect_frame(room, effect) {
                Some(delivery) => delivery,
                None => return,
            },
            RoomPush::Reveal { viewer, reveal_level, partner_avatar_url } => Delivery {
                only: Some(viewer),
                ..Delivery::frame(ServerFrame::ImageReveal { reveal_level, partner_avatar_url })
            },
            RoomPush::Presence { user, online } => Delivery {
                skip: Some(user),
                ..Delivery::frame(ServerFrame::Presence { user_id: user.0, online })
            },
            RoomPush::Signal { from, call, payload } => Delivery {
                skip: Some(from),
                ..Delivery::frame(ServerFrame::RtcSignal {
                    call_id: call,
                    from: from.0,
                    payload: payload.clone(),
                })
            },
            RoomPush::Banned { user, until } => Delivery {
                frame: Some(ServerFrame::banned(until).into()),
                close: Some(CloseCode::Banned.code()),
                only: Some(user),
                ..Delivery::default()
            },
        };
        self.broker.publish(topic, delivery);
    }
}

fn effect_frame(room: &RoomAddress, effect: Effect) -> Option<Delivery> {
    let frame = match effect {
        Effect::LikePrompt { round, deadline } => {
            ServerFrame::LikePrompt { round, deadline: deadline.to_datetime() }
        }
        Effect::LikeAnswered { user } => ServerFrame::LikeResponse { user_id: user.0, answered: true },
        Effect::LikeResult { round, outcome, reveal_level } => {
            ServerFrame::LikeResult { round, outcome, reveal_level }
        }
        Effect::Kept => ServerFrame::RoomKept,
        Effect::Call(change) => ServerFrame::CallState {
            call_id: change.call.number,
            state: change.phase,
            caller_id: room.users[change.call.caller as usize].0,
            by: change.by.map(|u| u.0),
            reason: change.reason,
            at: change.at.to_datetime(),
        },
        // Only the partner needs to hear it (the sender's own screen knows).
        Effect::CallMute { user, muted } => {
            return Some(Delivery {
                skip: Some(user),
                ..Delivery::frame(ServerFrame::CallMute { user_id: user.0, muted })
            })
        }
        // Chat sockets get the end and close normally.
        Effect::Ended { reason, by } => {
            return Some(Delivery {
                frame: Some(
                    ServerFrame::RoomEnded { room_id: room.room_id, reason, ended_by: by.map(|u| u.0) }
                        .into(),
                ),
                close: Some(CloseCode::Normal.code()),
                ..Delivery::default()
            })
        }
        // The owner pushes a reveal per viewer instead.
        Effect::ImageReveal { .. } => return None,
    };
    Some(Delivery::frame(frame))
}

/// The `message` frame of a stored message; replay renders the same.
pub(super) fn message_frame(message: &MessageRow, room: &RoomAddress) -> ServerFrame {
    ServerFrame::Message {
        message_id: message.id,
        seq: message.seq,
        client_id: message.client_id.clone(),
        user_id: message.user_id,
        nickname: room.nickname_of(crate::ids::UserId(message.user_id)).map(str::to_owned),
        content: message.content.clone(),
        timestamp: Timestamp::from_millis(message.created_at).to_datetime(),
    }
}
