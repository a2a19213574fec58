//! Finalizers: added without disturbing others, finalize retried until done, then removed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::json;

use crate::common::*;

const FINALIZER: &str = "test.roperator.io/cleanup";

struct Cleaner {
    finalize_calls: Arc<Mutex<HashMap<String, u32>>>,
}

impl Handler for Cleaner {
    type Error = Error;

    fn sync(&self, req: &SyncRequest) -> Result<SyncResponse, Error> {
        echo_handler(req)
    }

    fn finalize(&self, req: &SyncRequest) -> Result<FinalizeResponse, Error> {
        assert!(req.is_finalizing());
        let mut calls = self.finalize_calls.lock().unwrap();
        let n = calls.entry(req.parent().name().to_string()).or_default();
        *n += 1;
        if *n < 3 {
            Ok(FinalizeResponse::retry_after(Duration::from_millis(50))
                .with_status(&json!({"message": "cleaning up", "attempt": *n})))
        } else {
            Ok(FinalizeResponse::done())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_is_retried_until_done_and_other_finalizers_are_kept() {
    let server = server();
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let config = config().with_finalizer(FINALIZER);
    let op = TestOperator::start(
        &server,
        config,
        Cleaner {
            finalize_calls: Arc::clone(&calls),
        },
    );

    let mut with_other = echo("kept", json!({"message": "hi"}));
    with_other.metadata.finalizers = Some(vec!["other.io/keep".to_string()]);
    echoes(&server)
        .create(&Default::default(), &with_other)
        .await
        .unwrap();
    create_echo(&server, "plain", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();

    let finalizers = |name: &str| {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), name)
            .map(|o| o["metadata"]["finalizers"].clone())
    };
    assert_eq!(
        finalizers("kept"),
        Some(json!(["other.io/keep", FINALIZER]))
    );
    assert_eq!(finalizers("plain"), Some(json!([FINALIZER])));
    // 3 children + status + the finalizer, per parent.
    assert_eq!(operator_writes(&server).len(), 10);

    let api = echoes(&server);
    api.delete("plain", &DeleteParams::default()).await.unwrap();
    api.delete("kept", &DeleteParams::default()).await.unwrap();
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "plain")
            .is_none()
    })
    .await
    .unwrap();
    op.wait_until(LONG, || {
        finalizers("kept") == Some(json!(["other.io/keep"]))
    })
    .await
    .unwrap();
    assert_eq!(calls.lock().unwrap().get("plain"), Some(&3));
    assert_eq!(calls.lock().unwrap().get("kept"), Some(&3));
    // The status written while finalizing is visible on the parent that still exists.
    let kept = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "kept")
        .unwrap();
    assert_eq!(kept["status"]["attempt"], 2);
    // While finalizing, children stay; once the parent is gone, garbage collection takes them.
    assert!(
        server
            .object("v1", "ConfigMap", Some(NS), "kept-config")
            .is_some()
    );
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "plain-config")
            .is_none()
    })
    .await
    .unwrap();

    // The other finalizer's owner lets go: the parent goes, and no more finalize calls happen.
    api.patch(
        "kept",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "kept")
            .is_none()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(calls.lock().unwrap().get("kept"), Some(&3));
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_whose_syncs_always_fail_still_gets_its_finalize_call() {
    let server = server();
    let finalized = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&finalized);

    struct Broken(Arc<Mutex<Vec<String>>>);
    impl Handler for Broken {
        type Error = String;
        fn sync(&self, _req: &SyncRequest) -> Result<SyncResponse, String> {
            Err("the external service rejected the spec".into())
        }
        fn finalize(&self, req: &SyncRequest) -> Result<FinalizeResponse, String> {
            self.0.lock().unwrap().push(req.parent().name().to_string());
            Ok(FinalizeResponse::done())
        }
    }

    let op = TestOperator::start(&server, config().with_finalizer(FINALIZER), Broken(seen));
    create_echo(&server, "broken", json!({"message": "hi"})).await;
    // The finalizer is there before the first (failing) sync could succeed.
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "broken")
            .is_some_and(|o| o["metadata"]["finalizers"] == json!([FINALIZER]))
    })
    .await
    .unwrap();
    echoes(&server)
        .delete("broken", &DeleteParams::default())
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "broken")
            .is_none()
    })
    .await
    .unwrap();
    assert_eq!(*finalized.lock().unwrap(), vec!["broken".to_string()]);
    op.stop().await.unwrap();
}

