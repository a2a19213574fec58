//! Durable Raft state under the data directory.
//!
//! The log only grows on elections and membership changes (the engine's data lives in Kubernetes,
//! not in Raft), so each file is small and is rewritten whole: write a temporary file, fsync it,
//! rename it over the old one and fsync the directory. openraft is told an entry or a vote is stored
//! only after that, so an acknowledged vote survives a crash and a node can never vote twice in a
//! term.
//!
//! Files: `identity.json` (which node and cluster the directory belongs to), `vote.json`,
//! `log.json` (entries after the last purge) and `snapshot.json` (the state machine).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{Cursor, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    AnyError, EntryPayload, LogId, LogState, RaftLogReader, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use serde::{Deserialize, Serialize};

use super::incarnation::Incarnations;
use super::types::{Entry, NodeId, TypeConfig};

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Reading, writing or creating a file failed.
    #[error("raft data directory {}: cannot {action} {}: {source}", dir.display(), file.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// The file involved.
        file: PathBuf,
        /// What was attempted.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file exists but cannot be parsed.
    #[error("raft data directory {}: {} is corrupt ({reason}); restore it from a backup or follow the wiped-directory recovery in the guide", dir.display(), file.display())]
    Corrupt {
        /// The data directory.
        dir: PathBuf,
        /// The unreadable file.
        file: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// The directory belongs to another node or another cluster.
    #[error("raft data directory {} belongs to node {found_node} of cluster `{found_cluster}`, not node {node_id} of `{cluster}`; mount the right volume", dir.display())]
    NotOurs {
        /// The data directory.
        dir: PathBuf,
        /// The node id this process runs as.
        node_id: u64,
        /// The cluster this process belongs to.
        cluster: String,
        /// The node id recorded in the directory.
        found_node: u64,
        /// The cluster recorded in the directory.
        found_cluster: String,
    },
    /// Raft files exist but the identity file is gone: the directory was partly deleted.
    #[error("raft data directory {} has Raft state but no identity.json: it was partly deleted; wipe it completely and follow the wiped-directory recovery in the guide", dir.display())]
    PartlyDeleted {
        /// The data directory.
        dir: PathBuf,
    },
    /// The directory is empty but the cluster already counts this node as a member.
    #[error(
        "raft data directory {} is empty, but peer {peer} already knows node {node_id} with Raft \
         state (members {members:?}): the directory was wiped, and rejoining with an empty log \
         and no memory of its votes could elect two leaders in one term or lose committed \
         entries. Recovery: from a running replica remove node {node_id} from the membership \
         (admin API: MembershipClient::remove_member, `echo-server raft remove-member --id \
         {node_id}` in the example; or RaftGate::remove_member on the leader), restart this pod \
         so it starts as a new, empty node, then add it again (add_member, `raft add-member`); \
         or restore the directory from a backup.",
        dir.display()
    )]
    Wiped {
        /// The data directory.
        dir: PathBuf,
        /// This node's id.
        node_id: u64,
        /// The peer that knows this node as a member.
        peer: u64,
        /// The membership that peer reports.
        members: Vec<u64>,
    },
}

/// What the identity file records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Identity {
    node_id: u64,
    cluster: String,
    /// Random, chosen when the directory is first claimed: a wiped and re-created directory gets
    /// another one, which is how peers recognise it.
    incarnation: String,
}

/// The data directory of one node.
#[derive(Debug, Clone)]
pub struct DataDir {
    dir: PathBuf,
    node_id: u64,
    cluster: String,
    incarnation: Option<String>,
}

/// Whether a data directory already holds this node's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    /// Never used: the node may start fresh (after checking that the cluster does not already
    /// know it).
    Fresh,
    /// Holds this node's identity and Raft state.
    Existing,
}

const IDENTITY: &str = "identity.json";
const VOTE: &str = "vote.json";
const LOG: &str = "log.json";
const SNAPSHOT: &str = "snapshot.json";

