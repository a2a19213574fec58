//! The loopback TCP listener (plain HTTP or HTTPS with a generated certificate) and its kubeconfig.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{ApiServer, TestkitError};

/// A running listener. Serving stops when this value is dropped.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = roperator_testkit::ApiServer::new();
/// let listening = server.listen().await;
/// listening.write_kubeconfig("/tmp/testkit.kubeconfig").unwrap();
/// println!("kubectl --kubeconfig /tmp/testkit.kubeconfig get ns  # {}", listening.url());
/// # }
/// ```
#[derive(Debug)]
pub struct Listening {
    addr: SocketAddr,
    ca_pem: Option<String>,
    stop: watch::Sender<bool>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Listening {
    /// The bound address (127.0.0.1 and the port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The PEM of the self-signed certificate (TLS only); clients trust it as their CA.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A kubeconfig for this listener (context `testkit`, namespace `default`).
    pub fn kubeconfig(&self) -> String {
        let ca = match &self.ca_pem {
            Some(pem) => format!(
                "    certificate-authority-data: {}\n",
                crate::meta::base64(pem.as_bytes())
            ),
            None => String::new(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testkit\n  cluster:\n    server: {url}\n{ca}users:\n- name: testkit\n  user:\n    token: testkit\ncontexts:\n- name: testkit\n  context:\n    cluster: testkit\n    user: testkit\n    namespace: default\ncurrent-context: testkit\n",
            url = self.url()
        )
    }

    /// Writes [`Listening::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: impl AsRef<std::path::Path>) -> Result<(), TestkitError> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig()).map_err(|source| TestkitError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

/// The server certificate, made once per process: every TLS listener serves it, and every
/// namespace's `kube-root-ca.crt` ConfigMap holds it, so that bundle verifies the server as it
/// does on a real cluster.
fn certificate() -> Result<&'static rcgen::CertifiedKey<rcgen::KeyPair>, String> {
    static CERTIFICATE: OnceLock<Result<rcgen::CertifiedKey<rcgen::KeyPair>, String>> =
        OnceLock::new();
    CERTIFICATE
        .get_or_init(|| {
            rcgen::generate_simple_self_signed(vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
            ])
            .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The server certificate in PEM, for `kube-root-ca.crt`.
pub(crate) fn certificate_pem() -> Option<String> {
    certificate().ok().map(|c| c.cert.pem())
}

fn tls_config() -> Result<(rustls::ServerConfig, String), TestkitError> {
    let err = |e: &dyn std::fmt::Display| TestkitError::Listen(format!("cannot set up TLS: {e}"));
    let certified = certificate().map_err(|e| err(&e))?;
    let cert_der = certified.cert.der().clone();
    let key_der = rustls_pki_types::PrivateKeyDer::Pkcs8(
        rustls_pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
    );
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| err(&e))?
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key_der)
    .map_err(|e| err(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, certified.cert.pem()))
}

impl ApiServer {
    /// Serves plain HTTP on 127.0.0.1 (a free port).
    ///
    /// # Panics
    /// If no loopback port can be bound (use [`ApiServer::listen_on`] to handle that).
    pub async fn listen(&self) -> Listening {
        match self.listen_on(0, false).await {
            Ok(l) => l,
            Err(e) => panic!("roperator-testkit: {e}"),
        }
    }

    /// Serves HTTPS with a freshly generated self-signed certificate on 127.0.0.1 (a free port);
    /// the kubeconfig embeds the certificate as its CA.
    ///
    /// # Panics
    /// If no loopback port can be bound (use [`ApiServer::listen_on`] to handle that).
    pub async fn listen_tls(&self) -> Listening {
        match self.listen_on(0, true).await {
            Ok(l) => l,
            Err(e) => panic!("roperator-testkit: {e}"),
        }
    }

    /// Serves on 127.0.0.1:`port` (0 for any free port), with TLS or not.
    pub async fn listen_on(&self, port: u16, tls: bool) -> Result<Listening, TestkitError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| TestkitError::Listen(format!("cannot bind 127.0.0.1:{port}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TestkitError::Listen(e.to_string()))?;
        let (acceptor, ca_pem) = if tls {
            let (config, pem) = tls_config()?;
            (
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
                Some(pem),
            )
        } else {
            (None, None)
        };
        let (stop, mut stopped) = watch::channel(false);
        let service = self.service();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                let acceptor = acceptor.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let mut s = service.clone();
                        tower::Service::call(&mut s, req)
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            let Ok(tls) = acceptor.accept(stream).await else {
                                return;
                            };
                            let conn = builder.serve_connection(TokioIo::new(tls), svc);
                            tokio::select! { _ = conn => {}, _ = stopped.changed() => {} }
                        }
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            tokio::select! { _ = conn => {}, _ = stopped.changed() => {} }
                        }
                    }
                });
            }
        });
        Ok(Listening { addr, ca_pem, stop })
    }
}
