//! Create storm against an API server that answers with realistic latency: roperator and a
//! hand-written kube-runtime controller doing the same job, one after the other in one run.
//!
//! Each storm runs on a fresh in-memory API server, served over loopback HTTP, whose every
//! request waits `BENCH_LATENCY_MS` (default 4 ms) before it is handled (the testkit's latency
//! injection). `BENCH_PARENTS` (default 1,000) `Storm` parents are created 16 at a time; each
//! wants a Deployment and a Service shaped like the echo-server's, and a status that follows the
//! Deployment's readiness. A stand-in for kube-controller-manager's deployment controller
//! writes to every new Deployment what the real one writes: its revision annotation and a
//! "progressing" status at once, an "available" status once its pod started (0.5 to 1.5 s
//! later), with up to 300 of these writes in flight. The operator runs in a process of its own
//! (this binary again), so that its CPU time is measured apart from the cluster's.
//!
//! A parent has converged when its Deployment and Service exist and its status shows
//! `observedGeneration`; its time is counted from the moment its create returned. Printed per
//! storm: p50, p99, all (from the first create to the last parent converged), p99/p50, the
//! time until every parent shows Ready, the writes the operator made until then, its CPU time,
//! and for roperator the minimal write schedule (defined where it is printed). `BENCH_RUNS`
//! (default 3) pairs of storms are run, roperator and baseline alternating, and the summary
//! gives the median and the range of each figure.
//!
//! `cargo bench -p roperator-core --features testkit --bench storm`. Also: `BENCH_MAX_SYNCS`
//! (roperator's max concurrent syncs; default: the engine's default), `BENCH_ONLY=roperator`
//! or `kube-runtime`, `BENCH_DETAIL=1` (requests per actor, engine counters, where new parents
//! wait), `BENCH_CONTROLLERS=0` (no deployment controller's stand-in: the testkit reports
//! Deployments available as they are created). The in-memory server handles one write at a
//! time, so its CPU time bounds a storm too; without the stand-in's writes (about half of it)
//! the operator's own limits show.

mod cluster;
mod contenders;
mod report;
mod workload;

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdout, Command};

use cluster::{Tracks, api_server, client_as, create_parents, deployment_controller, observe};
use contenders::{Contender, max_syncs, operator_process};
use report::{Figures, figures, machine, print_run, print_summary};

/// A new parent's first sync makes this many write round trips one after the other: the
/// finalizer, the Deployment and the Service in one wave, the status.
const WRITE_ROUND_TRIPS: u32 = 3;

struct Settings {
    parents: usize,
    latency: Duration,
    /// Whether the deployment controller's stand-in runs; without it, the testkit reports
    /// Deployments available in the very write that creates them.
    controllers: bool,
    detail: bool,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let within = Duration::from_secs(600);
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "the storm did not {what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn operator_writes(server: &roperator_core::testkit::ApiServer, agent: &str) -> usize {
    server
        .requests()
        .count(|r| r.is_write() && r.user_agent.starts_with(agent) && r.resource != "events")
}

/// Waits until the operator made no write for `quiet`.
async fn wait_quiet(server: &roperator_core::testkit::ApiServer, agent: &str, quiet: Duration) {
    let mut last = (operator_writes(server, agent), Instant::now());
    while last.1.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = operator_writes(server, agent);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
}

/// The next line the operator process prints.
async fn line(lines: &mut tokio::io::Lines<BufReader<ChildStdout>>) -> String {
    lines
        .next_line()
        .await
        .expect("the operator process's output")
        .expect("the operator process ended early")
}

