//! The crate's error type.

use std::net::SocketAddr;

/// Errors from building, starting or running an operator, and from reading a
/// [`SyncRequest`](crate::SyncRequest).
///
/// A handler may use it as its own error type: the `?` operator on
/// [`SyncRequest::parent`](crate::SyncRequest::parent) then just works.
///
/// ```
/// use roperator_core::prelude::*;
///
/// fn sync(req: &SyncRequest) -> Result<SyncResponse, Error> {
///     let parent: serde_json::Value = req.parent()?;
///     let _ = parent;
///     Ok(SyncResponse::new())
/// }
/// # let _ = sync;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`OperatorConfig`](crate::OperatorConfig) is not usable; the message says which
    /// setting and why.
    #[error("invalid operator configuration: {0}")]
    Config(String),

    /// An object could not be read as the Rust type asked for.
    #[error("{what} does not deserialize into {rust_type}: {source}")]
    Deserialize {
        /// The object, e.g. `parent EchoServer default/web`.
        what: String,
        /// The Rust type asked for.
        rust_type: &'static str,
        /// serde's message, which names the offending field.
        #[source]
        source: serde_json::Error,
    },

    /// A value could not be turned into JSON.
    #[error("{what} does not serialize to JSON: {source}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// serde's message.
        #[source]
        source: serde_json::Error,
    },

    /// No Kubernetes configuration could be found (no kubeconfig, not in a cluster).
    #[error("no Kubernetes configuration found (set KUBECONFIG, or run inside a cluster): {0}")]
    KubeConfig(#[source] kube::config::InferConfigError),

    /// A Kubernetes client could not be built from the configuration.
    #[error("could not build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),

    /// The metrics and health server could not listen.
    #[error("could not serve metrics and health on {address}: {source}")]
    Server {
        /// The configured address.
        address: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The async runtime for [`run_operator`](crate::run_operator) could not be started, or the
    /// signal handlers could not be installed.
    #[error("could not start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
