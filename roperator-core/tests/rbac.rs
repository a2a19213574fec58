//! The RBAC rules an operator reports (`ControllerConfig::rbac_rules`, rendered into
//! `deploy/rbac.yaml` for the example) are checked against what the engine really asks the API
//! server: an operator taken through every kind of write, with the request log of the testkit
//! server as the witness. Every request it made is allowed by the rules, and every verb the rules
//! grant was used (but `update` on the parent's `finalizers`, which only an admission plugin asks
//! for). Run with `--features testkit`.

#[path = "engine/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{ECHO, LONG, NS, OPERATOR, create_echo, echo_handler, echoes, server};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use roperator_testkit::patch::PatchType;
use serde_json::json;

const FINALIZER: &str = "test.roperator.io/cleanup";

struct Finalizing;

impl Handler for Finalizing {
    type Error = Error;

    fn sync(&self, req: &SyncRequest) -> Result<SyncResponse, Error> {
        echo_handler(req)
    }

    fn finalize(&self, _req: &SyncRequest) -> Result<FinalizeResponse, Error> {
        Ok(FinalizeResponse::done())
    }
}

/// (API group, resource or resource/subresource, verb).
type Grant = (String, String, String);

fn granted(config: &ControllerConfig) -> BTreeSet<Grant> {
    grants(config.rbac_rules())
}

fn grants(rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

/// What each request of the operator needed, from its path: `/api/v1/...` is the core group,
/// `/apis/<group>/<version>/...` a named one. A server-side apply that creates its object needs
/// `create` as well as `patch`, as the API server checks both.
fn used(server: &roperator_core::testkit::ApiServer) -> BTreeSet<Grant> {
    used_by(server, OPERATOR)
}

fn used_by(server: &roperator_core::testkit::ApiServer, operator: &str) -> BTreeSet<Grant> {
    server
        .requests()
        .records()
        .into_iter()
        .filter(|r| r.user_agent.starts_with(&format!("{operator}/")) && !r.resource.is_empty())
        .flat_map(|r| {
            let group = match r.path.split('/').nth(1) {
                Some("apis") => r.path.split('/').nth(2).unwrap_or_default().to_string(),
                _ => String::new(),
            };
            let resource = match &r.subresource {
                Some(sub) => format!("{}/{sub}", r.resource),
                None => r.resource.clone(),
            };
            let created_by_apply = r.patch_type == Some(PatchType::Apply) && r.status == 201;
            let mut needed = vec![(group.clone(), resource.clone(), r.verb)];
            if created_by_apply {
                needed.push((group, resource, "create".to_string()));
            }
            needed
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rbac_rules_are_exactly_what_the_engine_uses() {
    let server = server();
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Secret, ChildConfig::recreate())
        .with_finalizer(FINALIZER)
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let rules = granted(&config);

    // Someone else's objects hold names two parents want (one of each child type, as a sync stops
    // at its first failed write): the engine reads them to tell a stranger's object from a child
    // it has not seen yet, and warns on the parent again and again.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(server.client(), NS);
    cms.create(
        &PostParams::default(),
        &roperator_testkit::fixtures::configmap("taken-more", [("owner", "someone")]),
    )
    .await
    .unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(server.client(), NS);
    secrets
        .create(
            &PostParams::default(),
            &roperator_testkit::fixtures::secret("spare-secret", [("owner", "someone")]),
        )
        .await
        .unwrap();

    let op = TestOperator::start(&server, config, Finalizing);
    // Creates children, adds the finalizer, writes the status, records Events.
    create_echo(&server, "a", json!({"message": "one"})).await;
    create_echo(&server, "taken", json!({"message": "one"})).await;
    create_echo(&server, "spare", json!({"message": "one", "more": false})).await;
    let message = |name: &str| {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), name)
            .map(|o| o["status"]["message"].clone())
    };
    op.wait_until(LONG, || message("a") == Some(json!("one")))
        .await
        .unwrap();

    // Replaces a ConfigMap in place, deletes the one no longer desired.
    echoes(&server)
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": "two", "more": false}})),
        )
        .await
        .unwrap();
    let configmap = |name: &str| server.object("v1", "ConfigMap", Some(NS), name);
    op.wait_until(LONG, || {
        configmap("a-more").is_none()
            && configmap("a-config").is_some_and(|c| c["data"]["message"] == "two")
    })
    .await
    .unwrap();

    // Recreates the Secret someone changed (its policy is recreate).
    secrets
        .patch(
            "a-secret",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"token": "Y2hhbmdlZA=="}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        used(&server).contains(&(String::new(), "secrets".into(), "delete".into()))
    })
    .await
    .unwrap();

    // Runs the finalize hook and removes the finalizer.
    echoes(&server)
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "a")
            .is_none()
    })
    .await
    .unwrap();

    // The repeated warnings on `taken` are aggregated into one Event series (a patch).
    op.wait_until(LONG, || {
        used(&server).contains(&("events.k8s.io".into(), "events".into(), "patch".into()))
    })
    .await
    .unwrap();
    op.stop().await.unwrap();

    let used = used(&server);
    let missing: Vec<_> = used.difference(&rules).collect();
    assert!(
        missing.is_empty(),
        "the engine made requests its RBAC rules do not allow: {missing:?}"
    );
    // Asked of owner-reference writers by an admission plugin, never requested itself.
    let admission_only = (
        "test.roperator.io".to_string(),
        "echoes/finalizers".to_string(),
        "update".to_string(),
    );
    assert!(rules.contains(&admission_only));
    let unused: Vec<_> = rules
        .difference(&used)
        .filter(|g| **g != admission_only)
        .collect();
    assert!(
        unused.is_empty(),
        "the RBAC rules grant what the engine never used: {unused:?}"
    );
}

