//! Which sockets are open on this instance: one status socket per user and one chat
//! socket per user and room (a newer one replaces the older, which closes with 4007),
//! and whether a user is online.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::oneshot;

use crate::clock::Timestamp;
use crate::ids::{RoomId, UserId};

#[derive(Default)]
pub struct Connections {
    status: DashMap<UserId, (u64, oneshot::Sender<()>)>,
    chat: DashMap<(UserId, RoomId), (u64, oneshot::Sender<()>)>,
    next_id: AtomicU64,
    /// The last public count ([`Connections::online_users_cached`]) and when it was taken.
    counted: Mutex<Option<(Timestamp, usize)>>,
}

/// A registered socket: its id, and a receiver that fires when a newer connection of
/// the same user replaces it.
pub struct Registration {
    pub id: u64,
    pub replaced: oneshot::Receiver<()>,
}

impl Connections {
    /// Registers the user's status socket, replacing (and notifying) any older one.
    pub fn register_status(&self, user: UserId) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (notify, replaced) = oneshot::channel();
        if let Some((_, old)) = self.status.insert(user, (id, notify)) {
            let _ = old.send(());
        }
        Registration { id, replaced }
    }

    /// Forgets the socket `id`, unless a newer one has taken its place.
    pub fn unregister_status(&self, user: UserId, id: u64) {
        self.status.remove_if(&user, |_, (current, _)| *current == id);
    }

    /// Registers the user's chat socket of a room, replacing any older one of the same
    /// user and room.
    pub fn register_chat(&self, user: UserId, room_id: RoomId) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (notify, replaced) = oneshot::channel();
        if let Some((_, old)) = self.chat.insert((user, room_id), (id, notify)) {
            let _ = old.send(());
        }
        Registration { id, replaced }
    }

    pub fn unregister_chat(&self, user: UserId, room_id: RoomId, id: u64) {
        self.chat.remove_if(&(user, room_id), |_, (current, _)| *current == id);
    }

    /// The rooms in which the user has a chat socket open on this instance.
    pub fn chat_rooms_of(&self, user: UserId) -> Vec<RoomId> {
        self.chat.iter().filter(|entry| entry.key().0 == user).map(|entry| entry.key().1).collect()
    }

    /// Whether the user has a chat socket open in the room on this instance.
    pub fn has_chat_socket(&self, user: UserId, room_id: RoomId) -> bool {
        self.chat.contains_key(&(user, room_id))
    }

    /// Whether the user has a status socket open on this instance.
    pub fn is_online(&self, user: UserId) -> bool {
        self.status.contains_key(&user)
    }

    /// How many people have a socket of either kind open on this instance.
    pub fn online_users(&self) -> usize {
        let mut users: std::collections::HashSet<UserId> = self.status.iter().map(|e| *e.key()).collect();
        users.extend(self.chat.iter().map(|e| e.key().0));
        users.len()
    }

    /// [`Connections::online_users`] as the public count serves it: taken again only
    /// when the last count is older than `max_age` (it walks every socket), so the
    /// number anyone may ask for costs one walk per `max_age`. The count and when it
    /// was taken.
    pub fn online_users_cached(&self, now: Timestamp, max_age: Duration) -> (usize, Timestamp) {
        let mut counted = self.counted.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match *counted {
            Some((at, users)) if at <= now && now < at.plus(max_age) => (users, at),
            _ => {
                let users = self.online_users();
                *counted = Some((now, users));
                (users, now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_users_counts_people_not_sockets() {
        let connections = Connections::default();
        assert_eq!(connections.online_users(), 0);
        let _status = connections.register_status(UserId(1));
        let _chat = connections.register_chat(UserId(1), RoomId(7));
        let _other = connections.register_chat(UserId(2), RoomId(7));
        assert_eq!(connections.online_users(), 2);
    }

    #[test]
    fn the_public_count_is_taken_again_only_when_it_is_older_than_its_age() {
        let connections = Connections::default();
        let t0 = Timestamp::from_millis(1_000_000);
        let age = Duration::from_secs(10);
        assert_eq!(connections.online_users_cached(t0, age), (0, t0));
        let _status = connections.register_status(UserId(1));
        let later = t0.plus(Duration::from_secs(9));
        assert_eq!(connections.online_users_cached(later, age), (0, t0), "still the first count");
        let expired = t0.plus(age);
        assert_eq!(connections.online_users_cached(expired, age), (1, expired));
        // A clock set back does not keep an old count forever.
        assert_eq!(connections.online_users_cached(t0, age), (1, t0));
    }

    #[test]
    fn a_newer_socket_replaces_the_older() {
        let connections = Connections::default();
        let mut first = connections.register_status(UserId(1));
        let second = connections.register_status(UserId(1));
        assert!(first.replaced.try_recv().is_ok(), "the first is told");
        connections.unregister_status(UserId(1), first.id);
        assert!(connections.is_online(UserId(1)), "the older leaving does not remove the newer");
        connections.unregister_status(UserId(1), second.id);
        assert!(!connections.is_online(UserId(1)));
    }
}
