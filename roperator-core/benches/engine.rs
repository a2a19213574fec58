//! Engine benchmark on the testkit API server. Prints:
//! - the time to converge N parents x M children from a create storm, and the writes per new
//!   parent (must be M + 1, plus 1 with a finalizer), with the replace policy and with the
//!   apply policy;
//! - the bytes of metadata the engine puts on a child (its labels, its record and the owner
//!   reference; target: under 1 KB for a 300 KB child), against the size of the answer that
//!   the former last-applied annotation repeated;
//! - no-op resync throughput (syncs/s) of converged parents (target: at least 2,000/s);
//! - the operator's resident memory at 10,000 parents x 2 children (target: under 150 MB),
//!   with the API server in a separate process so that only the operator is measured; then the
//!   same with each parent reading one related object (target: under 2x the first). Each
//!   memory figure comes from a fresh process, so that one run's allocations do not count in
//!   the other.
//!
//! `cargo bench -p roperator-core --features testkit --bench engine`. Sizes can be changed with
//! `BENCH_PARENTS`, `BENCH_CHILDREN` and `BENCH_RSS_PARENTS`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, PostParams};
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

static BENCH: K8sType = K8sType {
    api_version: "bench.roperator.io/v1",
    kind: "Bench",
    plural: "benches",
    namespaced: true,
};

const NS: &str = "default";

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "benches.bench.roperator.io"},
        "spec": {
            "group": "bench.roperator.io",
            "names": {"kind": "Bench", "plural": "benches", "singular": "bench", "listKind": "BenchList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    })
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(name: &str) -> ControllerConfig {
    config_with(name, ChildConfig::replace())
}

fn config_with(name: &str, policy: ChildConfig) -> ControllerConfig {
    ControllerConfig::new(name, BENCH)
        .with_child(k8s_types::core::v1::ConfigMap, policy)
        .with_max_concurrent_syncs(32)
}

/// Each parent reads the Secret `<name>-settings`.
fn reading_settings(config: ControllerConfig) -> ControllerConfig {
    config.with_related(
        k8s_types::core::v1::Secret,
        RelatedConfig::new(|parent: &Observed| {
            vec![Select::name(format!("{}-settings", parent.name()))]
        }),
    )
}

/// `spec.children` ConfigMaps per parent, each with a little data (and the `level` of its
/// related Secret, where it reads one).
fn handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let parent = req.parent().json();
    let settings = format!("{}-settings", req.parent().name());
    let level = req
        .related(k8s_types::core::v1::Secret, &settings)
        .map_or(Value::Null, |s| s.json()["data"]["level"].clone());
    let n = parent["spec"]["children"].as_u64().unwrap_or(1);
    let mut response = SyncResponse::new();
    for i in 0..n {
        response = response.with_child(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{}-{i}", req.parent().name())},
            "data": {"message": parent["spec"]["message"], "index": i.to_string(), "level": level},
        }));
    }
    Ok(response.with_status(&json!({"children": n})))
}

/// [`handler`], with a finalize hook that is done at once (a closure cannot finalize).
struct Finalizing;

impl Handler for Finalizing {
    type Error = Error;

    fn sync(&self, req: &SyncRequest) -> Result<SyncResponse, Error> {
        handler(req)
    }

    fn finalize(&self, _req: &SyncRequest) -> Result<FinalizeResponse, Error> {
        Ok(FinalizeResponse::done())
    }
}

fn bench_parent(name: &str, children: usize) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "bench.roperator.io/v1", "kind": "Bench",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"message": "hello", "children": children},
    }))
    .expect("a valid parent")
}

fn api(client: kube::Client) -> Api<DynamicObject> {
    Api::namespaced_with(
        client,
        NS,
        &kube::core::ApiResource {
            group: "bench.roperator.io".into(),
            version: "v1".into(),
            api_version: "bench.roperator.io/v1".into(),
            kind: "Bench".into(),
            plural: "benches".into(),
        },
    )
}

async fn create_parents(client: kube::Client, prefix: &str, n: usize, children: usize) {
    let api = api(client);
    let mut tasks = futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(
                    &PostParams::default(),
                    &bench_parent(&format!("{prefix}{i:05}"), children),
                )
                .await
                .expect("parent created")
            }
        })
        .buffer_unordered(16);
    while tasks.next().await.is_some() {}
}

