//! Command-line flags and environment variables of the `tenant-operator` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use example_support::logging::LogFormat;

/// The tenant-operator example for roperator: Tenants get namespaces with a resource quota and
/// network isolation, and namespaces labelled examples.roperator.io/isolate=true get a
/// default-deny-ingress NetworkPolicy.
///
/// Runs against the cluster of the kubeconfig ($KUBECONFIG, else ~/.kube/config) or, in a pod,
/// of its service account; a configured cluster that cannot be used (connection refused,
/// untrusted certificate, refused credentials...) is an error. With --embedded, or when no
/// cluster is configured at all, it starts an in-memory API server instead, writes a kubeconfig
/// for kubectl, applies the samples and runs the operator against it.
#[derive(Debug, Parser)]
#[command(name = "tenant-operator", version, about)]
pub struct Cli {
    /// What to do (default: run the operator).
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the operator (the default).
    Run,
    /// Prints the Tenant CustomResourceDefinition as YAML (for `kubectl apply -f -`).
    Crd,
}

/// How to run the operator.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The namespace of the ConfigMap tenant-defaults (keys cpu, memory, pods), which fills in
    /// the quota values a Tenant leaves out. Usually the operator's own namespace.
    #[arg(
        long,
        env = "TENANT_DEFAULTS_NAMESPACE",
        default_value = tenant_operator::DEFAULT_DEFAULTS_NAMESPACE
    )]
    pub defaults_namespace: String,

    /// Where to serve /metrics, /healthz and /readyz. Port 0 picks a free port. Default:
    /// 0.0.0.0:8080 against a cluster, a free loopback port in embedded mode.
    #[arg(long, env = "TENANT_METRICS_ADDRESS")]
    pub metrics_address: Option<SocketAddr>,

    /// Log format: human-readable text, or one JSON object per line for log collectors.
    #[arg(long, env = "TENANT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,roperator_core=debug` (tracing's EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_level: String,

    /// Run against an in-memory API server on a loopback port, even if a cluster is configured.
    #[arg(long, env = "TENANT_EMBEDDED")]
    pub embedded: bool,

    /// Embedded mode: where to write the kubeconfig for kubectl.
    #[arg(
        long,
        env = "TENANT_KUBECONFIG_OUT",
        default_value = "target/tenant-operator.kubeconfig"
    )]
    pub kubeconfig_out: PathBuf,

    /// Embedded mode: do not apply the samples (a Tenant, tenant-defaults, an isolated
    /// namespace).
    #[arg(long)]
    pub no_sample: bool,
}

impl RunArgs {
    /// The metrics address for a run against a cluster (`embedded == false`) or embedded.
    pub fn metrics_address(&self, embedded: bool) -> SocketAddr {
        example_support::metrics_address(self.metrics_address, embedded)
    }
}
