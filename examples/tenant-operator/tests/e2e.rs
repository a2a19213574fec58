//! The tenant operator, with the real engine, against the testkit's in-memory API server: both
//! controllers in one process, as the binary runs them.

use std::collections::BTreeMap;
use std::time::Duration;

use example_support::wait::{eventually, until};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use roperator_core::testkit::{ApiServer, TestOperator};
use roperator_testkit::RequestRecord;
use serde_json::{Value, json};
use tenant_operator::{Tenant, TenantSpec};

/// The operator's defaults namespace in these tests (not `default`, to see the flag matter).
const OPS: &str = "ops";
const LONG: Duration = Duration::from_secs(30);
const TENANT_LABEL: &str = "examples.roperator.io/tenant";
const ISOLATE_LABEL: &str = "examples.roperator.io/isolate";

/// A server with the Tenant CRD and the defaults namespace.
async fn server() -> ApiServer {
    let server = ApiServer::new();
    server
        .register_crd(&tenant_operator::crd())
        .expect("the CRD registers");
    create_namespace(&server, OPS, &[]).await;
    server
}

fn start(server: &ApiServer) -> TestOperator {
    TestOperator::spawn(tenant_operator::operator(server.client(), OPS))
}

async fn create_namespace(server: &ApiServer, name: &str, labels: &[(&str, &str)]) {
    let mut namespace = Namespace::default();
    namespace.metadata.name = Some(name.to_string());
    namespace.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    Api::<Namespace>::all(server.client())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("the namespace is created");
}

fn config_maps(server: &ApiServer, namespace: &str) -> Api<ConfigMap> {
    Api::namespaced(server.client(), namespace)
}

