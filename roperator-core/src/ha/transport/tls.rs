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
    files: Files,
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
            .field("files", &self.inner.files.paths)
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
                files: Files {
                    paths: paths.clone(),
                    state: Mutex::new(FileState {
                        loaded,
                        failed: None,
                    }),
                },
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
        let files = &self.inner.files;
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
        let files = &self.inner.files;
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
        lock(&self.inner.current).clone()
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

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

    use super::*;

    /// Writes a CA and a certificate for `localhost` signed by it under `dir`.
    fn issue(dir: &Path, ca_name: &str) -> TlsPaths {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let paths = TlsPaths {
            cert: dir.join(format!("{ca_name}-cert.pem")),
            key: dir.join(format!("{ca_name}-key.pem")),
            ca: dir.join(format!("{ca_name}-ca.pem")),
        };
        std::fs::write(&paths.cert, cert.pem()).unwrap();
        std::fs::write(&paths.key, key.serialize_pem()).unwrap();
        std::fs::write(&paths.ca, ca.as_ref().pem()).unwrap();
        paths
    }

    fn install(from: &TlsPaths, to: &TlsPaths) {
        for (src, dst) in [
            (&from.cert, &to.cert),
            (&from.key, &to.key),
            (&from.ca, &to.ca),
        ] {
            std::fs::copy(src, dst).unwrap();
        }
    }

    #[test]
    fn a_renewal_that_does_not_parse_names_the_file_and_keeps_the_material_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let paths = issue(dir.path(), "first");
        let material = TlsMaterial::load(&paths).unwrap();
        let in_use = material.client_config();
        assert!(
            !material.reload_if_changed().unwrap(),
            "nothing changed yet"
        );

        std::fs::write(&paths.key, "not a key\n").unwrap();
        let err = material.reload_if_changed().unwrap_err();
        assert!(
            err.to_string().contains(&paths.key.display().to_string()),
            "the error names the file: {err}"
        );
        assert!(Arc::ptr_eq(&material.client_config(), &in_use));

        install(&issue(dir.path(), "second"), &paths);
        assert!(material.reload_if_changed().unwrap(), "good files are used");
        assert!(!Arc::ptr_eq(&material.client_config(), &in_use));
    }
}
