//! The work queue: parent keys waiting for a sync, now or at a given time.
//!
//! A key is in the queue at most once (events coalesce), is never handed out while a sync of
//! it runs (a change during the sync marks it dirty, and it comes back when the sync ends), and
//! has at most one timer (a later schedule replaces the earlier one).
//!
//! Keys queued because the parent itself changed (a new parent, a new spec) are served before
//! those queued by their children's events or timers (a Deployment's status, a resync), so that
//! in a create storm new parents are not stuck behind re-syncs of the ones already done; every
//! few keys one of the others still goes, so neither lane starves.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::watch::ObjectKey;

/// Of this many keys handed out while both lanes are busy, one comes from the ordinary lane.
const FAIR_SHARE: u32 = 4;

#[derive(Default)]
struct State {
    /// Keys whose parent changed: served first.
    urgent: VecDeque<ObjectKey>,
    ready: VecDeque<ObjectKey>,
    served_urgent: u32,
    in_ready: HashSet<ObjectKey>,
    running: HashSet<ObjectKey>,
    dirty: HashSet<ObjectKey>,
    timers: BTreeMap<(Instant, u64), ObjectKey>,
    timer_of: HashMap<ObjectKey, (Instant, u64)>,
    /// Keys that may not run before a time (hot-loop guard); events wait for it.
    holds: HashMap<ObjectKey, Instant>,
    /// Keys whose last sync failed, with the end of their backoff: events of their children
    /// wait for it, a change of the parent itself does not (it may be the fix).
    backoffs: HashMap<ObjectKey, Instant>,
    seq: u64,
}

#[derive(Default)]
pub(crate) struct WorkQueue {
    state: Mutex<State>,
    notify: Notify,
}