async fn storm(contender: Contender, settings: &Settings) -> Figures {
    let server = api_server(settings.latency);
    let listening = server.listen().await;
    let tracks = Tracks::default();
    let mut background = vec![tokio::spawn(observe(
        client_as(&server, "storm-observer/1"),
        tracks.clone(),
    ))];
    if settings.controllers {
        background.push(tokio::spawn(deployment_controller(client_as(
            &server,
            "kube-controller-manager/v1.32.0",
        ))));
    } else {
        server.simulate_workloads(true);
    }
    let mut operator = Command::new(std::env::current_exe().expect("own path"))
        .env("STORM_ROLE", "operator")
        .env("STORM_CONTENDER", contender.name())
        .env("STORM_URL", listening.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the operator process");
    let mut lines = BufReader::new(operator.stdout.take().expect("stdout")).lines();
    assert_eq!(line(&mut lines).await, "READY");

    let parents = settings.parents;
    let cluster_cpu = report::cpu_seconds();
    let start = create_parents(client_as(&server, "storm-bench/1"), parents, tracks.clone()).await;
    let created = start.elapsed();
    wait_for("converge", || {
        tracks.count(|t| t.converged().is_some()) == parents
    })
    .await;
    wait_for("become Ready", || {
        tracks.count(|t| t.ready.is_some()) == parents
    })
    .await;
    wait_quiet(&server, contender.agent(), Duration::from_millis(500)).await;
    let cluster_cpu = report::cpu_seconds() - cluster_cpu;

    let mut stdin = operator.stdin.take().expect("stdin");
    stdin.write_all(b"stop\n").await.expect("stop sent");
    let cpu: f64 = line(&mut lines)
        .await
        .strip_prefix("CPU ")
        .and_then(|v| v.parse().ok())
        .expect("the operator's CPU time");
    let mut counters = Vec::new();
    while let Ok(Some(l)) = lines.next_line().await {
        counters.extend(l.strip_prefix("COUNTER ").map(str::to_string));
    }
    let _ = operator.wait().await;
    if settings.detail {
        println!("    requests: {}", report::requests_by_actor(&server));
        println!(
            "    {}",
            report::first_sync_phases(&server, contender.agent())
        );
    }
    for task in background {
        task.abort();
    }
    Figures {
        writes_per_parent: operator_writes(&server, contender.agent()) as f64 / parents as f64,
        cpu_ms_per_parent: cpu * 1000.0 / parents as f64,
        cluster_cpu_ms_per_parent: cluster_cpu * 1000.0 / parents as f64,
        created: created.as_secs_f64(),
        counters: if settings.detail {
            counters
        } else {
            Vec::new()
        },
        ..figures(&tracks.all(), start)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn main() {
    if std::env::var("STORM_ROLE").as_deref() == Ok("operator") {
        let contender = std::env::var("STORM_CONTENDER")
            .ok()
            .and_then(|c| Contender::from_name(&c))
            .expect("STORM_CONTENDER");
        let url = std::env::var("STORM_URL").expect("STORM_URL");
        return runtime().block_on(operator_process(contender, &url));
    }
    let settings = Settings {
        parents: env_usize("BENCH_PARENTS", 1000),
        latency: Duration::from_millis(env_usize("BENCH_LATENCY_MS", 4) as u64),
        controllers: std::env::var("BENCH_CONTROLLERS").as_deref() != Ok("0"),
        detail: std::env::var("BENCH_DETAIL").is_ok_and(|v| v == "1"),
    };
    let runs = env_usize("BENCH_RUNS", 3).max(1);
    let only = std::env::var("BENCH_ONLY").ok();
    let contenders: Vec<Contender> = [Contender::Roperator, Contender::Baseline]
        .into_iter()
        .filter(|c| only.as_deref().is_none_or(|o| o == c.name()))
        .collect();
    let syncs = max_syncs();
    // The minimal write schedule: with `syncs` parents in flight and each write round trip
    // taking the injected latency, the API server cannot converge the parents sooner.
    let minimum = settings.latency
        * WRITE_ROUND_TRIPS
        * u32::try_from(settings.parents.div_ceil(syncs)).unwrap_or(u32::MAX);
    println!(
        "create storm: {} parents x (Deployment + Service), {} ms per request, {}, {runs} run(s); {}",
        settings.parents,
        settings.latency.as_millis(),
        if settings.controllers {
            "with the deployment controller's stand-in"
        } else {
            "Deployments available at once (no controller writes)"
        },
        machine()
    );
    let mut results: Vec<(Contender, Vec<Figures>)> =
        contenders.iter().map(|&c| (c, Vec::new())).collect();
    for run in 1..=runs {
        println!("run {run}:");
        for (contender, figures) in &mut results {
            let rt = runtime();
            let f = rt.block_on(storm(*contender, &settings));
            rt.shutdown_background();
            print_run(*contender, &f);
            figures.push(f);
        }
    }
    println!("median [min..max] over {runs} run(s); {}", machine());
    for (contender, figures) in &results {
        let minimum = (*contender == Contender::Roperator).then_some(minimum);
        print_summary(*contender, figures, minimum);
    }
    if contenders.contains(&Contender::Roperator) {
        println!(
            "minimal write schedule (roperator): {:.3} s = ceil({} parents / {syncs} concurrent syncs) x {WRITE_ROUND_TRIPS} write round trips per new parent (the finalizer; the Deployment and the Service in one wave; the status) x {} ms",
            minimum.as_secs_f64(),
            settings.parents,
            settings.latency.as_millis()
        );
    }
}