use futures::StreamExt;

fn managed(server: &ApiServer, operator: &str) -> usize {
    server
        .objects("v1", "ConfigMap", Some(NS))
        .iter()
        .filter(|o| o["metadata"]["labels"]["roperator.io/managed-by"] == operator)
        .count()
}

fn operator_writes(server: &ApiServer, operator: &str) -> usize {
    server.requests().count(|r| {
        r.is_write() && r.user_agent.starts_with(&format!("{operator}/")) && r.resource != "events"
    })
}

fn counter(op: &TestOperator, series: &str) -> f64 {
    op.monitor()
        .metrics_text()
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

async fn create_storm(
    parents: usize,
    children: usize,
    finalizer: bool,
    policy: ChildConfig,
) -> (Duration, f64) {
    let server = ApiServer::new();
    server.register_crd(&crd()).expect("CRD");
    let name = match (finalizer, policy == ChildConfig::replace()) {
        (true, _) => "storm-fin",
        (false, true) => "storm",
        (false, false) => "storm-apply",
    };
    let mut config = config_with(name, policy);
    if finalizer {
        config = config.with_finalizer("bench.roperator.io/cleanup");
    }
    let op = TestOperator::start(&server, config, Finalizing);
    op.wait_ready(Duration::from_secs(60)).await.expect("ready");
    let start = Instant::now();
    create_parents(server.client(), "p", parents, children).await;
    op.wait_until(Duration::from_secs(600), || {
        managed(&server, name) == parents * children
            && server
                .objects("bench.roperator.io/v1", "Bench", Some(NS))
                .iter()
                .all(|p| p["status"]["observedGeneration"] == 1)
    })
    .await
    .expect("converged");
    let elapsed = start.elapsed();
    op.converge(Duration::from_secs(60)).await.expect("settled");
    let writes = operator_writes(&server, name) as f64 / parents as f64;
    op.stop().await.expect("stopped");
    (elapsed, writes)
}

async fn noop_resync(parents: usize, children: usize) -> (f64, usize) {
    let server = ApiServer::new();
    server.register_crd(&crd()).expect("CRD");
    let op = TestOperator::start(&server, config("noop"), handler);
    create_parents(server.client(), "n", parents, children).await;
    op.wait_until(Duration::from_secs(600), || {
        managed(&server, "noop") == parents * children
    })
    .await
    .expect("converged");
    op.converge(Duration::from_secs(60)).await.expect("settled");
    op.stop().await.expect("stopped");
    // A second operator with the same name and a tiny resync period: every sync is a no-op.
    let config = config("noop").with_resync_period(Duration::from_millis(1));
    let op = TestOperator::start(&server, config, handler);
    op.wait_ready(Duration::from_secs(60)).await.expect("ready");
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.clear_requests();
    let series = "roperator_syncs_total{controller=\"noop\",result=\"success\"}";
    let before = counter(&op, series);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rate = (counter(&op, series) - before) / start.elapsed().as_secs_f64();
    let writes = operator_writes(&server, "noop");
    op.stop().await.expect("stopped");
    (rate, writes)
}

/// The bytes of metadata the engine adds to a child: its two labels, its record annotation and
/// the parent's owner reference (as JSON). Returns (all of it, the record alone).
fn engine_metadata(child: &Value) -> (usize, usize) {
    let entry = |map: &str, key: &str| {
        child["metadata"][map][key]
            .as_str()
            .map_or(0, |v| key.len() + v.len())
    };
    let record = entry("annotations", roperator_core::RECORD_ANNOTATION);
    let labels = entry("labels", roperator_core::MANAGED_BY_LABEL)
        + entry("labels", roperator_core::PARENT_UID_LABEL);
    let owner = child["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["controller"] == true)
        .map(|r| r.to_string().len())
        .sum::<usize>();
    (record + labels + owner, record)
}

/// One parent whose children are a ConfigMap of `kib` KiB and a Deployment; returns, per child,
/// its name, the size of the handler's answer for it and [`engine_metadata`].
async fn metadata_per_child(kib: usize) -> Vec<(String, usize, (usize, usize))> {
    let server = ApiServer::new();
    server.register_crd(&crd()).expect("CRD");
    let config = ControllerConfig::new("meta", BENCH)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_child(k8s_types::apps::v1::Deployment, ChildConfig::apply());
    let content = "x".repeat(kib * 1024);
    let big = json!({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "big"}, "data": {"content": content}});
    let labels = json!({"app": "web"});
    let web = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                     "name": "web", "image": "registry.example/web:1.2.3",
                     "ports": [{"containerPort": 8080}],
                     "env": [{"name": "MODE", "value": "production"}],
                     "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}}}});
    let answers = [big.clone(), web.clone()];
    let op = TestOperator::start(&server, config, move |_: &SyncRequest| {
        Ok::<_, Error>(SyncResponse::new().with_child(&big).with_child(&web))
    });
    create_parents(server.client(), "m", 1, 0).await;
    op.wait_until(Duration::from_secs(60), || {
        server.object("v1", "ConfigMap", Some(NS), "big").is_some()
            && server
                .object("apps/v1", "Deployment", Some(NS), "web")
                .is_some()
    })
    .await
    .expect("children created");
    op.converge(Duration::from_secs(60)).await.expect("settled");
    op.stop().await.expect("stopped");
    let stored = [
        server.object("v1", "ConfigMap", Some(NS), "big"),
        server.object("apps/v1", "Deployment", Some(NS), "web"),
    ];
    stored
        .into_iter()
        .zip(answers)
        .map(|(child, answer)| {
            let child = child.expect("stored");
            let name = format!(
                "{} {}",
                child["kind"].as_str().unwrap_or(""),
                child["metadata"]["name"].as_str().unwrap_or("")
            );
            (name, answer.to_string().len(), engine_metadata(&child))
        })
        .collect()
}

fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn create_settings(client: kube::Client, n: usize) {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, NS);
    let mut tasks = futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                let secret = serde_json::from_value(json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": format!("r{i:05}-settings"), "namespace": NS},
                    "data": {"level": "aW5mbw=="},
                }))
                .expect("a valid Secret");
                api.create(&PostParams::default(), &secret)
                    .await
                    .expect("settings created")
            }
        })
        .buffer_unordered(16);
    while tasks.next().await.is_some() {}
}