impl DataDir {
    /// Opens (creating if needed) the directory and checks that it belongs to this node.
    pub fn open(
        dir: impl Into<PathBuf>,
        node_id: u64,
        cluster: &str,
    ) -> Result<(Self, DirState), DataDirError> {
        let dir = dir.into();
        let mut this = Self {
            dir: dir.clone(),
            node_id,
            cluster: cluster.to_string(),
            incarnation: None,
        };
        std::fs::create_dir_all(&dir).map_err(|source| this.io(&dir, "create", source))?;
        match this.read_json::<Identity>(IDENTITY)? {
            Some(id) if id.node_id == node_id && id.cluster == cluster => {
                this.incarnation = Some(id.incarnation);
                Ok((this, DirState::Existing))
            }
            Some(id) => Err(DataDirError::NotOurs {
                dir,
                node_id,
                cluster: cluster.to_string(),
                found_node: id.node_id,
                found_cluster: id.cluster,
            }),
            None => {
                if [VOTE, LOG, SNAPSHOT].iter().any(|f| dir.join(f).exists()) {
                    return Err(DataDirError::PartlyDeleted { dir });
                }
                Ok((this, DirState::Fresh))
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Records that this directory belongs to this node, under a new incarnation; done once the
    /// node is allowed to join.
    pub fn claim(&mut self) -> Result<(), DataDirError> {
        let incarnation = format!("{:032x}", rand::random::<u128>());
        self.write_json(
            IDENTITY,
            &Identity {
                node_id: self.node_id,
                cluster: self.cluster.clone(),
                incarnation: incarnation.clone(),
            },
        )?;
        self.incarnation = Some(incarnation);
        Ok(())
    }

    /// The incarnation of this directory (`None` until claimed).
    pub fn incarnation(&self) -> Option<&str> {
        self.incarnation.as_deref()
    }

    fn io(&self, file: &Path, action: &'static str, source: std::io::Error) -> DataDirError {
        DataDirError::Io {
            dir: self.dir.clone(),
            file: file.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, DataDirError> {
        let path = self.dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&path, "read", e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DataDirError::Corrupt {
                dir: self.dir.clone(),
                file: path,
                reason: e.to_string(),
            })
    }

    /// Replaces `name` atomically and durably.
    pub(crate) fn write_json<T: Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), DataDirError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let bytes = serde_json::to_vec(value).map_err(|e| DataDirError::Corrupt {
            dir: self.dir.clone(),
            file: path.clone(),
            reason: format!("cannot serialize: {e}"),
        })?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself is only durable once the directory entry is.
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| self.io(&path, "write", e))
    }
}

fn storage_error(e: DataDirError) -> StorageIOError<NodeId> {
    StorageIOError::write(AnyError::new(&e))
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PersistedLog {
    last_purged: Option<LogId<NodeId>>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct LogInner {
    dir: DataDir,
    vote: Option<Vote<NodeId>>,
    last_purged: Option<LogId<NodeId>>,
    entries: BTreeMap<u64, Entry>,
}

impl LogInner {
    fn persist_log(&self) -> Result<(), DataDirError> {
        self.dir.write_json(
            LOG,
            &PersistedLog {
                last_purged: self.last_purged,
                entries: self.entries.values().cloned().collect(),
            },
        )
    }
}

/// The vote and log, kept in memory and persisted on every change.
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the in-memory copy as it was before the failed
    // write; the files are the truth, so continuing is safe.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LogStore {
    /// Loads the vote and log from `dir`.
    pub fn open(dir: &DataDir) -> Result<Self, DataDirError> {
        let vote = dir.read_json::<Vote<NodeId>>(VOTE)?;
        let log = dir.read_json::<PersistedLog>(LOG)?.unwrap_or_default();
        Ok(Self {
            inner: Arc::new(Mutex::new(LogInner {
                dir: dir.clone(),
                vote,
                last_purged: log.last_purged,
                entries: log
                    .entries
                    .into_iter()
                    .map(|e| (e.log_id.index, e))
                    .collect(),
            })),
        })
    }

    /// Runs a blocking file update off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut LogInner) -> Result<T, DataDirError> + Send + 'static,
    ) -> Result<T, StorageError<NodeId>> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&inner)))
            .await
            .map_err(|e| StorageIOError::write(AnyError::new(&e)))?
            .map_err(|e| storage_error(e).into())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        let inner = lock(&self.inner);
        Ok(inner.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let inner = lock(&self.inner);
        let last = inner
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(inner.last_purged);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let vote = *vote;
        self.blocking(move |inner| {
            inner.dir.write_json(VOTE, &vote)?;
            inner.vote = Some(vote);
            Ok(())
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(lock(&self.inner).vote)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let result = self
            .blocking(move |inner| {
                let before = inner.entries.clone();
                for e in entries {
                    inner.entries.insert(e.log_id.index, e);
                }
                inner.persist_log().inspect_err(|_| inner.entries = before)
            })
            .await;
        // Only now, with the file synced, may openraft count the entries as stored.
        callback.log_io_completed(
            result
                .as_ref()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string())),
        );
        result
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |inner| {
            let before = inner.entries.clone();
            inner.entries.split_off(&log_id.index);
            inner.persist_log().inspect_err(|_| inner.entries = before)
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |inner| {
            let before = (inner.entries.clone(), inner.last_purged);
            inner.entries = inner.entries.split_off(&(log_id.index + 1));
            inner.last_purged = Some(log_id);
            inner.persist_log().inspect_err(|_| {
                (inner.entries, inner.last_purged) = before;
            })
        })
        .await
    }
}

