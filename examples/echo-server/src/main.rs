//! The `echo-server` binary: runs the operator against a cluster, or against an in-memory API
//! server (`--embedded`, or when no cluster is configured). See `echo-server --help`.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use echo_server::embedded::{EmbeddedCluster, EmbeddedError};
use example_support::cluster::{self, Cluster, ClusterError, RequiredCrd};
use example_support::{logging, signal};

use crate::cli::{Cli, Command, RaftArgs, RaftCommand, RunArgs};

/// What the cluster must serve, and how to install it.
const CRD: RequiredCrd = RequiredCrd {
    resource: echo_server::ECHO_TYPE,
    install: "cargo run -p echo-server -- crd | kubectl apply -f -",
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
        Some(Command::Crd) => example_support::print_crd(echo_server::crd_yaml()),
        Some(Command::Raft(args)) => raft_admin(args),
        Some(Command::Run) | None => {
            if let Err(e) = logging::init(cli.run.log_format, &cli.run.log_level) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            example_support::block_on(run(cli.run))
        }
    }
}

/// `echo-server raft ...`: membership of the replicas through the admin API of a replica.
fn raft_admin(args: RaftArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(raft_command(args)) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RaftAdminError {
    #[error("cannot read this replica's Raft settings (run the command in a replica's pod): {0}")]
    Config(#[from] roperator_core::ha::ConfigError),
    #[error(transparent)]
    Admin(#[from] roperator_core::ha::AdminError),
    #[error(
        "no address is known for node {0}: pass --address <host>:<port> (with \
         ROPERATOR_RAFT_PEERS, only listed nodes have one)"
    )]
    NoAddress(u64),
}

async fn raft_command(args: RaftArgs) -> Result<String, RaftAdminError> {
    use roperator_core::ha::MembershipClient;

    let config = roperator_core::ha::RaftConfig::from_env()?;
    let mut client = MembershipClient::for_local_replica(&config)?;
    if let Some(server) = &args.server {
        client = client.with_server(server);
    }
    Ok(match args.command {
        RaftCommand::Members => client.members().await?.to_string(),
        RaftCommand::AddMember { id, address } => {
            let address = address
                .or_else(|| config.address_of(id))
                .ok_or(RaftAdminError::NoAddress(id))?;
            let members = client.add_member(id, &address).await?;
            format!("added node {id} at {address} as a voter\n{members}")
        }
        RaftCommand::RemoveMember { id } => {
            let members = client.remove_member(id).await?;
            format!("removed node {id}\n{members}")
        }
    })
}

async fn run(args: RunArgs) -> Result<(), AppError> {
    let shutdown = signal::shutdown();
    let mut config = echo_server::operator_config();
    // Invalid names are reported by the engine's configuration check, naming the namespace.
    let namespaces: Vec<&str> = args.namespaces.iter().map(|n| n.trim()).collect();
    if !namespaces.is_empty() {
        config = config.with_namespaces(namespaces);
    }
    // Fail before starting anything (an embedded server, a cluster probe) on a bad flag.
    config.validate()?;

    if !args.embedded {
        match cluster::connect(CRD).await? {
            Cluster::Ready { client, url } => {
                tracing::info!(%url, "running against the Kubernetes cluster");
                let leader = example_support::leader_gate().await?;
                let operator = echo_server::operator(client, config)
                    .with_server_address(args.metrics_address(false))
                    .with_leader_gate(leader)
                    .with_shutdown_signal(shutdown);
                return Ok(echo_server::run(operator).await?);
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
        let sample = cluster.apply_sample().await?;
        tracing::info!(
            "created the sample EchoServer default/{} (deploy/samples/echo.yaml)",
            kube::ResourceExt::name_any(&sample)
        );
    }
    // The one line a user needs, on stdout so it stands apart from the logs.
    println!(
        "\nSee what the operator does with:\n\n    {}\n",
        cluster.kubectl_hint()
    );
    let operator = echo_server::operator(cluster.server.client(), config)
        .with_server_address(args.metrics_address(true))
        .with_shutdown_signal(shutdown);
    let result = echo_server::run(operator).await;
    drop(cluster);
    Ok(result?)
}
