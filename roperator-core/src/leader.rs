//! The leadership seam: every write the engine makes is allowed by a [`LeaderGate`] first.
//!
//! A single replica uses [`AlwaysLeader`]. Replicas under Raft use the gate from the `ha` module,
//! through this same interface, so the engine cannot tell the two apart.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A boxed future, so that [`LeaderGate`] stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a replica knows about leadership right now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderState {
    /// `true` while this replica believes it is the leader.
    pub is_leader: bool,
    /// The current term (0 when there is no election, as with [`AlwaysLeader`]).
    pub term: u64,
    /// The leader's node id, if one is known.
    pub leader_id: Option<u64>,
}

/// Why a write was not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotLeader {
    /// Another replica leads (or none does yet).
    #[error("this replica is not the leader (leader: {})", leader_id.map_or("unknown".to_string(), |id| id.to_string()))]
    Follower {
        /// The leader's node id, if known.
        leader_id: Option<u64>,
    },
    /// The replica believes it leads but could not confirm it with a quorum in time.
    #[error("leadership could not be confirmed with a quorum: {0}")]
    Unconfirmed(String),
    /// The replica is shutting down.
    #[error("this replica is shutting down")]
    ShuttingDown,
}

/// Permission to write one batch (one sync's writes).
///
/// The writer checks [`WritePermit::is_valid`] before every single write, so a replica that loses
/// leadership mid-batch stops before its next write.
#[derive(Debug, Clone)]
pub struct WritePermit {
    term: u64,
    revoked: CancellationToken,
    valid_until: Option<Instant>,
}

impl WritePermit {
    /// A permit for `term`, revoked through `revoked`, and (for lease-based gates) only valid
    /// until `valid_until`.
    pub fn new(term: u64, revoked: CancellationToken, valid_until: Option<Instant>) -> Self {
        Self {
            term,
            revoked,
            valid_until,
        }
    }

    /// The leader term under which the writes happen; stamped on written objects for fencing.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// `false` once leadership was lost or the lease ran out.
    pub fn is_valid(&self) -> bool {
        !self.revoked.is_cancelled() && self.valid_until.is_none_or(|until| Instant::now() < until)
    }

    /// Completes when leadership is lost; used to cancel in-flight syncs.
    pub fn revoked(&self) -> &CancellationToken {
        &self.revoked
    }
}

/// Decides whether this replica may write now.
///
/// The engine ships [`AlwaysLeader`] and the Raft gate ([`ha::RaftGate`](crate::ha::RaftGate));
/// a gate of your own (a maintenance switch, another election) plugs into the same seam with
/// [`Operator::with_leader_gate`](crate::Operator::with_leader_gate):
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use roperator_core::leader::{BoxFuture, LeaderGate, LeaderState, NotLeader, WritePermit};
/// use tokio::sync::watch;
/// use tokio_util::sync::CancellationToken;
///
/// /// Writes only while `enabled` is set (a maintenance switch for a single replica).
/// struct Switch {
///     enabled: AtomicBool,
///     state: watch::Sender<LeaderState>,
/// }
///
/// impl LeaderGate for Switch {
///     fn acquire(&self) -> BoxFuture<'_, Result<WritePermit, NotLeader>> {
///         Box::pin(async {
///             if self.enabled.load(Ordering::SeqCst) {
///                 Ok(WritePermit::new(0, CancellationToken::new(), None))
///             } else {
///                 Err(NotLeader::Follower { leader_id: None })
///             }
///         })
///     }
///
///     fn subscribe(&self) -> watch::Receiver<LeaderState> {
///         self.state.subscribe()
///     }
/// }
///
/// let (state, _) = watch::channel(LeaderState { is_leader: true, term: 0, leader_id: None });
/// let gate = Switch { enabled: AtomicBool::new(true), state };
/// # let _ = gate;
/// ```
pub trait LeaderGate: Send + Sync + 'static {
    /// Asks for permission to write a batch. A Raft gate confirms leadership with a quorum here
    /// (or relies on a lease strictly shorter than the election timeout).
    fn acquire(&self) -> BoxFuture<'_, Result<WritePermit, NotLeader>>;

    /// Leadership as it changes: the engine starts syncing when this replica becomes leader and
    /// cancels in-flight syncs when it stops being leader.
    fn subscribe(&self) -> watch::Receiver<LeaderState>;

    /// The engine saw an object stamped with `term` by some replica. A gate whose own term is
    /// lower must step down at once (fencing beyond Raft).
    fn observe_term(&self, term: u64) {
        let _ = term;
    }

    /// A name for this replica in user agents and logs (e.g. the pod name), if it has one.
    fn replica_name(&self) -> Option<String> {
        None
    }

    /// Registers the gate's own metrics (term, leader id, quorum acks...).
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        let _ = registry;
    }

    /// Hands leadership over, if this replica leads, before the process exits.
    fn step_down(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The gate for a single replica: always leader, term 0, never revoked. It is what an
/// [`Operator`](crate::Operator) uses unless given another gate.
///
/// ```
/// use std::sync::Arc;
/// use roperator_core::AlwaysLeader;
/// use roperator_core::prelude::*;
///
/// # async fn demo(client: kube::Client, config: ControllerConfig) {
/// let operator = Operator::new("demo", client)
///     .with_controller(config, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()))
///     .with_leader_gate(Arc::new(AlwaysLeader::new()));
/// # let _ = operator;
/// # }
/// ```
#[derive(Debug)]
pub struct AlwaysLeader {
    state: watch::Sender<LeaderState>,
    revoked: CancellationToken,
}

impl AlwaysLeader {
    /// A gate that always allows writes.
    pub fn new() -> Self {
        let (state, _) = watch::channel(LeaderState {
            is_leader: true,
            term: 0,
            leader_id: None,
        });
        Self {
            state,
            revoked: CancellationToken::new(),
        }
    }
}

impl Default for AlwaysLeader {
    fn default() -> Self {
        Self::new()
    }
}

impl LeaderGate for AlwaysLeader {
    fn acquire(&self) -> BoxFuture<'_, Result<WritePermit, NotLeader>> {
        Box::pin(async { Ok(WritePermit::new(0, self.revoked.clone(), None)) })
    }

    fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.state.subscribe()
    }
}
