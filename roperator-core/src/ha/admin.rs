//! Membership administration: list, add and remove the replicas of the Raft group at run time
//! (see [`MembershipClient`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, ServerState};
use serde::{Deserialize, Serialize};

use super::config::{ConfigError, RaftConfig, TransportSecurity};
use super::transport::{CLUSTER_HEADER, Network, TlsError, TlsMaterial, dial_named};
use super::types::{NodeId, RaftNode};

/// How long a new learner may take to catch up with the leader's log before it is made a voter.
/// The log holds only elections and membership changes, so a running replica needs well under a
/// second; a replica that is not running never does.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a membership change may take to commit. It needs a quorum of both the old and the
/// new voter set, so a timeout means one of them is not reachable.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a voter may take to answer the reachability check before a removal.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest a membership request may take end to end (catch-up and commit, plus slack).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);

/// The path of the member list (GET, POST); `/<id>` for DELETE.
pub(crate) const MEMBERS_PATH: &str = "/raft/admin/members";

/// The group's membership as one replica sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    /// The replica that answered: the leader, unless no leader could be reached.
    pub answered_by: NodeId,
    /// The leader that replica knows of.
    pub leader: Option<NodeId>,
    /// Its current term.
    pub term: u64,
    /// Voters and their Raft addresses.
    pub voters: BTreeMap<NodeId, String>,
    /// Learners (being added, or left over from an interrupted add) and their addresses.
    pub learners: BTreeMap<NodeId, String>,
}

impl Members {
    pub(crate) fn of(raft: &RaftNode, answered_by: NodeId) -> Self {
        let m = raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voter_ids: BTreeSet<NodeId> = membership.voter_ids().collect();
        let (voters, learners) = membership
            .nodes()
            .map(|(id, n)| (*id, n.addr.clone()))
            .partition(|(id, _)| voter_ids.contains(id));
        Self {
            answered_by,
            leader: m.current_leader,
            term: m.current_term,
            voters,
            learners,
        }
    }
}

impl fmt::Display for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.leader {
            Some(leader) => writeln!(f, "leader: node {leader} (term {})", self.term)?,
            None => writeln!(f, "leader: none known (term {})", self.term)?,
        }
        if self.leader != Some(self.answered_by) {
            writeln!(
                f,
                "(as seen by node {}, which could not ask the leader)",
                self.answered_by
            )?;
        }
        let mut section = |title: &str, nodes: &BTreeMap<NodeId, String>| {
            writeln!(f, "{title}:")?;
            if nodes.is_empty() {
                writeln!(f, "  (none)")?;
            }
            for (id, addr) in nodes {
                let mark = if Some(*id) == self.leader {
                    "  (leader)"
                } else {
                    ""
                };
                writeln!(f, "  {id:>3}  {addr}{mark}")?;
            }
            Ok(())
        };
        section("voters", &self.voters)?;
        section("learners", &self.learners)
    }
}

/// The body of an add request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMember {
    /// The new node's id (its StatefulSet ordinal).
    pub id: NodeId,
    /// Its Raft address, `host:port`; the host must match its certificate.
    pub address: String,
}

/// What kind of failure a [`MembershipError`] is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MembershipErrorKind {
    /// Asked on a replica that is not the leader and could not pass the request on.
    NotLeader {
        /// The leader it knows of.
        leader: Option<NodeId>,
        /// That leader's address.
        leader_address: Option<String>,
    },
    /// The node is not a member.
    UnknownMember,
    /// The node is a member already.
    AlreadyMember,
    /// The change would leave no reachable majority, so it could never commit.
    NoQuorum,
    /// The change did not finish in time (it may still finish later; list the members).
    Timeout,
    /// The request itself is malformed.
    Invalid,
    /// openraft refused the change.
    Raft,
}

/// Why a membership change failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("membership change ({action}) failed: {reason}")]
pub struct MembershipError {
    /// What was attempted.
    pub action: String,
    /// What went wrong, and what to do about it.
    pub reason: String,
    /// The kind of failure.
    #[serde(flatten)]
    pub kind: MembershipErrorKind,
}

