//! Defaulting through `kube::Client`: what a real server fills in shows in responses, gets,
//! lists and watches, is applied on update, patch, server-side apply and status writes, and
//! never counts as a change of `generation`.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use roperator_testkit::ApiServer;
use serde_json::{Value, json};

fn deployment(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image,
                    "ports": [{"containerPort": 8080}]}]}
            }
        }
    })
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("valid object")
}

#[tokio::test]
async fn defaults_show_in_the_response_gets_lists_and_watches() {
    let server = ApiServer::new();
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    let mut watch = deployments
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let created = deployments
        .create(
            &PostParams::default(),
            &typed(deployment("web", "nginx:1.27")),
        )
        .await
        .expect("create");
    let spec = &created.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let strategy = spec.strategy.as_ref().expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let pod = spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(pod.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    let container = &pod.containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(
        container.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    let ports = container.ports.as_ref().expect("ports");
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));

    let got = deployments.get("web").await.expect("get");
    assert_eq!(got.spec, created.spec);
    let listed = deployments
        .list(&ListParams::default())
        .await
        .expect("list");
    assert_eq!(listed.items[0].spec, created.spec);
    // A watch from "0" starts with the initial state, ended by a bookmark (v1.32's WatchList
    // defaulting), then the create.
    let mut event = watch.try_next().await.expect("watch event").expect("one");
    if matches!(event, WatchEvent::Bookmark(_)) {
        event = watch.try_next().await.expect("watch event").expect("one");
    }
    let WatchEvent::Added(watched) = event else {
        panic!("expected ADDED, got {event:?}");
    };
    assert_eq!(watched.spec, created.spec);
}

#[tokio::test]
async fn defaulting_alone_never_changes_generation_or_resource_version() {
    let server = ApiServer::new();
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    let created = deployments
        .create(
            &PostParams::default(),
            &typed(deployment("web", "nginx:1.27")),
        )
        .await
        .expect("create");
    let rv = created.metadata.resource_version.clone();

    // The body as first sent, without any default: the server defaults it to what it stored.
    let mut resend: Deployment = typed(deployment("web", "nginx:1.27"));
    resend.metadata.resource_version = rv.clone();
    let replaced = deployments
        .replace("web", &PostParams::default(), &resend)
        .await
        .expect("replace");
    assert_eq!(replaced.metadata.generation, Some(1));
    assert_eq!(
        replaced.metadata.resource_version, rv,
        "no change, no write"
    );

    // Removing a defaulted field brings it back, still no change.
    let patched = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"strategy": null, "revisionHistoryLimit": null}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.metadata.generation, Some(1));
    assert_eq!(patched.spec.revision_history_limit, Some(10));

    // A real change does count.
    let patched = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.metadata.generation, Some(2));
}

#[tokio::test]
async fn server_side_apply_is_defaulted_but_owns_only_what_it_applied() {
    let server = ApiServer::new();
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    let params = PatchParams::apply("my-operator");
    let applied = deployments
        .patch("web", &params, &Patch::Apply(deployment("web", "nginx")))
        .await
        .expect("apply");
    let spec = &applied.spec;
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
    let managed = applied
        .metadata
        .managed_fields
        .clone()
        .expect("managed fields");
    let fields = serde_json::to_string(&managed[0].fields_v1).expect("fields");
    assert!(!fields.contains("f:replicas"), "{fields}");
    assert!(!fields.contains("f:progressDeadlineSeconds"), "{fields}");
    assert!(fields.contains("f:image"), "{fields}");

    // Applying the same configuration again changes nothing.
    let again = deployments
        .patch("web", &params, &Patch::Apply(deployment("web", "nginx")))
        .await
        .expect("apply again");
    assert_eq!(
        again.metadata.resource_version,
        applied.metadata.resource_version
    );
}

