//! Which Kubernetes API server to run against: the cluster of the kubeconfig, or of the pod, or
//! none at all. Only "none configured" lets the binary start its in-memory server; a configured
//! cluster that cannot be used is an error, so that nobody who expects their cluster silently
//! gets a toy one.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use roperator_core::K8sType;

/// How long a configured cluster may take to answer the first request. Generous: the first
/// request may run the kubeconfig's credential plugin (a cloud CLI fetching a token).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the configured cluster cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A kubeconfig exists but does not describe a cluster the client can talk to.
    #[error(
        "cannot use the kubeconfig {origin}: {reason}\nFix it, or pass --embedded to run \
         against an in-memory API server instead."
    )]
    Kubeconfig {
        /// The kubeconfig file(s).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The kubeconfig's API server does not answer, or refuses the request.
    #[error(
        "cannot use the Kubernetes API server at {url} (from {origin}): {reason}\nCheck that \
         the cluster runs and the kubeconfig's address, certificate authority and credentials \
         are right, or pass --embedded to run against an in-memory API server instead."
    )]
    Unusable {
        /// The API server's URL.
        url: String,
        /// The kubeconfig file(s) naming it.
        origin: String,
        /// What went wrong, down to the cause.
        reason: String,
    },
    /// Running in a pod: an in-memory server would hide a real problem, so no hint for one.
    #[error(
        "running inside a Kubernetes cluster, but its API server cannot be used: {0}\n(check \
         the pod's service account and network policy)"
    )]
    InCluster(String),
    /// The cluster answers but does not serve the operator's custom resource.
    #[error(
        "the {kind} CRD is not installed in the cluster at {url} ({reason}); install it \
         with:\n    {install}\nor run with --embedded"
    )]
    CrdMissing {
        /// The custom resource's kind.
        kind: &'static str,
        /// The API server's URL.
        url: String,
        /// What discovery said.
        reason: String,
        /// The command that installs the CRD.
        install: &'static str,
    },
}

/// The custom resource an operator needs the cluster to serve, and how to install it.
#[derive(Debug, Clone, Copy)]
pub struct RequiredCrd {
    /// The custom resource type.
    pub resource: K8sType,
    /// The command that installs its CRD, e.g.
    /// `cargo run -p echo-server -- crd | kubectl apply -f -`.
    pub install: &'static str,
}

/// The outcome of looking for a cluster.
pub enum Cluster {
    /// A cluster is configured, answers, and serves the required custom resource.
    Ready {
        /// A client for it.
        client: kube::Client,
        /// Its URL, for the log.
        url: String,
    },
    /// No kubeconfig, and not in a pod; says where it looked.
    NotConfigured(String),
}

/// Finds the configured cluster (kubeconfig first, then the pod's service account, as kubectl
/// and kube's `Config::infer` do) and checks that it answers and serves `crd`.
pub async fn connect(crd: RequiredCrd) -> Result<Cluster, ClusterError> {
    let (paths, looked_at) = kubeconfig_paths();
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let (config, origin) = if !paths.is_empty() {
        let origin = origin_of(&paths);
        let config = from_kubeconfig(&paths)
            .await
            .map_err(|reason| ClusterError::Kubeconfig {
                origin: origin.clone(),
                reason,
            })?;
        (config, origin)
    } else if in_cluster {
        let config = kube::Config::incluster()
            .map_err(|e| ClusterError::InCluster(format!("no service account: {e}")))?;
        (config, "the pod's service account".to_string())
    } else {
        return Ok(Cluster::NotConfigured(format!(
            "{looked_at}, and not running in a pod"
        )));
    };

    let url = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let from_pod = paths.is_empty();
    let unusable = |reason: String| {
        if from_pod {
            ClusterError::InCluster(format!("{url}: {reason}"))
        } else {
            ClusterError::Unusable {
                url: url.clone(),
                origin: origin.clone(),
                reason,
            }
        }
    };
    let client = kube::Client::try_from(config)
        .map_err(|e| unusable(format!("cannot build a client: {}", describe(&e))))?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(unusable(describe(&e))),
        Err(_) => {
            return Err(unusable(format!(
                "no answer within {} s",
                PROBE_TIMEOUT.as_secs()
            )));
        }
    }
    match crd_installed(&client, crd.resource).await {
        Ok(None) => Ok(Cluster::Ready { client, url }),
        Ok(Some(reason)) => Err(ClusterError::CrdMissing {
            kind: crd.resource.kind,
            url,
            reason,
            install: crd.install,
        }),
        Err(e) => Err(unusable(describe(&e))),
    }
}

