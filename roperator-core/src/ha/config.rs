//! Who this replica is, who its peers are, where it keeps its state and how it talks to them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Why a [`RaftConfig`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The pod name does not end in a StatefulSet ordinal.
    #[error(
        "pod name `{pod_name}` does not end in a StatefulSet ordinal (`<statefulset>-<N>`); \
         set POD_NAME from metadata.name or give an explicit node id"
    )]
    NoOrdinal {
        /// The name that was given.
        pod_name: String,
    },
    /// One entry of an explicit peer list is malformed.
    #[error("peer list entry `{entry}` is not `<id>=<host>:<port>`: {reason}")]
    BadPeer {
        /// The offending entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The peer set does not contain this node.
    #[error("node id {node_id} is not among the peers {peers:?}; every replica must be a member")]
    SelfNotAPeer {
        /// This node's id.
        node_id: u64,
        /// The ids that were configured.
        peers: Vec<u64>,
    },
    /// A required setting is missing.
    #[error("missing setting `{name}`: {hint}")]
    Missing {
        /// The setting (environment variable or builder field).
        name: &'static str,
        /// How to provide it.
        hint: &'static str,
    },
    /// A setting has a value that cannot be used.
    #[error("setting `{name}` has invalid value `{value}`: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Peers exist but neither TLS nor the explicit plaintext flag is configured.
    #[error(
        "replicas talk to each other but no TLS is configured: set the certificate, key and CA \
         paths (ROPERATOR_RAFT_TLS_CERT / _KEY / _CA) or, for tests only, \
         ROPERATOR_RAFT_INSECURE_PLAINTEXT=true"
    )]
    NoTransportSecurity,
}

/// Certificate files for mutual TLS between replicas (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// This replica's certificate chain; its SAN must be the replica's DNS name.
    pub cert: PathBuf,
    /// The private key of `cert`.
    pub key: PathBuf,
    /// The CA that signs every replica's certificate; peers signed by anything else are refused.
    pub ca: PathBuf,
}

/// How replicas secure their Raft traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportSecurity {
    /// Mutual TLS with the given files.
    Tls(TlsPaths),
    /// No encryption and no authentication. Only for tests and embedded single-process setups;
    /// must be asked for explicitly.
    InsecurePlaintext,
}

/// Raft timing. The defaults keep failover under two seconds on a local network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often the leader sends heartbeats.
    pub heartbeat: Duration,
    /// Lower bound of the randomised election timeout.
    pub election_timeout_min: Duration,
    /// Upper bound of the randomised election timeout. Followers also refuse to vote for another
    /// candidate for this long after hearing from the leader (openraft's leader lease).
    pub election_timeout_max: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(400),
            election_timeout_max: Duration::from_millis(800),
        }
    }
}

impl Timing {
    /// How long a quorum confirmation lets the leader write. Strictly shorter than the minimum
    /// election timeout (and therefore than the followers' lease), so a deposed leader's permits
    /// lapse before any other replica can be elected.
    pub fn write_lease(&self) -> Duration {
        self.election_timeout_min * 3 / 4
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat.is_zero() || self.heartbeat >= self.election_timeout_min {
            return Err(ConfigError::Invalid {
                name: "heartbeat",
                value: format!("{:?}", self.heartbeat),
                reason: format!(
                    "must be non-zero and below the minimum election timeout ({:?})",
                    self.election_timeout_min
                ),
            });
        }
        if self.election_timeout_min >= self.election_timeout_max {
            return Err(ConfigError::Invalid {
                name: "election_timeout_max",
                value: format!("{:?}", self.election_timeout_max),
                reason: format!(
                    "must be above the minimum election timeout ({:?})",
                    self.election_timeout_min
                ),
            });
        }
        Ok(())
    }
}

