//! Which peers answer, as this node's own RPCs find out.
//!
//! A peer that is down fails every RPC sent to it: a heartbeat every few hundred milliseconds,
//! every leadership confirmation, every vote. Each failure is counted (`rpc_failures`), and
//! `peer_reachable` / `reachable_peers` say who answers; but only a *change* is logged: once
//! when a peer stops answering (WARN), once when it is back (INFO). A peer that flaps is logged
//! at most once per [`LOG_GAP`] (the last line always ends up saying how it is), one that stays
//! down is reminded of every [`REMINDER`], and while this node starts (its first [`LOG_GAP`]), a
//! peer that has not answered yet is not reported: replicas start one after another.
//!
//! A peer that keeps failing ([`FAILURES_BEFORE_PAUSE`] RPCs in a row) is not dialled again for
//! every RPC: until [`PROBE_EVERY`] has passed since the last attempt, RPCs to it fail at once. A dead or partitioned peer therefore
//! costs neither a connection attempt nor a pending request per leadership confirmation, and the
//! quorum of live peers answers as fast as with every peer up. Raft tolerates lost messages;
//! the first RPC after the pause probes the peer, and a peer that is back is in use again within
//! one pause (the same delay as openraft's own backoff).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::super::metrics::HaMetrics;
use super::super::types::NodeId;

/// Shortest time between two log lines about the same peer.
pub(crate) const LOG_GAP: Duration = Duration::from_secs(10);

/// How often a peer that stays unreachable is logged again.
pub(crate) const REMINDER: Duration = Duration::from_secs(600);

/// Consecutive failed RPCs after which a peer is paused between attempts.
pub(crate) const FAILURES_BEFORE_PAUSE: u64 = 3;

/// Default pause before dialling a peer that failed again (see [`PeerHealth::with_probe_every`]).
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(200);

/// The RPCs of the transport, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rpc {
    Append,
    Vote,
    Snapshot,
    Status,
}

impl Rpc {
    fn label(self) -> &'static str {
        match self {
            Self::Append => "append",
            Self::Vote => "vote",
            Self::Snapshot => "snapshot",
            Self::Status => "status",
        }
    }
}

/// Why an RPC failed, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No connection, refused, or skipped because the peer failed moments ago.
    Unreachable,
    /// No answer in time.
    Timeout,
    /// The connection broke, or the answer made no sense.
    Network,
}

impl Failure {
    fn label(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Network => "network",
        }
    }
}

#[derive(Debug)]
struct Peer {
    addr: String,
    reachable: bool,
    /// It answered at least once since this node started.
    ever_answered: bool,
    /// When `reachable` last changed.
    since: Instant,
    /// Failed RPCs since it became unreachable.
    failures: u64,
    /// The last attempt that went out on the network (a skipped RPC is not an attempt).
    last_attempt: Option<Instant>,
    /// What was logged last (`true`: reachable), and when.
    logged: Option<(bool, Instant)>,
    /// How long the last outage lasted and how many RPCs failed in it.
    last_outage: (Duration, u64),
}

/// The reachability of every peer this node sends RPCs to.
#[derive(Debug)]
pub(crate) struct PeerHealth {
    self_id: NodeId,
    started: Instant,
    probe_every: Duration,
    metrics: HaMetrics,
    peers: Mutex<BTreeMap<NodeId, Peer>>,
}

impl PeerHealth {
    pub(crate) fn new(self_id: NodeId, metrics: HaMetrics) -> Self {
        Self {
            self_id,
            started: Instant::now(),
            probe_every: PROBE_EVERY,
            metrics,
            peers: Mutex::new(BTreeMap::new()),
        }
    }

    /// Pauses `every` before dialling a peer that failed again.
    pub(crate) fn with_probe_every(mut self, every: Duration) -> Self {
        self.probe_every = every;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, Peer>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an RPC to `target` should go out now; `Err` says why not (the peer failed less
    /// than a pause ago). An RPC that goes out is an attempt, and the next is paused again.
    pub(crate) fn admit(&self, target: NodeId, addr: &str) -> Result<(), String> {
        let mut peers = self.lock();
        let peer = self.entry(&mut peers, target, addr);
        let now = Instant::now();
        // A single timeout may be a slow peer, which a quorum may need: only a peer that keeps
        // failing is paused.
        if !peer.reachable
            && peer.failures >= FAILURES_BEFORE_PAUSE
            && let Some(at) = peer.last_attempt
            && now.duration_since(at) < self.probe_every
        {
            return Err(format!(
                "not answering for {:.1?}; next attempt within {:?}",
                now.duration_since(peer.since),
                self.probe_every
            ));
        }
        peer.last_attempt = Some(now);
        Ok(())
    }

    fn entry<'a>(
        &self,
        peers: &'a mut BTreeMap<NodeId, Peer>,
        target: NodeId,
        addr: &str,
    ) -> &'a mut Peer {
        let new = !peers.contains_key(&target);
        let peer = peers.entry(target).or_insert_with(|| Peer {
            addr: addr.to_string(),
            reachable: true,
            ever_answered: false,
            since: Instant::now(),
            failures: 0,
            last_attempt: None,
            logged: None,
            last_outage: (Duration::ZERO, 0),
        });
        if peer.addr != addr {
            peer.addr = addr.to_string();
        }
        if new {
            self.metrics
                .peer_reachable
                .get_or_create(&label(target))
                .set(1);
            self.metrics.reachable_peers.inc();
        }
        peer
    }

