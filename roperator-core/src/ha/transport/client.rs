//! The sending side: one small pool of HTTP/1 connections per peer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout,
    Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RPCTypes, RaftNetwork, RaftNetworkFactory};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tracing::instrument::WithSubscriber;

use super::health::{Failure, PeerHealth, Rpc};
use super::{
    CLUSTER_HEADER, FROM_HEADER, INCARNATION_HEADER, NetworkFaults, PeerStatus, TlsMaterial,
    TransportError, split_host,
};
use crate::ha::incarnation::Incarnations;
use crate::ha::types::{NodeId, TypeConfig};

/// Idle connections kept per peer; openraft runs a few RPC streams to each peer at once
/// (replication, heartbeats for leadership checks, votes).
const POOL_SIZE: usize = 4;

/// The openraft network factory of one node.
#[derive(Clone)]
pub struct Network {
    shared: Arc<Shared>,
}

struct Shared {
    self_id: NodeId,
    cluster: String,
    tls: Option<TlsMaterial>,
    faults: NetworkFaults,
    incarnations: Option<Incarnations>,
    health: Arc<PeerHealth>,
    backoff: Duration,
    peers: Mutex<HashMap<(NodeId, String), PeerClient>>,
}

impl Network {
    /// A factory for node `self_id`; `tls: None` means plaintext, otherwise every new connection
    /// uses the material's current files. Without `incarnations` (before the data directory is
    /// claimed) only [`PeerClient::status`] is meaningful. Every RPC's outcome goes to `health`.
    pub fn new(
        self_id: NodeId,
        cluster: &str,
        tls: Option<TlsMaterial>,
        faults: NetworkFaults,
        incarnations: Option<Incarnations>,
        health: Arc<PeerHealth>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                self_id,
                cluster: cluster.to_string(),
                tls,
                faults,
                incarnations,
                health,
                backoff: Duration::from_millis(500),
                peers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How long openraft waits before retrying an unreachable peer (default 500 ms). A restarted
    /// peer is caught up at most this long after it is back.
    pub fn with_backoff(self, backoff: Duration) -> Self {
        let mut shared = match Arc::try_unwrap(self.shared) {
            Ok(shared) => shared,
            Err(shared) => {
                // Clients were already handed out; they keep the old setting.
                return Self { shared };
            }
        };
        shared.backoff = backoff;
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The client for `target` at `addr` (shared, so its connections are reused).
    pub fn client(&self, target: NodeId, addr: &str) -> PeerClient {
        let mut peers = self.shared.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers
            .entry((target, addr.to_string()))
            .or_insert_with(|| PeerClient {
                inner: Arc::new(PeerInner {
                    shared: self.shared.clone(),
                    target,
                    addr: addr.to_string(),
                    pool: Mutex::new(Vec::new()),
                }),
            })
            .clone()
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        self.client(target, &node.addr)
    }
}

/// RPCs to one peer.
#[derive(Clone)]
pub struct PeerClient {
    inner: Arc<PeerInner>,
}

struct PeerInner {
    shared: Arc<Shared>,
    target: NodeId,
    addr: String,
    pool: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

enum CallError {
    Unreachable(TransportError),
    Network(TransportError),
    Timeout(Duration),
}

impl CallError {
    fn failure(&self) -> (Failure, String) {
        match self {
            Self::Unreachable(e) => (Failure::Unreachable, e.reason.clone()),
            Self::Network(e) => (Failure::Network, e.reason.clone()),
            Self::Timeout(after) => (Failure::Timeout, format!("no answer within {after:?}")),
        }
    }
}

/// One RPC to a peer, reported to the peer's health when it ends, including when the caller
/// stops waiting for it (openraft runs its own deadline around ours).
struct Attempt<'a> {
    client: &'a PeerClient,
    rpc: Rpc,
    done: bool,
}

impl<'a> Attempt<'a> {
    fn new(client: &'a PeerClient, rpc: Rpc) -> Self {
        Self {
            client,
            rpc,
            done: false,
        }
    }

    fn finish<T>(mut self, result: &Result<T, CallError>) {
        self.done = true;
        let inner = &self.client.inner;
        match result {
            Ok(_) => inner.shared.health.answered(inner.target, &inner.addr),
            Err(e) => {
                let (failure, why) = e.failure();
                inner
                    .shared
                    .health
                    .failed(inner.target, &inner.addr, self.rpc, failure, &why);
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            let inner = &self.client.inner;
            inner.shared.health.failed(
                inner.target,
                &inner.addr,
                self.rpc,
                Failure::Timeout,
                "no answer before the caller's deadline",
            );
        }
    }
}

async fn handshake<S>(io: S) -> Result<SendRequest<Full<Bytes>>, hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    let connection = async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "raft peer connection closed");
        }
    };
    tokio::spawn(connection.with_current_subscriber());
    Ok(sender)
}

