//! The openraft type configuration of the leadership group.

use std::io::Cursor;

/// Node ids are StatefulSet ordinals.
pub type NodeId = u64;

/// What the group replicates. The operator's own state lives in Kubernetes; the log carries only
/// what Raft needs (blank entries on election, membership changes), so there is no command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// A no-op, kept so the type has a value.
    Noop,
}

openraft::declare_raft_types!(
    /// openraft types for the leadership group.
    pub TypeConfig:
        D = Command,
        R = (),
        NodeId = NodeId,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = super::runtime::RaftRuntime,
);

/// A log entry of the group.
pub type Entry = openraft::Entry<TypeConfig>;

/// A Raft node of the group.
pub type RaftNode = openraft::Raft<TypeConfig>;
