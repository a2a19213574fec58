//! The `tenant-operator` binary: runs the operator against a cluster, or against an in-memory
//! API server (`--embedded`, or when no cluster is configured). See `tenant-operator --help`.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use example_support::cluster::{self, Cluster, ClusterError, RequiredCrd};
use example_support::{logging, signal};
use tenant_operator::embedded::{EmbeddedCluster, EmbeddedError};

use crate::cli::{Cli, Command, RunArgs};

/// What the cluster must serve, and how to install it.
const CRD: RequiredCrd = RequiredCrd {
    resource: tenant_operator::TENANT_TYPE,
    install: "cargo run -p tenant-operator -- crd | kubectl apply -f -",
};

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error(transparent)]
    Operator(#[from] roperator_core::Error),
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("cannot start the Raft leader election among replicas: {0}")]
    Raft(#[from] roperator_core::ha::StartError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crd) => example_support::print_crd(tenant_operator::crd_yaml()),
        Some(Command::Run) | None => {
            if let Err(e) = logging::init(cli.run.log_format, &cli.run.log_level) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            example_support::block_on(run(cli.run))
        }
    }
}

async fn run(args: RunArgs) -> Result<(), AppError> {
    let shutdown = signal::shutdown();
    let defaults_namespace = args.defaults_namespace.trim();
    // Fail before starting anything (an embedded server, a cluster probe) on a bad flag; the
    // engine's check names the namespace.
    tenant_operator::tenant_config(defaults_namespace).validate()?;

    if !args.embedded {
        match cluster::connect(CRD).await? {
            Cluster::Ready { client, url } => {
                tracing::info!(%url, defaults_namespace, "running against the Kubernetes cluster");
                // Both controllers write only from the leader: a Raft gate when the replica
                // variables are set, else the always-leader gate of a single replica.
                let leader = example_support::leader_gate().await?;
                let operator = tenant_operator::operator(client, defaults_namespace)
                    .with_server_address(args.metrics_address(false))
                    .with_leader_gate(leader)
                    .with_shutdown_signal(shutdown);
                return Ok(example_support::run(operator).await?);
            }
            Cluster::NotConfigured(looked_at) => {
                tracing::info!(
                    "no Kubernetes cluster is configured: {looked_at}; starting an in-memory one"
                );
            }
        }
    }

    let cluster = EmbeddedCluster::start(&args.kubeconfig_out).await?;
    tracing::info!(url = %cluster.url(), kubeconfig = %cluster.kubeconfig().display(), "in-memory Kubernetes API server started");
    if !args.no_sample {
        cluster.apply_samples(defaults_namespace).await?;
        tracing::info!(
            "created the samples: Tenant acme, ConfigMap {defaults_namespace}/tenant-defaults, \
             Namespace sandbox labelled examples.roperator.io/isolate=true"
        );
    }
    // The one line a user needs, on stdout so it stands apart from the logs.
    println!(
        "\nSee what the operator does with:\n\n    {}\n",
        cluster.kubectl_hint()
    );
    let operator = tenant_operator::operator(cluster.server.client(), defaults_namespace)
        .with_server_address(args.metrics_address(true))
        .with_shutdown_signal(shutdown);
    let result = example_support::run(operator).await;
    drop(cluster);
    Ok(result?)
}