    /// Records that `target` answered.
    pub(crate) fn answered(&self, target: NodeId, addr: &str) {
        let mut peers = self.lock();
        let peer = self.entry(&mut peers, target, addr);
        peer.ever_answered = true;
        if !peer.reachable {
            peer.last_outage = (peer.since.elapsed(), peer.failures);
            peer.reachable = true;
            peer.since = Instant::now();
            peer.failures = 0;
            self.metrics
                .peer_reachable
                .get_or_create(&label(target))
                .set(1);
            self.metrics.reachable_peers.inc();
        }
        self.report(target, peer, "");
    }

    /// Makes `members` (other than this node) the peers whose reachability is reported: a member
    /// this node has not sent anything to yet counts as reachable, a removed one is forgotten.
    pub(crate) fn set_members(&self, members: impl IntoIterator<Item = (NodeId, String)>) {
        let mut peers = self.lock();
        let members: BTreeMap<NodeId, String> = members
            .into_iter()
            .filter(|(id, _)| *id != self.self_id)
            .collect();
        peers.retain(|id, peer| {
            let keep = members.contains_key(id);
            if !keep {
                self.metrics.peer_reachable.remove(&label(*id));
                if peer.reachable {
                    self.metrics.reachable_peers.dec();
                }
            }
            keep
        });
        for (id, addr) in &members {
            self.entry(&mut peers, *id, addr);
        }
    }

    /// Records that an RPC to `target` failed.
    pub(crate) fn failed(&self, target: NodeId, addr: &str, rpc: Rpc, failure: Failure, why: &str) {
        self.metrics
            .rpc_failures
            .get_or_create(&vec![
                ("peer", target.to_string()),
                ("rpc", rpc.label().to_string()),
                ("error", failure.label().to_string()),
            ])
            .inc();
        let mut peers = self.lock();
        let peer = self.entry(&mut peers, target, addr);
        peer.failures += 1;
        if peer.reachable {
            peer.reachable = false;
            peer.since = Instant::now();
            self.metrics
                .peer_reachable
                .get_or_create(&label(target))
                .set(0);
            self.metrics.reachable_peers.dec();
        }
        self.report(target, peer, why);
    }

    /// Logs the peer's state if it is news (see the module docs).
    fn report(&self, target: NodeId, peer: &mut Peer, why: &str) {
        let Some(line) = due(peer, self.started, Instant::now()) else {
            return;
        };
        let (node, addr) = (self.self_id, peer.addr.as_str());
        let down_for = peer.since.elapsed();
        match line {
            Line::Down => tracing::warn!(
                node,
                peer = target,
                addr,
                error = why,
                "raft peer {target} does not answer; retrying in the background \
                 (roperator_raft_peer_reachable shows when it is back)"
            ),
            Line::StillDown => tracing::warn!(
                node,
                peer = target,
                addr,
                error = why,
                "raft peer {target} still does not answer after {down_for:.0?} ({} RPCs failed)",
                peer.failures
            ),
            Line::Back => {
                let (down_for, failures) = peer.last_outage;
                tracing::info!(
                    node,
                    peer = target,
                    addr,
                    "raft peer {target} answers again after {down_for:.1?} ({failures} RPCs to it \
                     failed meanwhile)"
                )
            }
        }
        peer.logged = Some((peer.reachable, Instant::now()));
    }
}

/// What is worth a log line about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Down,
    StillDown,
    Back,
}

/// The line `peer`'s state calls for at `now`, if any, this node having started at `started`.
fn due(peer: &Peer, started: Instant, now: Instant) -> Option<Line> {
    let quiet_for = |at: Instant| now.duration_since(at);
    match peer.logged {
        None if peer.reachable => None,
        // Replicas start one after another: while this node starts, a peer that has not
        // answered yet is probably starting too.
        None => (peer.ever_answered || quiet_for(started) >= LOG_GAP).then_some(Line::Down),
        Some((up, at)) if up != peer.reachable => {
            (quiet_for(at) >= LOG_GAP).then_some(if peer.reachable {
                Line::Back
            } else {
                Line::Down
            })
        }
        Some((_, at)) => (!peer.reachable && quiet_for(at) >= REMINDER).then_some(Line::StillDown),
    }
}

