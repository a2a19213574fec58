//! kubectl against the TCP listener: client-side apply (strategic merge patches computed from our
//! OpenAPI documents), server-side apply with conflicts, and `kubectl patch`, all with kubectl's
//! default validation (which asks the OpenAPI v3 documents whether the server validates fields).

use std::path::{Path, PathBuf};
use std::process::Output;

use roperator_testkit::ApiServer;
use serde_json::{Value, json};

struct Kubectl {
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Kubectl {
    async fn new(server: &ApiServer) -> (Self, roperator_testkit::Listening) {
        let listening = server.listen().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        (Kubectl { kubeconfig, dir }, listening)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write manifest");
        path
    }

    async fn run(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig.clone();
        let cache = self.dir.path().join("cache");
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--cache-dir")
                .arg(&cache)
                .args(&args)
                .output()
                .expect("kubectl runs")
        })
        .await
        .expect("join")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{stderr}"
        );
        assert!(
            !stderr.contains("warning"),
            "kubectl {args:?} warned:\n{stderr}"
        );
        stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["-o", "json", "--show-managed-fields"]);
        serde_json::from_str(&self.ok(&full).await).expect("kubectl printed JSON")
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const DEPLOYMENT_V1: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
        ports:
        - {containerPort: 80}
      - name: sidecar
        image: busybox
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_twice_with_an_edit_merges_containers_by_name() {
    let server = ApiServer::new();
    let (kubectl, _listening) = Kubectl::new(&server).await;
    let v1 = kubectl.file("v1.yaml", DEPLOYMENT_V1);
    let out = kubectl.ok(&["apply", "-f", path_str(&v1)]).await;
    assert!(out.contains("deployment.apps/web created"), "{out}");

    // Someone else adds an env var to the live object; client-side apply must keep it (three-way
    // strategic merge by container name and env name), drop B (removed from the file) and
    // change the image.
    kubectl
        .ok(&["set", "env", "deployment/web", "-c", "app", "EXTRA=x"])
        .await;
    let edited = DEPLOYMENT_V1
        .replace("image: nginx:1", "image: nginx:2")
        .replace("        - {name: B, value: \"2\"}\n", "");
    let v2 = kubectl.file("v2.yaml", &edited);
    let out = kubectl.ok(&["apply", "-f", path_str(&v2)]).await;
    assert!(out.contains("deployment.apps/web configured"), "{out}");

    let live = kubectl.json(&["get", "deployment", "web"]).await;
    let containers = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(containers[1]["name"], "sidecar");
    let env: Vec<&str> = containers[0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(env, ["A", "EXTRA"]);
    // Both the `set env` and the second apply went out as strategic merge patches computed from
    // our OpenAPI v3 documents (kubectl warns when it has to fall back, which `ok` forbids).
    let strategic = server.requests().count(|r| {
        r.verb == "patch"
            && r.patch_type == Some(roperator_testkit::patch::PatchType::StrategicMerge)
    });
    assert!(strategic >= 2, "{strategic} strategic patches");
    let fetched_schema = server
        .requests()
        .count(|r| r.path.starts_with("/openapi/v3/apis/apps/v1") && r.status == 200);
    assert!(
        fetched_schema >= 1,
        "kubectl read the apps/v1 OpenAPI document"
    );
}

impl Kubectl {
    /// Runs a command that must fail; returns its stderr.
    async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }
}

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_string(),
                        e["operation"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_then_force_conflicts_takes_ownership() {
    let server = ApiServer::new();
    let (kubectl, _listening) = Kubectl::new(&server).await;
    let v1 = kubectl.file("v1.yaml", DEPLOYMENT_V1);
    let out = kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&v1)])
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    let live = kubectl.json(&["get", "deployment", "web"]).await;
    assert_eq!(
        managers(&live),
        [("kubectl".to_string(), "Apply".to_string())]
    );

    let scaled = DEPLOYMENT_V1.replace("replicas: 2", "replicas: 5");
    let v2 = kubectl.file("v2.yaml", &scaled);
    let err = kubectl
        .fails(&[
            "apply",
            "--server-side",
            "--field-manager",
            "scaler",
            "-f",
            path_str(&v2),
        ])
        .await;
    assert!(err.contains("conflict with \"kubectl\""), "{err}");
    assert!(err.contains(".spec.replicas"), "{err}");
    let unchanged = kubectl.json(&["get", "deployment", "web"]).await;
    assert_eq!(unchanged["spec"]["replicas"], 2);

    kubectl
        .ok(&[
            "apply",
            "--server-side",
            "--field-manager",
            "scaler",
            "--force-conflicts",
            "-f",
            path_str(&v2),
        ])
        .await;
    let forced = kubectl.json(&["get", "deployment", "web"]).await;
    assert_eq!(forced["spec"]["replicas"], 5);
    let entries = forced["metadata"]["managedFields"]
        .as_array()
        .expect("entries");
    let kubectl_entry = entries
        .iter()
        .find(|e| e["manager"] == "kubectl")
        .expect("kubectl entry");
    assert!(
        kubectl_entry["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    assert!(
        kubectl_entry["fieldsV1"]["f:spec"]
            .get("f:template")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_removes_a_container_dropped_from_the_file() {
    let server = ApiServer::new();
    let (kubectl, _listening) = Kubectl::new(&server).await;
    let v1 = kubectl.file("v1.yaml", DEPLOYMENT_V1);
    kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&v1)])
        .await;
    let without_sidecar =
        DEPLOYMENT_V1.replace("      - name: sidecar\n        image: busybox\n", "");
    let v2 = kubectl.file("v2.yaml", &without_sidecar);
    kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&v2)])
        .await;
    let live = kubectl.json(&["get", "deployment", "web"]).await;
    let names: Vec<&str> = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_patch_strategic_merges_and_deletes_by_merge_key() {
    let server = ApiServer::new();
    let (kubectl, _listening) = Kubectl::new(&server).await;
    let v1 = kubectl.file("v1.yaml", DEPLOYMENT_V1);
    kubectl.ok(&["apply", "-f", path_str(&v1)]).await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:3", "env": [{"name": "A", "$patch": "delete"}]},
        {"name": "sidecar", "$patch": "delete"}
    ]}}}});
    kubectl
        .ok(&[
            "patch",
            "deployment",
            "web",
            "--type",
            "strategic",
            "-p",
            &patch.to_string(),
        ])
        .await;
    let live = kubectl.json(&["get", "deployment", "web"]).await;
    let containers = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], "nginx:3");
    assert_eq!(containers[0]["env"], json!([{"name": "B", "value": "2"}]));
    // The server defaults the protocol, as a real one does.
    assert_eq!(
        containers[0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, default: red}
          status:
            type: object
            properties:
              ready: {type: boolean}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_validated_defaulted_and_refuse_strategic_patches() {
    let server = ApiServer::new();
    let (kubectl, _listening) = Kubectl::new(&server).await;
    let crd = kubectl.file("crd.yaml", WIDGET_CRD);
    kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&crd)])
        .await;
    let explained = kubectl.ok(&["explain", "widget.spec.size"]).await;
    assert!(explained.contains("integer"), "{explained}");

    let bad = kubectl.file(
        "bad.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: {size: big}\n",
    );
    let err = kubectl.fails(&["apply", "-f", path_str(&bad)]).await;
    assert!(err.contains("spec.size"), "{err}");
    assert!(err.contains("must be of type integer"), "{err}");

    let good = kubectl.file(
        "good.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: {size: 2}\n",
    );
    kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&good)])
        .await;
    let live = kubectl.json(&["get", "widget", "w"]).await;
    assert_eq!(live["spec"], json!({"size": 2, "color": "red"}));

    let err = kubectl
        .fails(&[
            "patch",
            "widget",
            "w",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"size":3}}"#,
        ])
        .await;
    assert!(
        err.contains("UnsupportedMediaType") || err.contains("unknown format"),
        "{err}"
    );
    kubectl
        .ok(&[
            "patch",
            "widget",
            "w",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"size":3}}"#,
        ])
        .await;
    let patched = kubectl.json(&["get", "widget", "w"]).await;
    assert_eq!(patched["spec"]["size"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_from_client_side_to_server_side_apply_keeps_ownership() {
    let server = ApiServer::new();
    let (kubectl, _listening) = Kubectl::new(&server).await;
    let v1 = kubectl.file("v1.yaml", DEPLOYMENT_V1);
    kubectl.ok(&["apply", "-f", path_str(&v1)]).await;
    let live = kubectl.json(&["get", "deployment", "web"]).await;
    assert_eq!(
        managers(&live),
        [(
            "kubectl-client-side-apply".to_string(),
            "Update".to_string()
        )]
    );
    // kubectl rewrites the client-side manager's ownership into its server-side one (with a JSON
    // patch of managedFields) before applying, so changing a field it owned is no conflict.
    let scaled = DEPLOYMENT_V1.replace("replicas: 2", "replicas: 4");
    let v2 = kubectl.file("v2.yaml", &scaled);
    kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&v2)])
        .await;
    let live = kubectl.json(&["get", "deployment", "web"]).await;
    assert_eq!(live["spec"]["replicas"], 4);
    assert!(managers(&live).contains(&("kubectl".to_string(), "Apply".to_string())));
}

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_ports_without_protocol_apply_both_ways() {
    let server = ApiServer::new();
    let (kubectl, _listening) = Kubectl::new(&server).await;
    let v1 = kubectl.file("svc.yaml", SERVICE);
    kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&v1)])
        .await;
    let moved = SERVICE.replace("targetPort: 8443", "targetPort: 9443");
    let v2 = kubectl.file("svc2.yaml", &moved);
    kubectl
        .ok(&["apply", "--server-side", "-f", path_str(&v2)])
        .await;
    let live = kubectl.json(&["get", "service", "web"]).await;
    let ports = live["spec"]["ports"].as_array().expect("ports");
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert_eq!(ports[1]["targetPort"], 9443);
    let owned = &live["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"];
    assert!(
        owned.get("k:{\"port\":443,\"protocol\":\"TCP\"}").is_some(),
        "{owned}"
    );

    // Client-side apply of the same file by another name merges by port.
    let other = SERVICE.replace("name: web\n  namespace", "name: api\n  namespace");
    let v3 = kubectl.file("api.yaml", &other);
    kubectl.ok(&["apply", "-f", path_str(&v3)]).await;
    let edited = other.replace("targetPort: 8080", "targetPort: 7070");
    let v4 = kubectl.file("api2.yaml", &edited);
    kubectl.ok(&["apply", "-f", path_str(&v4)]).await;
    let api = kubectl.json(&["get", "service", "api"]).await;
    let ports = api["spec"]["ports"].as_array().expect("ports");
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert_eq!(ports[0]["targetPort"], 7070);
    assert_eq!(ports[1]["targetPort"], 8443);
}
