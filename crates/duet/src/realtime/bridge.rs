//! The bridge from the internal event channel to socket pushes: it decides which user
//! hears what and publishes through the broker. With several instances, this is the
//! one place that turns local events into broker traffic.

use tokio::sync::broadcast;

use super::broker::{Delivery, Topic};
use super::protocol::ServerFrame;
use super::CloseCode;
use crate::app::AppState;
use crate::events::Event;
use crate::http::error::ApiError;
use crate::ids::UserId;
use crate::profile::{self, partner_avatar_url};
use crate::room::PartnerView;

/// Runs until shutdown. `events` is subscribed before the server starts, so nothing
/// published at start-up is missed.
///
/// Two lanes read the channel side by side, each in order: the room lane publishes to
/// room topics (messages, like rounds, ends) and reads the database only for a photo
/// reveal; the user lane publishes to user topics and reads the database for every
/// status update and match. One lane for both made every room's messages wait behind
/// those reads, and a burst of matches then let a backlog of messages reach the
/// sockets at once, overflowing their queues.
pub async fn run(state: AppState, events: broadcast::Receiver<Event>) {
    let room_events = events.resubscribe();
    tokio::join!(lane(&state, room_events, Lane::Rooms), lane(&state, events, Lane::Users));
}

#[derive(Clone, Copy, Debug)]
enum Lane {
    Rooms,
    Users,
}

