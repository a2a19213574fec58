//! [`RaftGate`]: the engine's [`LeaderGate`] backed by an openraft node.
//!
//! A replica may write while Raft says it leads *and* a quorum confirmed that leadership (a
//! read-index round, `Raft::ensure_linearizable`) less than one write lease ago. The lease
//! ([`Timing::write_lease`](super::Timing::write_lease), 3/4 of the minimum election timeout) is
//! counted from the moment the confirmation round *started*, and followers refuse to vote for
//! anyone else for the maximum election timeout after hearing from the leader. So by the time
//! another replica can be elected, every permit of the old leader has expired, even if the old
//! leader is cut off and never learns it was deposed.
//!
//! Beyond Raft, a term seen on an object ([`LeaderGate::observe_term`]) that is higher than this
//! node's revokes its permits at once. Such a fence is lifted again only when Raft can show the
//! term did not come from this group; see `Fence`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openraft::{BasicNode, RaftMetrics, ServerState};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::instrument::WithSubscriber;
use tracing_core::Dispatch;

use super::admin::{self, Members, MembershipError};
use super::metrics::HaMetrics;
use super::transport::{LOG_GAP, PeerHealth, RaftServer, Throttle};
use super::types::{NodeId, RaftNode};
use crate::leader::{BoxFuture, LeaderGate, LeaderState, NotLeader, WritePermit};

/// The leadership gate of one replica in a Raft group. Cheap to clone.
///
/// Start one with [`RaftGate::from_env`] or [`start`](super::start), and hand it to the engine:
///
/// ```no_run
/// use std::sync::Arc;
/// use roperator_core::ha::RaftGate;
/// use roperator_core::prelude::*;
///
/// # async fn run(client: kube::Client, config: ControllerConfig) -> Result<(), Box<dyn std::error::Error>> {
/// let gate = RaftGate::from_env().await?;
/// Operator::new("echo", client)
///     .with_controller(config, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()))
///     .with_leader_gate(Arc::new(gate))
///     .run()
///     .await?;
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

/// Terms seen on objects that are higher than this node's own term.
///
/// An object stamped with term `X` was written by a replica that led term `X`, which means a
/// quorum of *some* group had voted for it before the write. If that group is ours and
/// `X` is above our term, we are a deposed leader: we stop writing at once (`term` is set and
/// `valid_until` refuses every permit).
///
/// But the object may also come from another group: every volume was lost and the group started
/// again at term 1, the operator was reinstalled, objects were restored from a backup, or someone
/// edited the annotation. Raft will then never depose us, and a fence kept forever would stop all
/// writes for good. So the fence is lifted when this node, as leader of a term still below `X`,
/// completes a quorum round (`ensure_linearizable`, a fresh heartbeat round) that *started after*
/// `X` was seen. If a leader of `X` had been elected in our group, a quorum of our voters would
/// have stored a vote for `X` before that leader wrote the object, and any quorum we reach
/// intersects it: the member with the higher vote answers `HigherVote` and the round fails (the
/// argument that makes Raft's read-index reads linearizable). A successful round therefore proves
/// `X` is foreign. We additionally hold the fence for one maximum election timeout, a margin that
/// costs under a second, by which time a newer leader of our group would have reached this node
/// with its heartbeats and made it a follower.
///
/// Objects keep their foreign term until we rewrite them, and a child in steady state is never
/// rewritten, so the same term is seen again on every watch event and re-list. Terms up to
/// `foreign` (proven foreign) therefore do not revoke anything again; they only make the next
/// permit wait for a quorum round started after the observation (`recheck_from`), which keeps the
/// same guarantee for new permits at the cost of one heartbeat round. Permits already handed out
/// end with their lease, as they do anyway when Raft deposes a leader.
#[derive(Debug, Default)]
struct Fence {
    /// Highest unexplained term seen on an object; 0 when there is none.
    term: u64,
    /// When `term` was seen.
    since: Option<Instant>,
    /// Highest term proven to come from another group.
    foreign: u64,
    /// A term up to `foreign` was seen then: new permits need a quorum round started after it.
    recheck_from: Option<Instant>,
}

