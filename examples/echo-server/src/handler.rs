//! The echo-server's sync and finalize functions, and the operator configuration that goes with
//! them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use roperator_core::prelude::*;

use crate::children::{self, InvalidSpec};
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

/// The finalizer that makes the engine call [`EchoHandler::finalize`] before a parent goes away.
pub const FINALIZER: &str = "examples.roperator.io/cleanup";

/// The configuration of the echo-server operator: EchoServer parents, Deployment and Service
/// children (both updated in place), and a finalizer.
///
/// ```
/// let config = echo_server::operator_config();
/// assert!(config.validate().is_ok());
/// assert_eq!(config.child_types().len(), 2);
/// ```
pub fn operator_config() -> OperatorConfig {
    OperatorConfig::new(OPERATOR_NAME, &ECHO_TYPE)
        .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Service, ChildConfig::replace())
        .with_finalizer(FINALIZER)
}

/// Why a sync or finalize failed. The engine logs it, records it as a Warning Event on the
/// parent, leaves the children as they are, and retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// The parent or a child could not be read.
    #[error(transparent)]
    Read(#[from] roperator_core::Error),
    /// The parent's spec cannot be served.
    #[error(transparent)]
    InvalidSpec(#[from] InvalidSpec),
}

/// The sync function: the desired Deployment and Service of an EchoServer, and its status.
///
/// It only reads the request: the engine compares the result with the cluster and makes the
/// writes.
pub fn sync(request: &SyncRequest) -> Result<SyncResponse, EchoError> {
    let echo: EchoServer = request.parent()?;
    children::validate(&echo)?;
    let observed = request.child::<Deployment>(&echo.name_any())?;
    let status = status::status(&echo, observed.as_ref(), Timestamp::now());
    Ok(SyncResponse::new()
        .with_status(status)
        .with_child(children::deployment(&echo))
        .with_child(children::service(&echo)))
}
