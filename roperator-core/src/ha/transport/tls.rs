//! Mutual TLS between replicas: each side presents a certificate signed by the configured CA.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::ha::config::TlsPaths;

/// Why the TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read TLS {what} {}: {source}", path.display())]
    Read {
        /// Which file (certificate, key, CA).
        what: &'static str,
        /// Its path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file holds no usable PEM item.
    #[error("TLS {what} {} holds no valid PEM {what}: {reason}", path.display())]
    Pem {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: std::path::PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// rustls refused the material (for instance a key that does not match the certificate).
    #[error("TLS setup failed: {0}")]
    Rustls(String),
}

/// The client and server TLS configurations of one replica.
///
/// Loaded from files ([`TlsMaterial::load`]), it follows the files: cert-manager renews the
/// certificate (and kubelet swaps the mounted Secret) long before the old one expires, while the
/// replica keeps running. So every new connection, accepted or dialled, first compares the files'
/// modification time, size and inode with those of the material in use (three `stat` calls) and
/// reloads them when they changed. Established connections keep the session they negotiated;
/// TLS checks certificates only during the handshake. A reload that fails (a file half written,
/// a key that does not match, garbage) keeps the previous material and logs an error naming the
/// file; it is tried again when the files change again.
#[derive(Clone)]
pub struct TlsMaterial {
    inner: Arc<Inner>,
}

struct Inner {
    current: Mutex<Configs>,
    /// `None` for material built in memory ([`TlsMaterial::new`]): nothing to reload.
    files: Option<Files>,
}

#[derive(Clone)]
struct Configs {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

struct Files {
    paths: TlsPaths,
    state: Mutex<FileState>,
}

struct FileState {
    /// The files as they were when the material in use was read.
    loaded: Stamp,
    /// The files as they were when a reload last failed (to log each failure once).
    failed: Option<Stamp>,
}

/// What tells a changed file apart: modification time, size and (on Unix) inode, for the
/// certificate, the key and the CA. A file that cannot be read stamps as `None`.
type Stamp = [Option<(SystemTime, u64, u64)>; 3];

fn stamp(paths: &TlsPaths) -> Stamp {
    [&paths.cert, &paths.key, &paths.ca].map(|path| {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some((meta.modified().ok()?, meta.len(), inode))
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("files", &self.inner.files.as_ref().map(|f| &f.paths))
            .finish()
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block".to_string(),
        });
    }
    Ok(certs)
}

impl TlsMaterial {
    /// Loads the certificate, key and CA from PEM files, and reloads them when they change.
    pub fn load(paths: &TlsPaths) -> Result<Self, TlsError> {
        let loaded = stamp(paths);
        let configs = Self::read_files(paths)?;
        Ok(Self {
            inner: Arc::new(Inner {
                current: Mutex::new(configs),
                files: Some(Files {
                    paths: paths.clone(),
                    state: Mutex::new(FileState {
                        loaded,
                        failed: None,
                    }),
                }),
            }),
        })
    }

    fn read_files(paths: &TlsPaths) -> Result<Configs, TlsError> {
        let chain = certs("certificate", &paths.cert)?;
        let key_pem = read("key", &paths.key)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
            what: "key",
            path: paths.key.clone(),
            reason: e.to_string(),
        })?;
        let mut roots = RootCertStore::empty();
        for ca in certs("CA", &paths.ca)? {
            roots
                .add(ca)
                .map_err(|e| TlsError::Rustls(format!("CA {}: {e}", paths.ca.display())))?;
        }
        Self::configs(chain, key, roots).map_err(|e| match e {
            // Name the files: the certificate and the key are the usual suspects.
            TlsError::Rustls(reason) => TlsError::Rustls(format!(
                "{reason} (certificate {}, key {})",
                paths.cert.display(),
                paths.key.display()
            )),
            other => other,
        })
    }

    /// Reads the files again if they changed since the material in use was read. Returns whether
    /// new material is now in use; on an error the previous material stays in use.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let Some(files) = &self.inner.files else {
            return Ok(false);
        };
        let now = stamp(&files.paths);
        let mut state = lock(&files.state);
        if now == state.loaded {
            return Ok(false);
        }
        match Self::read_files(&files.paths) {
            Ok(configs) => {
                *lock(&self.inner.current) = configs;
                state.loaded = now;
                state.failed = None;
                Ok(true)
            }
            Err(e) => {
                state.failed = Some(now);
                Err(e)
            }
        }
    }

    /// The current configurations, after reloading changed files (see the type's docs).
    fn refreshed(&self) -> Configs {
        if let Some(files) = &self.inner.files {
            let failed_before = lock(&files.state).failed;
            match self.reload_if_changed() {
                Ok(true) => tracing::info!(
                    cert = %files.paths.cert.display(),
                    "raft TLS files changed: new connections use the new certificate"
                ),
                Ok(false) => {}
                // The same broken files are retried on every connection but reported once.
                Err(e) if failed_before != lock(&files.state).failed => tracing::error!(
                    error = %e,
                    "reloading the raft TLS files failed; new connections keep the previous \
                     certificate"
                ),
                Err(_) => {}
            }
        }
        lock(&self.inner.current).clone()
    }

    /// Builds the configurations from in-memory material (never reloaded).
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        roots: RootCertStore,
    ) -> Result<Self, TlsError> {
        Ok(Self {
            inner: Arc::new(Inner {
                current: Mutex::new(Self::configs(chain, key, roots)?),
                files: None,
            }),
        })
    }

    fn configs(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        roots: RootCertStore,
    ) -> Result<Configs, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(roots);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| TlsError::Rustls(format!("client verifier: {e}")))?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| TlsError::Rustls(format!("server certificate: {e}")))?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| TlsError::Rustls(format!("client certificate: {e}")))?;
        client.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Configs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// The configuration for dialling peers (presents this replica's certificate), reloaded
    /// first if the files changed.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.refreshed().client
    }

    /// The configuration for accepting peers (requires a certificate signed by the CA), reloaded
    /// first if the files changed.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.refreshed().server
    }
}

/// How a [`Network`](super::Network) secures the connections it dials.
#[derive(Clone, Debug)]
pub enum ClientTls {
    /// A fixed configuration.
    Config(Arc<ClientConfig>),
    /// This replica's material: reloaded when its files change.
    Material(TlsMaterial),
}

impl ClientTls {
    /// The configuration for the next connection.
    pub(crate) fn config(&self) -> Arc<ClientConfig> {
        match self {
            Self::Config(c) => c.clone(),
            Self::Material(m) => m.client_config(),
        }
    }
}

impl From<Arc<ClientConfig>> for ClientTls {
    fn from(config: Arc<ClientConfig>) -> Self {
        Self::Config(config)
    }
}

impl From<TlsMaterial> for ClientTls {
    fn from(material: TlsMaterial) -> Self {
        Self::Material(material)
    }
}

/// How a [`RaftServer`](super::RaftServer) secures the connections it accepts.
#[derive(Clone, Debug)]
pub enum ServerTls {
    /// A fixed configuration.
    Config(Arc<ServerConfig>),
    /// This replica's material: reloaded when its files change.
    Material(TlsMaterial),
}

impl ServerTls {
    /// The configuration for the next connection.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        match self {
            Self::Config(c) => c.clone(),
            Self::Material(m) => m.server_config(),
        }
    }
}

impl From<Arc<ServerConfig>> for ServerTls {
    fn from(config: Arc<ServerConfig>) -> Self {
        Self::Config(config)
    }
}

impl From<TlsMaterial> for ServerTls {
    fn from(material: TlsMaterial) -> Self {
        Self::Material(material)
    }
}
