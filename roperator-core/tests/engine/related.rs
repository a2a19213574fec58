//! Related objects: read, never written, and a change of one syncs exactly its readers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kube::api::{DeleteParams, Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::{Value, json};

use crate::common::*;

const CONFIGMAP: K8sType = k8s_types::core::v1::ConfigMap;
const SECRET: K8sType = k8s_types::core::v1::Secret;

/// Each Echo names a ConfigMap (`spec.from`) and gets a Secret `<name>-copy` holding its
/// `message` (or `missing` while there is none).
fn copy_config(calls: Arc<AtomicUsize>) -> (ControllerConfig, impl Handler) {
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(SECRET, ChildConfig::replace())
        .with_related(
            CONFIGMAP,
            RelatedConfig::new(|parent: &Observed| {
                parent.json()["spec"]["from"]
                    .as_str()
                    .map(Select::name)
                    .into_iter()
                    .collect()
            }),
        )
        .with_error_backoff(
            std::time::Duration::from_millis(20),
            std::time::Duration::from_millis(500),
        );
    let handler = move |req: &SyncRequest| {
        calls.fetch_add(1, Ordering::SeqCst);
        let from = req.parent().json()["spec"]["from"].as_str().unwrap_or("");
        let message = req
            .related(CONFIGMAP, from)
            .and_then(|cm| cm.json()["data"]["message"].as_str())
            .unwrap_or("missing")
            .to_string();
        Ok::<_, Error>(SyncResponse::new().with_child(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{}-copy", req.parent().name())},
            "stringData": {"message": message},
        })))
    };
    (config, handler)
}

/// The copying handler of [`copy_config`], with another declaration of the related ConfigMaps.
fn copy_with(related: RelatedConfig) -> (ControllerConfig, impl Handler) {
    let (_, handler) = copy_config(Arc::new(AtomicUsize::new(0)));
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(SECRET, ChildConfig::replace())
        .with_related(CONFIGMAP, related);
    (config, handler)
}

/// The message copied into `<name>-copy`, from `data` (where a real API server moves
/// `stringData`) or `stringData`.
fn copied(server: &roperator_core::testkit::ApiServer, name: &str) -> Option<String> {
    let secret = server.object("v1", "Secret", Some(NS), &format!("{name}-copy"))?;
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(secret).ok()?;
    let from_data = secret.data.and_then(|d| {
        d.get("message")
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
    });
    from_data.or_else(|| secret.string_data.and_then(|d| d.get("message").cloned()))
}

fn settings(message: &str) -> Value {
    config_map("settings", message)
}

fn config_map(name: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": NS}, "data": {"message": message}})
}

/// Sets the message of the ConfigMap `name`, as a user would.
async fn set_message(server: &roperator_core::testkit::ApiServer, name: &str, message: &str) {
    patch_config_map(server, name, json!({"data": {"message": message}})).await;
}

