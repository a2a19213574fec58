//! The echo-server's sync and finalize functions, and the operator configuration that goes with
//! them.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use roperator_core::prelude::*;

use crate::children::{self, InvalidSpec};
use crate::message::{self, MessageError};
use crate::{EchoServer, status};

/// The parent type, as the engine knows it.
pub static ECHO_TYPE: K8sType = K8sType {
    api_version: "examples.roperator.io/v1alpha1",
    kind: "EchoServer",
    plural: "echoservers",
    namespaced: true,
};

/// The operator's name: the managed-by label on children, the user agent, the Event source.
pub const OPERATOR_NAME: &str = "echo-server";

/// The finalizer that makes the engine call the finalize hook before a parent goes away.
pub const FINALIZER: &str = "examples.roperator.io/cleanup";

// ANCHOR: config
/// The configuration of the echo-server operator: EchoServer parents, Deployment and Service
/// children (both updated in place, and adopted when an EchoServer deleted with
/// `--cascade=orphan` is created again), the ConfigMaps named by `spec.messageFrom` as related
/// objects (read, never written), and a finalizer so that external cleanup runs before an
/// EchoServer goes away.
///
/// ```
/// let config = echo_server::operator_config();
/// assert!(config.validate().is_ok());
/// assert_eq!(config.child_types().len(), 2);
/// assert_eq!(config.related_types().count(), 1);
/// ```
pub fn operator_config() -> ControllerConfig {
    ControllerConfig::new(OPERATOR_NAME, ECHO_TYPE)
        .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Service, ChildConfig::replace())
        .with_adoption()
        .with_related(message::CONFIG_MAP, message::message_source())
        .with_finalizer(FINALIZER)
}
// ANCHOR_END: config

