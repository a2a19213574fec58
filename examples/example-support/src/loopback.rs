//! The embedded mode's API server: the testkit's in-memory server on a loopback port, and a
//! kubeconfig file for `kubectl` that lives as long as the server does.

use std::path::{Path, PathBuf};

use roperator_testkit::{ApiServer, Listening, TestkitError};

/// Why the in-memory cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    /// The API server refused a CRD or an object, or could not listen.
    #[error("the in-memory API server could not be set up: {0}")]
    Testkit(#[from] TestkitError),
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

/// An [`ApiServer`] listening on a loopback port, with a kubeconfig for it on disk. Dropping it
/// stops the listener and removes the kubeconfig.
#[derive(Debug)]
pub struct LoopbackCluster {
    listening: Listening,
    kubeconfig: PathBuf,
}

impl LoopbackCluster {
    /// Makes `server` listen on a free loopback port (plain HTTP: nothing leaves the machine)
    /// and writes a kubeconfig for it to `kubeconfig`, creating its directory.
    pub async fn start(server: &ApiServer, kubeconfig: &Path) -> Result<Self, LoopbackError> {
        let listening = server.listen_on(0, false).await?;
        write_atomically(kubeconfig, &listening.kubeconfig())?;
        Ok(Self {
            listening,
            kubeconfig: kubeconfig.to_path_buf(),
        })
    }

    /// Where the kubeconfig is.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The URL `kubectl` uses.
    pub fn url(&self) -> String {
        self.listening.url()
    }
}

impl Drop for LoopbackCluster {
    fn drop(&mut self) {
        // A kubeconfig left behind would point kubectl at a port nobody serves any more.
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

/// Writes through a temporary file and a rename, so that a reader polling for the file (a script
/// waiting to run kubectl) never sees it half written.
fn write_atomically(path: &Path, contents: &str) -> Result<(), LoopbackError> {
    let fail = |source| LoopbackError::Kubeconfig {
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
