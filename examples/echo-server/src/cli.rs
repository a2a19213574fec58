//! Command-line flags and environment variables of the `echo-server` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use example_support::logging::LogFormat;

/// The echo-server example operator for roperator.
///
/// Runs against the cluster of the kubeconfig ($KUBECONFIG, else ~/.kube/config) or, in a pod,
/// of its service account; a configured cluster that cannot be used (connection refused,
/// untrusted certificate, refused credentials...) is an error. With --embedded, or when no
/// cluster is configured at all, it starts an in-memory API server instead, writes a kubeconfig
/// for kubectl, applies a sample EchoServer and runs the operator against it.
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
    /// Lists or changes the Raft membership of the replicas (scaling, recovering a replica whose
    /// volume was wiped). Run it in a replica's pod, e.g. `kubectl exec echo-server-0 --
    /// echo-server raft members`: it uses that replica's ROPERATOR_RAFT_* settings and
    /// certificate, and asks that replica, which forwards changes to the leader.
    Raft(RaftArgs),
}

/// The `raft` subcommands.
#[derive(Debug, clap::Args)]
pub struct RaftArgs {
    /// Raft address (`host:port`) of the replica to ask; its host must match the replica's
    /// certificate. Default: this pod's replica, on loopback.
    #[arg(long, global = true)]
    pub server: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: RaftCommand,
}

/// Membership operations.
#[derive(Debug, Subcommand)]
pub enum RaftCommand {
    /// Lists the voters and learners with their addresses, the leader and its term.
    Members,
    /// Adds a replica: as a learner until it has caught up, then as a voter. Start its pod first.
    AddMember {
        /// Its node id (the StatefulSet ordinal).
        #[arg(long)]
        id: u64,
        /// Its Raft address. Default: the StatefulSet pod name of that ordinal,
        /// `<statefulset>-<id>.<service>.<namespace>.svc:<port>`, or its entry in
        /// ROPERATOR_RAFT_PEERS.
        #[arg(long)]
        address: Option<String>,
    },
    /// Removes a replica (voter or learner). Do it before scaling the StatefulSet down.
    RemoveMember {
        /// Its node id (the StatefulSet ordinal).
        #[arg(long)]
        id: u64,
    },
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

    /// Run against an in-memory API server on a loopback port, even if a cluster is configured.
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

impl RunArgs {
    /// The metrics address for a run against a cluster (`embedded == false`) or embedded.
    pub fn metrics_address(&self, embedded: bool) -> SocketAddr {
        example_support::metrics_address(self.metrics_address, embedded)
    }
}
