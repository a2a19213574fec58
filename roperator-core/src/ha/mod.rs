//! High availability: replicas under Raft, writes only from the leader (issue 5).
//!
//! Replicas form an [openraft](https://docs.rs/openraft) group. [`start`] opens the durable
//! store, starts the RPC server (mutual TLS) and bootstraps the group once; the returned
//! [`RaftGate`] is the engine's [`LeaderGate`](crate::leader::LeaderGate): it grants write permits
//! only to the leader, only while a quorum confirmed its leadership less than a write lease ago,
//! and revokes them when leadership is lost.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use roperator_core::leader::LeaderGate;
//!
//! let gate = roperator_core::ha::start(roperator_core::ha::RaftConfig::from_env()?).await?;
//! let mut leadership = gate.subscribe();
//! leadership.wait_for(|s| s.is_leader).await?;
//! let permit = gate.acquire().await?;
//! println!("writing as leader of term {}", permit.term());
//! # Ok(()) }
//! ```

pub mod admin;
mod config;
mod gate;
mod incarnation;
mod metrics;
mod node;
mod store;
pub mod transport;
mod types;

pub use admin::{AdminError, Members, MembershipClient, MembershipError, MembershipErrorKind};
pub use config::{
    ConfigError, RaftConfig, StatefulSetNaming, Timing, TlsPaths, TransportSecurity,
    ordinal_from_pod_name, parse_peer_list,
};
pub use gate::RaftGate;
pub use incarnation::Incarnations;
pub use metrics::HaMetrics;
pub use node::{StartError, StartOptions, gate_from_env, gate_from_lookup, start, start_with};
pub use store::{DataDir, DataDirError, DirState, LogStore, StateMachineStore};
pub use transport::NetworkFaults;
pub use types::{Command, Entry, NodeId, RaftNode, TypeConfig};

/// The guide's high-availability chapter: its Rust sample is compiled as a doctest, so the guide
/// cannot drift from this module.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/high-availability.md")]
pub struct HighAvailabilityGuide;
