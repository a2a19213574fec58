//! roperator: declarative Kubernetes operators.
//!
//! You write one function: given a *parent* object (your custom resource) and the *children*
//! it currently owns, return the children that should exist and the status the parent should
//! show. The engine does the rest: it watches parents and children, calls your function when
//! anything relevant changes, creates, updates and deletes children to match, writes the
//! parent's status, runs your finalizer with retries, and writes only while this replica is
//! allowed to (see [`leader`]).
//!
//! ```no_run
//! use roperator_core::prelude::*;
//! use serde_json::json;
//!
//! pub static ECHO: K8sType = K8sType {
//!     api_version: "examples.roperator.io/v1alpha1",
//!     kind: "EchoServer",
//!     plural: "echoservers",
//!     namespaced: true,
//! };
//!
//! fn sync(req: &SyncRequest) -> Result<SyncResponse, Error> {
//!     let message = req.parent().json()["spec"]["message"].clone();
//!     Ok(SyncResponse::new()
//!         .with_child(&json!({
//!             "apiVersion": "v1", "kind": "ConfigMap",
//!             "metadata": { "name": req.parent().name() },
//!             "data": { "message": message }
//!         }))
//!         .with_status(&json!({ "message": message })))
//! }
//!
//! fn main() -> Result<(), Error> {
//!     let config = ControllerConfig::new("echo-server", ECHO)
//!         .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
//!     run_operator(config, sync)
//! }
//! ```
//!
//! What the engine guarantees:
//! - A failed sync (error, panic, timeout, invalid response) changes nothing: no child is
//!   written or deleted; the failure is logged, counted, shown as a Warning Event on the parent,
//!   in its `status.syncError` and its `Synced=False` condition, and retried with backoff.
//! - A child becomes exactly what the handler returns: a field the handler stops returning is
//!   removed. Fields others set (the API server's defaults, other controllers) are left alone and
//!   do not count as change, so a converged operator writes nothing.
//! - Children are keyed by type, namespace and name, and only objects carrying the controller's
//!   labels and the parent's controller reference are ever touched.
//!
//! # One API style
//!
//! - Types are passed by value ([`K8sType`] is `Copy`): `ControllerConfig::new("echo", ECHO)`,
//!   `request.child(k8s_types::apps::v1::Deployment, "web")`.
//! - Builders configure with `with_*` methods ([`ControllerConfig`], [`Operator`],
//!   [`SyncResponse`], hand-built [`SyncRequest`]s); constructors name what they build
//!   ([`ControllerConfig::new`], [`ControllerConfig::decorator`], [`FinalizeResponse::done`]).
//! - Objects reach the handler as [`Observed`]: one way to read a child by type and name
//!   ([`SyncRequest::child`]), one to iterate a type ([`SyncRequest::children`]), the same for
//!   related objects; JSON with [`Observed::json`], typed with [`Observed::parse`].
//!
//! # Several controllers, related objects, decorators
//!
//! [`Operator`] runs several controllers in one process. A controller may read objects it does
//! not own ([`RelatedConfig`]), and a [decorator](ControllerConfig::decorator) attaches children
//! to existing objects it selects by labels or annotations.
#![warn(missing_docs)]

mod config;
mod engine;
mod error;
mod handler;
mod k8s_type;
pub mod leader;
mod names;
mod object;
mod operator;
mod plan;
mod rbac;
mod readiness;
mod request;
mod response;
mod selector;
pub mod status;

#[cfg(feature = "raft")]
pub mod ha;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use config::{
    ChildConfig, ControllerConfig, DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_CONCURRENT_SYNCS, DEFAULT_RESYNC_PERIOD, DEFAULT_SYNC_TIMEOUT, NamespaceScope,
    Prune, RelatedConfig, Rollout, Select, UpdateStrategy,
};
pub use engine::Monitor;
pub use error::Error;
pub use handler::{AsyncHandler, Handler};
pub use k8s_type::{K8sType, k8s_types};
pub use leader::{AlwaysLeader, LeaderGate, LeaderState, NotLeader, WritePermit};
pub use names::{
    LAST_APPLIED_ANNOTATION, LEADER_TERM_ANNOTATION, MANAGED_BY_LABEL, PARENT_UID_LABEL,
    RECORD_ANNOTATION, is_dns_label, is_dns_subdomain,
};
pub use object::Observed;
pub use operator::{
    DEFAULT_SERVER_ADDRESS, DEFAULT_SHUTDOWN_GRACE, Operator, run_async_operator, run_operator,
    termination_signal,
};
pub use readiness::Readiness;
pub use request::SyncRequest;
pub use response::{FinalizeResponse, SyncResponse};

/// Everything a typical operator needs, in one `use`.
///
/// ```
/// use roperator_core::prelude::*;
/// let _ = ControllerConfig::new("demo", k8s_types::core::v1::Namespace);
/// ```
pub mod prelude {
    pub use crate::{
        AsyncHandler, ChildConfig, ControllerConfig, Error, FinalizeResponse, Handler, K8sType,
        Observed, Operator, Prune, RelatedConfig, Rollout, Select, SyncRequest, SyncResponse,
        k8s_types, run_async_operator, run_operator,
    };
}
