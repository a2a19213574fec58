//! The embedded mode: an in-memory Kubernetes API server on a loopback port, with the Tenant
//! CRD registered, a kubeconfig for `kubectl`, and the samples of `samples/`.

use std::path::Path;

use example_support::loopback::{LoopbackCluster, LoopbackError};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use roperator_testkit::{ApiServer, TestkitError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Tenant;

/// The sample Tenant: `samples/tenant.yaml`.
pub const TENANT_SAMPLE: &str = include_str!("../samples/tenant.yaml");
/// The sample defaults: `samples/tenant-defaults.yaml` (its namespace is replaced by the
/// operator's defaults namespace).
pub const DEFAULTS_SAMPLE: &str = include_str!("../samples/tenant-defaults.yaml");
/// The sample namespace that asks for isolation: `samples/isolated-namespace.yaml`.
pub const ISOLATED_SAMPLE: &str = include_str!("../samples/isolated-namespace.yaml");

/// Why the embedded cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The API server refused the CRD, or could not listen, or the kubeconfig could not be
    /// written.
    #[error(transparent)]
    Loopback(#[from] LoopbackError),
    /// A sample could not be created.
    #[error("could not create the sample {sample}: {reason}")]
    Sample {
        /// Which sample.
        sample: &'static str,
        /// Why.
        reason: String,
    },
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
    /// Starts the server, registers the Tenant CRD, and writes a kubeconfig to `kubeconfig`.
    pub async fn start(kubeconfig: &Path) -> Result<Self, EmbeddedError> {
        let server = ApiServer::new();
        server.register_crd(&crate::crd())?;
        let loopback = LoopbackCluster::start(&server, kubeconfig).await?;
        Ok(Self { server, loopback })
    }

    /// Creates the samples through the API, as `kubectl create` would: the defaults in
    /// `defaults_namespace` (creating it if needed), the isolated namespace, then the Tenant.
    pub async fn apply_samples(&self, defaults_namespace: &str) -> Result<(), EmbeddedError> {
        let client = self.server.client();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let present = namespaces.get_opt(defaults_namespace).await;
        if present
            .map_err(|e| sample_error("the defaults namespace", e))?
            .is_none()
        {
            let mut namespace = Namespace::default();
            namespace.metadata.name = Some(defaults_namespace.to_string());
            create(&namespaces, &namespace, "the defaults namespace").await?;
        }
        let mut defaults: ConfigMap = parse(DEFAULTS_SAMPLE, "samples/tenant-defaults.yaml")?;
        defaults.metadata.namespace = Some(defaults_namespace.to_string());
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), defaults_namespace);
        create(&config_maps, &defaults, "samples/tenant-defaults.yaml").await?;
        let isolated: Namespace = parse(ISOLATED_SAMPLE, "samples/isolated-namespace.yaml")?;
        create(&namespaces, &isolated, "samples/isolated-namespace.yaml").await?;
        let tenant: Tenant = parse(TENANT_SAMPLE, "samples/tenant.yaml")?;
        create(&Api::all(client), &tenant, "samples/tenant.yaml").await
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
            "kubectl --kubeconfig {} get tenants,namespaces,resourcequotas,networkpolicies -A",
            self.kubeconfig().display()
        )
    }
}

fn sample_error(sample: &'static str, e: impl std::fmt::Display) -> EmbeddedError {
    EmbeddedError::Sample {
        sample,
        reason: e.to_string(),
    }
}

fn parse<T: DeserializeOwned>(yaml: &str, sample: &'static str) -> Result<T, EmbeddedError> {
    serde_saphyr::from_str(yaml)
        .map_err(|e| sample_error(sample, format!("it does not parse: {e}")))
}

async fn create<T>(api: &Api<T>, object: &T, sample: &'static str) -> Result<(), EmbeddedError>
where
    T: Clone + std::fmt::Debug + Serialize + DeserializeOwned,
{
    api.create(&PostParams::default(), object)
        .await
        .map(drop)
        .map_err(|e| sample_error(sample, format!("the API server refused it: {e}")))
}
