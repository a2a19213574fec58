//! openraft RPCs between replicas over HTTP/1 (hyper), with mutual TLS unless plaintext was asked
//! for explicitly.
//!
//! Routes: `POST /raft/append`, `POST /raft/vote`, `POST /raft/snapshot` (JSON bodies, JSON
//! `Result` replies) and `GET /raft/status` (used at start-up to detect a wiped data directory).
//! Every request names its sender and cluster in headers; a server refuses other clusters.
//!
//! The same listener serves the membership admin API under `/raft/admin/` (see
//! [`MembershipClient`](crate::ha::MembershipClient)); it needs the cluster header but no incarnation, since its
//! callers are operators' tools, not Raft peers.

mod client;
mod health;
mod server;
mod tls;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

pub use client::Network;
pub(crate) use client::dial_named;
pub(crate) use health::{LOG_GAP, PeerHealth, Throttle};
pub use server::RaftServer;
pub use tls::{TlsError, TlsMaterial};

pub(crate) const FROM_HEADER: &str = "x-roperator-raft-from";
pub(crate) const CLUSTER_HEADER: &str = "x-roperator-raft-cluster";
pub(crate) const INCARNATION_HEADER: &str = "x-roperator-raft-incarnation";
/// Set on an admin request a follower passes on to the leader, so it is never passed on again
/// (two nodes that each believe the other leads would bounce it forever).
pub(crate) const FORWARDED_HEADER: &str = "x-roperator-raft-forwarded-by";

/// A transport failure (reported to openraft as `Unreachable` or `Timeout`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("raft peer {target} ({addr}): {reason}")]
pub struct TransportError {
    /// The peer's node id.
    pub target: u64,
    /// The peer's address.
    pub addr: String,
    /// What went wrong.
    pub reason: String,
}

/// What a node reports about itself on `GET /raft/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// The reporting node.
    pub node_id: u64,
    /// Whether it has a membership (the cluster was initialized).
    pub initialized: bool,
    /// The voters and learners in its membership.
    pub members: Vec<u64>,
    /// The current leader it knows of.
    pub leader: Option<u64>,
    /// Its current term.
    pub term: u64,
    /// The incarnation it recorded for the asking node: `Some` means the asking node already took
    /// part in the group with some data directory.
    pub your_incarnation: Option<String>,
}

/// Fault injection for tests: drops traffic between given nodes.
///
/// All nodes of a test group share one `NetworkFaults`; a blocked pair fails every RPC between
/// the two nodes, in both directions, as `Unreachable`, exactly like a network partition.
/// Without the `raft-test-hooks` feature nothing can block a link, and every check passes.
///
/// ```
/// # #[cfg(feature = "raft-test-hooks")] {
/// let faults = roperator_core::ha::test_hooks::NetworkFaults::default();
/// faults.isolate(0, [1, 2]);
/// assert!(faults.is_blocked(2, 0));
/// faults.heal();
/// assert!(!faults.is_blocked(2, 0));
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct NetworkFaults {
    blocked: Arc<RwLock<HashSet<(u64, u64)>>>,
    silenced: Arc<RwLock<HashSet<u64>>>,
    delays: Arc<RwLock<std::collections::HashMap<u64, std::time::Duration>>>,
}

#[cfg_attr(not(feature = "raft-test-hooks"), allow(dead_code))]
impl NetworkFaults {
    /// Cuts the link between `a` and `b` in both directions.
    pub fn partition(&self, a: u64, b: u64) {
        let mut blocked = self.blocked.write().unwrap_or_else(|p| p.into_inner());
        blocked.insert((a, b));
        blocked.insert((b, a));
    }

    /// Cuts `node` off from every node in `others`.
    pub fn isolate(&self, node: u64, others: impl IntoIterator<Item = u64>) {
        for other in others {
            self.partition(node, other);
        }
    }

    /// Makes `node` silent: RPCs to and from it get no answer at all until their sender gives
    /// up, as when a network drops a node's packets instead of refusing connections.
    pub fn silence(&self, node: u64) {
        self.silenced
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node);
    }

    /// Delays every RPC to `node` by `by`, as a slow network or a loaded peer would.
    pub fn delay(&self, node: u64, by: std::time::Duration) {
        self.delays
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node, by);
    }

    /// How long RPCs to `node` are delayed.
    pub fn delay_to(&self, node: u64) -> Option<std::time::Duration> {
        self.delays
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node)
            .copied()
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.delays
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.blocked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.silenced
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// `true` while RPCs to and from `node` get no answer.
    pub fn is_silenced(&self, node: u64) -> bool {
        self.silenced
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&node)
    }

    /// `true` while traffic from `from` to `to` is dropped.
    pub fn is_blocked(&self, from: u64, to: u64) -> bool {
        self.blocked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(from, to))
    }
}

/// Splits `host:port`; the host is the name checked against the peer's certificate.
pub(crate) fn split_host(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}
