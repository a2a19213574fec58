//! Quantity fields come back in the real server's canonical form, and malformed ones are
//! refused the way kube-apiserver refuses them.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, Patch, PatchParams, PostParams};
use roperator_testkit::ApiServer;
use serde_json::json;

fn deployment(cpu: serde_json::Value, memory: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx",
                    "resources": {"requests": {"cpu": cpu, "memory": memory},
                                  "limits": {"cpu": "1000m", "memory": "0.5Gi"}}}]}
            }
        }
    }))
    .expect("deployment")
}

#[tokio::test]
async fn container_resources_are_stored_canonically() {
    let server = ApiServer::new();
    let api: Api<Deployment> = Api::default_namespaced(server.client());
    let created = api
        .patch(
            "web",
            &PatchParams::apply("op"),
            &Patch::Apply(deployment(json!("0.5"), "1024Mi")),
        )
        .await
        .expect("apply");
    let resources =
        serde_json::to_value(&created).expect("json")["spec"]["template"]["spec"]["containers"][0]
            ["resources"]
            .clone();
    assert_eq!(
        resources,
        json!({"requests": {"cpu": "500m", "memory": "1Gi"},
               "limits": {"cpu": "1", "memory": "512Mi"}})
    );
    // Applying the same values again in their original spelling is not a change.
    let rv = created.metadata.resource_version.clone();
    let again = api
        .patch(
            "web",
            &PatchParams::apply("op"),
            &Patch::Apply(deployment(json!("0.5"), "1024Mi")),
        )
        .await
        .expect("apply");
    let again = serde_json::to_value(&again).expect("json");
    assert_eq!(
        again["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "500m"
    );
    assert_eq!(again["metadata"]["generation"], 1);
    assert_eq!(
        again["metadata"]["resourceVersion"],
        json!(rv),
        "a no-op write"
    );
}

#[tokio::test]
async fn pvc_requests_are_stored_canonically() {
    let server = ApiServer::new();
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(server.client());
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2048Mi"}}}
    }))
    .expect("pvc");
    let created = api
        .create(&PostParams::default(), &pvc)
        .await
        .expect("create");
    let created = serde_json::to_value(&created).expect("json");
    assert_eq!(created["spec"]["resources"]["requests"]["storage"], "2Gi");
}

#[tokio::test]
async fn a_malformed_quantity_is_a_bad_request_like_the_real_server() {
    let server = ApiServer::new();
    let api: Api<Deployment> = Api::default_namespaced(server.client());
    let err = api
        .create(&PostParams::default(), &deployment(json!("abc"), "1Gi"))
        .await
        .expect_err("refused");
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err}");
    };
    assert_eq!(status.code, 400);
    assert_eq!(status.reason, "BadRequest");
    assert_eq!(
        status.message,
        "Deployment in version \"v1\" cannot be handled as a Deployment: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    let err = api
        .create(&PostParams::default(), &deployment(json!("1"), "192i"))
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("unable to parse quantity's suffix"),
        "{err}"
    );
    assert!(
        server
            .object("apps/v1", "Deployment", Some("default"), "web")
            .is_none()
    );
}