#[tokio::test]
async fn pull_policy_follows_the_image_tag() {
    let server = ApiServer::new();
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    for (name, image, policy) in [
        ("untagged", "nginx", "Always"),
        ("latest", "registry.example.com/app:latest", "Always"),
        ("tagged", "nginx:1.27", "IfNotPresent"),
        (
            "digest",
            "nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
            "IfNotPresent",
        ),
    ] {
        let pod: Pod = typed(json!({"metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": image}]}}));
        let created = pods
            .create(&PostParams::default(), &pod)
            .await
            .expect("create");
        let container = &created.spec.unwrap().containers[0];
        assert_eq!(
            container.image_pull_policy.as_deref(),
            Some(policy),
            "{image}"
        );
    }
    let explicit: Pod = typed(json!({"metadata": {"name": "explicit"},
        "spec": {"containers": [{"name": "main", "image": "nginx", "imagePullPolicy": "Never"}]}}));
    let created = pods
        .create(&PostParams::default(), &explicit)
        .await
        .expect("create");
    assert_eq!(
        created.spec.unwrap().containers[0]
            .image_pull_policy
            .as_deref(),
        Some("Never")
    );
}

#[tokio::test]
async fn pods_get_what_admission_adds() {
    let server = ApiServer::new();
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let pod: Pod = typed(json!({"metadata": {"name": "p"},
        "spec": {"containers": [{"name": "main", "image": "nginx",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}));
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let spec = created.spec.expect("spec");
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    assert_eq!(spec.priority, Some(0));
    assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(2));
    let volume = &spec.volumes.as_ref().expect("volumes")[0];
    assert!(
        volume.name.starts_with("kube-api-access-"),
        "{}",
        volume.name
    );
    let container = &spec.containers[0];
    assert_eq!(
        container.volume_mounts.as_ref().unwrap()[0].mount_path,
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    // Limits without requests: requests default to them, which makes the pod Guaranteed.
    let requests = container
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap();
    assert_eq!(requests["cpu"].0, "1");
    let status = created.status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.qos_class.as_deref(), Some("Guaranteed"));
    assert!(
        created.metadata.generation.is_none(),
        "v1.32 pods have no generation"
    );
}

#[tokio::test]
async fn secret_string_data_becomes_data_and_is_never_stored() {
    let server = ApiServer::new();
    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let secret: Secret = typed(json!({"metadata": {"name": "s"},
        "data": {"a": "eA=="}, "stringData": {"a": "wins", "b": "plain"}}));
    let created = secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create");
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert!(created.string_data.is_none());
    let data = created.data.expect("data");
    assert_eq!(data["a"].0, b"wins");
    assert_eq!(data["b"].0, b"plain");
    let stored = server
        .object("v1", "Secret", Some("default"), "s")
        .expect("stored");
    assert!(stored.get("stringData").is_none(), "{stored}");

    // stringData on a patch is folded in the same way.
    let patched = secrets
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"c": "more"}})),
        )
        .await
        .expect("patch");
    assert_eq!(patched.data.expect("data")["c"].0, b"more");
    assert!(patched.string_data.is_none());
}

#[tokio::test]
async fn jobs_get_a_generated_selector_and_labels() {
    let server = ApiServer::new();
    let jobs: Api<Job> = Api::default_namespaced(server.client());
    let job: Job = typed(json!({"metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox"}]}}}}));
    let created = jobs
        .create(&PostParams::default(), &job)
        .await
        .expect("create");
    let uid = created.metadata.uid.clone().expect("uid");
    let spec = created.spec.expect("spec");
    assert_eq!(spec.completions, Some(1));
    assert_eq!(spec.parallelism, Some(1));
    assert_eq!(spec.backoff_limit, Some(6));
    assert_eq!(spec.manual_selector, Some(false));
    let selector = spec
        .selector
        .expect("selector")
        .match_labels
        .expect("labels");
    assert_eq!(selector["batch.kubernetes.io/controller-uid"], uid);
    let template_labels = spec
        .template
        .metadata
        .expect("meta")
        .labels
        .expect("labels");
    assert_eq!(template_labels["job-name"], "once");
    assert_eq!(template_labels["controller-uid"], uid);
    let labels = created.metadata.labels.expect("job labels");
    assert_eq!(labels["batch.kubernetes.io/job-name"], "once");

    // A template with labels of its own: the Job without labels shows them, and the generated
    // ones too (upstream, the Job's labels and its template's are one map).
    let labelled: Job = typed(json!({"metadata": {"name": "labelled"},
        "spec": {"template": {"metadata": {"labels": {"app": "x"}},
            "spec": {"restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox"}]}}}}));
    let created = jobs
        .create(&PostParams::default(), &labelled)
        .await
        .expect("create");
    let uid = created.metadata.uid.clone().expect("uid");
    let labels = created.metadata.labels.expect("job labels");
    assert_eq!(labels["app"], "x");
    assert_eq!(labels["job-name"], "labelled");
    assert_eq!(labels["controller-uid"], uid);

    // A Job with labels of its own keeps exactly those.
    let own: Job = typed(json!({"metadata": {"name": "own", "labels": {"team": "a"}},
        "spec": {"template": {"metadata": {"labels": {"app": "x"}},
            "spec": {"restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox"}]}}}}));
    let created = jobs
        .create(&PostParams::default(), &own)
        .await
        .expect("create");
    let labels = created.metadata.labels.expect("job labels");
    assert_eq!(labels.len(), 1, "{labels:?}");
}

