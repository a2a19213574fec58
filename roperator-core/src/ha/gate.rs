//! [`RaftGate`]: the engine's [`LeaderGate`] backed by an openraft node.
//!
//! A replica may write while Raft says it leads *and* a quorum confirmed that leadership (a
//! read-index round, `Raft::ensure_linearizable`) less than one write lease ago. The lease
//! ([`Timing::write_lease`](super::Timing::write_lease), 3/4 of the minimum election timeout) is
//! counted from the moment the confirmation round *started*, and followers refuse to vote for
//! anyone else for the maximum election timeout after hearing from the leader. So by the time
//! another replica can be elected, every permit of the old leader has expired, even if the old
//! leader is cut off and never learns it was deposed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openraft::{BasicNode, RaftMetrics, ServerState};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::metrics::HaMetrics;
use super::transport::RaftServer;
use super::types::{NodeId, RaftNode};
use crate::leader::{BoxFuture, LeaderGate, LeaderState, NotLeader, WritePermit};

/// Why a membership change failed.
#[derive(Debug, thiserror::Error)]
#[error("membership change ({action}) failed: {reason}")]
pub struct MembershipError {
    /// What was attempted.
    pub action: String,
    /// openraft's answer (for instance "forward to leader N").
    pub reason: String,
}

/// The leadership gate of one replica in a Raft group. Cheap to clone.
///
/// Start one with [`start`](super::start):
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use roperator_core::leader::LeaderGate;
///
/// let config = roperator_core::ha::RaftConfig::from_env()?;
/// let gate = roperator_core::ha::start(config).await?;
/// let permit = gate.acquire().await?; // only succeeds on the confirmed leader
/// assert!(permit.is_valid());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RaftGate {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RaftGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftGate")
            .field("node_id", &self.inner.node_id)
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

struct Tenure {
    /// The Raft term this node observed last.
    term: u64,
    /// Raft reports this node as leader of `term`.
    leading: bool,
    /// Cancelled when this tenure's permits are revoked.
    token: CancellationToken,
    /// Start of the last successful quorum round in this tenure.
    confirmed_at: Option<Instant>,
}

struct Inner {
    raft: RaftNode,
    node_id: NodeId,
    replica_name: String,
    lease: Duration,
    heartbeat: Duration,
    state: watch::Sender<LeaderState>,
    tenure: Mutex<Tenure>,
    confirming: tokio::sync::Mutex<()>,
    fenced_term: AtomicU64,
    last_leader: Mutex<Option<NodeId>>,
    /// Start of the last successful quorum round while leading; unlike the tenure's
    /// `confirmed_at` it survives a lapsed lease, so the metric keeps ageing.
    last_quorum_ack: Mutex<Option<Instant>>,
    stopping: CancellationToken,
    metrics: HaMetrics,
    server: Mutex<Option<RaftServer>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn valid_until(&self, t: &Tenure) -> Option<Instant> {
        let until = t.confirmed_at? + self.lease;
        (t.leading
            && until > Instant::now()
            && !self.stopping.is_cancelled()
            && self.fenced_term.load(Ordering::SeqCst) <= t.term)
            .then_some(until)
    }

    fn publish(&self) {
        let (is_leader, term) = {
            let t = lock(&self.tenure);
            (self.valid_until(&t).is_some(), t.term)
        };
        let leader_id = self.raft.metrics().borrow().current_leader;
        self.metrics.is_leader.set(i64::from(is_leader));
        self.state.send_if_modified(|s| {
            let next = LeaderState {
                is_leader,
                term,
                leader_id,
            };
            let changed = *s != next;
            *s = next;
            changed
        });
    }

    /// Ends the current tenure's permits; a later successful confirmation starts a new one.
    fn revoke(&self, why: &str) {
        {
            let mut t = lock(&self.tenure);
            if !t.token.is_cancelled() && (t.confirmed_at.is_some() || t.leading) {
                tracing::info!(
                    node = self.node_id,
                    term = t.term,
                    why,
                    "write permits revoked"
                );
            }
            t.token.cancel();
            t.token = CancellationToken::new();
            t.confirmed_at = None;
        }
        self.publish();
    }

    fn on_metrics(&self, m: &RaftMetrics<NodeId, BasicNode>) {
        let leading = m.state == ServerState::Leader && m.current_leader == Some(self.node_id);
        let changed = {
            let t = lock(&self.tenure);
            t.term != m.current_term || t.leading != leading
        };
        if changed {
            // Any change of term or role ends the tenure: permits of the old one are revoked
            // before the new role is published.
            self.revoke("raft term or role changed");
            let mut t = lock(&self.tenure);
            t.term = m.current_term;
            t.leading = leading;
        }
        self.metrics.term.set(m.current_term as i64);
        self.metrics
            .leader_id
            .set(m.current_leader.map_or(-1, |l| l as i64));
        {
            let mut last = lock(&self.last_leader);
            if m.current_leader.is_some() && *last != m.current_leader {
                if last.is_some() {
                    self.metrics.leader_changes.inc();
                }
                *last = m.current_leader;
            }
        }
        self.publish();
    }

