//! Throughput and memory of the in-memory API server, through `kube::Client` in-process.
//!
//! Run with `cargo bench -p roperator-testkit --bench apiserver`. Prints creates/s and gets/s
//! with 16 concurrent tasks, watch events/s delivered to 10 watchers, and resident memory per
//! 10,000 stored ~1 KB ConfigMaps against their JSON size.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use roperator_testkit::{ApiServer, fixtures};

const TASKS: usize = 16;

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn payload(i: usize) -> ConfigMap {
    // ~1 KB of JSON once stored (metadata included).
    let value = format!("{i:0>8}").repeat(100);
    fixtures::configmap(&format!("cm-{i}"), [("payload", value.as_str())])
}

async fn memory() -> Result<(), kube::Error> {
    const N: usize = 10_000;
    let server = ApiServer::builder().record_requests(false).build();
    let client = server.client();
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    // Warm up allocator and client paths before the baseline.
    for i in 0..200 {
        cms.create(&PostParams::default(), &payload(1_000_000 + i))
            .await?;
    }
    let before = rss_bytes();
    for i in 0..N {
        cms.create(&PostParams::default(), &payload(i)).await?;
    }
    let after = rss_bytes();
    let json: usize = server
        .objects("v1", "ConfigMap", Some("default"))
        .iter()
        .filter(|o| {
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| !n.starts_with("cm-10"))
        })
        .map(|o| serde_json::to_vec(o).map(|v| v.len()).unwrap_or(0))
        .sum();
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "memory: {N} ConfigMaps, JSON {:.2} MB, RSS growth {:.2} MB ({:.2}x JSON size; includes the 10,000-event watch history)",
            json as f64 / 1e6,
            a.saturating_sub(b) as f64 / 1e6,
            a.saturating_sub(b) as f64 / json as f64
        ),
        _ => println!("memory: /proc/self/status not available"),
    }
    Ok(())
}

async fn creates_and_gets() -> Result<(), kube::Error> {
    const PER_TASK: usize = 1_500;
    let server = ApiServer::builder().record_requests(false).build();
    let client = server.client();
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let cm = fixtures::configmap(&format!("c-{t}-{i}"), [("k", "v")]);
                cms.create(&PostParams::default(), &cm).await?;
            }
            Ok::<_, kube::Error>(())
        }));
    }
    for h in handles {
        h.await.expect("task")?;
    }
    let total = TASKS * PER_TASK;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "creates: {total} in {secs:.2}s = {:.0} creates/s ({TASKS} tasks)",
        total as f64 / secs
    );

    const GETS_PER_TASK: usize = 5_000;
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..GETS_PER_TASK {
                cms.get(&format!("c-{t}-{}", i % PER_TASK)).await?;
            }
            Ok::<_, kube::Error>(())
        }));
    }
    for h in handles {
        h.await.expect("task")?;
    }
    let total = TASKS * GETS_PER_TASK;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "gets: {total} in {secs:.2}s = {:.0} gets/s ({TASKS} tasks)",
        total as f64 / secs
    );
    Ok(())
}

async fn watch_fanout() -> Result<(), kube::Error> {
    const WATCHERS: usize = 10;
    const EVENTS: usize = 5_000;
    let server = ApiServer::builder()
        .record_requests(false)
        .watch_buffer(EVENTS + 10)
        .build();
    let client = server.client();
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let rv = cms
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut handles = Vec::new();
    for _ in 0..WATCHERS {
        let stream = cms
            .watch(&WatchParams::default().disable_bookmarks(), &rv)
            .await?;
        handles.push(tokio::spawn(async move {
            let mut stream = stream.boxed();
            let mut seen = 0usize;
            while seen < EVENTS {
                match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                    Ok(Some(Ok(WatchEvent::Added(_)))) => seen += 1,
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            seen
        }));
    }
    let start = Instant::now();
    let writer = {
        let cms = cms.clone();
        tokio::spawn(async move {
            for i in 0..EVENTS {
                cms.create(
                    &PostParams::default(),
                    &fixtures::configmap(&format!("w-{i}"), [("k", "v")]),
                )
                .await?;
            }
            Ok::<_, kube::Error>(())
        })
    };
    writer.await.expect("writer")?;
    let mut delivered = 0;
    for h in handles {
        delivered += h.await.expect("watcher");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "watch: {delivered} events to {WATCHERS} watchers in {secs:.2}s = {:.0} events/s delivered (writes included)",
        delivered as f64 / secs
    );
    Ok(())
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        memory().await?;
        creates_and_gets().await?;
        watch_fanout().await
    });
    if let Err(e) = result {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}
