//! Starting a replica: check the data directory, start Raft and its server, bootstrap once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::BasicNode;
use tokio::net::TcpListener;

use tracing::instrument::WithSubscriber;

use super::config::{ConfigError, RaftConfig, TransportSecurity};
use super::gate::{GateParts, RaftGate};
use super::incarnation::Incarnations;
use super::log_filter;
use super::metrics::HaMetrics;
use super::store::{DataDir, DataDirError, DirState, LogStore, StateMachineStore};
use super::transport::{
    Network, NetworkFaults, PeerHealth, PeerStatus, RaftServer, TlsError, TlsMaterial,
};
use super::types::{NodeId, RaftNode};

/// Why a replica could not join its group.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is incomplete or inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory cannot be used (including a wiped directory of a known member).
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The TLS files cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The Raft listener could not be bound.
    #[error("cannot listen for raft peers on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// openraft refused to start.
    #[error("raft node {node_id} failed to start: {reason}")]
    Raft {
        /// This node.
        node_id: u64,
        /// openraft's error.
        reason: String,
    },
}

/// Extras for [`start_with`]: what only tests need.
#[derive(Debug, Default)]
pub struct StartOptions {
    /// An already bound listener (tests bind port 0 first to learn their addresses).
    pub listener: Option<TcpListener>,
    /// Shared fault injection (partitions).
    pub faults: NetworkFaults,
    /// How long a node with an empty data directory asks its peers whether they already know it
    /// (default: twice the maximum election timeout).
    pub probe_window: Option<Duration>,
}

/// Starts this replica's Raft node and returns its gate.
///
/// 1. Opens the data directory, refusing one that belongs to another node.
/// 2. If the directory is empty, asks the peers whether the cluster already counts this node as a
///    member; if so the directory was wiped and the start is refused ([`DataDirError::Wiped`]).
/// 3. Starts openraft with the durable store and the server.
/// 4. Ordinal 0 initializes the cluster with the full member set, only if it is uninitialized and
///    no peer reports an initialized cluster. Restarted nodes never initialize again.
///
/// ```no_run
/// # async fn run() -> Result<(), roperator_core::ha::StartError> {
/// // One replica: a one-node group that elects itself, no listener, no TLS.
/// let gate = roperator_core::ha::start(roperator_core::ha::RaftConfig::single_node("/tmp/raft")).await?;
/// # Ok(()) }
/// ```
pub async fn start(config: RaftConfig) -> Result<RaftGate, StartError> {
    start_with(config, StartOptions::default()).await
}

/// [`start`] with a pre-bound listener and injected faults (the `raft-test-hooks` feature).
pub async fn start_with(config: RaftConfig, options: StartOptions) -> Result<RaftGate, StartError> {
    // Everything the node does from here on, in openraft's tasks and in ours, logs through the
    // filter that keeps openraft's per-RPC messages at debug (see `log_filter`).
    let logs = log_filter::dispatch();
    start_filtered(config, options, logs.clone())
        .with_subscriber(logs)
        .await
}

async fn start_filtered(
    config: RaftConfig,
    options: StartOptions,
    logs: tracing_core::Dispatch,
) -> Result<RaftGate, StartError> {
    config.validate()?;
    let node_id = config.node_id;
    let tls = match &config.security {
        Some(TransportSecurity::Tls(paths)) => Some(TlsMaterial::load(paths)?),
        _ => None,
    };
    let metrics = HaMetrics::default();
    let health = Arc::new(
        PeerHealth::new(node_id, metrics.clone()).with_probe_every(config.timing.heartbeat * 2),
    );
    health.set_members(config.peers.clone());
    let network = |incarnations| {
        Network::new(
            node_id,
            &config.cluster_name,
            tls.clone(),
            options.faults.clone(),
            incarnations,
            health.clone(),
        )
    };
    let probe_network = network(None);
    let (dir, peers_initialized) =
        open_data_dir(&config, &probe_network, options.probe_window).await?;
    let incarnations = Incarnations::load(&dir)?;
    let raft_network =
        network(Some(incarnations.clone())).with_backoff(config.timing.heartbeat * 2);
    let log = LogStore::open(&dir)?;
    let machine = StateMachineStore::open(&dir, Some(incarnations.clone()))?;
    let raft_config = Arc::new(config.openraft_config()?);
    let raft = RaftNode::new(node_id, raft_config, raft_network, log, machine)
        .await
        .map_err(|e| raft_error(node_id, &e))?;

    let server = listener(&config, options.listener)
        .await?
        .map(|listener| {
            RaftServer::start(
                listener,
                raft.clone(),
                node_id,
                &config.cluster_name,
                tls.clone(),
                options.faults.clone(),
                incarnations.clone(),
                probe_network.clone(),
            )
            .map_err(|source| StartError::Listen {
                addr: "bound listener".to_string(),
                source,
            })
        })
        .transpose()?;
    if node_id == 0 && !peers_initialized {
        bootstrap(&config, &raft).await?;
    }
    Ok(RaftGate::new(GateParts {
        raft,
        node_id,
        replica_name: config.replica_name.clone(),
        timing: config.timing,
        server,
        metrics,
        health,
        logs,
    }))
}

