//! The embedded mode: an in-memory Kubernetes API server on a loopback port, with the EchoServer
//! CRD registered, a kubeconfig for `kubectl`, and a sample EchoServer.

use std::path::{Path, PathBuf};

use kube::ResourceExt;
use kube::api::{Api, PostParams};
use roperator_testkit::{ApiServer, Listening, TestkitError};

use crate::EchoServer;

/// The sample applied at start: `deploy/samples/echo.yaml`.
pub const SAMPLE: &str = include_str!("../../../deploy/samples/echo.yaml");

/// Why the embedded cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The API server refused the CRD or the sample, or could not listen.
    #[error("the in-memory API server could not be set up: {0}")]
    Testkit(#[from] TestkitError),
    /// The sample EchoServer could not be created.
    #[error("could not create the sample EchoServer (deploy/samples/echo.yaml): {0}")]
    Sample(String),
    /// The kubeconfig could not be written.
    #[error("could not write the kubeconfig to {path}: {source}")]
    Kubeconfig {
        /// Where it was to be written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// A running in-memory cluster. Dropping it stops the listener and removes the kubeconfig.
#[derive(Debug)]
pub struct EmbeddedCluster {
    /// The API server; [`ApiServer::client`] talks to it in-process.
    pub server: ApiServer,
    listening: Listening,
    kubeconfig: PathBuf,
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
        let listening = server.listen_on(0, false).await?;
        write_atomically(kubeconfig, &listening.kubeconfig())?;
        Ok(Self {
            server,
            listening,
            kubeconfig: kubeconfig.to_path_buf(),
        })
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
        &self.kubeconfig
    }

    /// The URL `kubectl` uses.
    pub fn url(&self) -> String {
        self.listening.url()
    }

    /// The command that shows what the operator did.
    pub fn kubectl_hint(&self) -> String {
        format!(
            "kubectl --kubeconfig {} get echoservers,deployments,services",
            self.kubeconfig.display()
        )
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        // A kubeconfig left behind would point kubectl at a port nobody serves any more.
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

/// Writes through a temporary file and a rename, so that a reader polling for the file (a script
/// waiting to run kubectl) never sees it half written.
fn write_atomically(path: &Path, contents: &str) -> Result<(), EmbeddedError> {
    let fail = |source| EmbeddedError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
