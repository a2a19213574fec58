//! The receiving side: an HTTP/1 server that hands RPCs to the local Raft node.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::instrument::WithSubscriber;

use super::{
    CLUSTER_HEADER, FORWARDED_HEADER, FROM_HEADER, INCARNATION_HEADER, LOG_GAP, Network,
    NetworkFaults, PeerStatus, Throttle, TlsMaterial,
};
use crate::ha::admin::{self, AddMember, MEMBERS_PATH, Members, MembershipError};
use crate::ha::incarnation::Incarnations;
use crate::ha::types::{NodeId, RaftNode, TypeConfig};

/// Snapshots of the tiny state machine are a few hundred bytes; anything this large is not ours.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A running Raft RPC server; stops (and drops every open connection) on [`RaftServer::stop`] or
/// when dropped.
pub struct RaftServer {
    local_addr: SocketAddr,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RaftServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftServer")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

#[derive(Clone)]
struct Ctx {
    raft: RaftNode,
    node_id: NodeId,
    cluster: String,
    faults: NetworkFaults,
    incarnations: Incarnations,
    /// Dials the other members for admin requests: forwarding to the leader, and checking who
    /// answers before a removal.
    peers: Network,
}

impl RaftServer {
    /// Serves RPCs for `raft` on `listener`; `tls: None` means plaintext, otherwise every accepted
    /// connection uses the material's current files. `peers` dials the other members for the
    /// admin API.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        listener: TcpListener,
        raft: RaftNode,
        node_id: NodeId,
        cluster: &str,
        tls: Option<TlsMaterial>,
        faults: NetworkFaults,
        incarnations: Incarnations,
        peers: Network,
    ) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let ctx = Ctx {
            raft,
            node_id,
            cluster: cluster.to_string(),
            faults,
            incarnations,
            peers,
        };
        // Called under the node's log filter (see `log_filter`), which the server keeps.
        let task =
            tokio::spawn(accept_loop(listener, ctx, tls, stop.clone()).with_current_subscriber());
        Ok(Self {
            local_addr,
            stop,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and closes every connection.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RaftServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Ctx,
    tls: Option<TlsMaterial>,
    stop: CancellationToken,
) {
    // Dropping the set aborts every connection task, so a stopped node really goes silent.
    let mut connections = JoinSet::new();
    let failed_accepts = Throttle::default();
    let refusals = std::sync::Arc::new(Throttle::default());
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if let Some(held) = failed_accepts.allow(LOG_GAP) {
                        tracing::warn!(error = %e, not_logged_since = held, "raft server: accept failed");
                    }
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        // Per connection, so renewed certificates are picked up (see `TlsMaterial`).
        let acceptor = tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(t.server_config()));
        let refusals = refusals.clone();
        let connection = async move {
            match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve(stream, ctx).await,
                    Err(e) => {
                        // A misconfigured peer retries several times a second.
                        if let Some(held) = refusals.allow(LOG_GAP) {
                            tracing::warn!(
                                %peer,
                                error = %e,
                                not_logged_since = held,
                                "raft server: TLS handshake refused"
                            );
                        }
                    }
                },
                None => serve(stream, ctx).await,
            }
        };
        connections.spawn(connection.with_current_subscriber());
    }
}

async fn serve<S>(io: S, ctx: Ctx)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(route(ctx, req).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        tracing::debug!(error = %e, "raft server: connection ended");
    }
}

fn reply(status: http::StatusCode, body: impl Into<Bytes>) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

fn json<T: Serialize>(value: &T) -> http::Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => reply(http::StatusCode::OK, body),
        Err(e) => reply(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode reply: {e}"),
        ),
    }
}

async fn body<T: DeserializeOwned>(
    req: http::Request<Incoming>,
) -> Result<T, http::Response<Full<Bytes>>> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| reply(http::StatusCode::BAD_REQUEST, format!("body: {e}")))?
        .to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| reply(http::StatusCode::BAD_REQUEST, format!("body: {e}")))
}

