//! A configured type the API server does not serve (a CRD not installed yet): the operator does
//! not become ready, and says why once per outage, not once per retry.

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;

use crate::common::*;

static MISSING: K8sType = K8sType {
    api_version: "missing.roperator.io/v1",
    kind: "Missing",
    plural: "missings",
    namespaced: true,
};

/// Everything logged in this test binary from the moment [`captured`] is first called.
fn captured() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct Capture;
        impl Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                captured().lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
        Mutex::new(Vec::new())
    })
}

/// The captured log lines that mention `needle`.
fn logged(needle: &str) -> Vec<String> {
    String::from_utf8_lossy(&captured().lock().unwrap())
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// kube's watcher starts every relist with an `Init` event, before the list request; the
/// engine's watcher takes that event for a recovery, so a list that keeps failing logs
/// "watch recovered" and "watch failed" again on every retry (once a second or so), for as
/// long as the type is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_the_server_does_not_serve_is_logged_once_not_once_per_retry() {
    captured();
    let server = server();
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(MISSING, ChildConfig::replace())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500));
    let op = TestOperator::start(&server, config, echo_handler);
    let errors = "roperator_watch_errors_total{group=\"missing.roperator.io\",kind=\"Missing\"}";
    op.wait_until(LONG, || metric(&op, errors) >= 4.0)
        .await
        .unwrap();
    assert!(
        op.wait_ready(Duration::from_millis(50)).await.is_err(),
        "not ready without a cache of the type"
    );
    op.stop().await.unwrap();
    let failed = logged("watch failed");
    let recovered = logged("watch recovered");
    let about_missing = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("kind=\"Missing\""))
            .count()
    };
    assert_eq!(
        (about_missing(&failed), about_missing(&recovered)),
        (1, 0),
        "one warning for the outage, no recovery:\n{}\n{}",
        failed.join("\n"),
        recovered.join("\n")
    );
}
