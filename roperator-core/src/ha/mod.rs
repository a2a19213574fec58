//! High availability: replicas under Raft, writes only from the leader (issue 5).

mod config;
mod store;
pub mod transport;
mod types;

pub use config::{
    ConfigError, RaftConfig, Timing, TlsPaths, TransportSecurity, ordinal_from_pod_name,
    parse_peer_list,
};
pub use store::{DataDir, DataDirError, DirState, LogStore, StateMachineStore};
pub use transport::NetworkFaults;
pub use types::{Command, Entry, NodeId, RaftNode, TypeConfig};