/// The listener for Raft RPCs: the one given, else one bound to the configured address (a
/// one-node group has none).
async fn listener(
    config: &RaftConfig,
    given: Option<TcpListener>,
) -> Result<Option<TcpListener>, StartError> {
    match (given, config.listen) {
        (Some(listener), _) => Ok(Some(listener)),
        (None, Some(addr)) if !config.is_single_node() => TcpListener::bind(addr)
            .await
            .map(Some)
            .map_err(|source| StartError::Listen {
                addr: addr.to_string(),
                source,
            }),
        _ => Ok(None),
    }
}

fn raft_error(node_id: NodeId, e: &dyn std::fmt::Display) -> StartError {
    StartError::Raft {
        node_id,
        reason: e.to_string(),
    }
}

/// Opens the data directory. An empty one is claimed, but only after asking the peers whether
/// they know this node already (then it was wiped, and the start is refused). Returns the
/// directory and whether a peer reported an initialized group.
async fn open_data_dir(
    config: &RaftConfig,
    probe_network: &Network,
    probe_window: Option<Duration>,
) -> Result<(DataDir, bool), StartError> {
    let node_id = config.node_id;
    let (mut dir, dir_state) = DataDir::open(&config.data_dir, node_id, &config.cluster_name)?;
    if dir_state != DirState::Fresh {
        return Ok((dir, false));
    }
    let mut peers_initialized = false;
    if !config.is_single_node() {
        let window = probe_window.unwrap_or(config.timing.election_timeout_max * 2);
        let statuses = probe_peers(config, probe_network, window).await;
        if let Some(status) = statuses.iter().find(|s| s.your_incarnation.is_some()) {
            return Err(DataDirError::Wiped {
                dir: config.data_dir.clone(),
                node_id,
                peer: status.node_id,
                members: status.members.clone(),
            }
            .into());
        }
        peers_initialized = statuses.iter().any(|s| s.initialized);
    }
    dir.claim()?;
    Ok((dir, peers_initialized))
}

/// Initializes the group with the full member set, unless this node's store already is.
async fn bootstrap(config: &RaftConfig, raft: &RaftNode) -> Result<(), StartError> {
    if raft
        .is_initialized()
        .await
        .map_err(|e| raft_error(config.node_id, &e))?
    {
        return Ok(());
    }
    let members: BTreeMap<u64, BasicNode> = config
        .peers
        .iter()
        .map(|(id, addr)| (*id, BasicNode::new(addr)))
        .collect();
    tracing::info!(
        ?members,
        "initializing the raft group (first start of ordinal 0)"
    );
    if let Err(e) = raft.initialize(members).await {
        // Another start raced us, or a peer's log reached us first: already initialized.
        tracing::info!(error = %e, "raft group not initialized by this node");
    }
    Ok(())
}

/// Asks every other member for its status until one answers or `window` has passed.
async fn probe_peers(config: &RaftConfig, network: &Network, window: Duration) -> Vec<PeerStatus> {
    let deadline = Instant::now() + window;
    let per_try = (window / 4).max(Duration::from_millis(50));
    loop {
        let mut statuses = Vec::new();
        for (id, addr) in config.peers.iter().filter(|(id, _)| **id != config.node_id) {
            match network.client(*id, addr).status(per_try).await {
                Ok(s) => statuses.push(s),
                Err(e) => tracing::debug!(error = %e, "peer status probe failed"),
            }
        }
        if !statuses.is_empty() || Instant::now() >= deadline {
            return statuses;
        }
        tokio::time::sleep(per_try.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leader::LeaderGate;

    #[tokio::test]
    async fn one_replica_from_the_environment_is_a_durable_one_node_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        let get = |name: &str| match name {
            "ROPERATOR_RAFT_REPLICAS" => Some("1".to_string()),
            "POD_NAME" => Some("op-0".to_string()),
            "ROPERATOR_RAFT_SERVICE" => Some("op".to_string()),
            "POD_NAMESPACE" => Some("ns".to_string()),
            "ROPERATOR_RAFT_DATA_DIR" => Some(path.clone()),
            _ => None,
        };
        let gate = start(RaftConfig::from_lookup(get).unwrap()).await.unwrap();
        let mut state = gate.subscribe();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            state.wait_for(|s| s.is_leader),
        )
        .await
        .expect("elects itself")
        .unwrap();
        assert!(gate.acquire().await.unwrap().term() >= 1);
        assert_eq!(gate.replica_name().as_deref(), Some("op-0"));
        gate.step_down().await;
        assert!(dir.path().join("identity.json").exists());
    }
}
