//! The `echo-server` binary: runs the operator against a cluster, or against an in-memory API
//! server (`--embedded`, or when no cluster is reachable). See `echo-server --help`.

mod cli;
mod logging;
mod signal;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use echo_server::embedded::{EmbeddedCluster, EmbeddedError};

use crate::cli::{Cli, Command, RaftArgs, RaftCommand, RunArgs};

/// How long to wait for a configured cluster to answer before deciding there is none.
const CLUSTER_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error(transparent)]
    Operator(#[from] roperator_core::Error),
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error(
        "running inside a Kubernetes cluster, but its API server cannot be used: {0}\n(check the pod's service account and network policy)"
    )]
    InCluster(String),
    #[error(
        "the EchoServer CRD is not installed in the cluster ({0}); install it with:\n    cargo run -p echo-server -- crd | kubectl apply -f -\nor run with --embedded"
    )]
    CrdMissing(String),
    #[error("cannot start the Raft leader election among replicas: {0}")]
    Raft(#[from] roperator_core::ha::StartError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crd) => print_crd(),
        Some(Command::Raft(args)) => raft_admin(args),
        Some(Command::Run) | None => {
            if let Err(e) = logging::init(cli.run.log_format, &cli.run.log_level) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("error: could not start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let code = match runtime.block_on(run(cli.run)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    ExitCode::FAILURE
                }
            };
            // A handler call stuck past its timeout cannot be stopped; dropping the runtime
            // would wait for it, and the process would not exit on SIGTERM.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            code
        }
    }
}

fn print_crd() -> ExitCode {
    match echo_server::crd_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: could not write the CRD as YAML: {e}");
            ExitCode::FAILURE
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
        config = config.within_namespaces(namespaces);
    }
    // Fail before starting anything (an embedded server, a cluster probe) on a bad flag.
    config.validate()?;

    if !args.embedded {
        match cluster_client().await {
            Ok((client, url)) => {
                tracing::info!(%url, "running against the Kubernetes cluster");
                check_crd_installed(&client).await?;
                let config = config.with_server_address(args.metrics_address(false));
                // A Raft replica when the replica variables are set (deploy/ sets them), else
                // the only writer.
                let leader: std::sync::Arc<dyn roperator_core::LeaderGate> =
                    if roperator_core::ha::RaftConfig::configured_in_env() {
                        std::sync::Arc::new(roperator_core::ha::RaftGate::from_env().await?)
                    } else {
                        std::sync::Arc::new(roperator_core::AlwaysLeader::new())
                    };
                return Ok(
                    echo_server::run_with_leader_gate(client, config, leader, shutdown).await?,
                );
            }
            Err(NoCluster::InCluster(reason)) => return Err(AppError::InCluster(reason)),
            Err(NoCluster::Unreachable(reason)) => {
                tracing::info!(
                    "no reachable Kubernetes cluster ({reason}); starting an in-memory one"
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
    let config = config.with_server_address(args.metrics_address(true));
    let result = echo_server::run(cluster.server.client(), config, shutdown).await;
    drop(cluster);
    Ok(result?)
}

enum NoCluster {
    /// Running in a pod: falling back to an in-memory server would hide a real problem.
    InCluster(String),
    Unreachable(String),
}

/// A client for the cluster of the kubeconfig (or the pod's service account), if it answers.
async fn cluster_client() -> Result<(kube::Client, String), NoCluster> {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let fail = |reason: String| {
        if in_cluster {
            NoCluster::InCluster(reason)
        } else {
            NoCluster::Unreachable(reason)
        }
    };
    let config = kube::Config::infer()
        .await
        .map_err(|e| fail(format!("no kubeconfig found: {e}")))?;
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|e| fail(format!("cannot build a client for {url}: {e}")))?;
    match tokio::time::timeout(CLUSTER_PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok((client, url)),
        Ok(Err(e)) => Err(fail(format!("{url} does not answer: {e}"))),
        Err(_) => Err(fail(format!(
            "{url} did not answer within {} s",
            CLUSTER_PROBE_TIMEOUT.as_secs()
        ))),
    }
}

/// Fails with instructions when the cluster does not serve EchoServers. Uses discovery, which
/// every authenticated client may read, so it needs no extra RBAC.
async fn check_crd_installed(client: &kube::Client) -> Result<(), AppError> {
    let group_version = echo_server::ECHO_TYPE.api_version;
    match client.list_api_group_resources(group_version).await {
        Ok(list)
            if list
                .resources
                .iter()
                .any(|r| r.name == echo_server::ECHO_TYPE.plural) =>
        {
            Ok(())
        }
        Ok(_) => Err(AppError::CrdMissing(format!(
            "{group_version} has no echoservers"
        ))),
        Err(e) => Err(AppError::CrdMissing(format!(
            "{group_version} is not served: {e}"
        ))),
    }
}
