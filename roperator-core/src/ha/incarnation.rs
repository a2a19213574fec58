//! Recognising a peer whose data directory was wiped.
//!
//! Each data directory gets a random incarnation when it is first claimed. Every RPC carries the
//! sender's incarnation and every reply the receiver's; each node remembers (durably) the
//! incarnation it first saw for every peer. A peer that shows up with another incarnation lost
//! its votes and log, so it is refused in both directions: it can neither collect votes nor cast
//! them. Records of nodes removed from the membership are forgotten, so a node that was removed
//! and then added again is accepted under its new incarnation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::store::DataDir;

const PEERS: &str = "peers.json";

/// The incarnations this node has seen, and its own.
#[derive(Debug, Clone)]
pub struct Incarnations {
    own: String,
    dir: DataDir,
    known: Arc<Mutex<BTreeMap<u64, String>>>,
}

impl Incarnations {
    /// Loads the records kept in `dir`; `dir` must have been claimed.
    pub(crate) fn load(dir: &DataDir) -> Result<Self, super::store::DataDirError> {
        let own = dir.incarnation().unwrap_or_default().to_string();
        let known = dir
            .read_json::<BTreeMap<u64, String>>(PEERS)?
            .unwrap_or_default();
        Ok(Self {
            own,
            dir: dir.clone(),
            known: Arc::new(Mutex::new(known)),
        })
    }

    /// This node's incarnation.
    pub fn own(&self) -> &str {
        &self.own
    }

    /// The incarnation recorded for `peer`.
    pub fn known(&self, peer: u64) -> Option<String> {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&peer)
            .cloned()
    }

    /// Accepts `incarnation` for `peer` if it is the recorded one or the first one seen.
    pub fn check(&self, peer: u64, incarnation: &str) -> Result<(), String> {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        match known.get(&peer) {
            Some(k) if k == incarnation => Ok(()),
            Some(k) => Err(format!(
                "node {peer} came back with a different data directory (incarnation {incarnation}, \
                 known as {k}): it lost its votes and log, so it is refused until it is removed \
                 from the membership and added again"
            )),
            None => {
                known.insert(peer, incarnation.to_string());
                if let Err(e) = self.dir.write_json(PEERS, &*known) {
                    // Not fatal: the record is kept in memory and written with the next one.
                    tracing::warn!(error = %e, "cannot persist peer incarnations");
                }
                Ok(())
            }
        }
    }

    /// Drops the records of nodes that are no longer members.
    pub fn forget_except(&self, members: BTreeSet<u64>) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let before = known.len();
        known.retain(|id, _| members.contains(id));
        if known.len() != before
            && let Err(e) = self.dir.write_json(PEERS, &*known)
        {
            tracing::warn!(error = %e, "cannot persist peer incarnations");
        }
    }
}
