//! Waiting for a condition in integration tests: on an object the API server holds (watched,
//! so the test wakes on the change itself), or on anything else (polled). Never a fixed sleep.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use kube::runtime::wait::await_condition;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// How long a test waits for the operator before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often [`eventually`] asks again.
const POLL: Duration = Duration::from_millis(50);

/// Waits until the object `name` of `api` meets `condition` (which sees `None` while there is no
/// such object) and returns it as it then was, failing the test with `what` after [`PATIENCE`].
/// It watches the object, so it wakes on the change itself: use it for anything the API server
/// holds.
pub async fn until<K>(
    what: &str,
    api: &Api<K>,
    name: &str,
    condition: impl Fn(Option<&K>) -> bool,
) -> Option<K>
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
{
    match tokio::time::timeout(PATIENCE, await_condition(api.clone(), name, condition)).await {
        Ok(Ok(object)) => object,
        Ok(Err(e)) => panic!("watching for {what} failed: {e}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Waits until `api` has an object called `name`, and returns it.
pub async fn exists<K>(what: &str, api: &Api<K>, name: &str) -> K
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
{
    until(what, api, name, |o| o.is_some())
        .await
        .unwrap_or_else(|| panic!("{what}: the condition holds only for an existing object"))
}

/// Waits until `api` no longer has an object called `name`.
pub async fn gone<K>(what: &str, api: &Api<K>, name: &str)
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
{
    until(what, api, name, |o| o.is_none()).await;
}

/// Polls `check` until it returns `Some`, failing the test with `what` after [`PATIENCE`]. Only
/// for what nothing announces a change of (another process's answers, a file): anything the
/// API server holds is waited for with [`until`].
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
        tokio::time::sleep(POLL).await;
    }
}