/// Runs the API server in a child process (this same binary), so that the parent's memory is
/// the operator's alone.
async fn memory(parents: usize, related: bool) -> (u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env("ROPERATOR_BENCH_ROLE", "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.strip_prefix("LISTENING ").map(str::to_string))
        .expect("the server prints its URL");
    let config = kube::Config::new(url.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    create_parents(client.clone(), "r", parents, 2).await;
    let mut config = self::config("mem");
    if related {
        create_settings(client.clone(), parents).await;
        config = reading_settings(config);
    }
    let (rss_before, _) = rss_kib();
    let operator = Operator::new("mem", client.clone()).with_controller(config, handler);
    let op = TestOperator::spawn(operator);
    op.wait_ready(Duration::from_secs(600))
        .await
        .expect("ready");
    eprintln!(
        "(caches loaded with {parents} parents: {} MB)",
        rss_kib().0 / 1024
    );
    // Convergence is read from the operator's own gauges: listing 20,000 objects from here
    // would put their decoding into the very number being measured.
    let series = "roperator_cached_objects{group=\"\",kind=\"ConfigMap\"}";
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if counter(&op, series) as usize == parents * 2 && op.monitor().is_idle() {
            break;
        }
    }
    op.converge(Duration::from_secs(600))
        .await
        .expect("settled");
    let (rss, hwm) = rss_kib();
    op.stop().await.expect("stopped");
    eprintln!("(after the operator stopped: {} MB)", rss_kib().0 / 1024);
    // Now check that the server really holds every child.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client, NS);
    let lp = kube::api::ListParams::default().labels("roperator.io/managed-by=mem");
    let listed = cms
        .list_metadata(&lp)
        .await
        .map(|l| l.items.len())
        .unwrap_or(0);
    assert_eq!(listed, parents * 2, "every child exists on the server");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"stop\n");
    }
    let _ = child.wait();
    eprintln!(
        "(bench process before the operator started: {} MB)",
        rss_before / 1024
    );
    (rss, hwm)
}

