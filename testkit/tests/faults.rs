//! Fault injection: status codes, every-Nth and seeded probabilities, latency, Retry-After.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use roperator_testkit::{ApiServer, FaultRule, fixtures};

async fn create(cms: &Api<ConfigMap>, name: &str) -> Result<ConfigMap, u16> {
    cms.create(&PostParams::default(), &fixtures::configmap(name, []))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) => s.code,
            other => panic!("unexpected {other:?}"),
        })
}

#[tokio::test]
async fn every_nth_matching_request_fails() {
    let server = ApiServer::new();
    server.faults().add(
        FaultRule::new()
            .verb("create")
            .resource("configmaps")
            .namespace("default")
            .name_glob("a-*")
            .status(409)
            .every(2),
    );
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut results = Vec::new();
    for name in ["a-1", "b-1", "a-2", "a-3", "a-4"] {
        results.push(create(&cms, name).await.err());
    }
    assert_eq!(results, [None, None, Some(409), None, Some(409)]);
    server.faults().clear();
    assert!(create(&cms, "a-5").await.is_ok());
}

#[tokio::test]
async fn probability_is_deterministic_from_the_seed() {
    async fn outcomes(seed: u64) -> Vec<bool> {
        let server = ApiServer::builder().seed(seed).build();
        server
            .faults()
            .add(FaultRule::new().verb("get").status(503).probability(0.5));
        let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
        let mut out = Vec::new();
        for _ in 0..32 {
            out.push(cms.get_opt("x").await.is_err());
        }
        out
    }
    let a = outcomes(42).await;
    assert_eq!(a, outcomes(42).await);
    let failures = a.iter().filter(|f| **f).count();
    assert!(
        (4..=28).contains(&failures),
        "about half fail, got {failures}"
    );
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let server = ApiServer::new();
    server.faults().add(
        FaultRule::new()
            .resource("configmaps")
            .status(429)
            .retry_after(7),
    );
    let listening = server.listen().await;
    let resp = reqwest_free_get(&format!(
        "{}/api/v1/namespaces/default/configmaps",
        listening.url()
    ))
    .await;
    assert!(resp.starts_with("HTTP/1.1 429"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("retry-after: 7"),
        "{resp}"
    );
    assert!(resp.contains("\"reason\":\"TooManyRequests\""), "{resp}");
    assert!(resp.contains("\"retryAfterSeconds\":7"), "{resp}");
}

/// A bare HTTP/1.1 GET over TCP, returning the raw response.
async fn reqwest_free_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').expect("path");
    let mut s = tokio::net::TcpStream::connect(host).await.expect("connect");
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn latency_delays_matching_requests() {
    let server = ApiServer::new();
    server.faults().add(
        FaultRule::new()
            .verb("list")
            .latency(Duration::from_millis(200)),
    );
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let start = Instant::now();
    cms.list(&Default::default()).await.expect("list");
    assert!(start.elapsed() >= Duration::from_millis(200));
    let start = Instant::now();
    cms.get_opt("x").await.expect("get");
    assert!(start.elapsed() < Duration::from_millis(200));
    // Failures are logged like any response.
    server
        .faults()
        .add(FaultRule::new().verb("get").status(500));
    assert!(cms.get_opt("x").await.is_err());
    assert_eq!(
        server
            .requests()
            .count(|r| r.verb == "get" && r.status == 500),
        1
    );
}