impl WorkQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for a sync of `key` as soon as possible, or at the end of its backoff or hold.
    pub fn add(&self, key: ObjectKey) {
        let mut s = self.lock();
        push(&mut s, key, false);
        drop(s);
        self.notify.notify_one();
    }

    /// Asks for a sync of `key` because the parent itself changed: it is served before keys
    /// queued by child events and timers, and its failure backoff (not a hot-loop hold) is cut
    /// short, as the change may be the fix.
    pub fn add_changed(&self, key: ObjectKey) {
        let mut s = self.lock();
        s.backoffs.remove(&key);
        push(&mut s, key, true);
        drop(s);
        self.notify.notify_one();
    }

    /// `key` failed: it is synced again at `until`, and events of its children wait for it.
    pub fn back_off(&self, key: &ObjectKey, until: Instant) {
        let mut s = self.lock();
        s.backoffs.insert(key.clone(), until);
        set_timer(&mut s, key.clone(), until);
        drop(s);
        self.notify.notify_one();
    }

    /// Asks for a sync of `key` at `at`, replacing any earlier timer of it.
    pub fn add_at(&self, key: ObjectKey, at: Instant) {
        set_timer(&mut self.lock(), key, at);
        self.notify.notify_one();
    }

    /// Drops the timer, hold and backoff of `key` (its parent is gone).
    pub fn forget(&self, key: &ObjectKey) {
        let mut s = self.lock();
        if let Some(old) = s.timer_of.remove(key) {
            s.timers.remove(&old);
        }
        s.holds.remove(key);
        s.backoffs.remove(key);
    }

    /// `key` synced successfully: its failure backoff is over.
    pub fn succeeded(&self, key: &ObjectKey) {
        self.lock().backoffs.remove(key);
    }

    /// `key` does not run before `until`, whatever happens meanwhile.
    pub fn hold(&self, key: &ObjectKey, until: Instant) {
        self.lock().holds.insert(key.clone(), until);
    }

    /// Waits for the next key to sync and marks it running.
    pub async fn next(&self) -> ObjectKey {
        loop {
            let notified = self.notify.notified();
            let wake_at = {
                let mut s = self.lock();
                let now = Instant::now();
                while let Some(entry) = s.timers.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let key = entry.remove();
                    s.timer_of.remove(&key);
                    push(&mut s, key, false);
                }
                if let Some(key) = pop(&mut s) {
                    s.in_ready.remove(&key);
                    s.running.insert(key.clone());
                    return key;
                }
                s.timers.first_key_value().map(|(slot, _)| slot.0)
            };
            match wake_at {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The sync of `key` ended; if it changed meanwhile, it is queued again.
    pub fn done(&self, key: &ObjectKey) {
        let mut s = self.lock();
        s.running.remove(key);
        if s.dirty.remove(key) {
            push(&mut s, key.clone(), false);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Keys waiting to run now.
    pub fn depth(&self) -> usize {
        let s = self.lock();
        s.ready.len() + s.urgent.len()
    }

    /// Keys being synced now.
    pub fn running(&self) -> usize {
        self.lock().running.len()
    }

    /// `true` when nothing is queued for now and nothing runs (timers may be pending).
    pub fn is_idle(&self) -> bool {
        let s = self.lock();
        s.ready.is_empty() && s.urgent.is_empty() && s.running.is_empty()
    }
}

/// The next key: urgent ones first, but one ordinary key after every [`FAIR_SHARE`] - 1 urgent
/// ones while both wait.
fn pop(s: &mut State) -> Option<ObjectKey> {
    let take_ordinary = s.urgent.is_empty() || (s.served_urgent + 1).is_multiple_of(FAIR_SHARE);
    if take_ordinary && let Some(key) = s.ready.pop_front() {
        s.served_urgent = 0;
        return Some(key);
    }
    let key = s.urgent.pop_front().or_else(|| s.ready.pop_front())?;
    s.served_urgent += 1;
    Some(key)
}

/// The one timer of `key`, at `at` (an earlier one is replaced).
fn set_timer(s: &mut State, key: ObjectKey, at: Instant) {
    if let Some(old) = s.timer_of.remove(&key) {
        s.timers.remove(&old);
    }
    s.seq += 1;
    let slot = (at, s.seq);
    s.timers.insert(slot, key.clone());
    s.timer_of.insert(key, slot);
}

fn push(s: &mut State, key: ObjectKey, urgent: bool) {
    let now = Instant::now();
    let hold = s.holds.get(&key).copied().filter(|&t| t > now);
    let backoff = s.backoffs.get(&key).copied().filter(|&t| t > now);
    if let Some(until) = hold.max(backoff) {
        set_timer(s, key, until);
        return;
    }
    s.holds.remove(&key);
    s.backoffs.remove(&key);
    if s.running.contains(&key) {
        s.dirty.insert(key);
    } else if s.in_ready.insert(key.clone()) {
        if urgent {
            s.urgent.push_back(key);
        } else {
            s.ready.push_back(key);
        }
    } else if urgent && let Some(at) = s.ready.iter().position(|k| *k == key) {
        // Already waiting behind child events: its parent changed, so it moves up.
        s.ready.remove(at);
        s.urgent.push_back(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            namespace: None,
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn events_coalesce_and_a_running_key_is_not_handed_out_twice() {
        let q = WorkQueue::default();
        q.add(key("a"));
        q.add(key("a"));
        q.add(key("b"));
        assert_eq!(q.depth(), 2);
        assert_eq!(q.next().await, key("a"));
        q.add(key("a")); // changed while running: dirty
        assert_eq!(q.next().await, key("b"));
        assert_eq!(q.depth(), 0);
        q.done(&key("a"));
        assert_eq!(q.next().await, key("a"));
        q.done(&key("a"));
        q.done(&key("b"));
        assert!(q.is_idle());
    }

    #[tokio::test]
    async fn changed_parents_go_first_without_starving_the_others() {
        let q = WorkQueue::default();
        for i in 0..3 {
            q.add(key(&format!("child-event-{i}")));
        }
        for i in 0..6 {
            q.add_changed(key(&format!("new-{i}")));
        }
        // Queued by a child event, then its parent changed: it moves up.
        q.add_changed(key("child-event-2"));
        let mut order = Vec::new();
        for _ in 0..9 {
            order.push(q.next().await.name);
        }
        assert_eq!(
            order,
            [
                "new-0",
                "new-1",
                "new-2",
                "child-event-0",
                "new-3",
                "new-4",
                "new-5",
                "child-event-1",
                "child-event-2"
            ]
        );
    }

    #[tokio::test]
    async fn a_later_timer_replaces_an_earlier_one() {
        let q = WorkQueue::default();
        let start = Instant::now();
        let ms = Duration::from_millis;
        q.add_at(key("a"), start + ms(10));
        q.add_at(key("a"), start + ms(100));
        q.add_at(key("b"), start + ms(50));
        assert_eq!(q.next().await, key("b"));
        assert!(Instant::now() >= start + ms(50));
        assert_eq!(q.next().await, key("a"));
        assert!(Instant::now() >= start + ms(100));
    }

    #[tokio::test]
    async fn a_held_key_waits_for_its_hold_even_on_events() {
        let q = WorkQueue::default();
        let start = Instant::now();
        q.hold(&key("a"), start + Duration::from_millis(60));
        q.add(key("a"));
        assert_eq!(q.depth(), 0);
        assert_eq!(q.next().await, key("a"));
        assert!(Instant::now() >= start + Duration::from_millis(60));
    }

    #[tokio::test]
    async fn a_failed_key_waits_for_its_backoff_unless_the_parent_itself_changed() {
        let q = WorkQueue::default();
        let start = Instant::now();
        let ms = Duration::from_millis;
        q.back_off(&key("a"), start + ms(60));
        q.add(key("a")); // a child changed: waits
        assert_eq!(q.depth(), 0);
        assert_eq!(q.next().await, key("a"));
        assert!(Instant::now() >= start + ms(60));
        q.done(&key("a"));

        q.back_off(&key("b"), start + Duration::from_secs(3600));
        q.add_changed(key("b")); // the parent changed: now
        assert_eq!(q.depth(), 1);
        assert_eq!(q.next().await, key("b"));
    }
}
