//! The bridge from the internal event channel to user notices: it decides which user
//! hears what on their status socket (match found, status, search timeout, room ended,
//! ban) and closes revoked users' sockets, reading what those pushes need from the
//! store. Room traffic goes from each room's owner through [`super::fanout`] instead;
//! typing and read marks go from socket to socket through the broker.

use tokio::sync::broadcast;

use super::broker::{Delivery, Topic};
use super::protocol::ServerFrame;
use super::CloseCode;
use super::Realtime;
use crate::events::Event;
use crate::ids::UserId;
use crate::profile::StatusView;
use crate::room::PartnerView;

/// Runs until shutdown. `events` is subscribed before the server starts, so nothing
/// published at start-up is missed. Room traffic never passes here (room owners push it
/// themselves), so the reads this loop makes for a match or a status delay no chat
/// message; a lag here loses only status pushes, which the next status update or a
/// reconnect restores.
pub async fn run(state: Realtime, mut events: broadcast::Receiver<Event>) {
    loop {
        let event = tokio::select! {
            _ = state.shutdown.requested() => break,
            event = events.recv() => event,
        };
        match event {
            Ok(event) => {
                if let Err(e) = to_users(&state, event).await {
                    tracing::warn!(error = %e, "could not deliver an event to status sockets");
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "socket bridge fell behind the event channel");
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// What users hear on their status sockets.
async fn to_users(state: &Realtime, event: Event) -> Result<(), sqlx::Error> {
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
        Event::RoomEnded { room_id, users, reason, by } => {
            for user in users {
                push(state, user, ServerFrame::RoomEnded { room_id, reason, ended_by: by.map(|u| u.0) });
                push_status(state, user).await?;
            }
        }
        Event::Banned { user, until, .. } => {
            state.broker.publish(Topic::User(user), banned(user, until));
        }
        Event::TokensRevoked { user } => {
            // The status socket and every chat socket of the user close: the token that
            // opened them is revoked.
            state.broker.publish(Topic::User(user), revoked(user));
            for room_id in state.connections.chat_rooms_of(user) {
                state.broker.publish(Topic::Room(room_id), revoked(user));
            }
        }
        Event::LikePrompt { .. }
        | Event::LikeAnswered { .. }
        | Event::LikeResult { .. }
        | Event::ImageReveal { .. }
        | Event::RoomKept { .. } => {}
    }
    Ok(())
}

/// `banned` for the banned user only, closing the socket with 4002.
fn banned(user: UserId, until: crate::clock::Timestamp) -> Delivery {
    Delivery {
        frame: Some(ServerFrame::banned(until).into()),
        close: Some(CloseCode::Banned.code()),
        only: Some(user),
        ..Delivery::default()
    }
}

/// A bare 4001 close for the user's sockets only.
fn revoked(user: UserId) -> Delivery {
    Delivery { close: Some(CloseCode::Unauthorized.code()), only: Some(user), ..Delivery::default() }
}

fn push(state: &Realtime, user: UserId, frame: ServerFrame) {
    state.broker.publish(Topic::User(user), Delivery::frame(frame));
}

/// The user's status as it is now (a deleted account has none).
async fn push_status(state: &Realtime, user: UserId) -> Result<(), sqlx::Error> {
    if let Some(row) = state.store.user(user).await? {
        let ticket = state.store.ticket(user).await?;
        push(state, user, StatusView::new(&row, ticket, true).into());
    }
    Ok(())
}