/// The replicated state: nothing but what Raft itself needs (applied position and membership).
/// The operator's state lives in Kubernetes; Raft only decides who may write it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct MachineState {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, openraft::BasicNode>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, openraft::BasicNode>,
    data: Vec<u8>,
}

#[derive(Debug)]
struct MachineInner {
    dir: DataDir,
    incarnations: Option<Incarnations>,
    state: MachineState,
    snapshot: Option<StoredSnapshot>,
    snapshots_built: u64,
}

/// The (tiny) state machine and its snapshot.
#[derive(Debug, Clone)]
pub struct StateMachineStore {
    inner: Arc<Mutex<MachineInner>>,
}

impl StateMachineStore {
    /// Restores the state machine from the last snapshot in `dir`.
    pub fn open(dir: &DataDir, incarnations: Option<Incarnations>) -> Result<Self, DataDirError> {
        let snapshot = dir.read_json::<StoredSnapshot>(SNAPSHOT)?;
        let state = match &snapshot {
            Some(s) => serde_json::from_slice(&s.data).map_err(|e| DataDirError::Corrupt {
                dir: dir.path().to_path_buf(),
                file: dir.path().join(SNAPSHOT),
                reason: e.to_string(),
            })?,
            None => MachineState::default(),
        };
        Ok(Self {
            inner: Arc::new(Mutex::new(MachineInner {
                dir: dir.clone(),
                incarnations,
                state,
                snapshot,
                snapshots_built: 0,
            })),
        })
    }