/// Everything one replica needs to join its Raft group.
///
/// ```
/// use roperator_core::ha::RaftConfig;
///
/// // Pod `my-operator-1` of a 3-replica StatefulSet behind the headless Service `my-operator`.
/// let config = RaftConfig::for_statefulset("my-operator-1", "my-operator", "ops", 3, 7000, "/var/lib/raft")
///     .unwrap()
///     .insecure_plaintext();
/// assert_eq!(config.node_id, 1);
/// assert_eq!(config.peers[&2], "my-operator-2.my-operator.ops.svc:7000");
/// ```
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This replica's id (the StatefulSet ordinal).
    pub node_id: u64,
    /// Every member, this one included: id to `host:port`. The host is also the name checked
    /// against the peer's certificate.
    pub peers: BTreeMap<u64, String>,
    /// Address the Raft server listens on (`None`: no server, only valid for a one-node group).
    pub listen: Option<std::net::SocketAddr>,
    /// Directory for the vote, log, snapshot and identity files (a PVC in Kubernetes).
    pub data_dir: PathBuf,
    /// Raft timing.
    pub timing: Timing,
    /// How peers are authenticated; `None` until configured (required when there are peers).
    pub security: Option<TransportSecurity>,
    /// A name for this replica in user agents and logs.
    pub replica_name: String,
    /// Name of the group; nodes of different clusters refuse each other's RPCs.
    pub cluster_name: String,
    /// How the StatefulSet names its pods, when the peers came from it: lets
    /// [`RaftConfig::address_of`] name replicas beyond the configured count (scaling up).
    pub statefulset: Option<StatefulSetNaming>,
}

/// The DNS naming of a StatefulSet's replicas: `<statefulset>-<i>.<service>.<namespace>.svc:<port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatefulSetNaming {
    /// The StatefulSet's name (the pod name without its ordinal).
    pub statefulset: String,
    /// The headless Service.
    pub service: String,
    /// The namespace.
    pub namespace: String,
    /// The Raft port.
    pub port: u16,
}

impl StatefulSetNaming {
    /// The Raft address of ordinal `id`.
    pub fn address(&self, id: u64) -> String {
        format!(
            "{}-{id}.{}.{}.svc:{}",
            self.statefulset, self.service, self.namespace, self.port
        )
    }
}

/// Parses the StatefulSet ordinal from a pod name such as `my-operator-2`.
///
/// ```
/// assert_eq!(roperator_core::ha::ordinal_from_pod_name("my-operator-2").unwrap(), 2);
/// assert!(roperator_core::ha::ordinal_from_pod_name("my-operator").is_err());
/// ```
pub fn ordinal_from_pod_name(pod_name: &str) -> Result<u64, ConfigError> {
    let no_ordinal = || ConfigError::NoOrdinal {
        pod_name: pod_name.to_string(),
    };
    let (prefix, ordinal) = pod_name.rsplit_once('-').ok_or_else(no_ordinal)?;
    if prefix.is_empty() || ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
        return Err(no_ordinal());
    }
    ordinal.parse().map_err(|_| no_ordinal())
}

/// Parses an explicit peer list `0=host-a:7000,1=host-b:7000`.
///
/// ```
/// let peers = roperator_core::ha::parse_peer_list("0=a:1,1=b:2").unwrap();
/// assert_eq!(peers[&1], "b:2");
/// ```
pub fn parse_peer_list(list: &str) -> Result<BTreeMap<u64, String>, ConfigError> {
    let mut peers = BTreeMap::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |reason: &str| ConfigError::BadPeer {
            entry: entry.to_string(),
            reason: reason.to_string(),
        };
        let (id, addr) = entry.split_once('=').ok_or_else(|| bad("missing `=`"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| bad("the id is not a non-negative integer"))?;
        let addr = addr.trim();
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad("the address has no `:port`"))?;
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        port.parse::<u16>()
            .map_err(|_| bad("the port is not a number in 0..=65535"))?;
        if peers.insert(id, addr.to_string()).is_some() {
            return Err(bad("the id appears twice"));
        }
    }
    if peers.is_empty() {
        return Err(ConfigError::BadPeer {
            entry: list.to_string(),
            reason: "the list is empty".to_string(),
        });
    }
    Ok(peers)
}

/// Mutual TLS from the three `ROPERATOR_RAFT_TLS_*` paths, or plaintext when asked for
/// explicitly; `None` when neither is configured.
fn security_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<TransportSecurity>, ConfigError> {
    let plaintext = get("ROPERATOR_RAFT_INSECURE_PLAINTEXT").unwrap_or_default() == "true";
    match (
        get("ROPERATOR_RAFT_TLS_CERT"),
        get("ROPERATOR_RAFT_TLS_KEY"),
        get("ROPERATOR_RAFT_TLS_CA"),
    ) {
        (Some(cert), Some(key), Some(ca)) => Ok(Some(TransportSecurity::Tls(TlsPaths {
            cert: cert.into(),
            key: key.into(),
            ca: ca.into(),
        }))),
        (None, None, None) if plaintext => Ok(Some(TransportSecurity::InsecurePlaintext)),
        (None, None, None) => Ok(None),
        _ => Err(ConfigError::Missing {
            name: "ROPERATOR_RAFT_TLS_CERT/_KEY/_CA",
            hint: "set all three TLS paths or none",
        }),
    }
}