/// Creates `tenant-defaults` in the defaults namespace.
async fn create_defaults(server: &ApiServer, data: &[(&str, &str)]) {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("tenant-defaults".into());
    cm.data = Some(
        data.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    config_maps(server, OPS)
        .create(&PostParams::default(), &cm)
        .await
        .expect("tenant-defaults is created");
}

async fn patch_defaults(server: &ApiServer, data: Value) {
    config_maps(server, OPS)
        .patch(
            "tenant-defaults",
            &PatchParams::default(),
            &Patch::Merge(json!({ "data": data })),
        )
        .await
        .expect("tenant-defaults is patched");
}

fn tenants(server: &ApiServer) -> Api<Tenant> {
    Api::all(server.client())
}

/// Tenants as the API server stores them, with the engine's status fields.
fn raw_tenants(server: &ApiServer) -> Api<DynamicObject> {
    Api::all_with(server.client(), &ApiResource::erase::<Tenant>(&()))
}

async fn create_tenant(server: &ApiServer, name: &str, namespaces: &[&str], quota: Value) {
    let mut tenant = Tenant::new(name, TenantSpec::new(namespaces.iter().copied()));
    tenant.spec.quota = serde_json::from_value(quota).expect("a valid quota");
    tenants(server)
        .create(&PostParams::default(), &tenant)
        .await
        .expect("the Tenant is created");
}

/// `true` when `tenant` is Ready with `count` namespaces ready.
fn ready_with(tenant: Option<&Tenant>, count: i32) -> bool {
    tenant.and_then(|t| t.status.as_ref()).is_some_and(|s| {
        s.ready_namespaces == count
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

async fn wait_ready(server: &ApiServer, tenant: &str, count: i32) -> Tenant {
    until("the tenant to be ready", &tenants(server), tenant, |t| {
        ready_with(t, count)
    })
    .await
    .expect("a tenant")
}

/// The `spec.hard` of `tenant-quota` in `namespace`, as the API server stores it (which leaves
/// out an empty `hard`, as Go's encoder does).
fn hard(server: &ApiServer, namespace: &str) -> Option<BTreeMap<String, String>> {
    let quota = server.object("v1", "ResourceQuota", Some(namespace), "tenant-quota")?;
    match &quota["spec"]["hard"] {
        Value::Null => Some(BTreeMap::new()),
        hard => serde_json::from_value(hard.clone()).ok(),
    }
}

fn limits(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn policy(server: &ApiServer, namespace: &str, name: &str) -> Option<Value> {
    server.object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some(namespace),
        name,
    )
}

/// The operator's writes (Events aside).
fn writes(server: &ApiServer) -> Vec<RequestRecord> {
    server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("tenant-operator/") && w.resource != "events")
        .collect()
}

fn failed_writes(server: &ApiServer) -> Vec<RequestRecord> {
    writes(server)
        .into_iter()
        .filter(|w| w.status >= 400)
        .collect()
}

/// Failed writes, except deletes of what was already gone: the engine also deletes the
/// children inside a Namespace that goes (or is going), and the namespace controller may have
/// emptied it first (see the engine test `removing_a_namespace_child_deletes_only_the_namespace`).
fn failed_writes_but_gone(server: &ApiServer) -> Vec<RequestRecord> {
    failed_writes(server)
        .into_iter()
        .filter(|w| !(w.verb == "delete" && w.status == 404))
        .collect()
}

/// The operator's successful syncs of `controller`, from its metrics.
fn syncs(op: &TestOperator, controller: &str) -> f64 {
    let series = format!("roperator_syncs_total{{controller=\"{controller}\",result=\"success\"}}");
    op.monitor()
        .metrics_text()
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_gets_namespaces_with_quota_and_isolation_and_then_writes_nothing() {
    let server = server().await;
    create_defaults(&server, &[("cpu", "1"), ("memory", "1Gi"), ("pods", "10")]).await;
    let op = start(&server);
    op.wait_ready(LONG).await.unwrap();
    server.clear_requests();
    // Quantities as a user may write them; the API server stores their canonical forms.
    create_tenant(
        &server,
        "acme",
        &["acme-dev", "acme-prod"],
        json!({"cpu": "0.5", "memory": "2048Mi"}),
    )
    .await;
    let tenant = wait_ready(&server, "acme", 2).await;
    let uid = tenant.uid().expect("a uid");

    for ns in ["acme-dev", "acme-prod"] {
        let namespace = server.object("v1", "Namespace", None, ns).expect(ns);
        assert_eq!(namespace["metadata"]["labels"][TENANT_LABEL], "acme");
        let owner = &namespace["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["kind"].as_str(), owner["uid"].as_str()),
            (Some("Tenant"), Some(uid.as_str()))
        );
        // The tenant's own limits, canonicalized by the server, and the default pod count.
        assert_eq!(
            hard(&server, ns),
            limits(&[("cpu", "500m"), ("memory", "2Gi"), ("pods", "10")])
        );
        let isolation = policy(&server, ns, "tenant-isolation").expect("the isolation policy");
        assert_eq!(
            isolation["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"],
            json!({TENANT_LABEL: "acme"})
        );
    }
    let status = tenant.status.expect("a status");
    assert_eq!(status.quota.pods.map(|q| q.0).as_deref(), Some("10"));
    let failed = failed_writes(&server);
    assert!(
        failed.is_empty(),
        "every write succeeds the first time: {failed:#?}"
    );
    // Two namespaces, two quotas, two policies, and the status (written as children appear).
    let created = writes(&server)
        .iter()
        .filter(|w| w.verb == "create")
        .count();
    assert_eq!(created, 6, "{:#?}", writes(&server));

    // Steady state: a change of tenant-defaults that changes no limit syncs the tenant, which
    // then writes nothing — not even the quantities the server wrote in another form.
    op.converge(LONG).await.unwrap();
    server.clear_requests();
    let before = syncs(&op, "tenants");
    patch_defaults(&server, json!({"unrelated": "note"})).await;
    eventually("a sync of the tenant", || async {
        (syncs(&op, "tenants") > before).then_some(())
    })
    .await;
    op.converge(LONG).await.unwrap();
    assert!(writes(&server).is_empty(), "{:#?}", writes(&server));

    // A new engine has no memory of its writes: it still sees the stored quantities as equal.
    op.stop().await.unwrap();
    server.clear_requests();
    let op = start(&server);
    eventually("the restarted operator's first sync", || async {
        (syncs(&op, "tenants") >= 1.0).then_some(())
    })
    .await;
    op.converge(LONG).await.unwrap();
    assert!(writes(&server).is_empty(), "{:#?}", writes(&server));
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_tenant_defaults_updates_every_tenants_quota() {
    let server = server().await;
    create_defaults(&server, &[("cpu", "1"), ("pods", "10")]).await;
    let op = start(&server);
    create_tenant(&server, "acme", &["acme"], json!({})).await;
    create_tenant(&server, "globex", &["globex"], json!({"cpu": "4"})).await;
    wait_ready(&server, "acme", 1).await;
    wait_ready(&server, "globex", 1).await;
    assert_eq!(
        hard(&server, "acme"),
        limits(&[("cpu", "1"), ("pods", "10")])
    );
    assert_eq!(
        hard(&server, "globex"),
        limits(&[("cpu", "4"), ("pods", "10")])
    );

    // Both tenants read the defaults: both follow, each keeping its own values.
    patch_defaults(&server, json!({"cpu": "2", "pods": "30", "memory": "8Gi"})).await;
    let acme = limits(&[("cpu", "2"), ("memory", "8Gi"), ("pods", "30")]);
    let globex = limits(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "30")]);
    op.wait_until(LONG, || {
        hard(&server, "acme") == acme && hard(&server, "globex") == globex
    })
    .await
    .unwrap();
    let acme_status = tenants(&server)
        .get("acme")
        .await
        .expect("acme")
        .status
        .expect("a status");
    assert_eq!(
        acme_status.quota.memory.map(|q| q.0).as_deref(),
        Some("8Gi")
    );

    // A default no tenant can use: the tenants relying on it fail, naming the ConfigMap and the
    // key, and keep their quota; a tenant with its own value is not affected.
    patch_defaults(&server, json!({"cpu": "lots"})).await;
    let failing = until("acme's sync error", &raw_tenants(&server), "acme", |t| {
        t.is_some_and(|t| t.data["status"]["syncError"].is_string())
    })
    .await
    .expect("acme");
    let error = failing.data["status"]["syncError"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("Tenant acme: key cpu of ConfigMap ops/tenant-defaults is \"lots\""),
        "{error}"
    );
    op.converge(LONG).await.unwrap();
    assert_eq!(hard(&server, "acme"), acme, "a failed sync changes nothing");
    let globex_now = server
        .object("examples.roperator.io/v1alpha1", "Tenant", None, "globex")
        .expect("globex");
    assert!(globex_now["status"]["syncError"].is_null(), "{globex_now}");

    // The defaults go: only the tenants' own limits remain.
    config_maps(&server, OPS)
        .delete("tenant-defaults", &DeleteParams::default())
        .await
        .expect("tenant-defaults is deleted");
    op.wait_until(LONG, || {
        hard(&server, "acme") == limits(&[]) && hard(&server, "globex") == limits(&[("cpu", "4")])
    })
    .await
    .unwrap();
    let operator_wrote_config_maps = writes(&server).iter().any(|w| w.resource == "configmaps");
    assert!(
        !operator_wrote_config_maps,
        "a related object is never written"
    );

    // A quota without limits is stored without `hard`; a restarted operator, which has no
    // memory of its writes, does not take that for drift.
    op.converge(LONG).await.unwrap();
    op.stop().await.unwrap();
    server.clear_requests();
    let op = start(&server);
    eventually("the restarted operator's syncs", || async {
        (syncs(&op, "tenants") >= 2.0).then_some(())
    })
    .await;
    op.converge(LONG).await.unwrap();
    assert!(writes(&server).is_empty(), "{:#?}", writes(&server));
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_removed_from_a_tenant_goes_with_everything_in_it() {
    let server = server().await;
    let op = start(&server);
    create_tenant(&server, "acme", &["acme-a", "acme-b"], json!({"pods": "5"})).await;
    wait_ready(&server, "acme", 2).await;
    // Something of the tenant's own in the namespace that goes.
    let mut app = ConfigMap::default();
    app.metadata.name = Some("app-settings".into());
    config_maps(&server, "acme-b")
        .create(&PostParams::default(), &app)
        .await
        .expect("a ConfigMap of the tenant's");
    server.clear_requests();

    tenants(&server)
        .patch(
            "acme",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"namespaces": ["acme-a"]}})),
        )
        .await
        .expect("acme-b is removed");
    wait_ready(&server, "acme", 1).await;
    op.wait_until(LONG, || {
        server.object("v1", "Namespace", None, "acme-b").is_none()
    })
    .await
    .unwrap();
    assert!(hard(&server, "acme-b").is_none());
    assert!(policy(&server, "acme-b", "tenant-isolation").is_none());
    assert!(
        server
            .object("v1", "ConfigMap", Some("acme-b"), "app-settings")
            .is_none()
    );
    assert_eq!(hard(&server, "acme-a"), limits(&[("pods", "5")]));
    let failed = failed_writes_but_gone(&server);
    assert!(failed.is_empty(), "{failed:#?}");
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_deleted_by_hand_is_waited_for_then_created_again() {
    let server = server().await;
    let op = start(&server);
    create_tenant(&server, "acme", &["acme"], json!({"pods": "5"})).await;
    wait_ready(&server, "acme", 1).await;
    // A finalizer of someone else's holds the namespace in Terminating.
    let mut held = ConfigMap::default();
    held.metadata.name = Some("held".into());
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    config_maps(&server, "acme")
        .create(&PostParams::default(), &held)
        .await
        .expect("a held ConfigMap");
    server.clear_requests();
    Api::<Namespace>::all(server.client())
        .delete("acme", &DeleteParams::default())
        .await
        .expect("the namespace is deleted");

    let terminating = until(
        "Ready=False while the namespace goes",
        &tenants(&server),
        "acme",
        |t| {
            t.and_then(|t| t.status.as_ref()).is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.reason == "NamespaceTerminating")
            })
        },
    )
    .await
    .and_then(|t| t.status)
    .expect("a status");
    assert_eq!(terminating.ready_namespaces, 0);
    op.converge(LONG).await.unwrap();
    let failed = failed_writes_but_gone(&server);
    assert!(
        failed.is_empty(),
        "nothing is created in a namespace being deleted: {failed:#?}"
    );

    // The namespace goes: the operator creates it again, with its quota and policy.
    config_maps(&server, "acme")
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("the finalizer is removed");
    wait_ready(&server, "acme", 1).await;
    assert_eq!(hard(&server, "acme"), limits(&[("pods", "5")]));
    assert!(policy(&server, "acme", "tenant-isolation").is_some());
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelled_namespaces_are_isolated_until_the_label_goes() {
    let server = server().await;
    let op = start(&server);
    create_namespace(&server, "sandbox", &[(ISOLATE_LABEL, "true")]).await;
    create_namespace(&server, "open", &[]).await;
    create_tenant(&server, "acme", &["acme"], json!({})).await;
    op.wait_until(LONG, || {
        policy(&server, "sandbox", "default-deny-ingress").is_some()
    })
    .await
    .unwrap();
    let deny = policy(&server, "sandbox", "default-deny-ingress").expect("the policy");
    assert_eq!(deny["spec"]["policyTypes"], json!(["Ingress"]));
    assert!(
        deny["spec"]["ingress"].is_null(),
        "no traffic is allowed: {deny}"
    );
    assert_eq!(deny["metadata"]["ownerReferences"][0]["kind"], "Namespace");
    assert_eq!(deny["metadata"]["ownerReferences"][0]["name"], "sandbox");
    wait_ready(&server, "acme", 1).await;
    assert!(policy(&server, "open", "default-deny-ingress").is_none());
    assert!(policy(&server, "acme", "default-deny-ingress").is_none());

    // A tenant's namespace asks for isolation too: the decorator adds its policy, and the
    // Tenant controller leaves the label it did not set alone.
    let namespaces: Api<Namespace> = Api::all(server.client());
    let label =
        |value: Value| Patch::Merge(json!({"metadata": {"labels": {ISOLATE_LABEL: value}}}));
    namespaces
        .patch("acme", &PatchParams::default(), &label(json!("true")))
        .await
        .expect("acme is labelled");
    op.wait_until(LONG, || {
        policy(&server, "acme", "default-deny-ingress").is_some()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let acme = server
        .object("v1", "Namespace", None, "acme")
        .expect("acme");
    assert_eq!(acme["metadata"]["labels"][ISOLATE_LABEL], "true");
    assert_eq!(acme["metadata"]["labels"][TENANT_LABEL], "acme");

    // Steady state of both controllers: a change the decorator sees, and no write.
    server.clear_requests();
    let before = syncs(&op, "namespace-isolation");
    namespaces
        .patch(
            "sandbox",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"note": "touched"}}})),
        )
        .await
        .expect("sandbox is annotated");
    eventually("a sync of sandbox", || async {
        (syncs(&op, "namespace-isolation") > before).then_some(())
    })
    .await;
    op.converge(LONG).await.unwrap();
    assert!(writes(&server).is_empty(), "{:#?}", writes(&server));

    // The labels go: so do the policies; the tenant's own policy stays.
    for ns in ["sandbox", "acme"] {
        namespaces
            .patch(ns, &PatchParams::default(), &label(Value::Null))
            .await
            .expect("the label is removed");
    }
    op.wait_until(LONG, || {
        policy(&server, "sandbox", "default-deny-ingress").is_none()
            && policy(&server, "acme", "default-deny-ingress").is_none()
    })
    .await
    .unwrap();
    assert!(server.object("v1", "Namespace", None, "sandbox").is_some());
    assert!(policy(&server, "acme", "tenant-isolation").is_some());
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_that_cannot_be_served_says_why_and_gets_nothing() {
    let server = server().await;
    create_namespace(&server, "shared", &[]).await;
    let op = start(&server);
    create_tenant(
        &server,
        "bad-name",
        &["ok-ns", "Not_A_Namespace"],
        json!({}),
    )
    .await;
    create_tenant(&server, "bad-quota", &["quota-ns"], json!({"pods": "1.5"})).await;
    // A namespace that exists and belongs to no tenant.
    create_tenant(&server, "squatter", &["shared"], json!({})).await;
    create_tenant(&server, "fine", &["fine"], json!({})).await;
    wait_ready(&server, "fine", 1).await;

    let error_of = |tenant: &'static str| {
        let server = server.clone();
        async move {
            let shown = until("the sync error", &raw_tenants(&server), tenant, |t| {
                t.is_some_and(|t| t.data["status"]["syncError"].is_string())
            })
            .await
            .expect("the tenant");
            shown.data["status"]["syncError"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let error = error_of("bad-name").await;
    assert!(
        error.contains("Tenant bad-name: spec.namespaces[1] is \"Not_A_Namespace\""),
        "{error}"
    );
    let error = error_of("bad-quota").await;
    assert!(
        error
            .contains("Tenant bad-quota: spec.quota.pods is \"1.5\", which must be a whole number"),
        "{error}"
    );
    let error = error_of("squatter").await;
    assert!(
        error.contains("Namespace shared already exists and is not managed by this controller"),
        "{error}"
    );
    op.converge(LONG).await.unwrap();
    for ns in ["ok-ns", "quota-ns"] {
        assert!(
            server.object("v1", "Namespace", None, ns).is_none(),
            "{ns}: a refused tenant gets nothing"
        );
    }
    let shared = server
        .object("v1", "Namespace", None, "shared")
        .expect("shared");
    assert!(
        shared["metadata"]["labels"][TENANT_LABEL].is_null(),
        "{shared}"
    );
    op.stop().await.unwrap();
}
