//! The two operators doing the job, each run alone in a process of its own (this binary, with
//! `STORM_ROLE=operator`) so that its CPU time is its own: roperator configured as the
//! echo-server is, and a kube-runtime controller written by hand as its documentation teaches.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::workload::{NS, STORM, Storm, deployment, service, status};

pub const ROPERATOR: &str = "storm-roperator";
pub const BASELINE: &str = "storm-baseline";
const FINALIZER: &str = "bench.roperator.io/cleanup";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Contender {
    Roperator,
    Baseline,
}

impl Contender {
    pub fn name(self) -> &'static str {
        match self {
            Contender::Roperator => "roperator",
            Contender::Baseline => "kube-runtime",
        }
    }

    /// The start of the user agent of its every request.
    pub fn agent(self) -> &'static str {
        match self {
            Contender::Roperator => ROPERATOR,
            Contender::Baseline => BASELINE,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Contender::Roperator, Contender::Baseline]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

// ---- roperator: the echo-server's configuration and handler. ----

struct StormHandler;

impl AsyncHandler for StormHandler {
    type Error = Error;

    async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, Error> {
        let storm: Storm = request.parent().parse()?;
        let observed: Option<Deployment> = request
            .child(k8s_types::apps::v1::Deployment, &storm.name_any())
            .map(Observed::parse)
            .transpose()?;
        Ok(SyncResponse::new()
            .with_child(&deployment(&storm))
            .with_child(&service(&storm))
            .with_status(&status(&storm, observed.as_ref())))
    }

    async fn finalize(&self, _request: &SyncRequest) -> Result<FinalizeResponse, Error> {
        Ok(FinalizeResponse::done())
    }
}

/// roperator's max concurrent syncs in this run: `BENCH_MAX_SYNCS`, or the engine's default.
pub fn max_syncs() -> usize {
    std::env::var("BENCH_MAX_SYNCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(roperator_core::DEFAULT_MAX_CONCURRENT_SYNCS)
}

fn roperator_config() -> ControllerConfig {
    ControllerConfig::new(ROPERATOR, STORM)
        .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Service, ChildConfig::replace())
        .with_finalizer(FINALIZER)
        .with_max_concurrent_syncs(max_syncs())
}

/// The engine's counters worth reading next to the figures.
fn engine_counters(op: &TestOperator) -> Vec<String> {
    let prefixes = [
        "roperator_syncs_total",
        "roperator_sync_duration_seconds_sum",
        "roperator_sync_duration_seconds_count",
        "roperator_sync_duration_seconds_bucket",
        "roperator_writes_total",
        "roperator_write_conflicts_total",
    ];
    op.monitor()
        .metrics_text()
        .lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .map(|l| l.replace(&format!("controller=\"{ROPERATOR}\""), ""))
        .collect()
}

// ---- The baseline: a kube-runtime controller as a user would write it. ----

struct Baseline {
    storms: Api<Storm>,
    deployments: Api<Deployment>,
    services: Api<Service>,
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

/// Applies both children (server-side apply), then writes the status when it changed.
async fn reconcile(storm: Arc<Storm>, ctx: Arc<Baseline>) -> Result<Action, ReconcileError> {
    let name = storm.name_any();
    let owner = storm
        .controller_owner_ref(&())
        .expect("a parent with a uid");
    let apply = PatchParams::apply(BASELINE).force();
    let mut d = deployment(&storm);
    d.metadata.owner_references = Some(vec![owner.clone()]);
    let d = ctx
        .deployments
        .patch(&name, &apply, &Patch::Apply(&d))
        .await?;
    let mut s = service(&storm);
    s.metadata.owner_references = Some(vec![owner]);
    ctx.services.patch(&name, &apply, &Patch::Apply(&s)).await?;
    let mut desired = status(&storm, Some(&d));
    desired.observed_generation = storm.metadata.generation;
    if storm.status.as_ref() != Some(&desired) {
        let body = json!({"status": desired});
        ctx.storms
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
            .await?;
    }
    Ok(Action::requeue(Duration::from_secs(300)))
}

fn error_policy(_storm: Arc<Storm>, _error: &ReconcileError, _ctx: Arc<Baseline>) -> Action {
    Action::requeue(Duration::from_millis(500))
}

async fn run_baseline(
    client: kube::Client,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let ctx = Arc::new(Baseline {
        storms: Api::namespaced(client.clone(), NS),
        deployments: Api::namespaced(client.clone(), NS),
        services: Api::namespaced(client, NS),
    });
    Controller::new(ctx.storms.clone(), watcher::Config::default())
        .owns(ctx.deployments.clone(), watcher::Config::default())
        .owns(ctx.services.clone(), watcher::Config::default())
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

// ---- The operator process. ----

/// A client of the API server at `url` whose requests carry `agent` (roperator sets its own).
fn client(url: &str, agent: Option<&'static str>) -> kube::Client {
    let mut config = kube::Config::new(url.parse().expect("the server's URL"));
    if let Some(agent) = agent {
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static(agent),
        ));
    }
    kube::Client::try_from(config).expect("a client")
}

/// Runs `contender` against the API server at `url`: prints `READY` once it serves, runs until
/// a line arrives on stdin, then prints its CPU time (`CPU <seconds>`) and, for roperator, its
/// counters (`COUNTER <series>`).
pub async fn operator_process(contender: Contender, url: &str) {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    match contender {
        Contender::Roperator => {
            let operator = Operator::new(ROPERATOR, client(url, None))
                .with_async_controller(roperator_config(), StormHandler);
            let op = TestOperator::spawn(operator);
            op.wait_ready(Duration::from_secs(60)).await.expect("ready");
            println!("READY");
            let _ = stdin.next_line().await;
            let counters = engine_counters(&op);
            op.stop().await.expect("stopped");
            println!("CPU {}", crate::report::cpu_seconds());
            for c in counters {
                println!("COUNTER {c}");
            }
        }
        Contender::Baseline => {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let controller = tokio::spawn(run_baseline(client(url, Some(BASELINE)), async {
                let _ = stopped.await;
            }));
            println!("READY");
            let _ = stdin.next_line().await;
            let _ = stop.send(());
            let _ = controller.await;
            println!("CPU {}", crate::report::cpu_seconds());
        }
    }
}