fn status(ctx: &Ctx, from: Option<NodeId>) -> PeerStatus {
    let metrics = ctx.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    PeerStatus {
        node_id: ctx.node_id,
        initialized: metrics.membership_config.log_id().is_some(),
        members: membership.nodes().map(|(id, _)| *id).collect(),
        leader: metrics.current_leader,
        term: metrics.current_term,
        your_incarnation: from.and_then(|f| ctx.incarnations.known(f)),
    }
}

async fn route(ctx: Ctx, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
    let mut response = dispatch(&ctx, req).await;
    if let Ok(v) = http::HeaderValue::from_str(ctx.incarnations.own()) {
        response.headers_mut().insert(INCARNATION_HEADER, v);
    }
    response
}

async fn dispatch(ctx: &Ctx, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
    let cluster = req
        .headers()
        .get(CLUSTER_HEADER)
        .and_then(|v| v.to_str().ok());
    if cluster != Some(ctx.cluster.as_str()) {
        return reply(
            http::StatusCode::FORBIDDEN,
            format!(
                "node {} belongs to cluster `{}`, the request to {:?}",
                ctx.node_id, ctx.cluster, cluster
            ),
        );
    }
    let from = req
        .headers()
        .get(FROM_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<NodeId>().ok());
    if let Some(from) = from
        && ctx.faults.is_blocked(from, ctx.node_id)
    {
        return reply(http::StatusCode::SERVICE_UNAVAILABLE, "injected partition");
    }
    if req.uri().path() == "/raft/status" && req.method() == http::Method::GET {
        return json(&status(ctx, from));
    }
    if req.uri().path().starts_with(MEMBERS_PATH) {
        return membership(ctx, req).await;
    }
    let incarnation = req
        .headers()
        .get(INCARNATION_HEADER)
        .and_then(|v| v.to_str().ok());
    match (from, incarnation) {
        (Some(from), Some(inc)) => {
            if let Err(reason) = ctx.incarnations.check(from, inc) {
                return reply(http::StatusCode::CONFLICT, reason);
            }
        }
        _ => {
            return reply(
                http::StatusCode::BAD_REQUEST,
                format!("raft RPCs must carry {FROM_HEADER} and {INCARNATION_HEADER}"),
            );
        }
    }
    match (req.method().clone(), req.uri().path()) {
        (http::Method::POST, "/raft/append") => {
            match body::<AppendEntriesRequest<TypeConfig>>(req).await {
                Ok(rpc) => json(&ctx.raft.append_entries(rpc).await.map_err(fatal)),
                Err(r) => r,
            }
        }
        (http::Method::POST, "/raft/vote") => match body::<VoteRequest<NodeId>>(req).await {
            Ok(rpc) => json(&ctx.raft.vote(rpc).await.map_err(fatal)),
            Err(r) => r,
        },
        (http::Method::POST, "/raft/snapshot") => {
            match body::<InstallSnapshotRequest<TypeConfig>>(req).await {
                Ok(rpc) => json(&ctx.raft.install_snapshot(rpc).await),
                Err(r) => r,
            }
        }
        (_, path) => reply(http::StatusCode::NOT_FOUND, format!("no raft route {path}")),
    }
}

/// An admin request, read whole.
struct AdminRequest {
    method: http::Method,
    path: String,
    body: Bytes,
    /// Already passed on by a follower (see `FORWARDED_HEADER`).
    forwarded: bool,
    /// What it asks for, in words, for errors.
    action: String,
}

