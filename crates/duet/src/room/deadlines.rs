//! One queue of room deadlines, ordered by time, so one task can sleep until the next
//! due timer instead of one task sleeping per room. Each room has at most one entry:
//! its earliest deadline, replaced whenever the room's state changes.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use crate::clock::Timestamp;

#[derive(Debug)]
pub struct DeadlineQueue<K: Ord + Hash + Copy> {
    by_time: BTreeSet<(Timestamp, K)>,
    by_key: HashMap<K, Timestamp>,
}

impl<K: Ord + Hash + Copy> Default for DeadlineQueue<K> {
    fn default() -> Self {
        DeadlineQueue { by_time: BTreeSet::new(), by_key: HashMap::new() }
    }
}

impl<K: Ord + Hash + Copy> DeadlineQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces, or with None clears) the deadline of `key`.
    pub fn schedule(&mut self, key: K, at: Option<Timestamp>) {
        if let Some(old) = self.by_key.remove(&key) {
            self.by_time.remove(&(old, key));
        }
        if let Some(at) = at {
            self.by_key.insert(key, at);
            self.by_time.insert((at, key));
        }
    }

    /// The earliest deadline, to sleep until.
    pub fn next(&self) -> Option<Timestamp> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns every key due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Timestamp) -> Vec<K> {
        let mut due = Vec::new();
        while let Some(&(at, key)) = self.by_time.first() {
            if at > now {
                break;
            }
            self.by_time.remove(&(at, key));
            self.by_key.remove(&key);
            due.push(key);
        }
        due
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deadline_per_key_popped_in_order() {
        let t = Timestamp::from_millis;
        let mut q = DeadlineQueue::new();
        q.schedule(1, Some(t(300)));
        q.schedule(2, Some(t(100)));
        q.schedule(3, Some(t(200)));
        q.schedule(1, Some(t(50)));
        q.schedule(3, None);
        assert_eq!(q.len(), 2);
        assert_eq!(q.next(), Some(t(50)));
        assert_eq!(q.pop_due(t(99)), vec![1]);
        assert_eq!(q.pop_due(t(1000)), vec![2]);
        assert!(q.is_empty());
        assert_eq!(q.next(), None);
    }
}