async fn lane(state: &AppState, mut events: broadcast::Receiver<Event>, lane: Lane) {
    loop {
        let event = tokio::select! {
            _ = state.shutdown.requested() => break,
            event = events.recv() => event,
        };
        match event {
            Ok(event) => {
                let delivered = match lane {
                    Lane::Rooms => to_rooms(state, event).await,
                    Lane::Users => to_users(state, event).await,
                };
                if let Err(e) = delivered {
                    tracing::warn!(error = %e, ?lane, "could not deliver an event to sockets");
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, ?lane, "socket bridge fell behind the event channel");
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// What users hear on their status sockets.
async fn to_users(state: &AppState, event: Event) -> Result<(), ApiError> {
    match event {
        Event::MatchFound { room_id, users, .. } => {
            let Some(room) = state.store.room(room_id).await? else { return Ok(()) };
            let icebreaker = serde_json::from_str(&room.icebreaker).unwrap_or(serde_json::Value::Null);
            for user in users {
                let Some(partner_id) = room.partner_of(user) else { continue };
                let Some(partner) = state.store.user(partner_id).await? else { continue };
                let matched_user = Box::new(PartnerView::new(&partner, &room, state.clock.now()));
                push(
                    state,
                    user,
                    ServerFrame::MatchFound { room_id, matched_user, icebreaker: icebreaker.clone() },
                );
                push_status(state, user).await?;
            }
        }
        Event::SearchStarted { user } | Event::SearchCancelled { user } => push_status(state, user).await?,
        Event::SearchTimeout { user } => {
            push(state, user, ServerFrame::SearchTimeout);
            push_status(state, user).await?;
        }
        Event::RoomEnded { room_id, users, reason } => {
            for user in users {
                push(state, user, ServerFrame::RoomEnded { room_id, reason });
                push_status(state, user).await?;
            }
        }
        Event::Banned { user, until, .. } => {
            state.broker.publish(Topic::User(user), banned(user, until));
        }
        Event::TokensRevoked { user } => {
            // The status socket closes: the token that opened it is revoked.
            state.broker.publish(Topic::User(user), revoked(user));
        }
        Event::MessagePosted { .. }
        | Event::LikePrompt { .. }
        | Event::LikeAnswered { .. }
        | Event::LikeResult { .. }
        | Event::ImageReveal { .. }
        | Event::RoomKept { .. } => {}
    }
    Ok(())
}

/// What the participants hear on their chat sockets.
async fn to_rooms(state: &AppState, event: Event) -> Result<(), ApiError> {
    match event {
        Event::RoomEnded { room_id, reason, .. } => {
            // Chat sockets get the end and close normally.
            state.broker.publish(
                Topic::Room(room_id),
                Delivery {
                    frame: Some(ServerFrame::RoomEnded { room_id, reason }.into()),
                    close: Some(CloseCode::Normal as u16),
                    ..Delivery::default()
                },
            );
        }
        Event::Banned { user, until, room_id: Some(room_id) } => {
            state.broker.publish(Topic::Room(room_id), banned(user, until));
        }
        Event::TokensRevoked { user } => {
            // Every chat socket of the user closes too.
            for room_id in state.connections.chat_rooms_of(user) {
                state.broker.publish(Topic::Room(room_id), revoked(user));
            }
        }
        Event::MessagePosted { room_id, message, received, .. } => {
            state
                .broker
                .publish(Topic::Room(room_id), Delivery { message: Some(message), ..Delivery::default() });
            state.metrics.messages_relayed.inc();
            state.metrics.relay_latency.observe(received.elapsed().as_secs_f64());
        }
        Event::LikePrompt { room_id, round, deadline, .. } => {
            room_push(state, room_id, ServerFrame::LikePrompt { round, deadline: deadline.to_datetime() });
        }
        Event::LikeAnswered { room_id, user, .. } => {
            room_push(state, room_id, ServerFrame::LikeResponse { user_id: user.0, answered: true });
        }
        Event::LikeResult { room_id, round, outcome, reveal_level, .. } => {
            room_push(state, room_id, ServerFrame::LikeResult { round, outcome, reveal_level });
        }
        Event::ImageReveal { room_id, users, reveal_level } => {
            // Each participant gets the URL of the other's picture at the new level.
            // Rare (at most twice a room), so its reads stay in this lane, after the
            // round's result.
            for (viewer, partner) in [(users[0], users[1]), (users[1], users[0])] {
                let url = state
                    .store
                    .user(partner)
                    .await?
                    .and_then(|p| partner_avatar_url(&p, i64::from(reveal_level)));
                let frame = ServerFrame::ImageReveal { reveal_level, partner_avatar_url: url };
                state
                    .broker
                    .publish(Topic::Room(room_id), Delivery { only: Some(viewer), ..Delivery::frame(frame) });
            }
        }
        Event::RoomKept { room_id, .. } => room_push(state, room_id, ServerFrame::RoomKept),
        Event::MatchFound { .. }
        | Event::SearchStarted { .. }
        | Event::SearchCancelled { .. }
        | Event::SearchTimeout { .. }
        | Event::Banned { room_id: None, .. } => {}
    }
    Ok(())
}

/// `banned` for the banned user only, closing the socket with 4002.
fn banned(user: UserId, until: crate::clock::Timestamp) -> Delivery {
    Delivery {
        frame: Some(ServerFrame::Banned { until: until.to_datetime() }.into()),
        close: Some(CloseCode::Banned as u16),
        only: Some(user),
        ..Delivery::default()
    }
}

/// A bare 4001 close for the user's sockets only.
fn revoked(user: UserId) -> Delivery {
    Delivery { close: Some(CloseCode::Unauthorized as u16), only: Some(user), ..Delivery::default() }
}

fn room_push(state: &AppState, room_id: i64, frame: ServerFrame) {
    state.broker.publish(Topic::Room(room_id), Delivery::frame(frame));
}

fn push(state: &AppState, user: UserId, frame: ServerFrame) {
    state.broker.publish(Topic::User(user), Delivery::frame(frame));
}

/// The user's status as it is now (a deleted account has none).
async fn push_status(state: &AppState, user: UserId) -> Result<(), ApiError> {
    if let Some(row) = state.store.user(user).await? {
        let view = profile::status(state, &row).await?;
        push(
            state,
            user,
            ServerFrame::StatusUpdate {
                status: view.status,
                current_room_id: view.current_room_id,
                search: view.search,
            },
        );
    }
    Ok(())
}