/// Opens one HTTP/1 connection to `addr` (`host:port`), over TLS when `tls` is given; the server's
/// certificate must name `host`. Shared by the Raft RPCs and the membership admin client, so both
/// trust exactly the same peers.
pub(crate) async fn dial(
    addr: &str,
    tls: Option<&TlsMaterial>,
) -> Result<SendRequest<Full<Bytes>>, String> {
    dial_named(addr, split_host(addr), tls).await
}

/// [`dial`] to `addr`, checking the server's certificate against `server_name` instead of the
/// host of `addr` (the admin client dials its own replica on loopback, whose certificate names
/// the replica's DNS name).
pub(crate) async fn dial_named(
    addr: &str,
    server_name: &str,
    tls: Option<&TlsMaterial>,
) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // Heartbeats are tiny; waiting to coalesce them only delays elections.
    let _ = stream.set_nodelay(true);
    let sender = match tls {
        Some(tls) => {
            // Per connection, so renewed certificates are picked up (see `TlsMaterial`).
            let connector = tokio_rustls::TlsConnector::from(tls.client_config());
            let name = rustls_pki_types::ServerName::try_from(server_name.to_string())
                .map_err(|e| format!("peer name: {e}"))?;
            let tls = connector
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            handshake(tls).await
        }
        None => handshake(stream).await,
    };
    sender.map_err(|e| format!("HTTP handshake: {e}"))
}

impl PeerClient {
    fn error(&self, reason: impl std::fmt::Display) -> TransportError {
        TransportError {
            target: self.inner.target,
            addr: self.inner.addr.clone(),
            reason: reason.to_string(),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CallError> {
        dial(&self.inner.addr, self.inner.shared.tls.as_ref())
            .await
            .map_err(|reason| CallError::Unreachable(self.error(reason)))
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(sender) = pool.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, sender: SendRequest<Full<Bytes>>) {
        let mut pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_SIZE {
            pool.push(sender);
        }
    }

    async fn request(
        &self,
        method: http::Method,
        path: &str,
        body: Bytes,
    ) -> Result<Bytes, CallError> {
        let (status, body) = self.exchange(method, path, body, &[]).await?;
        if !status.is_success() {
            return Err(CallError::Unreachable(self.error(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            ))));
        }
        Ok(body)
    }

    /// One request and its reply, whatever the status.
    async fn exchange(
        &self,
        method: http::Method,
        path: &str,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<(http::StatusCode, Bytes), CallError> {
        let shared = &self.inner.shared;
        shared
            .health
            .admit(self.inner.target, &self.inner.addr)
            .map_err(|reason| CallError::Unreachable(self.error(reason)))?;
        if shared.faults.is_blocked(shared.self_id, self.inner.target) {
            return Err(CallError::Unreachable(
                self.error("traffic dropped (injected partition)"),
            ));
        }
        if shared.faults.is_silenced(self.inner.target) || shared.faults.is_silenced(shared.self_id)
        {
            // Until the caller's deadline, as for packets a network drops.
            std::future::pending::<()>().await;
        }
        if let Some(delay) = shared.faults.delay_to(self.inner.target) {
            tokio::time::sleep(delay).await;
        }
        let mut sender = match self.take_idle() {
            Some(s) => s,
            None => self.connect().await?,
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, split_host(&self.inner.addr))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(FROM_HEADER, shared.self_id.to_string())
            .header(CLUSTER_HEADER, shared.cluster.as_str());
        if let Some(inc) = &shared.incarnations {
            request = request.header(INCARNATION_HEADER, inc.own());
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| CallError::Network(self.error(format!("request: {e}"))))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| CallError::Network(self.error(format!("send: {e}"))))?;
        let status = response.status();
        let peer_incarnation = response
            .headers()
            .get(INCARNATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::Network(self.error(format!("read reply: {e}"))))?
            .to_bytes();
        self.put_idle(sender);
        if let (Some(incs), Some(peer)) = (&shared.incarnations, &peer_incarnation) {
            // A reply from a peer whose directory was wiped must not count (for instance as a
            // vote it no longer remembers casting).
            incs.check(self.inner.target, peer)
                .map_err(|reason| CallError::Unreachable(self.error(reason)))?;
        }
        Ok((status, body))
    }

    /// Sends a membership admin request on to this peer (the leader) and returns its reply as
    /// is, so the caller sees the leader's own answer or error.
    pub(crate) async fn forward(
        &self,
        method: http::Method,
        path: &str,
        body: Bytes,
        headers: &[(&str, String)],
        ttl: Duration,
    ) -> Result<(http::StatusCode, Bytes), TransportError> {
        match tokio::time::timeout(ttl, self.exchange(method, path, body, headers)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(CallError::Unreachable(e) | CallError::Network(e))) => Err(e),
            Ok(Err(CallError::Timeout(_))) | Err(_) => {
                Err(self.error(format!("no reply within {ttl:?}")))
            }
        }
    }