/// A decorator with a finalizer that sets labels, and a controller reading related objects:
/// one operator, whose merged rules cover both.
struct Isolating;

impl Handler for Isolating {
    type Error = Error;

    fn sync(&self, req: &SyncRequest) -> Result<SyncResponse, Error> {
        Ok(SyncResponse::new()
            .with_child(&json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "deny", "namespace": req.parent().name()},
                "spec": {"podSelector": {}},
            }))
            .with_parent_label("example.com/isolated", "yes"))
    }

    fn finalize(&self, _req: &SyncRequest) -> Result<FinalizeResponse, Error> {
        Ok(FinalizeResponse::done())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_of_several_controllers_cover_decorators_and_related_objects() {
    let server = server();
    let isolation = ControllerConfig::decorator("isolation", k8s_types::core::v1::Namespace)
        .with_parent_selector("example.com/isolate=true")
        .with_child(
            k8s_types::networking::v1::NetworkPolicy,
            ChildConfig::replace(),
        )
        .with_finalizer("isolation.example.com/cleanup");
    let readers = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::Secret, ChildConfig::on_delete())
        .with_related(
            k8s_types::core::v1::ConfigMap,
            RelatedConfig::new(|_: &Observed| vec![Select::name("settings")]),
        );
    let operator = roperator_core::Operator::new("multi", server.client())
        .with_controller(isolation, Isolating)
        .with_controller(readers, |req: &SyncRequest| {
            let v = req
                .related(k8s_types::core::v1::ConfigMap, "settings")
                .map_or("none".to_string(), |c| c.json()["data"]["v"].to_string());
            Ok::<_, Error>(SyncResponse::new().with_child(&json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": format!("{}-secret", req.parent().name())},
                "stringData": {"v": v},
            })))
        });
    let rules = grants(operator.rbac_rules());
    let op = TestOperator::spawn(operator);
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(server.client());
    let mut ns = k8s_openapi::api::core::v1::Namespace::default();
    ns.metadata.name = Some("isolated".into());
    ns.metadata.labels = Some([("example.com/isolate".to_string(), "true".to_string())].into());
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    create_echo(&server, "reader", json!({"message": "hi"})).await;
    let policy = || {
        server.object(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            Some("isolated"),
            "deny",
        )
    };
    op.wait_until(LONG, || {
        policy().is_some()
            && server
                .object("v1", "Secret", Some(NS), "reader-secret")
                .is_some()
    })
    .await
    .unwrap();
    // Released: finalize, the attachment deleted, the label and the finalizer removed.
    namespaces
        .patch(
            "isolated",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"example.com/isolate": null}}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || policy().is_none()).await.unwrap();
    op.converge(LONG).await.unwrap();
    op.stop().await.unwrap();

    let used = used_by(&server, "multi");
    let missing: Vec<_> = used.difference(&rules).collect();
    assert!(
        missing.is_empty(),
        "requests the rules do not allow: {missing:?}"
    );
    let related_get = (String::new(), "configmaps".to_string(), "get".to_string());
    assert!(rules.contains(&related_get), "get on related types");
    assert!(
        !rules
            .iter()
            .any(|(_, r, v)| r == "configmaps" && !["get", "list", "watch"].contains(&v.as_str())),
        "nothing but get, list and watch on a related type: {rules:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_of_the_apply_policy_are_exactly_what_it_uses() {
    let server = server();
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::apply())
        .with_child(k8s_types::core::v1::Secret, ChildConfig::on_delete());
    let rules = granted(&config);
    let op = TestOperator::start(&server, config, echo_handler);
    // Created by apply (after reading the name), changed by apply, pruned.
    create_echo(&server, "a", json!({"message": "one"})).await;
    let configmap = |name: &str| server.object("v1", "ConfigMap", Some(NS), name);
    op.wait_until(LONG, || configmap("a-more").is_some())
        .await
        .unwrap();
    echoes(&server)
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": "two", "more": false}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        configmap("a-more").is_none()
            && configmap("a-config").is_some_and(|c| c["data"]["message"] == "two")
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    op.stop().await.unwrap();

    let used = used(&server);
    let missing: Vec<_> = used.difference(&rules).collect();
    assert!(
        missing.is_empty(),
        "the engine made requests its RBAC rules do not allow: {missing:?}"
    );
    let configmaps: BTreeSet<&str> = rules
        .iter()
        .filter(|(_, r, _)| r == "configmaps")
        .map(|(_, _, v)| v.as_str())
        .collect();
    assert_eq!(
        configmaps,
        ["create", "delete", "get", "list", "patch", "watch"].into()
    );
    let unused: Vec<_> = rules
        .iter()
        .filter(|(_, r, _)| r == "configmaps")
        .filter(|g| !used.contains(*g))
        .collect();
    assert!(unused.is_empty(), "granted and never used: {unused:?}");
}