/// The kubeconfig files that exist, and a description of where the lookup went for when none
/// does. Like kubectl: the files `KUBECONFIG` lists (missing ones are skipped) when it is set,
/// else `~/.kube/config`.
fn kubeconfig_paths() -> (Vec<PathBuf>, String) {
    let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        let shown = origin_of(&listed);
        let existing = listed.into_iter().filter(|p| p.exists()).collect();
        return (
            existing,
            format!("KUBECONFIG names no existing file ({shown})"),
        );
    }
    match std::env::home_dir().map(|home| home.join(".kube").join("config")) {
        Some(path) if path.exists() => (vec![path], String::new()),
        Some(path) => (
            Vec::new(),
            format!(
                "no kubeconfig ({} does not exist, KUBECONFIG is not set)",
                path.display()
            ),
        ),
        None => (
            Vec::new(),
            "no kubeconfig (no home directory, KUBECONFIG is not set)".to_string(),
        ),
    }
}

fn origin_of(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(":")
}

/// The client configuration of the merged kubeconfig files, at their current context.
async fn from_kubeconfig(paths: &[PathBuf]) -> Result<kube::Config, String> {
    let mut merged = Kubeconfig::default();
    for path in paths {
        let file = Kubeconfig::read_from(path).map_err(|e| e.to_string())?;
        merged = merged.merge(file).map_err(|e| e.to_string())?;
    }
    let context = merged.current_context.clone();
    let mut config = kube::Config::from_custom_kubeconfig(merged, &KubeConfigOptions::default())
        .await
        .map_err(|e| match &context {
            Some(context) => format!("context {context}: {}", describe(&e)),
            None => describe(&e),
        })?;
    config.apply_debug_overrides();
    Ok(config)
}

/// `None` when the cluster serves `resource`, else why not. Uses discovery, which every
/// authenticated client may read, so it needs no extra RBAC; an error other than "not found"
/// (a refused credential, a server error) is returned as one.
async fn crd_installed(
    client: &kube::Client,
    resource: K8sType,
) -> Result<Option<String>, kube::Error> {
    let group_version = resource.api_version;
    match client.list_api_group_resources(group_version).await {
        Ok(list) if list.resources.iter().any(|r| r.name == resource.plural) => Ok(None),
        Ok(_) => Ok(Some(format!("{group_version} has no {}", resource.plural))),
        // A real API server answers an unknown group version with a plain-text 404, which kube
        // turns into a Status with code 404 but no NotFound reason.
        Err(kube::Error::Api(status)) if status.code == 404 => {
            Ok(Some(format!("{group_version} is not served")))
        }
        Err(e) => Err(e),
    }
}

/// What went wrong, down to the cause: kube's and hyper's outer errors say only "ServiceError:
/// client error (Connect)"; the refused connection or the untrusted certificate is at the end of
/// the chain.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(kube::Error::Api(status)) = error.downcast_ref::<kube::Error>() {
        let hint = match status.code {
            401 => " (the kubeconfig's credentials were not accepted)",
            403 => " (the kubeconfig's user is not allowed to do this)",
            _ => "",
        };
        return format!(
            "the server answered HTTP {} {}: {}{hint}",
            status.code, status.reason, status.message
        );
    }
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        next = e.source();
        let text = if next.is_none() {
            e.to_string()
        } else if let Some(kube::Error::Service(_) | kube::Error::HyperError(_)) =
            e.downcast_ref::<kube::Error>()
        {
            String::new()
        } else if let Some(client) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            let summary = if client.is_connect() {
                "cannot connect"
            } else {
                ""
            };
            summary.to_string()
        } else {
            e.to_string()
        };
        // Wrappers often repeat their source's message in their own.
        if !text.is_empty() && !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