#[tokio::test]
async fn status_writes_are_defaulted_too() {
    let server = ApiServer::new();
    let sets: Api<StatefulSet> = Api::default_namespaced(server.client());
    let set: StatefulSet = typed(json!({"metadata": {"name": "db"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "main", "image": "postgres:16"}]}}}}));
    let created = sets
        .create(&PostParams::default(), &set)
        .await
        .expect("create");
    assert_eq!(created.status.as_ref().map(|s| s.replicas), Some(0));
    let patched = sets
        .patch_status(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 2, "availableReplicas": null}})),
        )
        .await
        .expect("status patch");
    let status = patched.status.expect("status");
    assert_eq!(status.replicas, 2);
    assert_eq!(status.available_replicas, Some(0));
    assert_eq!(patched.metadata.generation, Some(1));
}

#[tokio::test]
async fn empty_maps_lists_and_nulls_are_dropped_as_go_encodes_them() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let cm: ConfigMap = typed(
        json!({"metadata": {"name": "c", "labels": {}, "finalizers": []},
        "data": {}}),
    );
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let stored = server
        .object("v1", "ConfigMap", Some("default"), "c")
        .expect("stored");
    assert!(stored["metadata"].get("labels").is_none(), "{stored}");
    assert!(stored["metadata"].get("finalizers").is_none(), "{stored}");
    assert!(stored.get("data").is_none(), "{stored}");
    // Structs stay, even empty: a pod template's security context is `{}`.
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    let created = deployments
        .create(&PostParams::default(), &typed(deployment("web", "nginx")))
        .await
        .expect("create");
    let pod = created.spec.template.spec.expect("pod spec");
    assert!(pod.security_context.is_some());
    // A role without rules says so with `null`, not by leaving the field out.
    server
        .load_yaml("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: aggregated\n")
        .expect("role");
    let role = server
        .object(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            None,
            "aggregated",
        )
        .expect("stored");
    assert_eq!(role.get("rules"), Some(&Value::Null));
}

/// Creates `object` through the dynamic API of its kind and returns what the server answered.
async fn create_dynamic(server: &ApiServer, object: Value) -> Value {
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let kind = object["kind"].as_str().expect("kind");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let client = server.client();
    let (resource, caps) = kube::discovery::pinned_kind(&client, &gvk)
        .await
        .expect("served kind");
    let api: Api<kube::api::DynamicObject> = match caps.scope {
        kube::discovery::Scope::Cluster => Api::all_with(client, &resource),
        kube::discovery::Scope::Namespaced => Api::default_namespaced_with(client, &resource),
    };
    let created = api
        .create(&PostParams::default(), &typed(object))
        .await
        .expect("create");
    serde_json::to_value(created).expect("json")
}