    async fn save_snapshot(&self, snapshot: StoredSnapshot) -> Result<(), StorageError<NodeId>> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut inner = lock(&inner);
            inner.dir.write_json(SNAPSHOT, &snapshot)?;
            inner.snapshot = Some(snapshot);
            Ok::<_, DataDirError>(())
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)))?
        .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)).into())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (state, n) = {
            let mut inner = lock(&self.inner);
            inner.snapshots_built += 1;
            (inner.state.clone(), inner.snapshots_built)
        };
        let data = serde_json::to_vec(&state)
            .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)))?;
        let snapshot_id = match state.last_applied {
            Some(l) => format!("{}-{}-{n}", l.leader_id, l.index),
            None => format!("empty-{n}"),
        };
        let meta = SnapshotMeta {
            last_log_id: state.last_applied,
            last_membership: state.membership.clone(),
            snapshot_id,
        };
        self.save_snapshot(StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        })
        .await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<NodeId>>,
            StoredMembership<NodeId, openraft::BasicNode>,
        ),
        StorageError<NodeId>,
    > {
        let inner = lock(&self.inner);
        Ok((inner.state.last_applied, inner.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = lock(&self.inner);
        let mut out = Vec::new();
        for e in entries {
            inner.state.last_applied = Some(e.log_id);
            if let EntryPayload::Membership(m) = &e.payload {
                inner.state.membership = StoredMembership::new(Some(e.log_id), m.clone());
                if let Some(inc) = &inner.incarnations {
                    inc.forget_except(m.nodes().map(|(id, _)| *id).collect());
                }
            }
            out.push(());
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let state: MachineState = serde_json::from_slice(&data).map_err(|e| {
            StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e))
        })?;
        self.save_snapshot(StoredSnapshot {
            meta: meta.clone(),
            data,
        })
        .await?;
        let mut inner = lock(&self.inner);
        if let Some(inc) = &inner.incarnations {
            inc.forget_except(
                state
                    .membership
                    .membership()
                    .nodes()
                    .map(|(id, _)| *id)
                    .collect(),
            );
        }
        inner.state = state;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(lock(&self.inner).snapshot.clone().map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, Membership};

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 0), index),
            payload: EntryPayload::Blank,
        }
    }

    #[tokio::test]
    async fn restart_keeps_vote_and_log() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut dir, state) = DataDir::open(tmp.path(), 0, "c").unwrap();
        assert_eq!(state, DirState::Fresh);
        dir.claim().unwrap();
        let mut log = LogStore::open(&dir).unwrap();
        let vote = Vote::new_committed(3, 1);
        log.save_vote(&vote).await.unwrap();
        {
            let mut inner = lock(&log.inner);
            for i in 1..=5 {
                inner.entries.insert(i, entry(3, i));
            }
            inner.persist_log().unwrap();
        }
        log.truncate(LogId::new(CommittedLeaderId::new(3, 0), 4))
            .await
            .unwrap();
        log.purge(LogId::new(CommittedLeaderId::new(3, 0), 1))
            .await
            .unwrap();
        drop(log);

        let (dir, state) = DataDir::open(tmp.path(), 0, "c").unwrap();
        assert_eq!(state, DirState::Existing);
        let mut log = LogStore::open(&dir).unwrap();
        assert_eq!(log.read_vote().await.unwrap(), Some(vote));
        let st = log.get_log_state().await.unwrap();
        assert_eq!(st.last_purged_log_id.map(|l| l.index), Some(1));
        assert_eq!(st.last_log_id.map(|l| l.index), Some(3));
        let got = log.try_get_log_entries(0..10).await.unwrap();
        assert_eq!(
            got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[tokio::test]
    async fn snapshot_restores_membership_after_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut dir, _) = DataDir::open(tmp.path(), 0, "c").unwrap();
        dir.claim().unwrap();
        let mut sm = StateMachineStore::open(&dir, None).unwrap();
        let members = Membership::new(
            vec![[0, 1, 2].into()],
            BTreeMap::from([
                (0, openraft::BasicNode::new("a:1")),
                (1, openraft::BasicNode::new("b:1")),
                (2, openraft::BasicNode::new("c:1")),
            ]),
        );
        let mut e = entry(1, 1);
        e.payload = EntryPayload::Membership(members);
        sm.apply([e, entry(1, 2)]).await.unwrap();
        let built = sm.build_snapshot().await.unwrap();
        assert_eq!(built.meta.last_log_id.map(|l| l.index), Some(2));

        let mut sm = StateMachineStore::open(&dir, None).unwrap();
        let (applied, membership) = sm.applied_state().await.unwrap();
        assert_eq!(applied.map(|l| l.index), Some(2));
        assert_eq!(
            membership.membership().voter_ids().collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(sm.get_current_snapshot().await.unwrap().is_some());
    }

    #[test]
    fn directory_of_another_node_or_partly_deleted_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut dir, _) = DataDir::open(tmp.path(), 1, "c").unwrap();
        dir.claim().unwrap();
        let err = DataDir::open(tmp.path(), 2, "c").unwrap_err().to_string();
        assert!(err.contains("belongs to node 1"), "{err}");

        dir.write_json(VOTE, &Vote::<u64>::new(1, 1)).unwrap();
        std::fs::remove_file(tmp.path().join(IDENTITY)).unwrap();
        let err = DataDir::open(tmp.path(), 1, "c").unwrap_err();
        assert!(matches!(err, DataDirError::PartlyDeleted { .. }), "{err}");
        assert!(err.to_string().contains(&tmp.path().display().to_string()));

        std::fs::write(tmp.path().join(IDENTITY), b"{not json").unwrap();
        let err = DataDir::open(tmp.path(), 1, "c").unwrap_err().to_string();
        assert!(err.contains("identity.json is corrupt"), "{err}");
    }
}
