//! Command-line flags and environment variables of the `echo-server` binary.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The echo-server example operator for roperator.
///
/// Without a reachable Kubernetes cluster (or with --embedded) it starts an in-memory API server,
/// writes a kubeconfig for kubectl, applies a sample EchoServer and runs the operator against it.
#[derive(Debug, Parser)]
#[command(name = "echo-server", version, about)]
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
    /// Prints the EchoServer CustomResourceDefinition as YAML (for `kubectl apply -f -`).
    Crd,
}

/// How to run the operator.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Watch only this namespace (repeat, or separate with commas, for several). Default: all.
    #[arg(long = "namespace", env = "ECHO_NAMESPACE", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Where to serve /metrics, /healthz and /readyz. Port 0 picks a free port. Default:
    /// 0.0.0.0:8080 against a cluster, a free loopback port in embedded mode.
    #[arg(long, env = "ECHO_METRICS_ADDRESS")]
    pub metrics_address: Option<SocketAddr>,

    /// Log format: human-readable text, or one JSON object per line for log collectors.
    #[arg(long, env = "ECHO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,roperator_core=debug` (tracing's EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_level: String,

    /// Run against an in-memory API server on a loopback port instead of a cluster.
    #[arg(long, env = "ECHO_EMBEDDED")]
    pub embedded: bool,

    /// Embedded mode: where to write the kubeconfig for kubectl.
    #[arg(
        long,
        env = "ECHO_KUBECONFIG_OUT",
        default_value = "target/echo-server.kubeconfig"
    )]
    pub kubeconfig_out: PathBuf,

    /// Embedded mode: do not apply the sample EchoServer.
    #[arg(long)]
    pub no_sample: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl RunArgs {
    /// The metrics address for a run against a cluster (`embedded == false`) or embedded.
    pub fn metrics_address(&self, embedded: bool) -> SocketAddr {
        self.metrics_address.unwrap_or(if embedded {
            // Nothing scrapes a demo; a fixed port would only collide with something else.
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
        } else {
            roperator_core::DEFAULT_SERVER_ADDRESS
        })
    }
}