    async fn call<Req, Reply>(
        &self,
        rpc: Rpc,
        path: &str,
        req: &Req,
        ttl: Duration,
    ) -> Result<Reply, CallError>
    where
        Req: Serialize,
        Reply: DeserializeOwned,
    {
        let attempt = Attempt::new(self, rpc);
        let result = async {
            let body = serde_json::to_vec(req)
                .map_err(|e| CallError::Network(self.error(format!("encode: {e}"))))?;
            let reply = tokio::time::timeout(
                ttl,
                self.request(http::Method::POST, path, Bytes::from(body)),
            )
            .await
            .map_err(|_| CallError::Timeout(ttl))??;
            serde_json::from_slice(&reply)
                .map_err(|e| CallError::Network(self.error(format!("decode reply: {e}"))))
        }
        .await;
        attempt.finish(&result);
        result
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        action: RPCTypes,
        e: CallError,
    ) -> RPCError<NodeId, BasicNode, E> {
        match e {
            CallError::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Network(e) => RPCError::Network(NetworkError::new(&e)),
            CallError::Timeout(timeout) => RPCError::Timeout(Timeout {
                action,
                id: self.inner.shared.self_id,
                target: self.inner.target,
                timeout,
            }),
        }
    }

    fn remote<E: std::error::Error>(&self, e: E) -> RPCError<NodeId, BasicNode, E> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.inner.target,
            BasicNode::new(&self.inner.addr),
            e,
        ))
    }

    /// Asks the peer about its membership (start-up check for wiped data directories).
    pub async fn status(&self, ttl: Duration) -> Result<PeerStatus, TransportError> {
        let attempt = Attempt::new(self, Rpc::Status);
        let fetch = async {
            let body = self
                .request(http::Method::GET, "/raft/status", Bytes::new())
                .await?;
            serde_json::from_slice(&body)
                .map_err(|e| CallError::Network(self.error(format!("decode status: {e}"))))
        };
        let result = tokio::time::timeout(ttl, fetch)
            .await
            .unwrap_or(Err(CallError::Timeout(ttl)));
        attempt.finish(&result);
        match result {
            Ok(status) => Ok(status),
            Err(CallError::Unreachable(e) | CallError::Network(e)) => Err(e),
            Err(CallError::Timeout(_)) => Err(self.error(format!("no reply within {ttl:?}"))),
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    fn backoff(&self) -> openraft::network::Backoff {
        openraft::network::Backoff::new(std::iter::repeat(self.inner.shared.backoff))
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let reply: Result<AppendEntriesResponse<NodeId>, Fatal<NodeId>> = self
            .call(Rpc::Append, "/raft/append", &rpc, option.hard_ttl())
            .await
            .map_err(|e| self.rpc_error(RPCTypes::AppendEntries, e))?;
        reply.map_err(|f| self.remote(RaftError::Fatal(f)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let reply: Result<
            InstallSnapshotResponse<NodeId>,
            RaftError<NodeId, InstallSnapshotError>,
        > = self
            .call(Rpc::Snapshot, "/raft/snapshot", &rpc, option.hard_ttl())
            .await
            .map_err(|e| self.rpc_error(RPCTypes::InstallSnapshot, e))?;
        reply.map_err(|e| self.remote(e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let reply: Result<VoteResponse<NodeId>, Fatal<NodeId>> = self
            .call(Rpc::Vote, "/raft/vote", &rpc, option.hard_ttl())
            .await
            .map_err(|e| self.rpc_error(RPCTypes::Vote, e))?;
        reply.map_err(|f| self.remote(RaftError::Fatal(f)))
    }
}