#[tokio::test]
async fn cluster_infrastructure_kinds_get_their_defaults() {
    let server = ApiServer::new();
    let class = create_dynamic(
        &server,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "fast"}, "provisioner": "example.com/disk"}),
    )
    .await;
    assert_eq!(
        (&class["reclaimPolicy"], &class["volumeBindingMode"]),
        (&json!("Delete"), &json!("Immediate"))
    );
    let volume = create_dynamic(
        &server,
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/data"}}}),
    )
    .await;
    assert_eq!(volume["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(volume["spec"]["volumeMode"], "Filesystem");
    assert_eq!(volume["status"]["phase"], "Pending");
    assert!(
        volume["status"]["lastPhaseTransitionTime"].is_string(),
        "{volume}"
    );
    let slice = create_dynamic(
        &server,
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1"}, "addressType": "IPv4", "ports": [{"port": 80}],
            "endpoints": [{"addresses": ["10.0.0.1"]}]}),
    )
    .await;
    assert_eq!(
        slice["ports"],
        json!([{"name": "", "port": 80, "protocol": "TCP"}])
    );
    let webhook = create_dynamic(
        &server,
        json!({"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration", "metadata": {"name": "inject"},
            "webhooks": [{"name": "inject.example.com", "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {"service": {"name": "injector", "namespace": "default"}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                    "resources": ["pods"]}]}]}),
    )
    .await;
    let hook = &webhook["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(hook["matchPolicy"], "Equivalent");
    assert_eq!(hook["timeoutSeconds"], 10);
    assert_eq!(hook["reinvocationPolicy"], "Never");
    assert_eq!(hook["namespaceSelector"], json!({}));
    assert_eq!(hook["clientConfig"]["service"]["port"], 443);
    assert_eq!(hook["rules"][0]["scope"], "*");
    let class = create_dynamic(
        &server,
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "batch"}, "value": 100}),
    )
    .await;
    assert_eq!(class["preemptionPolicy"], "PreemptLowerPriority");
}

#[tokio::test]
async fn strategies_keep_what_only_the_server_may_change() {
    let server = ApiServer::new();
    // A namespace's finalizers change only through /finalize.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(server.client());
    namespaces
        .create(
            &PostParams::default(),
            &typed(json!({"metadata": {"name": "team"}})),
        )
        .await
        .expect("create");
    let patched = namespaces
        .patch(
            "team",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"finalizers": ["example.com/x"]}})),
        )
        .await
        .expect("patch");
    let finalizers = patched.spec.and_then(|s| s.finalizers);
    assert_eq!(finalizers, Some(vec!["kubernetes".to_string()]));

    // A DaemonSet replaced from its original manifest keeps its template generation.
    let sets: Api<k8s_openapi::api::apps::v1::DaemonSet> = Api::default_namespaced(server.client());
    let manifest = json!({"metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "c", "image": "agent:1",
                    "env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}]}}}});
    let created = sets
        .create(&PostParams::default(), &typed(manifest.clone()))
        .await
        .expect("create");
    let annotation = |set: &k8s_openapi::api::apps::v1::DaemonSet| {
        set.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deprecated.daemonset.template.generation").cloned())
    };
    assert_eq!(annotation(&created).as_deref(), Some("1"));
    let env = serde_json::to_value(&created.spec.template).expect("json")["spec"]["containers"][0]
        ["env"][0]
        .clone();
    // A resource field's divisor is a plain Quantity: Go writes its zero value.
    assert_eq!(
        env["valueFrom"]["resourceFieldRef"],
        json!({"resource": "limits.cpu", "divisor": "0"})
    );
    let mut replacement: k8s_openapi::api::apps::v1::DaemonSet = typed(manifest);
    replacement.metadata.resource_version = created.metadata.resource_version.clone();
    let replaced = sets
        .replace("agent", &PostParams::default(), &replacement)
        .await
        .expect("replace");
    assert_eq!(annotation(&replaced).as_deref(), Some("1"));
}

#[tokio::test]
async fn unset_condition_times_read_back_as_null() {
    let server = ApiServer::new();
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    deployments
        .create(
            &PostParams::default(),
            &typed(deployment("web", "nginx:1.27")),
        )
        .await
        .expect("create");
    let patched = deployments
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}})),
        )
        .await
        .expect("status patch");
    let condition = serde_json::to_value(patched.status).expect("json")["conditions"][0].clone();
    // Non-pointer metav1.Time fields: Go writes an unset one as null.
    let raw = server
        .object("apps/v1", "Deployment", Some("default"), "web")
        .expect("stored");
    let stored = &raw["status"]["conditions"][0];
    assert_eq!(stored["lastUpdateTime"], Value::Null, "{stored}");
    assert_eq!(stored["lastTransitionTime"], Value::Null, "{stored}");
    assert!(
        stored
            .as_object()
            .is_some_and(|c| c.contains_key("lastUpdateTime")),
        "{stored}"
    );
    assert_eq!(condition["type"], "Available");
}