/// The `ROPERATOR_RAFT_*_MS` timing variables, each defaulting to [`Timing::default`].
fn timing_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Timing, ConfigError> {
    let ms = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
        match get(name) {
            Some(v) => v
                .parse()
                .map(Duration::from_millis)
                .map_err(|_| ConfigError::Invalid {
                    name,
                    value: v.clone(),
                    reason: "not a number of milliseconds".to_string(),
                }),
            None => Ok(default),
        }
    };
    let d = Timing::default();
    Ok(Timing {
        heartbeat: ms("ROPERATOR_RAFT_HEARTBEAT_MS", d.heartbeat)?,
        election_timeout_min: ms("ROPERATOR_RAFT_ELECTION_MIN_MS", d.election_timeout_min)?,
        election_timeout_max: ms("ROPERATOR_RAFT_ELECTION_MAX_MS", d.election_timeout_max)?,
    })
}

impl RaftConfig {
    /// A one-node group: the single replica is always the leader once it has elected itself,
    /// with no listener and no peers.
    ///
    /// ```
    /// let config = roperator_core::ha::RaftConfig::single_node("/tmp/raft");
    /// assert_eq!(config.peers.len(), 1);
    /// ```
    pub fn single_node(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            node_id: 0,
            peers: BTreeMap::from([(0, "localhost:0".to_string())]),
            listen: None,
            data_dir: data_dir.into(),
            timing: Timing::default(),
            security: None,
            replica_name: "single".to_string(),
            cluster_name: "roperator".to_string(),
            statefulset: None,
        }
    }

    /// Membership of a StatefulSet: node id from the ordinal in `pod_name`, peers
    /// `<statefulset>-<i>.<service>.<namespace>.svc:<port>` for `i` in `0..replicas`.
    pub fn for_statefulset(
        pod_name: &str,
        service: &str,
        namespace: &str,
        replicas: u64,
        port: u16,
        data_dir: impl Into<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let node_id = ordinal_from_pod_name(pod_name)?;
        let (statefulset, _) = pod_name
            .rsplit_once('-')
            .ok_or_else(|| ConfigError::NoOrdinal {
                pod_name: pod_name.to_string(),
            })?;
        if replicas == 0 {
            return Err(ConfigError::Invalid {
                name: "replicas",
                value: "0".to_string(),
                reason: "a group needs at least one member".to_string(),
            });
        }
        let naming = StatefulSetNaming {
            statefulset: statefulset.to_string(),
            service: service.to_string(),
            namespace: namespace.to_string(),
            port,
        };
        let peers = (0..replicas).map(|i| (i, naming.address(i))).collect();
        Self::with_peers(node_id, peers, data_dir).map(|mut c| {
            c.listen = Some(std::net::SocketAddr::from(([0, 0, 0, 0], port)));
            c.replica_name = pod_name.to_string();
            c.statefulset = Some(naming);
            c
        })
    }

    /// The Raft address of node `id`: its configured peer address, else (for StatefulSet
    /// membership) the DNS name its pod will have, so a replica added by scaling up can be named
    /// before `ROPERATOR_RAFT_REPLICAS` is raised.
    ///
    /// ```
    /// use roperator_core::ha::RaftConfig;
    ///
    /// let config = RaftConfig::for_statefulset("op-0", "op-peers", "ns", 3, 7000, "/d").unwrap();
    /// assert_eq!(config.address_of(4).as_deref(), Some("op-4.op-peers.ns.svc:7000"));
    /// ```
    pub fn address_of(&self, id: u64) -> Option<String> {
        self.peers
            .get(&id)
            .cloned()
            .or_else(|| self.statefulset.as_ref().map(|n| n.address(id)))
    }

    /// An explicit member set (for runs outside Kubernetes and for tests).
    pub fn with_peers(
        node_id: u64,
        peers: BTreeMap<u64, String>,
        data_dir: impl Into<PathBuf>,
    ) -> Result<Self, ConfigError> {
        if !peers.contains_key(&node_id) {
            return Err(ConfigError::SelfNotAPeer {
                node_id,
                peers: peers.keys().copied().collect(),
            });
        }
        Ok(Self {
            node_id,
            peers,
            listen: None,
            data_dir: data_dir.into(),
            timing: Timing::default(),
            security: None,
            replica_name: format!("node-{node_id}"),
            cluster_name: "roperator".to_string(),
            statefulset: None,
        })
    }

    /// Reads the configuration from the environment, as set by `deploy/ha`:
    ///
    /// - `POD_NAME`, `ROPERATOR_RAFT_SERVICE`, `POD_NAMESPACE`, `ROPERATOR_RAFT_REPLICAS`,
    ///   `ROPERATOR_RAFT_PORT` (default 7000) for StatefulSet membership, or
    ///   `ROPERATOR_RAFT_NODE_ID` and `ROPERATOR_RAFT_PEERS` (`0=host:port,...`);
    /// - `ROPERATOR_RAFT_DATA_DIR` (default `/var/lib/roperator/raft`);
    /// - `ROPERATOR_RAFT_TLS_CERT`, `_KEY`, `_CA`, or `ROPERATOR_RAFT_INSECURE_PLAINTEXT=true`;
    /// - `ROPERATOR_RAFT_HEARTBEAT_MS`, `_ELECTION_MIN_MS`, `_ELECTION_MAX_MS`.
    ///
    /// With none of the membership variables set it yields a one-node group.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `true` when the environment describes several replicas (`ROPERATOR_RAFT_REPLICAS` or
    /// `ROPERATOR_RAFT_PEERS` is set, as `deploy/statefulset.yaml` does). Nothing reads these
    /// variables on its own: an operator that wants to be a replica when they are set asks here
    /// and then starts [`RaftGate::from_env`](super::RaftGate::from_env).
    pub fn configured_in_env() -> bool {
        ["ROPERATOR_RAFT_REPLICAS", "ROPERATOR_RAFT_PEERS"]
            .iter()
            .any(|name| std::env::var_os(name).is_some())
    }

    /// [`RaftConfig::from_env`] over any variable source (used by tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::membership_from_lookup(&get)?;
        if let Some(name) = get("POD_NAME") {
            config.replica_name = name;
        }
        config.security = security_from_lookup(&get)?;
        config.timing = timing_from_lookup(&get)?;
        config.validate()?;
        Ok(config)
    }

    /// Who the members are: an explicit peer list, a StatefulSet, or this node alone.
    fn membership_from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir =
            get("ROPERATOR_RAFT_DATA_DIR").unwrap_or_else(|| "/var/lib/roperator/raft".to_string());
        let port: u16 = match get("ROPERATOR_RAFT_PORT") {
            Some(p) => p.parse().map_err(|_| ConfigError::Invalid {
                name: "ROPERATOR_RAFT_PORT",
                value: p.clone(),
                reason: "not a port number".to_string(),
            })?,
            None => 7000,
        };
        if let Some(peers) = get("ROPERATOR_RAFT_PEERS") {
            let peers = parse_peer_list(&peers)?;
            let node_id = match (get("ROPERATOR_RAFT_NODE_ID"), get("POD_NAME")) {
                (Some(id), _) => id.parse().map_err(|_| ConfigError::Invalid {
                    name: "ROPERATOR_RAFT_NODE_ID",
                    value: id.clone(),
                    reason: "not a non-negative integer".to_string(),
                })?,
                (None, Some(pod)) => ordinal_from_pod_name(&pod)?,
                (None, None) => {
                    return Err(ConfigError::Missing {
                        name: "ROPERATOR_RAFT_NODE_ID",
                        hint: "with ROPERATOR_RAFT_PEERS, set the node id or POD_NAME",
                    });
                }
            };
            let mut c = Self::with_peers(node_id, peers, data_dir)?;
            c.listen = Some(std::net::SocketAddr::from(([0, 0, 0, 0], port)));
            return Ok(c);
        }
        let Some(replicas) = get("ROPERATOR_RAFT_REPLICAS") else {
            return Ok(Self::single_node(data_dir));
        };
        let replicas: u64 = replicas.parse().map_err(|_| ConfigError::Invalid {
            name: "ROPERATOR_RAFT_REPLICAS",
            value: replicas.clone(),
            reason: "not a non-negative integer".to_string(),
        })?;
        let pod = get("POD_NAME").ok_or(ConfigError::Missing {
            name: "POD_NAME",
            hint: "set it from the downward API (fieldRef metadata.name)",
        })?;
        let service = get("ROPERATOR_RAFT_SERVICE").ok_or(ConfigError::Missing {
            name: "ROPERATOR_RAFT_SERVICE",
            hint: "the name of the headless Service of the StatefulSet",
        })?;
        let namespace = get("POD_NAMESPACE").ok_or(ConfigError::Missing {
            name: "POD_NAMESPACE",
            hint: "set it from the downward API (fieldRef metadata.namespace)",
        })?;
        Self::for_statefulset(&pod, &service, &namespace, replicas, port, data_dir)
    }

    /// Uses mutual TLS with these files.
    pub fn tls(mut self, paths: TlsPaths) -> Self {
        self.security = Some(TransportSecurity::Tls(paths));
        self
    }

    /// Turns off TLS between replicas. Tests and embedded mode only.
    pub fn insecure_plaintext(mut self) -> Self {
        self.security = Some(TransportSecurity::InsecurePlaintext);
        self
    }

    /// Listens for peers on `addr`.
    pub fn listen_on(mut self, addr: std::net::SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Uses other Raft timing.
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// `true` when this replica is the only member.
    pub fn is_single_node(&self) -> bool {
        self.peers.len() == 1
    }

    /// Checks the settings that depend on each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.timing.validate()?;
        if !self.peers.contains_key(&self.node_id) {
            return Err(ConfigError::SelfNotAPeer {
                node_id: self.node_id,
                peers: self.peers.keys().copied().collect(),
            });
        }
        if !self.is_single_node() {
            if self.security.is_none() {
                return Err(ConfigError::NoTransportSecurity);
            }
            if self.listen.is_none() {
                return Err(ConfigError::Missing {
                    name: "listen",
                    hint: "a group of several replicas needs a listen address for Raft RPCs",
                });
            }
        }
        Ok(())
    }

    /// The openraft configuration derived from [`RaftConfig::timing`].
    pub(crate) fn openraft_config(&self) -> Result<openraft::Config, ConfigError> {
        let config = openraft::Config {
            cluster_name: self.cluster_name.clone(),
            heartbeat_interval: self.timing.heartbeat.as_millis() as u64,
            election_timeout_min: self.timing.election_timeout_min.as_millis() as u64,
            election_timeout_max: self.timing.election_timeout_max.as_millis() as u64,
            // The state machine is tiny; snapshot often so the log (rewritten on every change)
            // stays short.
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(64),
            max_in_snapshot_log_to_keep: 16,
            ..Default::default()
        };
        config.validate().map_err(|e| ConfigError::Invalid {
            name: "timing",
            value: format!("{:?}", self.timing),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinal_is_parsed_from_pod_names() {
        assert_eq!(ordinal_from_pod_name("op-0").unwrap(), 0);
        assert_eq!(ordinal_from_pod_name("my-op-12").unwrap(), 12);
        for bad in ["op", "op-", "-3", "op-x1", "op-1a"] {
            let err = ordinal_from_pod_name(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn statefulset_peers_use_headless_service_dns() {
        let c = RaftConfig::for_statefulset("op-2", "op-raft", "ns", 3, 7000, "/d").unwrap();
        assert_eq!(c.node_id, 2);
        assert_eq!(
            c.peers.values().cloned().collect::<Vec<_>>(),
            [
                "op-0.op-raft.ns.svc:7000",
                "op-1.op-raft.ns.svc:7000",
                "op-2.op-raft.ns.svc:7000"
            ]
        );
        let err = RaftConfig::for_statefulset("op-3", "op-raft", "ns", 3, 7000, "/d").unwrap_err();
        assert!(matches!(err, ConfigError::SelfNotAPeer { node_id: 3, .. }));
    }

    #[test]
    fn peer_list_errors_name_the_entry() {
        let err = parse_peer_list("0=a:1,1=b").unwrap_err().to_string();
        assert!(err.contains("`1=b`") && err.contains("port"), "{err}");
        let err = parse_peer_list("0=a:1,0=b:2").unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
        assert!(parse_peer_list("x=a:1").is_err());
    }

    #[test]
    fn env_without_membership_is_a_single_node_and_peers_need_security() {
        let c = RaftConfig::from_lookup(|_| None).unwrap();
        assert!(c.is_single_node());

        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let err = RaftConfig::from_lookup(env(&[
            ("POD_NAME", "op-1"),
            ("ROPERATOR_RAFT_REPLICAS", "3"),
            ("ROPERATOR_RAFT_SERVICE", "op"),
            ("POD_NAMESPACE", "ns"),
        ]))
        .unwrap_err();
        assert!(matches!(err, ConfigError::NoTransportSecurity), "{err}");

        let c = RaftConfig::from_lookup(env(&[
            ("POD_NAME", "op-1"),
            ("ROPERATOR_RAFT_PEERS", "0=a:1,1=b:2"),
            ("ROPERATOR_RAFT_INSECURE_PLAINTEXT", "true"),
            ("ROPERATOR_RAFT_ELECTION_MIN_MS", "900"),
        ]))
        .unwrap_err();
        assert!(c.to_string().contains("election_timeout_max"), "{c}");
    }
}