    fn refused(&self, e: NotLeader) -> NotLeader {
        self.metrics.writes_refused.inc();
        e
    }

    fn follower(&self) -> NotLeader {
        NotLeader::Follower {
            leader_id: self
                .raft
                .metrics()
                .borrow()
                .current_leader
                .filter(|l| *l != self.node_id),
        }
    }

    /// A permit from the current tenure if it still has at least `margin` of lease left.
    fn current_permit(&self, margin: Duration) -> Option<WritePermit> {
        let t = lock(&self.tenure);
        let until = self.valid_until(&t)?;
        (until.saturating_duration_since(Instant::now()) >= margin)
            .then(|| WritePermit::new(t.term, t.token.clone(), Some(until)))
    }

    /// Runs a quorum round (coalesced with concurrent callers) and extends the lease.
    async fn confirm(&self) -> Result<WritePermit, NotLeader> {
        let _one_round = self.confirming.lock().await;
        if let Some(permit) = self.current_permit(self.lease / 2) {
            return Ok(permit);
        }
        if self.stopping.is_cancelled() {
            return Err(NotLeader::ShuttingDown);
        }
        let term = {
            let t = lock(&self.tenure);
            if !t.leading || self.fenced_term.load(Ordering::SeqCst) > t.term {
                return Err(self.follower());
            }
            t.term
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.lease, self.raft.ensure_linearizable()).await;
        match outcome {
            Ok(Ok(_)) => {
                {
                    let mut t = lock(&self.tenure);
                    if t.term != term || !t.leading {
                        return Err(self.follower());
                    }
                    t.confirmed_at = Some(t.confirmed_at.map_or(started, |c| c.max(started)));
                }
                *lock(&self.last_quorum_ack) = Some(started);
                self.metrics
                    .seconds_since_quorum_ack
                    .set(started.elapsed().as_secs_f64());
                self.publish();
                self.current_permit(Duration::ZERO)
                    .ok_or_else(|| NotLeader::Unconfirmed("the lease ran out".to_string()))
            }
            Ok(Err(e)) => Err(NotLeader::Unconfirmed(e.to_string())),
            Err(_) => Err(NotLeader::Unconfirmed(format!(
                "no quorum answered within {:?}",
                self.lease
            ))),
        }
    }

    async fn keep_lease(self: Arc<Self>) {
        loop {
            let next = {
                let t = lock(&self.tenure);
                let tick = Instant::now() + self.heartbeat;
                match self.valid_until(&t) {
                    // Wake up in time to renew, and at the latest when the lease runs out.
                    Some(until) => tick.min(until.checked_sub(self.lease / 2).unwrap_or(until)),
                    None => tick,
                }
            };
            tokio::select! {
                _ = self.stopping.cancelled() => return,
                _ = tokio::time::sleep_until(next.into()) => {}
            }
            let (leading, confirmed) = {
                let t = lock(&self.tenure);
                (t.leading, t.confirmed_at)
            };
            // From our own quorum rounds rather than openraft's metric, which is only refreshed
            // when openraft publishes, and so goes stale exactly when a leader is cut off.
            let last_ack = if leading {
                *lock(&self.last_quorum_ack)
            } else {
                *lock(&self.last_quorum_ack) = None;
                None
            };
            self.metrics
                .seconds_since_quorum_ack
                .set(last_ack.map_or(-1.0, |at| at.elapsed().as_secs_f64()));
            if !leading {
                continue;
            }
            if self.confirm().await.is_err() {
                let lapsed = {
                    let t = lock(&self.tenure);
                    self.valid_until(&t).is_none()
                };
                if lapsed && confirmed.is_some() {
                    self.revoke("no quorum confirmed leadership within the write lease");
                }
            }
        }
    }

    async fn watch_raft(self: Arc<Self>) {
        let mut rx = self.raft.metrics();
        loop {
            let m = rx.borrow_and_update().clone();
            self.on_metrics(&m);
            tokio::select! {
                _ = self.stopping.cancelled() => return,
                changed = rx.changed() => if changed.is_err() { return },
            }
        }
    }
}

