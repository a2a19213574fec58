//! The embedded mode: an in-memory Kubernetes API server on a loopback port, with the EchoServer
//! CRD registered, a kubeconfig for `kubectl`, and a sample EchoServer.

use std::path::Path;

use example_support::loopback::{LoopbackCluster, LoopbackError};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use roperator_testkit::{ApiServer, TestkitError};

use crate::EchoServer;

/// The sample applied at start: `deploy/samples/echo.yaml`.
pub const SAMPLE: &str = include_str!("../../../deploy/samples/echo.yaml");

/// Why the embedded cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The API server refused the CRD, or could not listen, or the kubeconfig could not be
    /// written.
    #[error(transparent)]
    Loopback(#[from] LoopbackError),
    /// The sample EchoServer could not be created.
    #[error("could not create the sample EchoServer (deploy/samples/echo.yaml): {0}")]
    Sample(String),
}

impl From<TestkitError> for EmbeddedError {
    fn from(e: TestkitError) -> Self {
        Self::Loopback(e.into())
    }
}

/// A running in-memory cluster. Dropping it stops the listener and removes the kubeconfig.
#[derive(Debug)]
pub struct EmbeddedCluster {
    /// The API server; [`ApiServer::client`] talks to it in-process.
    pub server: ApiServer,
    loopback: LoopbackCluster,
}

impl EmbeddedCluster {
    /// Starts the server, registers the EchoServer CRD, and writes a kubeconfig to `kubeconfig`.
    ///
    /// Deployments are reported available as soon as they are written (there are no pods here),
    /// so an EchoServer's status reaches `Ready` as it would on a cluster.
    pub async fn start(kubeconfig: &Path) -> Result<Self, EmbeddedError> {
        let server = ApiServer::new();
        server.register_crd(&crate::crd())?;
        server.simulate_workloads(true);
        let loopback = LoopbackCluster::start(&server, kubeconfig).await?;
        Ok(Self { server, loopback })
    }

    /// Creates the sample EchoServer ([`SAMPLE`]) through the API, as `kubectl create` would.
    pub async fn apply_sample(&self) -> Result<EchoServer, EmbeddedError> {
        let sample: EchoServer = serde_saphyr::from_str(SAMPLE)
            .map_err(|e| EmbeddedError::Sample(format!("it does not parse: {e}")))?;
        let namespace = sample.namespace().unwrap_or_else(|| "default".to_string());
        let api: Api<EchoServer> = Api::namespaced(self.server.client(), &namespace);
        api.create(&PostParams::default(), &sample)
            .await
            .map_err(|e| EmbeddedError::Sample(format!("the API server refused it: {e}")))
    }

    /// Where the kubeconfig is.
    pub fn kubeconfig(&self) -> &Path {
        self.loopback.kubeconfig()
    }

    /// The URL `kubectl` uses.
    pub fn url(&self) -> String {
        self.loopback.url()
    }

    /// The command that shows what the operator did.
    pub fn kubectl_hint(&self) -> String {
        format!(
            "kubectl --kubeconfig {} get echoservers,deployments,services",
            self.kubeconfig().display()
        )
    }
}
