//! Mutual TLS between replicas: each side presents a certificate signed by the configured CA.

use std::path::Path;
use std::sync::Arc;

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
#[derive(Clone)]
pub struct TlsMaterial {
    pub(crate) client: Arc<ClientConfig>,
    pub(crate) server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMaterial")
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
    /// Loads the certificate, key and CA from PEM files.
    pub fn load(paths: &TlsPaths) -> Result<Self, TlsError> {
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
        Self::new(chain, key, roots)
    }

    /// Builds the configurations from in-memory material.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        roots: RootCertStore,
    ) -> Result<Self, TlsError> {
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
        Ok(Self {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// The configuration for dialling peers (presents this replica's certificate).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.client.clone()
    }

    /// The configuration for accepting peers (requires a certificate signed by the CA).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }
}
