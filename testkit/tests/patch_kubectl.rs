//! kubectl against the TCP listener: client-side apply (strategic merge patches computed from our
//! OpenAPI documents), server-side apply with conflicts, and `kubectl patch`, all with kubectl's
//! default validation (which asks the OpenAPI v3 documents whether the server validates fields).

use std::path::{Path, PathBuf};
use std::process::Output;

use roperator_testkit::ApiServer;
use serde_json::Value;

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
        full.extend(["-o", "json"]);
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
    let requests = server.requests();
    let _ = requests;
}