/// The membership admin API (see [`MembershipClient`](crate::ha::MembershipClient)): handled
/// on the leader, forwarded to it from a follower.
async fn membership(ctx: &Ctx, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let forwarded = req.headers().contains_key(FORWARDED_HEADER);
    let action = match (&method, path.strip_prefix(MEMBERS_PATH)) {
        (&http::Method::GET, Some("")) => "list members".to_string(),
        (&http::Method::POST, Some("")) => "add a member".to_string(),
        (&http::Method::DELETE, Some(id)) if id.starts_with('/') => {
            format!("remove node{}", id.replace('/', " "))
        }
        _ => {
            return reply(
                http::StatusCode::NOT_FOUND,
                format!("no admin route {method} {path}"),
            );
        }
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return reply(http::StatusCode::BAD_REQUEST, format!("body: {e}")),
    };
    let req = AdminRequest {
        method,
        path,
        body,
        forwarded,
        action,
    };
    let metrics = ctx.raft.metrics().borrow().clone();
    if metrics.state != openraft::ServerState::Leader || metrics.current_leader != Some(ctx.node_id)
    {
        return not_leading(ctx, &metrics, req).await;
    }
    let result = match req.method {
        http::Method::GET => Ok(()),
        http::Method::POST => match serde_json::from_slice::<AddMember>(&req.body) {
            Ok(add) => {
                admin::add(
                    &ctx.raft,
                    ctx.node_id,
                    add.id,
                    &add.address,
                    admin::CATCH_UP_TIMEOUT,
                )
                .await
            }
            Err(e) => {
                return reply(
                    http::StatusCode::BAD_REQUEST,
                    format!("body is not {{\"id\": <node id>, \"address\": \"host:port\"}}: {e}"),
                );
            }
        },
        _ => match req.path[MEMBERS_PATH.len() + 1..].parse::<NodeId>() {
            Ok(id) => admin::remove(&ctx.raft, ctx.node_id, id, Some(&ctx.peers)).await,
            Err(_) => {
                return reply(
                    http::StatusCode::BAD_REQUEST,
                    format!("`{}` does not end in a node id", req.path),
                );
            }
        },
    };
    match result {
        Ok(()) => json(&Members::of(&ctx.raft, ctx.node_id)),
        Err(e) => membership_error(&e),
    }
}

/// An admin request on a replica that does not lead: passed on to the leader once, else answered
/// with what this replica knows.
async fn not_leading(
    ctx: &Ctx,
    metrics: &openraft::RaftMetrics<NodeId, openraft::BasicNode>,
    req: AdminRequest,
) -> http::Response<Full<Bytes>> {
    let leader = metrics.current_leader.and_then(|l| {
        let node = metrics.membership_config.membership().get_node(&l)?;
        Some((l, node.addr.clone()))
    });
    let outcome = match (leader, req.forwarded) {
        (Some((leader, addr)), false) if leader != ctx.node_id => Some(
            ctx.peers
                .client(leader, &addr)
                .forward(
                    req.method.clone(),
                    &req.path,
                    req.body,
                    &[(FORWARDED_HEADER, ctx.node_id.to_string())],
                    admin::REQUEST_TIMEOUT,
                )
                .await,
        ),
        _ => None,
    };
    let why = match outcome {
        Some(Ok((status, body))) => return reply(status, body),
        Some(Err(e)) => format!(", which node {} cannot reach ({})", ctx.node_id, e.reason),
        None if req.forwarded => " (this request was already forwarded once)".to_string(),
        None => String::new(),
    };
    if req.method == http::Method::GET {
        // The local view still helps when the leader cannot be asked (for instance to see
        // which voters a quorum-less group has); `answered_by` says whose view it is.
        return json(&Members::of(&ctx.raft, ctx.node_id));
    }
    membership_error(&MembershipError::not_leader(
        &ctx.raft,
        ctx.node_id,
        &req.action,
        &why,
    ))
}

fn membership_error(e: &MembershipError) -> http::Response<Full<Bytes>> {
    let mut response = json(e);
    if response.status().is_success() {
        *response.status_mut() = e.status();
    }
    response
}

/// Append and vote can only fail fatally (their API error type is `Infallible`, which has no
/// serde form), so only the fatal part goes on the wire.
fn fatal(e: openraft::error::RaftError<NodeId>) -> openraft::error::Fatal<NodeId> {
    match e {
        openraft::error::RaftError::Fatal(f) => f,
        openraft::error::RaftError::APIError(never) => match never {},
    }
}