impl RaftGate {
    pub(crate) fn new(
        raft: RaftNode,
        node_id: NodeId,
        replica_name: String,
        timing: super::Timing,
        server: Option<RaftServer>,
    ) -> Self {
        let (state, _) = watch::channel(LeaderState::default());
        let inner = Arc::new(Inner {
            raft,
            node_id,
            replica_name,
            lease: timing.write_lease(),
            heartbeat: timing.heartbeat,
            state,
            tenure: Mutex::new(Tenure {
                term: 0,
                leading: false,
                token: CancellationToken::new(),
                confirmed_at: None,
            }),
            confirming: tokio::sync::Mutex::new(()),
            fenced_term: AtomicU64::new(0),
            last_leader: Mutex::new(None),
            last_quorum_ack: Mutex::new(None),
            stopping: CancellationToken::new(),
            metrics: HaMetrics::default(),
            server: Mutex::new(server),
            tasks: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(inner.clone().watch_raft()),
            tokio::spawn(inner.clone().keep_lease()),
        ];
        *lock(&inner.tasks) = tasks;
        Self { inner }
    }

    /// This replica's node id.
    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    /// The underlying openraft node (metrics, membership, diagnostics).
    pub fn raft(&self) -> &RaftNode {
        &self.inner.raft
    }

    /// The gate's metrics (also registered by [`LeaderGate::register_metrics`]).
    pub fn metrics(&self) -> &HaMetrics {
        &self.inner.metrics
    }

    /// The address the Raft server listens on, if this replica runs one.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        lock(&self.inner.server).as_ref().map(|s| s.local_addr())
    }

    /// Adds node `id` at `addr` as a voter: first as a learner until it caught up, then into the
    /// voter set. Must be called on the leader.
    pub async fn add_member(&self, id: NodeId, addr: &str) -> Result<(), MembershipError> {
        let err = |reason: String| MembershipError {
            action: format!("add node {id} at {addr}"),
            reason,
        };
        self.inner
            .raft
            .add_learner(id, BasicNode::new(addr), true)
            .await
            .map_err(|e| err(e.to_string()))?;
        let mut voters = self.voters();
        voters.insert(id);
        self.inner
            .raft
            .change_membership(voters, false)
            .await
            .map_err(|e| err(e.to_string()))?;
        Ok(())
    }

    /// Removes node `id` from the group. Must be called on the leader.
    pub async fn remove_member(&self, id: NodeId) -> Result<(), MembershipError> {
        let mut voters = self.voters();
        voters.remove(&id);
        self.inner
            .raft
            .change_membership(voters, false)
            .await
            .map_err(|e| MembershipError {
                action: format!("remove node {id}"),
                reason: e.to_string(),
            })?;
        Ok(())
    }

    /// The current voters with their addresses.
    pub fn members(&self) -> BTreeMap<NodeId, String> {
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        m.membership()
            .nodes()
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect()
    }

    fn voters(&self) -> BTreeSet<NodeId> {
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        m.membership().voter_ids().collect()
    }

    /// Stops this replica's Raft node and server at once, revoking its permits first. This is
    /// also what a crash looks like to the peers.
    pub async fn shutdown(&self) {
        if self.inner.stopping.is_cancelled() {
            // Already stopped (for instance killed, then stepped down by the engine).
            return;
        }
        self.inner.stopping.cancel();
        self.inner.revoke("shutting down");
        let server = lock(&self.inner.server).take();
        if let Some(server) = server {
            server.stop().await;
        }
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!(error = %e, "raft node did not shut down cleanly");
        }
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
    }
}

impl LeaderGate for RaftGate {
    fn acquire(&self) -> BoxFuture<'_, Result<WritePermit, NotLeader>> {
        Box::pin(async move {
            let inner = &self.inner;
            if inner.stopping.is_cancelled() {
                return Err(inner.refused(NotLeader::ShuttingDown));
            }
            // Reuse a recent confirmation while at least half the lease is left, so a burst of
            // batches costs one quorum round, not one each.
            if let Some(permit) = inner.current_permit(inner.lease / 2) {
                return Ok(permit);
            }
            inner.confirm().await.map_err(|e| inner.refused(e))
        })
    }

    fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.inner.state.subscribe()
    }

    fn observe_term(&self, term: u64) {
        let previous = self.inner.fenced_term.fetch_max(term, Ordering::SeqCst);
        let ours = lock(&self.inner.tenure).term;
        if term > ours && term > previous {
            tracing::warn!(
                node = self.inner.node_id,
                our_term = ours,
                seen = term,
                "an object carries a higher leader term: stepping down"
            );
            self.inner.revoke("a higher term was seen on an object");
        }
    }

    fn replica_name(&self) -> Option<String> {
        Some(self.inner.replica_name.clone())
    }

    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.inner.metrics.register(registry);
    }

    /// openraft 0.9 has no leadership transfer, and followers refuse to vote while the leader's
    /// lease (the maximum election timeout) runs; so the best a leaving leader can do is stop
    /// writing at once and go silent, and a follower takes over one election timeout later.
    fn step_down(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.shutdown())
    }
}