struct Inner {
    raft: RaftNode,
    node_id: NodeId,
    replica_name: String,
    lease: Duration,
    heartbeat: Duration,
    state: watch::Sender<LeaderState>,
    tenure: Mutex<Tenure>,
    /// Held while a quorum round runs.
    confirming: tokio::sync::Mutex<()>,
    /// Quorum rounds completed so far, and how the last one ended.
    rounds: Mutex<(u64, Result<(), NotLeader>)>,
    /// Always locked after `tenure` when both are needed.
    fence: Mutex<Fence>,
    /// How long a fence holds at least (the maximum election timeout).
    fence_hold: Duration,
    /// Wakes `keep_lease` when Raft makes this node leader, so the first confirmation (and with
    /// it the first write) does not wait for the next heartbeat tick.
    became_leader: tokio::sync::Notify,
    last_leader: Mutex<Option<NodeId>>,
    /// The term this replica last announced it leads.
    announced_term: Mutex<Option<u64>>,
    /// Lease lapses without a change of leader, logged at most once in a while.
    pauses: Throttle,
    /// The leader openraft reported last (`None` during an election).
    heard_leader: Mutex<Option<NodeId>>,
    /// The membership last seen (its log id), to follow changes of the voter set.
    membership: Mutex<Option<Option<openraft::LogId<NodeId>>>>,
    /// openraft stopped on its own (a fatal error), which is logged once.
    failed: std::sync::atomic::AtomicBool,
    health: Arc<PeerHealth>,
    /// The dispatcher that keeps openraft's own messages at debug (see `log_filter`); calls into
    /// openraft from our tasks run under it too.
    logs: Dispatch,
    /// Start of the last successful quorum round while leading; unlike the tenure's
    /// `confirmed_at` it survives a lapsed lease, so the metric keeps ageing.
    last_quorum_ack: Mutex<Option<Instant>>,
    stopping: CancellationToken,
    metrics: HaMetrics,
    server: Mutex<Option<RaftServer>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Why a leader whose lease ran out stops writing until its next confirmation: it lost touch with
/// a quorum, for a moment (load, a slow network) or for good (cut off).
const NO_QUORUM: &str = "no quorum confirmed leadership within the write lease";

/// What [`RaftGate::new`] is made of.
pub(crate) struct GateParts {
    pub raft: RaftNode,
    pub node_id: NodeId,
    pub replica_name: String,
    pub timing: super::Timing,
    pub server: Option<RaftServer>,
    pub metrics: HaMetrics,
    pub health: Arc<PeerHealth>,
    pub logs: Dispatch,
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
            && lock(&self.fence).term <= t.term)
            .then_some(until)
    }

    /// Lifts the fence if the quorum round that started at `started` proves its term foreign
    /// (see `Fence`). Called with the tenure locked, after a successful round in `t.term`.
    fn lift_fence(&self, t: &Tenure, started: Instant) {
        let mut f = lock(&self.fence);
        let Some(since) = f.since else { return };
        if f.term <= t.term || started < since || since.elapsed() < self.fence_hold {
            return;
        }
        tracing::warn!(
            node = self.node_id,
            seen_term = f.term,
            our_term = t.term,
            "an object carries term {}, above this group's term {}: it was written by another \
             Raft group (a reinstall or lost volumes?); writing resumes",
            f.term,
            t.term
        );
        f.foreign = f.foreign.max(f.term);
        f.term = 0;
        f.since = None;
        self.metrics.fenced_term.set(0);
    }

    /// Publishes the current leadership. When it ends, `why_not` says why, once.
    fn publish(&self, why_not: &str) {
        let (is_leader, term, lapsed) = {
            let t = lock(&self.tenure);
            let is_leader = self.valid_until(&t).is_some();
            (
                is_leader,
                t.term,
                !is_leader && t.leading && t.confirmed_at.is_some(),
            )
        };
        let leader_id = self.raft.metrics().borrow().current_leader;
        self.metrics.is_leader.set(i64::from(is_leader));
        let mut was_leader = None;
        self.state.send_if_modified(|s| {
            let next = LeaderState {
                is_leader,
                term,
                leader_id,
            };
            let changed = *s != next;
            if s.is_leader != is_leader {
                was_leader = Some(s.term);
            }
            *s = next;
            changed
        });
        // A lease that ran out without a quorum round is the reason, whoever publishes it.
        let why_not = if lapsed { NO_QUORUM } else { why_not };
        match was_leader {
            Some(_) if is_leader => self.announce(term),
            Some(led) if why_not == NO_QUORUM => {
                // A leader under load or on a slow network can miss a few confirmations in a
                // row; each pause is counted, and logged at most once in a while.
                if let Some(held) = self.pauses.allow(LOG_GAP) {
                    tracing::warn!(
                        node = self.node_id,
                        term = led,
                        pauses_not_logged = held,
                        "this replica paused writing as leader of term {led}: {NO_QUORUM}; it \
                         resumes with the next confirmation"
                    );
                }
            }
            Some(led) => tracing::info!(
                node = self.node_id,
                term = led,
                why = why_not,
                "this replica stopped writing as leader of term {led}: {why_not}"
            ),
            None => {}
        }
    }

    /// Says once per term that this replica leads it (later confirmations after a pause in the
    /// same term are not news).
    fn announce(&self, term: u64) {
        let mut announced = lock(&self.announced_term);
        if *announced == Some(term) {
            tracing::debug!(node = self.node_id, term, "writes resume");
            return;
        }
        *announced = Some(term);
        tracing::info!(
            node = self.node_id,
            term,
            "this replica is the leader of term {term}: a quorum confirmed it, it writes from \
             now on"
        );
    }

    /// Ends the current tenure's permits; a later successful confirmation starts a new one.
    fn revoke(&self, why: &str) {
        {
            let mut t = lock(&self.tenure);
            if !t.token.is_cancelled() && (t.confirmed_at.is_some() || t.leading) {
                tracing::debug!(
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
        self.publish(why);
    }

    /// Follows the known leader and the membership; a change of leader is logged once.
    fn follow(&self, m: &RaftMetrics<NodeId, BasicNode>) {
        let now = m.current_leader;
        let before = std::mem::replace(&mut *lock(&self.heard_leader), now);
        match (before, now) {
            (before, Some(new)) if before != now && new != self.node_id => tracing::info!(
                node = self.node_id,
                leader = new,
                term = m.current_term,
                "following node {new}, the leader of term {}",
                m.current_term
            ),
            // When this replica led, `publish` says why it stopped.
            (Some(old), None) if old != self.node_id => tracing::info!(
                node = self.node_id,
                leader = old,
                term = m.current_term,
                "node {old} is no longer heard from as the leader; electing a new one"
            ),
            _ => {}
        }
        {
            // Known leaders only: an election in between is not a change of leader.
            let mut last = lock(&self.last_leader);
            if now.is_some() && *last != now {
                if last.is_some() {
                    self.metrics.leader_changes.inc();
                }
                *last = now;
            }
        }
        let membership = Some(*m.membership_config.log_id());
        let mut seen = lock(&self.membership);
        if *seen != membership {
            let members = m.membership_config.membership();
            self.metrics.voters.set(members.voter_ids().count() as i64);
            self.health
                .set_members(members.nodes().map(|(id, n)| (*id, n.addr.clone())));
            *seen = membership;
        }
    }

    fn on_metrics(&self, m: &RaftMetrics<NodeId, BasicNode>) {
        let leading = m.state == ServerState::Leader && m.current_leader == Some(self.node_id);
        let changed = {
            let t = lock(&self.tenure);
            t.term != m.current_term || t.leading != leading
        };
        if changed {
            let (was_leading, old_term) = {
                let t = lock(&self.tenure);
                (t.leading, t.term)
            };
            if was_leading && !leading && !self.state.borrow().is_leader {
                // Its writes had paused already; this is when the pause became the end.
                tracing::info!(
                    node = self.node_id,
                    term = old_term,
                    "this replica is no longer the leader of term {old_term}: Raft is in term {} \
                     now",
                    m.current_term
                );
            }
            // Any change of term or role ends the tenure: permits of the old one are revoked
            // before the new role is published.
            self.revoke(&format!(
                "Raft is in term {} now, {}",
                m.current_term,
                if leading {
                    "led by this replica"
                } else {
                    "not led by this replica"
                }
            ));
            let mut t = lock(&self.tenure);
            t.term = m.current_term;
            t.leading = leading;
            if leading {
                self.became_leader.notify_one();
            }
            let mut f = lock(&self.fence);
            if f.term != 0 && f.term <= t.term {
                // Our own group reached that term: Raft explains the object, nothing to lift.
                f.term = 0;
                f.since = None;
                self.metrics.fenced_term.set(0);
            }
        }
        self.metrics.term.set(m.current_term as i64);
        self.metrics
            .leader_id
            .set(m.current_leader.map_or(-1, |l| l as i64));
        self.follow(m);
        if let Err(fatal) = &m.running_state
            && !self.stopping.is_cancelled()
            && !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            tracing::error!(
                node = self.node_id,
                error = %fatal,
                "the raft node stopped: this replica no longer takes part in leader election \
                 and never writes; restart it"
            );
        }
        self.publish("Raft reports another leader or term");
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
        let recheck_from = lock(&self.fence).recheck_from;
        // A foreign term seen again asks for a quorum round started after it (see `Fence`).
        let rechecked = match (recheck_from, t.confirmed_at) {
            (Some(from), Some(at)) => at >= from,
            _ => true,
        };
        (rechecked && until.saturating_duration_since(Instant::now()) >= margin)
            .then(|| WritePermit::new(t.term, t.token.clone(), Some(until)))
    }

    fn fenced(&self) -> Option<NotLeader> {
        let term = lock(&self.tenure).term;
        let f = lock(&self.fence);
        (f.term > term).then(|| {
            NotLeader::Unconfirmed(format!(
                "an object carries leader term {}, above this group's term {term}; writing \
                 resumes once a quorum confirms that no leader of that term exists here",
                f.term
            ))
        })
    }

    /// A permit from a quorum round. One round runs at a time, and every caller that waited
    /// while a round ran takes that round's answer (a permit if it can serve, or its error)
    /// instead of starting one of its own: however many syncs ask at once, they cost one round,
    /// or two when the round in flight when they arrived cannot serve them (it started before a
    /// foreign term was seen again, see `Fence`).
    async fn confirm(&self) -> Result<WritePermit, NotLeader> {
        let arrived = lock(&self.rounds).0;
        let _one_round = self.confirming.lock().await;
        {
            let (completed, last) = &*lock(&self.rounds);
            if *completed > arrived {
                last.clone()?;
                if let Some(permit) = self.current_permit(Duration::ZERO) {
                    return Ok(permit);
                }
            }
        }
        if let Some(permit) = self.current_permit(self.lease / 2) {
            return Ok(permit);
        }
        // A second round only when the first confirmed leadership but started before a foreign
        // term was seen again, and so cannot vouch for this permit.
        for _ in 0..2 {
            if self.stopping.is_cancelled() {
                return Err(NotLeader::ShuttingDown);
            }
            let confirmed = self.round().await;
            let result = if confirmed.is_ok() {
                "confirmed"
            } else {
                "failed"
            };
            self.metrics
                .quorum_rounds
                .get_or_create(&vec![("result", result.to_string())])
                .inc();
            {
                let mut rounds = lock(&self.rounds);
                rounds.0 += 1;
                rounds.1 = confirmed.clone();
            }
            confirmed?;
            if let Some(permit) = self.current_permit(Duration::ZERO) {
                return Ok(permit);
            }
            if let Some(fenced) = self.fenced() {
                return Err(fenced);
            }
        }
        Err(NotLeader::Unconfirmed(
            "the lease ran out, or a newer term was seen during the round".to_string(),
        ))
    }

    /// One quorum round (`ensure_linearizable`), extending the lease when it succeeds.
    async fn round(&self) -> Result<(), NotLeader> {
        // While fenced the round still runs: a successful one that started after the higher
        // term was seen is what lifts the fence.
        let term = {
            let t = lock(&self.tenure);
            if !t.leading {
                return Err(self.follower());
            }
            t.term
        };
        let started = Instant::now();
        let round = self.raft.ensure_linearizable();
        let outcome =
            tokio::time::timeout(self.lease, round.with_subscriber(self.logs.clone())).await;
        match outcome {
            Ok(Ok(_)) => {
                self.metrics
                    .quorum_round_duration
                    .observe(started.elapsed().as_secs_f64());
                {
                    let mut t = lock(&self.tenure);
                    if t.term != term || !t.leading {
                        return Err(self.follower());
                    }
                    t.confirmed_at = Some(t.confirmed_at.map_or(started, |c| c.max(started)));
                    self.lift_fence(&t, started);
                }
                *lock(&self.last_quorum_ack) = Some(started);
                self.metrics
                    .seconds_since_quorum_ack
                    .set(started.elapsed().as_secs_f64());
                self.publish("");
                Ok(())
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
                _ = self.became_leader.notified() => {}
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
                // A fence revoked the tenure already; its rounds succeed but grant nothing.
                if lapsed && confirmed.is_some() && self.fenced().is_none() {
                    self.revoke(NO_QUORUM);
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
    pub(crate) fn new(parts: GateParts) -> Self {
        let GateParts {
            raft,
            node_id,
            replica_name,
            timing,
            server,
            metrics,
            health,
            logs,
        } = parts;
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
            rounds: Mutex::new((0, Ok(()))),
            fence: Mutex::new(Fence::default()),
            fence_hold: timing.election_timeout_max,
            became_leader: tokio::sync::Notify::new(),
            last_leader: Mutex::new(None),
            announced_term: Mutex::new(None),
            pauses: Throttle::default(),
            heard_leader: Mutex::new(None),
            membership: Mutex::new(None),
            failed: std::sync::atomic::AtomicBool::new(false),
            last_quorum_ack: Mutex::new(None),
            stopping: CancellationToken::new(),
            metrics,
            health,
            logs,
            server: Mutex::new(server),
            tasks: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(
                inner
                    .clone()
                    .watch_raft()
                    .with_subscriber(inner.logs.clone()),
            ),
            tokio::spawn(
                inner
                    .clone()
                    .keep_lease()
                    .with_subscriber(inner.logs.clone()),
            ),
        ];
        *lock(&inner.tasks) = tasks;
        Self { inner }
    }

    /// Starts this process as a Raft replica configured by the `ROPERATOR_RAFT_*` variables
    /// ([`RaftConfig::from_env`](super::RaftConfig::from_env)); without membership variables it
    /// is a durable one-node group. An error names the variable, file or peer at fault.
    ///
    /// An operator that runs as one replica in some deployments and as several in others decides
    /// with [`RaftConfig::configured_in_env`](super::RaftConfig::configured_in_env):
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use roperator_core::AlwaysLeader;
    /// use roperator_core::ha::{RaftConfig, RaftGate};
    /// use roperator_core::leader::LeaderGate;
    ///
    /// # async fn run() -> Result<(), roperator_core::ha::StartError> {
    /// let gate: Arc<dyn LeaderGate> = if RaftConfig::configured_in_env() {
    ///     Arc::new(RaftGate::from_env().await?)
    /// } else {
    ///     Arc::new(AlwaysLeader::new())
    /// };
    /// # let _ = gate;
    /// # Ok(()) }
    /// ```
    pub async fn from_env() -> Result<Self, super::StartError> {
        super::start(super::RaftConfig::from_env()?).await
    }

    /// This replica's node id.
    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    /// The gate's metrics (also registered by [`LeaderGate::register_metrics`]).
    pub fn metrics(&self) -> &HaMetrics {
        &self.inner.metrics
    }

    /// The address the Raft server listens on, if this replica runs one.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        lock(&self.inner.server).as_ref().map(|s| s.local_addr())
    }

    /// Adds node `id` at `addr` as a voter: first as a learner until it caught up (at most
    /// [`CATCH_UP_TIMEOUT`](super::admin::CATCH_UP_TIMEOUT)), then into the voter set. Must be
    /// called on the leader; [`MembershipClient`](super::MembershipClient) does the same from
    /// any replica, over the network.
    pub async fn add_member(&self, id: NodeId, addr: &str) -> Result<(), MembershipError> {
        admin::add(
            &self.inner.raft,
            self.inner.node_id,
            id,
            addr,
            admin::CATCH_UP_TIMEOUT,
        )
        .with_subscriber(self.inner.logs.clone())
        .await
    }

    /// Removes node `id` (voter or learner) from the group. Must be called on the leader. Unlike
    /// the admin API, it does not first check that the remaining voters answer.
    pub async fn remove_member(&self, id: NodeId) -> Result<(), MembershipError> {
        admin::remove(&self.inner.raft, self.inner.node_id, id, None)
            .with_subscriber(self.inner.logs.clone())
            .await
    }

    /// The voters and learners, the leader and the term, as this replica sees them.
    pub fn membership(&self) -> Members {
        Members::of(&self.inner.raft, self.inner.node_id)
    }

    /// The current voters with their addresses.
    pub fn members(&self) -> BTreeMap<NodeId, String> {
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        m.membership()
            .nodes()
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect()
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
        if let Err(e) = self
            .inner
            .raft
            .shutdown()
            .with_subscriber(self.inner.logs.clone())
            .await
        {
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
        let inner = &self.inner;
        let (ours, writing) = {
            let t = lock(&inner.tenure);
            let mut f = lock(&inner.fence);
            if term <= t.term || term <= f.term {
                // Ours, or already fenced at that term: seeing it again must not restart the
                // fence's clock, or a busy object would keep it up forever.
                return;
            }
            if term <= f.foreign {
                tracing::debug!(
                    node = inner.node_id,
                    seen = term,
                    "a term already found to be foreign was seen again: next permit rechecks"
                );
                f.recheck_from = Some(Instant::now());
                return;
            }
            f.term = term;
            f.since = Some(Instant::now());
            inner.metrics.fenced_term.set(term as i64);
            (t.term, t.leading && t.confirmed_at.is_some())
        };
        if writing {
            tracing::warn!(
                node = inner.node_id,
                our_term = ours,
                seen = term,
                "an object carries a higher leader term: writing stops until Raft shows whether \
                 this replica was deposed"
            );
        } else {
            // Routine for a follower, and for a replica that restarts and reads the children
            // before Raft has told it the current term (openraft resumes a restarted leader as
            // leader of its old term until it hears otherwise); the fence only matters if it is
            // elected.
            tracing::debug!(
                node = inner.node_id,
                our_term = ours,
                seen = term,
                "an object carries a higher leader term than this follower knows"
            );
        }
        inner.revoke("a higher term was seen on an object");
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

/// openraft's own view of one node, for tests that follow elections and log replication.
#[cfg(feature = "raft-test-hooks")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftView {
    /// The node's current term.
    pub term: u64,
    /// The term of the vote it stored last.
    pub vote_term: u64,
    /// Whether openraft runs the node as leader (before any quorum confirmation by the gate).
    pub raft_leader: bool,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// The index of its last log entry.
    pub last_log_index: Option<u64>,
    /// `false` once openraft stopped (shut down or failed).
    pub running: bool,
}

#[cfg(feature = "raft-test-hooks")]
impl RaftGate {
    /// What openraft reports about this node now.
    pub fn raft_view(&self) -> RaftView {
        view(&self.inner.raft.metrics().borrow())
    }

    /// Waits until openraft's view of this node satisfies `condition`; `None` after `within`.
    pub async fn wait_for_raft(
        &self,
        within: Duration,
        condition: impl Fn(&RaftView) -> bool,
    ) -> Option<RaftView> {
        let mut rx = self.inner.raft.metrics();
        tokio::time::timeout(within, async move {
            loop {
                let v = view(&rx.borrow_and_update());
                if condition(&v) {
                    return Some(v);
                }
                rx.changed().await.ok()?;
            }
        })
        .await
        .ok()
        .flatten()
    }
}

#[cfg(feature = "raft-test-hooks")]
fn view(m: &RaftMetrics<NodeId, BasicNode>) -> RaftView {
    RaftView {
        term: m.current_term,
        vote_term: m.vote.leader_id().term,
        raft_leader: m.state == ServerState::Leader,
        leader: m.current_leader,
        last_log_index: m.last_log_index,
        running: m.running_state.is_ok(),
    }
}