/// Merges `patch` into the ConfigMap `name`, as a user would.
async fn patch_config_map(server: &roperator_core::testkit::ApiServer, name: &str, patch: Value) {
    api_for(server, CONFIGMAP, Some(NS))
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_related_object_appearing_changing_and_disappearing_resyncs_its_reader() {
    let server = server();
    let calls = Arc::new(AtomicUsize::new(0));
    let (config, handler) = copy_config(Arc::clone(&calls));
    let op = TestOperator::start(&server, config, handler);
    create_echo(&server, "reader", json!({"from": "settings"})).await;
    create_echo(&server, "other", json!({"from": "elsewhere"})).await;
    op.converge(LONG).await.unwrap();
    // Missing: the handler decides (here: a placeholder), the engine reports no error.
    assert_eq!(copied(&server, "reader").as_deref(), Some("missing"));
    assert!(
        events_for(&server, "reader")
            .iter()
            .all(|(t, ..)| t != "Warning")
    );

    create(&server, CONFIGMAP, settings("first")).await;
    op.wait_until(LONG, || {
        copied(&server, "reader").as_deref() == Some("first")
    })
    .await
    .unwrap();

    set_message(&server, "settings", "second").await;
    op.wait_until(LONG, || {
        copied(&server, "reader").as_deref() == Some("second")
    })
    .await
    .unwrap();

    // A ConfigMap nobody reads changes: no sync at all.
    op.converge(LONG).await.unwrap();
    let before = calls.load(Ordering::SeqCst);
    create(
        &server,
        CONFIGMAP,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "unread", "namespace": NS}, "data": {"x": "1"}}),
    )
    .await;
    op.converge(LONG).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), before, "no reader, no sync");

    api_for(&server, CONFIGMAP, Some(NS))
        .delete("settings", &DeleteParams::default())
        .await
        .unwrap();
    op.wait_until(LONG, || {
        copied(&server, "reader").as_deref() == Some("missing")
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    // Read, never written: the operator never touched a ConfigMap.
    let touched: Vec<_> = operator_writes(&server)
        .into_iter()
        .filter(|w| w.resource == "configmaps")
        .collect();
    assert!(touched.is_empty(), "{touched:#?}");
    assert_eq!(copied(&server, "other").as_deref(), Some("missing"));
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_objects_selected_by_labels_follow_their_labels() {
    let server = server();
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(SECRET, ChildConfig::replace())
        .with_related(
            CONFIGMAP,
            RelatedConfig::new(|parent: &Observed| {
                let team = parent.json()["spec"]["team"].as_str().unwrap_or("none");
                vec![Select::labels(format!("team={team}"))]
            }),
        );
    let op = TestOperator::start(&server, config, |req: &SyncRequest| {
        let mut names: Vec<&str> = req.related_objects(CONFIGMAP).map(Observed::name).collect();
        names.sort_unstable();
        Ok::<_, Error>(SyncResponse::new().with_child(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{}-copy", req.parent().name())},
            "stringData": {"message": names.join(",")},
        })))
    });
    for (name, team) in [("a", "red"), ("b", "red"), ("c", "blue")] {
        create(
            &server,
            CONFIGMAP,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": NS, "labels": {"team": team}}}),
        )
        .await;
    }
    create_echo(&server, "red", json!({"team": "red"})).await;
    op.wait_until(LONG, || copied(&server, "red").as_deref() == Some("a,b"))
        .await
        .unwrap();
    // `c` joins the red team: the reader sees it without any change of its own.
    patch_config_map(
        &server,
        "c",
        json!({"metadata": {"labels": {"team": "red"}}}),
    )
    .await;
    op.wait_until(LONG, || copied(&server, "red").as_deref() == Some("a,b,c"))
        .await
        .unwrap();
    // `a` leaves it.
    patch_config_map(
        &server,
        "a",
        json!({"metadata": {"labels": {"team": "blue"}}}),
    )
    .await;
    op.wait_until(LONG, || copied(&server, "red").as_deref() == Some("b,c"))
        .await
        .unwrap();
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_outside_the_watched_namespaces_fails_the_sync_and_names_it() {
    let server = server();
    // The related type is watched in `kube-system` only; the parents select in their own.
    let (config, handler) = copy_with(
        RelatedConfig::new(|_: &Observed| vec![Select::name("settings")])
            .with_namespace("kube-system"),
    );
    let op = TestOperator::start(&server, config, handler);
    create_echo(&server, "lost", json!({"from": "settings"})).await;
    op.wait_until(LONG, || {
        events_for(&server, "lost").iter().any(|(t, r, n)| {
            t == "Warning"
                && r == "InvalidRelatedSelection"
                && n.contains("namespace \"default\" is not watched")
        })
    })
    .await
    .unwrap();
    assert!(managed_children(&server).is_empty(), "nothing is written");
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_narrowed_to_one_name_caches_that_object_alone_and_refuses_other_names() {
    let server = server();
    for i in 0..20 {
        create(&server, CONFIGMAP, config_map(&format!("other-{i}"), "no")).await;
    }
    create(&server, CONFIGMAP, config_map("shared", "yes")).await;
    let (_, handler) = copy_config(Arc::new(AtomicUsize::new(0)));
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(SECRET, ChildConfig::replace())
        .with_related(
            CONFIGMAP,
            RelatedConfig::new(|parent: &Observed| {
                parent.json()["spec"]["from"]
                    .as_str()
                    .map(Select::name)
                    .into_iter()
                    .collect()
            })
            .with_name("shared"),
        );
    let op = TestOperator::start(&server, config, handler);
    create_echo(&server, "reads", json!({"from": "shared"})).await;
    create_echo(&server, "strays", json!({"from": "other-3"})).await;
    op.wait_until(LONG, || copied(&server, "reads").as_deref() == Some("yes"))
        .await
        .unwrap();
    op.wait_until(LONG, || {
        events_for(&server, "strays").iter().any(|(t, r, n)| {
            t == "Warning"
                && r == "InvalidRelatedSelection"
                && n.contains("narrowed to objects called \"shared\"")
        })
    })
    .await
    .unwrap();
    // The gauge is refreshed every second.
    let cached = || metric(&op, "roperator_cached_objects{kind=\"ConfigMap\"}");
    op.wait_until(LONG, || cached() > 0.0).await.unwrap();
    assert_eq!(cached(), 1.0, "only the named ConfigMap is cached");
    assert!(
        copied(&server, "strays").is_none(),
        "nothing written for it"
    );
    // The named object still resyncs its reader when it changes.
    set_message(&server, "shared", "again").await;
    op.wait_until(LONG, || {
        copied(&server, "reads").as_deref() == Some("again")
    })
    .await
    .unwrap();
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_selection_function_fails_its_parent_and_the_watch_goes_on() {
    let server = server();
    // A careless selection: panics on an Echo without `spec.from`.
    let (config, handler) = copy_with(RelatedConfig::new(|parent: &Observed| {
        vec![Select::name(
            parent.json()["spec"]["from"].as_str().unwrap(),
        )]
    }));
    let op = TestOperator::start(&server, config, handler);
    create(&server, CONFIGMAP, settings("hello")).await;
    create_echo(&server, "careless", json!({})).await;
    op.wait_until(LONG, || {
        events_for(&server, "careless").iter().any(|(t, r, n)| {
            t == "Warning" && r == "InvalidRelatedSelection" && n.contains("panicked")
        })
    })
    .await
    .unwrap();
    // The parents' watch, which ran the panicking call, still delivers.
    create_echo(&server, "careful", json!({"from": "settings"})).await;
    op.wait_until(LONG, || {
        copied(&server, "careful").as_deref() == Some("hello")
    })
    .await
    .unwrap();
    assert!(copied(&server, "careless").is_none());
    op.stop().await.unwrap();
}

/// Syncs nothing and counts its finalize calls.
struct CountsFinalizes(Arc<AtomicUsize>);

impl Handler for CountsFinalizes {
    type Error = Error;

    fn sync(&self, _: &SyncRequest) -> Result<SyncResponse, Error> {
        Ok(SyncResponse::new())
    }

    fn finalize(&self, _: &SyncRequest) -> Result<FinalizeResponse, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(FinalizeResponse::done())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_whose_selection_turned_invalid_is_still_finalized_when_deleted() {
    let server = server();
    let finalized = Arc::new(AtomicUsize::new(0));
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_finalizer("test.roperator.io/cleanup")
        .with_child(SECRET, ChildConfig::replace())
        .with_related(
            CONFIGMAP,
            RelatedConfig::new(|parent: &Observed| {
                vec![Select::labels(
                    parent.json()["spec"]["selector"]
                        .as_str()
                        .unwrap_or("app=x"),
                )]
            }),
        );
    let op = TestOperator::start(&server, config, CountsFinalizes(Arc::clone(&finalized)));
    create_echo(&server, "picky", json!({"selector": "app=x"})).await;
    op.wait_until(LONG, || {
        server
            .object(ECHO.api_version, "Echo", Some(NS), "picky")
            .is_some_and(|e| e["metadata"]["finalizers"] == json!(["test.roperator.io/cleanup"]))
    })
    .await
    .unwrap();
    echoes(&server)
        .patch(
            "picky",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"selector": "app in ("}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        events_for(&server, "picky")
            .iter()
            .any(|(_, r, _)| r == "InvalidRelatedSelection")
    })
    .await
    .unwrap();
    echoes(&server)
        .delete("picky", &DeleteParams::default())
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object(ECHO.api_version, "Echo", Some(NS), "picky")
            .is_none()
    })
    .await
    .unwrap();
    assert_eq!(finalized.load(Ordering::SeqCst), 1);
    op.stop().await.unwrap();
}
