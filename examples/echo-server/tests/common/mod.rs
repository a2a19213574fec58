//! Waiting helpers shared by the echo-server integration tests.

// Every test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use kube::Api;
use serde::de::DeserializeOwned;

/// How long a test waits for the operator before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `check` until it returns `Some`, failing the test with `what` after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `api` no longer has an object called `name`.
pub async fn gone<K>(what: &str, api: &Api<K>, name: &str)
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    eventually(what, || async {
        api.get_opt(name)
            .await
            .ok()
            .and_then(|o| o.is_none().then_some(()))
    })
    .await
}