impl MembershipError {
    fn new(action: &str, kind: MembershipErrorKind, reason: impl Into<String>) -> Self {
        Self {
            action: action.to_string(),
            reason: reason.into(),
            kind,
        }
    }

    /// The HTTP status the admin API answers this error with.
    pub(crate) fn status(&self) -> http::StatusCode {
        match self.kind {
            MembershipErrorKind::NotLeader { .. } => http::StatusCode::SERVICE_UNAVAILABLE,
            MembershipErrorKind::UnknownMember => http::StatusCode::NOT_FOUND,
            MembershipErrorKind::AlreadyMember | MembershipErrorKind::NoQuorum => {
                http::StatusCode::CONFLICT
            }
            MembershipErrorKind::Timeout => http::StatusCode::GATEWAY_TIMEOUT,
            MembershipErrorKind::Invalid => http::StatusCode::BAD_REQUEST,
            MembershipErrorKind::Raft => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// "not the leader", naming the leader when one is known.
    pub(crate) fn not_leader(raft: &RaftNode, self_id: NodeId, action: &str, why: &str) -> Self {
        let m = raft.metrics().borrow().clone();
        let leader = m.current_leader.filter(|l| *l != self_id);
        let leader_address = leader.and_then(|l| {
            m.membership_config
                .membership()
                .get_node(&l)
                .map(|n| n.addr.clone())
        });
        let reason = match (leader, &leader_address) {
            (Some(l), Some(addr)) => {
                format!("node {self_id} is not the leader; the leader is node {l} at {addr}{why}")
            }
            _ => format!(
                "node {self_id} knows no leader (term {}): the group is electing one or has no \
                 quorum; retry in a moment{why}",
                m.current_term
            ),
        };
        Self::new(
            action,
            MembershipErrorKind::NotLeader {
                leader,
                leader_address,
            },
            reason,
        )
    }
}

fn raft_error(
    raft: &RaftNode,
    self_id: NodeId,
    action: &str,
    e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
) -> MembershipError {
    match e {
        // Leadership moved while the change was being made.
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => {
            MembershipError::not_leader(raft, self_id, action, "")
        }
        other => MembershipError::new(action, MembershipErrorKind::Raft, other.to_string()),
    }
}

fn ensure_leader(raft: &RaftNode, self_id: NodeId, action: &str) -> Result<(), MembershipError> {
    let m = raft.metrics().borrow().clone();
    if m.state == ServerState::Leader && m.current_leader == Some(self_id) {
        Ok(())
    } else {
        Err(MembershipError::not_leader(raft, self_id, action, ""))
    }
}

async fn commit(
    raft: &RaftNode,
    self_id: NodeId,
    action: &str,
    change: ChangeMembers<NodeId, BasicNode>,
) -> Result<(), MembershipError> {
    match tokio::time::timeout(COMMIT_TIMEOUT, raft.change_membership(change, false)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(raft_error(raft, self_id, action, e)),
        Err(_) => Err(MembershipError::new(
            action,
            MembershipErrorKind::Timeout,
            format!(
                "not committed within {COMMIT_TIMEOUT:?}: a majority of the old or the new voters \
                 does not answer; the change may still complete, list the members to see"
            ),
        )),
    }
}

/// Adds node `id` at `address` on the leader `raft`: as a learner, then, once it has caught up,
/// as a voter. A learner left over from an interrupted add at the same address is promoted.
pub(crate) async fn add(
    raft: &RaftNode,
    self_id: NodeId,
    id: NodeId,
    address: &str,
    catch_up: Duration,
) -> Result<(), MembershipError> {
    let action = format!("add node {id} at {address}");
    let action = action.as_str();
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
        _ => {
            return Err(MembershipError::new(
                action,
                MembershipErrorKind::Invalid,
                format!("the address `{address}` is not `host:port`"),
            ));
        }
    }
    ensure_leader(raft, self_id, action)?;
    let (is_voter, known_at, last_index) = {
        let m = raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        (
            membership.voter_ids().any(|v| v == id),
            membership.get_node(&id).map(|n| n.addr.clone()),
            m.last_log_index.unwrap_or(0),
        )
    };
    let target = match known_at {
        Some(at) if is_voter => {
            return Err(MembershipError::new(
                action,
                MembershipErrorKind::AlreadyMember,
                format!("node {id} is already a voter (at {at})"),
            ));
        }
        Some(at) if at != address => {
            return Err(MembershipError::new(
                action,
                MembershipErrorKind::AlreadyMember,
                format!(
                    "node {id} is already a learner at {at}; remove it first to add it at \
                     another address"
                ),
            ));
        }
        Some(_) => last_index,
        None => {
            raft.add_learner(id, BasicNode::new(address), false)
                .await
                .map_err(|e| raft_error(raft, self_id, action, e))?
                .log_id
                .index
        }
    };

    let caught_up = tokio::time::timeout(catch_up, replicated(raft, id, target)).await;
    if caught_up != Ok(true) {
        return Err(MembershipError::new(
            action,
            MembershipErrorKind::Timeout,
            format!(
                "node {id} was added as a learner but did not catch up within {catch_up:?}: is \
                 its replica running and reachable at {address}? It stays a learner; add it again \
                 once it runs, or remove it"
            ),
        ));
    }
    commit(
        raft,
        self_id,
        action,
        ChangeMembers::AddVoterIds(BTreeSet::from([id])),
    )
    .await
}

/// Waits until the leader has replicated its log up to `index` to node `id`; `false` if Raft
/// stopped first. openraft's blocking `add_learner` waits without a deadline, and a replica that
/// is not running would hang the request, so the caller waits here, with one.
async fn replicated(raft: &RaftNode, id: NodeId, index: u64) -> bool {
    let mut metrics = raft.metrics();
    loop {
        let matched = metrics
            .borrow_and_update()
            .replication
            .as_ref()
            .and_then(|r| r.get(&id).cloned().flatten());
        if matched.is_some_and(|log_id| log_id.index >= index) {
            return true;
        }
        if metrics.changed().await.is_err() {
            return false;
        }
    }
}

/// Removes node `id` (voter or learner) on the leader `raft`. With `peers`, first checks that a
/// majority of the remaining voters answers, since otherwise the change could never commit.
pub(crate) async fn remove(
    raft: &RaftNode,
    self_id: NodeId,
    id: NodeId,
    peers: Option<&Network>,
) -> Result<(), MembershipError> {
    let action = format!("remove node {id}");
    let action = action.as_str();
    ensure_leader(raft, self_id, action)?;
    let membership = raft.metrics().borrow().membership_config.clone();
    let membership = membership.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    if membership.get_node(&id).is_none() {
        let all: Vec<NodeId> = membership.nodes().map(|(n, _)| *n).collect();
        return Err(MembershipError::new(
            action,
            MembershipErrorKind::UnknownMember,
            format!("node {id} is not a member (members: {all:?})"),
        ));
    }
    if !voters.contains(&id) {
        return commit(
            raft,
            self_id,
            action,
            ChangeMembers::RemoveNodes(BTreeSet::from([id])),
        )
        .await;
    }
    let remaining: BTreeSet<NodeId> = voters.iter().copied().filter(|v| *v != id).collect();
    if remaining.is_empty() {
        return Err(MembershipError::new(
            action,
            MembershipErrorKind::NoQuorum,
            format!("node {id} is the last voter; a group needs at least one"),
        ));
    }
    if let Some(peers) = peers {
        let mut probes = tokio::task::JoinSet::new();
        for voter in remaining.iter().filter(|v| **v != self_id) {
            let Some(node) = membership.get_node(voter) else {
                continue;
            };
            let client = peers.client(*voter, &node.addr);
            let voter = *voter;
            probes.spawn(async move { (voter, client.status(PROBE_TIMEOUT).await.is_ok()) });
        }
        let mut answering: BTreeSet<NodeId> = remaining
            .iter()
            .copied()
            .filter(|v| *v == self_id)
            .collect();
        while let Some(probe) = probes.join_next().await {
            if let Ok((voter, true)) = probe {
                answering.insert(voter);
            }
        }
        let majority = remaining.len() / 2 + 1;
        if answering.len() < majority {
            return Err(MembershipError::new(
                action,
                MembershipErrorKind::NoQuorum,
                format!(
                    "the remaining voters would be {remaining:?}, of which only {answering:?} \
                     answer; {majority} must answer for the change to commit. Start the missing \
                     replicas first"
                ),
            ));
        }
    }
    commit(
        raft,
        self_id,
        action,
        ChangeMembers::RemoveVoters(BTreeSet::from([id])),
    )
    .await
}

/// Why a [`MembershipClient`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The replica's configuration (environment) is incomplete.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The replica's certificate files cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The replica could not be reached.
    #[error("cannot reach the raft admin API at {addr}: {reason}")]
    Unreachable {
        /// The address dialled.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// The replica did not answer in time.
    #[error("no answer from the raft admin API at {addr} within {after:?}")]
    Timeout {
        /// The address dialled.
        addr: String,
        /// The timeout.
        after: Duration,
    },
    /// The group refused the change (or the request).
    #[error(transparent)]
    Refused(#[from] MembershipError),
    /// The reply is not what the admin API sends (another program on that port?).
    #[error("unexpected reply from {addr}: HTTP {status}: {body}")]
    Protocol {
        /// The address dialled.
        addr: String,
        /// The HTTP status.
        status: u16,
        /// The body, as text.
        body: String,
    },
}

/// A client of the membership admin API of one replica: list, add and remove the replicas of the
/// Raft group at run time.
///
/// Membership lives in the Raft log, not in the replica count, so scaling and the recovery of a
/// wiped replica need a membership change on the leader. Every replica serves an admin API on its
/// Raft listener (same port, same mutual TLS as the peers: only holders of a certificate signed by
/// the cluster CA can call it, the same trust a peer has; with
/// `ROPERATOR_RAFT_INSECURE_PLAINTEXT=true` it is as open as the Raft RPCs themselves):
///
/// - `GET /raft/admin/members`: voters, learners, their addresses, the leader and its term;
/// - `POST /raft/admin/members` with `{"id": 3, "address": "host:7000"}`: adds a learner, waits
///   until it caught up, then makes it a voter;
/// - `DELETE /raft/admin/members/<id>`: removes a voter or a learner.
///
/// A follower forwards the request to the leader (once: a forwarded request is never forwarded
/// again), so any replica can be asked. This client calls the API with the replica's own
/// configuration and certificate:
///
/// ```no_run
/// # async fn run() -> Result<(), roperator_core::ha::AdminError> {
/// use roperator_core::ha::MembershipClient;
///
/// // In a replica's pod: the same ROPERATOR_RAFT_* variables and certificate files as the
/// // operator; talks to this pod's replica on loopback.
/// let client = MembershipClient::from_env()?;
/// println!("{}", client.members().await?);
/// let members = client.add_member(3, "op-3.op-peers.ns.svc:7000").await?;
/// assert!(members.voters.contains_key(&3));
/// client.remove_member(3).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MembershipClient {
    addr: String,
    server_name: String,
    tls: Option<TlsMaterial>,
    cluster: String,
    timeout: Duration,
}

impl MembershipClient {
    /// A client of this pod's replica, configured like the replica from the `ROPERATOR_RAFT_*`
    /// variables (see [`RaftConfig::from_env`]).
    pub fn from_env() -> Result<Self, AdminError> {
        Self::for_local_replica(&RaftConfig::from_env()?)
    }