/// Finalize is never done: it asks to be called again in a minute.
struct NeverDone(Arc<Mutex<u32>>);

impl Handler for NeverDone {
    type Error = Error;

    fn sync(&self, req: &SyncRequest) -> Result<SyncResponse, Error> {
        echo_handler(req)
    }

    fn finalize(&self, _req: &SyncRequest) -> Result<FinalizeResponse, Error> {
        *self.0.lock().unwrap() += 1;
        Ok(FinalizeResponse::retry_after(Duration::from_secs(60)))
    }
}

/// A finalize that is not done asks for its next call after a delay; the scheduler keeps that
/// delay only as a timer, so any event of a child (here a label someone adds) calls finalize again
/// at once. During a deletion children change a lot (pods terminating under a Deployment), and an
/// external API that keeps failing is then called at the event rate, not at the pace finalize
/// asked for — as a failing sync would not be (its children's events wait for its backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_changing_does_not_bring_a_pending_finalize_forward() {
    let server = server();
    let calls = Arc::new(Mutex::new(0));
    let config = config().with_finalizer(FINALIZER);
    let op = TestOperator::start(&server, config, NeverDone(Arc::clone(&calls)));
    create_echo(&server, "going", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    echoes(&server)
        .delete("going", &DeleteParams::default())
        .await
        .unwrap();
    op.wait_until(LONG, || *calls.lock().unwrap() == 1)
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();

    api_for(&server, k8s_types::core::v1::ConfigMap, Some(NS))
        .patch(
            "going-config",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"seen-by": "someone"}}})),
        )
        .await
        .unwrap();
    // A later event of the same watch, handled once the label's is: another parent's children.
    create_echo(&server, "later", json!({"message": "hi"})).await;
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "later-config")
            .is_some()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        1,
        "finalize asked for its next call in a minute"
    );
    op.stop().await.unwrap();
}

/// The API server accepts a new finalizer only on a parent that exists and is not being deleted,
/// so the children of a parent whose finalizer was just added are created without reading the
/// parent again. A parent that already had the finalizer is read before a missing child is
/// created again: its deletion may be under way while the cache does not show it yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_whose_finalizer_was_just_added_is_not_read_again_before_its_children_are_created()
{
    let server = server();
    let cleaner = Cleaner {
        finalize_calls: Arc::default(),
    };
    let op = TestOperator::start(&server, config().with_finalizer(FINALIZER), cleaner);
    let parent_reads = || {
        server.requests().count(|r| {
            r.verb == "get"
                && r.resource == "echoes"
                && r.user_agent.starts_with(&format!("{OPERATOR}/"))
        })
    };
    create_echo(&server, "fresh", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    assert_eq!(managed_children(&server).len(), 3);
    let writes: Vec<(String, String)> = operator_writes(&server)
        .into_iter()
        .map(|r| (r.verb, r.resource))
        .collect();
    assert_eq!(writes.len(), 5, "{writes:?}");
    assert_eq!(writes[0], ("patch".to_string(), "echoes".to_string()));
    assert_eq!(parent_reads(), 0);

    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(server.client(), NS);
    configmaps
        .delete("fresh-config", &DeleteParams::default())
        .await
        .unwrap();
    op.wait_until(LONG, || managed_children(&server).len() == 3)
        .await
        .unwrap();
    assert_eq!(parent_reads(), 1);
    op.stop().await.unwrap();
}
