//! High availability: replicas under Raft, writes only from the leader.
//!
//! Replicas form an [openraft](https://docs.rs/openraft) group. Becoming a replica is a choice
//! made in code: [`RaftGate::from_env`] (or [`start`] with a [`RaftConfig`] built any other way)
//! opens the durable store, starts the RPC server (mutual TLS) and bootstraps the group once. The
//! returned [`RaftGate`] is the engine's [`LeaderGate`](crate::leader::LeaderGate): it grants
//! write permits only to the leader, only while a quorum confirmed its leadership less than a
//! write lease ago, and revokes them when leadership is lost. Hand it to
//! [`Operator::with_leader_gate`](crate::Operator::with_leader_gate).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use roperator_core::ha::RaftGate;
//! use roperator_core::leader::LeaderGate;
//!
//! // The ROPERATOR_RAFT_* variables that deploy/statefulset.yaml sets.
//! let gate = RaftGate::from_env().await?;
//! let mut leadership = gate.subscribe();
//! leadership.wait_for(|s| s.is_leader).await?;
//! let permit = gate.acquire().await?;
//! println!("writing as leader of term {}", permit.term());
//! # Ok(()) }
//! ```
//!
//! The whole module is the cargo feature `raft` (on by default); an operator that always runs as
//! a single replica can build without it, and so without openraft and the Raft transport.

mod admin;
mod config;
mod gate;
mod incarnation;
mod log_filter;
mod metrics;
mod node;
mod runtime;
mod store;
mod transport;
mod types;

pub use admin::{
    AdminError, CATCH_UP_TIMEOUT, COMMIT_TIMEOUT, Members, MembershipClient, MembershipError,
    MembershipErrorKind, REQUEST_TIMEOUT,
};
pub use config::{
    ConfigError, RaftConfig, StatefulSetNaming, Timing, TlsPaths, TransportSecurity,
    ordinal_from_pod_name, parse_peer_list,
};
pub use gate::RaftGate;
pub use metrics::HaMetrics;
pub use node::{StartError, start};
pub use store::DataDirError;
pub use transport::TlsError;
pub use types::NodeId;

/// Hooks for roperator's own HA tests: cutting links between replicas and reading openraft's
/// view of a node. Behind the `raft-test-hooks` feature, which is **not for production**: an
/// operator never needs it, and nothing in it is covered by semver.
#[cfg(feature = "raft-test-hooks")]
pub mod test_hooks {
    pub use super::gate::RaftView;
    pub use super::node::{StartOptions, start_with};
    pub use super::transport::NetworkFaults;
}

/// The guide's high-availability chapter: its Rust sample is compiled as a doctest, so the guide
/// cannot drift from this module.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/high-availability.md")]
pub struct HighAvailabilityGuide;