fn serve() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let server = ApiServer::builder().record_requests(false).build();
        server.register_crd(&crd()).expect("CRD");
        let listening = server.listen().await;
        println!("LISTENING {}", listening.url());
        let _ = std::io::stdout().flush();
        // Serve until the parent closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
    });
}

/// Measures the operator's memory in a fresh process of this binary.
fn memory_in_child(parents: usize, related: bool) -> (u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let output = Command::new(exe)
        .env("ROPERATOR_BENCH_ROLE", "memory")
        .env("BENCH_RSS_PARENTS", parents.to_string())
        .env("BENCH_RELATED", if related { "1" } else { "0" })
        .stderr(Stdio::inherit())
        .output()
        .expect("memory process");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RSS_KIB "))
        .expect("the memory process prints its figures");
    let mut figures = line
        .split_whitespace()
        .map(|v| v.parse().expect("a number"));
    (figures.next().unwrap_or(0), figures.next().unwrap_or(0))
}

fn main() {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let rss_parents = env_usize("BENCH_RSS_PARENTS", 10_000);
    match std::env::var("ROPERATOR_BENCH_ROLE").as_deref() {
        Ok("server") => return serve(),
        Ok("memory") => {
            let related = std::env::var("BENCH_RELATED").as_deref() == Ok("1");
            let (rss, hwm) = runtime().block_on(memory(rss_parents, related));
            println!("RSS_KIB {rss} {hwm}");
            return;
        }
        _ => {}
    }
    // `cargo bench` passes `--bench`; this harness has no options of its own.
    let parents = env_usize("BENCH_PARENTS", 1000);
    let children = env_usize("BENCH_CHILDREN", 3);
    let mb = |kib: u64| kib as f64 / 1024.0;
    let (rss, hwm) = memory_in_child(rss_parents, false);
    println!(
        "memory at {rss_parents} parents x 2 children: RSS {:.1} MB, peak {:.1} MB (target < 150 MB)",
        mb(rss),
        mb(hwm)
    );
    let (related_rss, related_hwm) = memory_in_child(rss_parents, true);
    println!(
        "memory at {rss_parents} parents x 2 children, each reading one related Secret: RSS {:.1} MB, peak {:.1} MB, {:.2}x the first (target < 2x)",
        mb(related_rss),
        mb(related_hwm),
        related_rss as f64 / rss as f64
    );
    if std::env::var("BENCH_ONLY").as_deref() == Ok("memory") {
        return;
    }
    runtime().block_on(async {
        for (child, answer, (total, record)) in metadata_per_child(300).await {
            println!(
                "engine metadata on {child} (answer of {:.1} KB): {total} bytes, of which the record {record} (target < 1 KB; the former last-applied annotation would have held the {:.1} KB answer)",
                answer as f64 / 1000.0,
                answer as f64 / 1000.0
            );
        }
        let (elapsed, writes) = create_storm(parents, children, false, ChildConfig::replace()).await;
        println!(
            "create storm: {parents} parents x {children} children converged in {:.2} s ({:.0} parents/s); writes per new parent: {writes:.2} (expected {}; Events, which are published in the background, not counted)",
            elapsed.as_secs_f64(),
            parents as f64 / elapsed.as_secs_f64(),
            children + 1
        );
        let (elapsed, writes) =
            create_storm(parents / 5, children, false, ChildConfig::apply()).await;
        println!(
            "create storm, apply policy: {} parents x {children} children in {:.2} s; writes per new parent: {writes:.2} (expected {}; each create also reads its name first)",
            parents / 5,
            elapsed.as_secs_f64(),
            children + 1
        );
        let (elapsed, writes) =
            create_storm(parents / 5, children, true, ChildConfig::replace()).await;
        println!(
            "create storm with a finalizer: {} parents x {children} children in {:.2} s; writes per new parent: {writes:.2} (expected {})",
            parents / 5,
            elapsed.as_secs_f64(),
            children + 2
        );
        let (rate, writes) = noop_resync(parents, 2).await;
        println!("no-op resync: {rate:.0} syncs/s over {parents} converged parents, {writes} writes (target >= 2000/s, 0 writes)");
    });
}