/// Lets a repeated log line through at most once per period, counting the ones it held back.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    /// `Some(n)` when a line may be logged now, `n` being how many were held back since the last
    /// one; `None` when this one is held back.
    pub(crate) fn allow(&self, every: Duration) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last, held) = &mut *state;
        if last.is_some_and(|at| at.elapsed() < every) {
            *held += 1;
            return None;
        }
        *last = Some(Instant::now());
        Some(std::mem::take(held))
    }
}

fn label(peer: NodeId) -> Vec<(&'static str, String)> {
    vec![("peer", peer.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_one_line_through_per_period_and_counts_the_others() {
        let throttle = Throttle::default();
        assert_eq!(throttle.allow(Duration::from_secs(60)), Some(0));
        assert_eq!(throttle.allow(Duration::from_secs(60)), None);
        assert_eq!(throttle.allow(Duration::from_secs(60)), None);
        assert_eq!(throttle.allow(Duration::ZERO), Some(2));
    }

    fn gauge(metrics: &HaMetrics, peer: NodeId) -> i64 {
        metrics.peer_reachable.get_or_create(&label(peer)).get()
    }

    #[test]
    fn a_failed_peer_is_paused_between_attempts_and_counted_until_it_answers() {
        let metrics = HaMetrics::default();
        let health = PeerHealth::new(0, metrics.clone()).with_probe_every(Duration::from_secs(60));
        health.admit(1, "a:1").expect("a fresh peer is dialled");
        health.admit(2, "b:1").unwrap();
        assert_eq!(metrics.reachable_peers.get(), 2);

        health.failed(1, "a:1", Rpc::Append, Failure::Unreachable, "refused");
        assert_eq!((gauge(&metrics, 1), metrics.reachable_peers.get()), (0, 1));
        // One failure may be a slow peer that a quorum needs: it is tried again at once.
        for _ in 1..FAILURES_BEFORE_PAUSE {
            health
                .admit(1, "a:1")
                .expect("a peer that failed once is dialled again");
            health.failed(1, "a:1", Rpc::Append, Failure::Timeout, "slow");
        }
        let skipped = health.admit(1, "a:1").unwrap_err();
        assert!(skipped.contains("not answering"), "{skipped}");
        health.admit(2, "b:1").expect("other peers are not paused");

        health.answered(1, "a:1");
        assert_eq!((gauge(&metrics, 1), metrics.reachable_peers.get()), (1, 2));
        health
            .admit(1, "a:1")
            .expect("a peer that answered is dialled again");
        let failures = |error: &str| {
            metrics
                .rpc_failures
                .get_or_create(&vec![
                    ("peer", "1".to_string()),
                    ("rpc", "append".to_string()),
                    ("error", error.to_string()),
                ])
                .get()
        };
        assert_eq!(failures("unreachable"), 1);
        assert_eq!(failures("timeout"), FAILURES_BEFORE_PAUSE - 1);
    }

    #[test]
    fn changes_are_logged_once_and_flapping_at_most_once_per_gap() {
        let health = PeerHealth::new(0, HaMetrics::default());
        let mut peers = health.lock();
        let peer = health.entry(&mut peers, 1, "a:1");
        let t0 = Instant::now();
        assert_eq!(due(peer, t0, t0), None, "a healthy peer is not logged");

        // Replicas start one after another: a peer that never answered gets a grace period
        // while this node starts, and none later.
        peer.reachable = false;
        peer.since = t0;
        assert_eq!(due(peer, t0, t0 + LOG_GAP / 2), None);
        assert_eq!(
            due(peer, t0, t0 + LOG_GAP),
            Some(Line::Down),
            "grace is over"
        );

        // Once it answered, losing it is news at once, and logged once.
        peer.logged = None;
        peer.ever_answered = true;
        assert_eq!(due(peer, t0, t0), Some(Line::Down));
        peer.logged = Some((false, t0));
        assert_eq!(due(peer, t0, t0 + Duration::from_secs(1)), None);

        // Back within the gap: said once the gap has passed, so the last line is never stale.
        peer.reachable = true;
        assert_eq!(due(peer, t0, t0 + Duration::from_secs(1)), None);
        assert_eq!(due(peer, t0, t0 + LOG_GAP), Some(Line::Back));
        peer.logged = Some((true, t0 + LOG_GAP));
        // Down again within the gap, and up again: nothing to say about a flap.
        peer.reachable = false;
        assert_eq!(due(peer, t0, t0 + LOG_GAP + Duration::from_secs(1)), None);
        peer.reachable = true;
        assert_eq!(due(peer, t0, t0 + LOG_GAP * 3), None);

        // Down for good: one line, then a reminder now and then.
        peer.reachable = false;
        assert_eq!(due(peer, t0, t0 + LOG_GAP * 3), Some(Line::Down));
        peer.logged = Some((false, t0 + LOG_GAP * 3));
        assert_eq!(due(peer, t0, t0 + LOG_GAP * 4), None);
        assert_eq!(
            due(peer, t0, t0 + LOG_GAP * 3 + REMINDER),
            Some(Line::StillDown)
        );
    }
}