    /// A client of the replica `config` describes, dialled on loopback at its Raft port (so no
    /// DNS or network policy is involved) and authenticated with its certificate. The server's
    /// certificate is checked against the replica's own peer name.
    pub fn for_local_replica(config: &RaftConfig) -> Result<Self, AdminError> {
        let listen =
            config
                .listen
                .filter(|_| !config.is_single_node())
                .ok_or(ConfigError::Missing {
                    name: "ROPERATOR_RAFT_PEERS or ROPERATOR_RAFT_REPLICAS",
                    hint: "a one-node group has no Raft listener and no membership to change; \
                       configure the replica's peers",
                })?;
        let own = config.address_of(config.node_id).unwrap_or_default();
        let server_name = super::transport::split_host(&own).to_string();
        let addr = format!("127.0.0.1:{}", listen.port());
        let mut client = Self::new(config, &addr)?;
        client.server_name = server_name;
        Ok(client)
    }

    /// A client of the replica at `addr` (`host:port`, the host must match its certificate),
    /// with the TLS material and cluster name of `config`.
    pub fn new(config: &RaftConfig, addr: &str) -> Result<Self, AdminError> {
        let tls = match &config.security {
            Some(TransportSecurity::Tls(paths)) => Some(TlsMaterial::load(paths)?),
            Some(TransportSecurity::InsecurePlaintext) => None,
            None => return Err(ConfigError::NoTransportSecurity.into()),
        };
        Ok(Self {
            addr: addr.to_string(),
            server_name: super::transport::split_host(addr).to_string(),
            tls,
            cluster: config.cluster_name.clone(),
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// Talks to the replica at `addr` instead (its host must match its certificate).
    pub fn with_server(mut self, addr: &str) -> Self {
        self.addr = addr.to_string();
        self.server_name = super::transport::split_host(addr).to_string();
        self
    }

    /// How long to wait for an answer (default [`REQUEST_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The address this client dials.
    pub fn server(&self) -> &str {
        &self.addr
    }

    /// The group's members, as the leader sees them (or the asked replica, if it cannot reach
    /// the leader; see [`Members::answered_by`]).
    pub async fn members(&self) -> Result<Members, AdminError> {
        self.call(http::Method::GET, MEMBERS_PATH.to_string(), Bytes::new())
            .await
    }

    /// Adds node `id` at `address`: a learner first, a voter once it has caught up. Returns the
    /// membership after the change.
    pub async fn add_member(&self, id: NodeId, address: &str) -> Result<Members, AdminError> {
        let body = serde_json::to_vec(&AddMember {
            id,
            address: address.to_string(),
        })
        .map_err(|e| AdminError::Protocol {
            addr: self.addr.clone(),
            status: 0,
            body: format!("encode request: {e}"),
        })?;
        self.call(http::Method::POST, MEMBERS_PATH.to_string(), body.into())
            .await
    }

    /// Removes node `id`. Returns the membership after the change.
    pub async fn remove_member(&self, id: NodeId) -> Result<Members, AdminError> {
        self.call(
            http::Method::DELETE,
            format!("{MEMBERS_PATH}/{id}"),
            Bytes::new(),
        )
        .await
    }

    async fn call(
        &self,
        method: http::Method,
        path: String,
        body: Bytes,
    ) -> Result<Members, AdminError> {
        let unreachable = |reason: String| AdminError::Unreachable {
            addr: self.addr.clone(),
            reason,
        };
        let exchange = async {
            let mut sender = dial_named(&self.addr, &self.server_name, self.tls.as_ref())
                .await
                .map_err(unreachable)?;
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .header(http::header::HOST, self.server_name.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(CLUSTER_HEADER, self.cluster.as_str())
                .body(Full::new(body))
                .map_err(|e| unreachable(format!("request: {e}")))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| unreachable(format!("send: {e}")))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(format!("read reply: {e}")))?
                .to_bytes();
            Ok::<_, AdminError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| AdminError::Timeout {
                addr: self.addr.clone(),
                after: self.timeout,
            })??;
        if status.is_success() {
            if let Ok(members) = serde_json::from_slice(&body) {
                return Ok(members);
            }
        } else if let Ok(e) = serde_json::from_slice::<MembershipError>(&body) {
            return Err(AdminError::Refused(e));
        }
        Err(AdminError::Protocol {
            addr: self.addr.clone(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
