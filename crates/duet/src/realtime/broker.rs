//! The fan-out seam: every push to a socket goes through a [`Broker`], addressed to a
//! [`Topic`]. The in-process broker here serves one instance; a Redis or NATS broker
//! implementing the same trait (topic = channel/subject) lets several instances
//! deliver each other's pushes without touching the socket or room code.
//!
//! Each subscription has a bounded queue. A subscriber that falls that far behind is
//! dropped (its queue closes) rather than slowing the publisher or anyone else; its
//! socket then closes and the client reconnects and resumes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use tokio::sync::mpsc;

use super::protocol::ServerFrame;
use crate::ids::{RoomId, Seq, UserId};

/// Where a push goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Every status socket of a user.
    User(UserId),
    /// Every chat socket of a room.
    Room(RoomId),
}

/// A chat message frame rendered once for every socket of its room, with its `seq` so
/// that each socket can skip what replay already sent and notice a gap.
#[derive(Clone, Debug)]
pub struct RenderedMessage {
    pub seq: Seq,
    pub text: Utf8Bytes,
}

/// One push: a frame or a stored message, who of the topic takes it, and whether the
/// socket closes after it (with a close code).
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    pub frame: Option<Arc<ServerFrame>>,
    pub message: Option<RenderedMessage>,
    /// Only this user's sockets take it.
    pub only: Option<UserId>,
    /// This user's sockets skip it (their own typing and read marks).
    pub skip: Option<UserId>,
    pub close: Option<u16>,
}

impl Delivery {
    pub fn frame(frame: ServerFrame) -> Self {
        Delivery { frame: Some(Arc::new(frame)), ..Delivery::default() }
    }

    /// Whether a socket of `user` takes this delivery.
    pub fn is_for(&self, user: UserId) -> bool {
        self.only.is_none_or(|only| only == user) && self.skip != Some(user)
    }
}

/// Pushes queued per subscriber before it counts as too slow: a status socket gets a
/// handful of pushes per match, so this is minutes of a stalled client.
const QUEUE: usize = 64;

/// The same for a chat socket's room topic, which gets its pushes in bursts: a room's
/// owner has up to 64 messages in flight, answered a batch at a time, and a socket that
/// reconnects takes no push until it has replayed what was stored (while the room goes
/// on). Tokio allocates a queue's slots in blocks of 32 as they fill, so a long queue
/// costs an idle socket nothing more.
const ROOM_QUEUE: usize = 256;

fn queue_for(topic: Topic) -> usize {
    match topic {
        Topic::Room(_) => ROOM_QUEUE,
        _ => QUEUE,
    }
}

pub trait Broker: Send + Sync + 'static {
    fn publish(&self, topic: Topic, delivery: Delivery);
    fn subscribe(&self, topic: Topic) -> Subscription;
}

/// A subscriber's queue; unsubscribes when dropped. It holds shared deliveries: one
/// publish is one allocation however many sockets take it, and a queue's slots are a
/// pointer each (tokio allocates a queue's first block of slots when it is made, so the
/// slot size is memory every idle socket holds).
pub struct Subscription {
    pub receiver: mpsc::Receiver<Arc<Delivery>>,
    _guard: Option<Box<dyn Send + Sync>>,
}

/// Subscribers by topic, each with its id (for unsubscribing) and queue.
type Subscribers = DashMap<Topic, Vec<(u64, mpsc::Sender<Arc<Delivery>>)>>;

/// The broker of a single instance.
#[derive(Default)]
pub struct InProcessBroker {
    topics: Arc<Subscribers>,
    next_id: AtomicU64,
}

struct Unsubscribe {
    topics: Arc<Subscribers>,
    topic: Topic,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if let Some(mut subscribers) = self.topics.get_mut(&self.topic) {
            subscribers.retain(|(id, _)| *id != self.id);
        }
        self.topics.remove_if(&self.topic, |_, subscribers| subscribers.is_empty());
    }
}

impl Broker for InProcessBroker {
    fn publish(&self, topic: Topic, delivery: Delivery) {
        if let Some(mut subscribers) = self.topics.get_mut(&topic) {
            let delivery = Arc::new(delivery);
            // A full queue drops that subscriber: it is too far behind.
            subscribers.retain(|(_, sender)| sender.try_send(delivery.clone()).is_ok());
        }
    }

    fn subscribe(&self, topic: Topic) -> Subscription {
        let (sender, receiver) = mpsc::channel(queue_for(topic));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.topics.entry(topic).or_default().push((id, sender));
        Subscription {
            receiver,
            _guard: Some(Box::new(Unsubscribe { topics: self.topics.clone(), topic, id })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deliveries_reach_subscribers_of_their_topic_only() {
        let broker = InProcessBroker::default();
        let mut a = broker.subscribe(Topic::User(UserId(1)));
        let mut b = broker.subscribe(Topic::User(UserId(2)));
        broker.publish(Topic::User(UserId(1)), Delivery::frame(ServerFrame::Heartbeat));
        assert!(a.receiver.recv().await.is_some());
        assert!(b.receiver.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_dropped_and_others_go_on() {
        let broker = InProcessBroker::default();
        let slow = broker.subscribe(Topic::User(UserId(1)));
        let mut fast = broker.subscribe(Topic::User(UserId(1)));
        for _ in 0..QUEUE + 1 {
            broker.publish(Topic::User(UserId(1)), Delivery::frame(ServerFrame::Heartbeat));
            assert!(fast.receiver.recv().await.is_some());
        }
        let mut slow = slow;
        let mut received = 0;
        while slow.receiver.recv().await.is_some() {
            received += 1;
        }
        assert_eq!(received, QUEUE, "the slow queue closed once full");
    }

    #[test]
    fn dropping_a_subscription_unsubscribes() {
        let broker = InProcessBroker::default();
        let sub = broker.subscribe(Topic::User(UserId(1)));
        assert_eq!(broker.topics.len(), 1);
        drop(sub);
        assert!(broker.topics.is_empty());
    }
}