/// Why a sync failed. The engine logs it, records it as a Warning Event on the parent, leaves
/// the children as they are, and retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// The parent or a child could not be read (the message names the object and the field).
    #[error(transparent)]
    Read(#[from] roperator_core::Error),
    /// The parent's spec cannot be served (the message names the parent and the field).
    #[error(transparent)]
    InvalidSpec(#[from] InvalidSpec),
    /// The ConfigMap key `spec.messageFrom` names cannot be read (the message names the
    /// parent, the ConfigMap and the key).
    #[error(transparent)]
    Message(#[from] MessageError),
}

// ANCHOR: sync
/// The sync function: the desired Deployment and Service of an EchoServer, and its status.
///
/// It only reads the request; the engine compares the result with the cluster and makes the
/// writes.
pub fn sync(request: &SyncRequest) -> Result<SyncResponse, EchoError> {
    let echo: EchoServer = request.parent().parse()?;
    children::validate(&echo)?;
    // The text to serve: `spec.message`, or the ConfigMap key `spec.messageFrom` names.
    let echo = message::resolve(echo, request)?;
    let observed = request.child(k8s_types::apps::v1::Deployment, &echo.name_any());
    let status = status::status(&echo, observed, Timestamp::now());
    log_status_change(&echo, &status);
    Ok(SyncResponse::new()
        .with_child(&children::deployment(&echo))
        .with_child(&children::service(&echo))
        .with_status(&status))
}
// ANCHOR_END: sync

/// Logs the status the engine is about to write, when it differs from the current one, so that
/// the log tells the story of each EchoServer (the engine logs the child writes).
fn log_status_change(echo: &EchoServer, new: &crate::EchoServerStatus) {
    let current = echo.status.as_ref();
    if current.is_none_or(|c| c.phase != new.phase || c.message != new.message) {
        tracing::info!(
            "EchoServer {}: status {:?}: {}",
            children::display_name(echo),
            new.phase,
            new.message
        );
    }
}

/// Whatever an EchoServer holds outside the cluster, which Kubernetes' garbage collector cannot
/// remove: a DNS record, an uptime check, an entry in a service catalog...
///
/// The finalize hook calls [`release`](Self::release) when an EchoServer is deleted, and keeps
/// the EchoServer (and so its children) until it succeeds.
pub trait ExternalResources: Send + Sync + 'static {
    /// Releases what is held for the EchoServer `namespace/name`. Must be idempotent: after a
    /// failure, or a restart of the operator, it is called again.
    fn release(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The echo-server holds nothing outside the cluster, so releasing is logging that fact. An
/// operator that registers DNS names or monitoring checks puts those calls here.
#[derive(Debug, Default, Clone, Copy)]
pub struct NothingExternal;

impl ExternalResources for NothingExternal {
    async fn release(&self, namespace: &str, name: &str) -> Result<(), String> {
        tracing::info!(
            "EchoServer {namespace}/{name} deleted; nothing outside the cluster to release"
        );
        Ok(())
    }
}

/// How long to wait before calling the finalize hook again after a failed release.
pub const CLEANUP_RETRY: Duration = Duration::from_secs(2);

/// The echo-server's handler: the pure [`sync`] function, and a finalize hook that releases
/// [`ExternalResources`] before an EchoServer goes away.
///
/// It is an [`AsyncHandler`] because cleanup calls out (over the network, in a real operator);
/// `sync` itself is plain computation.
#[derive(Debug, Default, Clone)]
pub struct EchoHandler<R = NothingExternal> {
    external: R,
}

impl<R: ExternalResources> EchoHandler<R> {
    /// A handler releasing `external` resources when an EchoServer is deleted.
    pub fn new(external: R) -> Self {
        Self { external }
    }

    /// The external resources this handler releases.
    pub fn external(&self) -> &R {
        &self.external
    }
}

impl<R: ExternalResources> AsyncHandler for EchoHandler<R> {
    type Error = EchoError;

    async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, EchoError> {
        sync(request)
    }

    // ANCHOR: finalize
    async fn finalize(&self, request: &SyncRequest) -> Result<FinalizeResponse, EchoError> {
        let namespace = request.parent().namespace().unwrap_or_default();
        let name = request.parent().name();
        // Read leniently: a parent whose spec no longer deserializes must still be deletable.
        let mut status = request
            .parent()
            .json()
            .get("status")
            .and_then(|s| serde_json::from_value::<crate::EchoServerStatus>(s.clone()).ok())
            .unwrap_or_default();
        match self.external.release(namespace, name).await {
            Ok(()) => Ok(FinalizeResponse::done()),
            Err(reason) => {
                tracing::warn!("EchoServer {namespace}/{name}: cleanup failed, retrying: {reason}");
                status.message = format!("deleting: cleanup failed, retrying: {reason}");
                Ok(FinalizeResponse::retry_after(CLEANUP_RETRY).with_status(&status))
            }
        }
    }
    // ANCHOR_END: finalize
}

/// The echo-server operator on `client`: one controller (`config`, usually
/// [`operator_config`]) with the [`EchoHandler`], named and versioned in the user agent of
/// every request it makes. Set its metrics address, leadership gate and shutdown signal, then
/// [`run`] it.
///
/// ```no_run
/// # async fn example() -> Result<(), roperator_core::Error> {
/// let client = kube::Client::try_default().await.expect("a cluster");
/// let operator = echo_server::operator(client, echo_server::operator_config())
///     .with_shutdown_signal(async { let _ = tokio::signal::ctrl_c().await; });
/// echo_server::run(operator).await
/// # }
/// ```
pub fn operator(client: kube::Client, config: ControllerConfig) -> Operator {
    Operator::new(OPERATOR_NAME, client)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_async_controller(config, EchoHandler::new(NothingExternal))
}

/// Runs `operator` until its shutdown signal, saying where metrics are served once the caches
/// are synced.
pub async fn run(operator: Operator) -> Result<(), roperator_core::Error> {
    example_support::run(operator).await
}
