//! kubectl 1.32 against the TCP listener: get -o json, apply -f, get -w, delete --wait,
//! creating a CRD then one of its objects, over plain HTTP and TLS.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use roperator_testkit::{ApiServer, Listening};
use serde_json::Value;

struct Kubectl {
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn new(listening: &Listening) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Self { kubeconfig, dir }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("kubectl runs"))
            .await
            .expect("join")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&full).await).expect("kubectl printed JSON")
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_apply_and_delete_wait() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let namespaces = k.json(&["get", "namespaces"]).await;
    let names: Vec<&str> = namespaces["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"default") && names.contains(&"kube-system"),
        "{names:?}"
    );

    let manifest = k.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  labels: {app: demo}\ndata:\n  a: b\n",
    );
    let out = k.ok(&["apply", "-f", &manifest]).await;
    assert!(out.contains("configmap/demo created"), "{out}");
    let got = k.json(&["get", "configmap", "demo"]).await;
    assert_eq!(got["data"]["a"], "b");
    let by_label = k.json(&["get", "cm", "-l", "app=demo"]).await;
    assert_eq!(by_label["items"].as_array().map(Vec::len), Some(1));

    let out = k
        .ok(&[
            "delete",
            "configmap",
            "demo",
            "--wait=true",
            "--timeout=10s",
        ])
        .await;
    assert!(out.contains("deleted"), "{out}");
    assert!(
        server
            .object("v1", "ConfigMap", Some("default"), "demo")
            .is_none()
    );
    let missing = k.run(&["get", "configmap", "demo"]).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_wait_blocks_until_finalizers_are_gone() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n")
        .expect("load");
    let mut child = k
        .command(&[
            "delete",
            "configmap",
            "held",
            "--wait=true",
            "--timeout=20s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until kubectl has deleted (the finalizer keeps the object) and is waiting on it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server
        .requests()
        .count(|r| r.verb == "watch" || r.verb == "get" && r.name.as_deref() == Some("held"))
        == 0
        || server.requests().count(|r| r.verb == "delete") == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "kubectl never deleted and waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A check that kubectl does *not* return: no event marks "still waiting", so give a wrong
    // answer (an early exit) a window to show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        child.try_wait().expect("poll").is_none(),
        "kubectl waits while the finalizer holds"
    );
    let obj = server
        .object("v1", "ConfigMap", Some("default"), "held")
        .expect("still there");
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: []\n")
        .expect("release");
    let status = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_events() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let child = k
        .command(&[
            "get",
            "configmaps",
            "-w",
            "--output-watch-events",
            "-o",
            "json",
            "--request-timeout=8s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Write only once kubectl's watch is open, so both changes arrive as watch events.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server
        .requests()
        .count(|r| r.verb == "watch" && r.resource == "configmaps")
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "kubectl never started watching"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w1\n")
        .expect("load");
    server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w1\ndata: {k: v2}\n")
        .expect("load");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .filter_map(Result::ok)
        .collect();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| {
            Some((
                e["type"].as_str()?,
                e["object"]["metadata"]["name"].as_str()?,
            ))
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("ADDED", "kube-root-ca.crt"),
            ("ADDED", "w1"),
            ("MODIFIED", "w1")
        ],
        "stdout: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_crd_then_an_object_over_tls() {
    let server = ApiServer::new();
    let listening = server.listen_tls().await;
    let k = Kubectl::new(&listening);
    let crd = k.file(
        "crd.yaml",
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
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
            properties:
              size: {type: integer}
"#,
    );
    let out = k.ok(&["create", "-f", &crd]).await;
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"),
        "{out}"
    );
    let widget = k.file(
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n",
    );
    let out = k.ok(&["create", "-f", &widget]).await;
    assert!(out.contains("widget.example.com/w created"), "{out}");
    let got = k.json(&["get", "wd", "w"]).await;
    assert_eq!(got["spec"]["size"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_a_deployment() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let api =
        kube::Api::<k8s_openapi::api::apps::v1::Deployment>::default_namespaced(server.client());
    api.create(
        &Default::default(),
        &roperator_testkit::fixtures::deployment("web", "nginx", 1),
    )
    .await
    .expect("create");
    let out = k.ok(&["scale", "deployment", "web", "--replicas=4"]).await;
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let live = server
        .object("apps/v1", "Deployment", Some("default"), "web")
        .expect("present");
    assert_eq!(live["spec"]["replicas"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantities_come_back_canonical_and_reapply_is_unchanged() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let manifest = k.file(
        "web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: app\n        image: nginx\n        resources:\n          requests: {cpu: 0.5, memory: 1024Mi}\n          limits: {cpu: 1, memory: 2048Mi}\n",
    );
    k.ok(&["apply", "-f", &manifest]).await;
    let web = k.json(&["get", "deployment", "web"]).await;
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["resources"],
        serde_json::json!({"requests": {"cpu": "500m", "memory": "1Gi"},
                           "limits": {"cpu": "1", "memory": "2Gi"}})
    );
    // kubectl sees `0.5` against `500m` and sends a patch (a real cluster prints "configured"
    // too), but the stored object does not change.
    k.ok(&["apply", "-f", &manifest]).await;
    let web2 = k.json(&["get", "deployment", "web"]).await;
    assert_eq!(web2["metadata"]["generation"], 1);
    assert_eq!(
        web2["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "500m"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_follow_kubectl_validate() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let manifest = k.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\nbogus: 1\n",
    );
    // kubectl's default is --validate=strict, which it leaves to the server.
    let out = k.run(&["apply", "-f", &manifest]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("strict decoding error: unknown field \"bogus\""),
        "{stderr}"
    );
    let out = k.run(&["apply", "--validate=warn", "-f", &manifest]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Warning: unknown field \"bogus\""),
        "{stderr}"
    );
    let cm = k.json(&["get", "configmap", "settings"]).await;
    assert_eq!(cm["data"]["mode"], "fast");
    assert!(cm.get("bogus").is_none(), "{cm}");
    let out = k.run(&["apply", "--validate=false", "-f", &manifest]).await;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

/// `kubectl get events` reads core v1 Events; what a kube-rs `Recorder` writes through
/// events.k8s.io/v1 must show up there, as it does against a real cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_events_lists_what_a_recorder_wrote() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let recorder = Recorder::new(
        server.client(),
        Reporter {
            controller: "my-operator".into(),
            instance: None,
        },
    );
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        name: Some("settings".into()),
        namespace: Some("default".into()),
        ..Default::default()
    };
    recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Reconciled".into(),
                note: Some("all good".into()),
                action: "Reconcile".into(),
                secondary: None,
            },
            &reference,
        )
        .await
        .expect("publish");
    let events = k.json(&["get", "events"]).await;
    let items = events["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{events}");
    assert_eq!(items[0]["apiVersion"], "v1");
    assert_eq!(items[0]["message"], "all good");
    assert_eq!(items[0]["reason"], "Reconciled");
    assert_eq!(items[0]["involvedObject"]["name"], "settings");
    // The upstream event printer's columns, for both versions of the one resource.
    let table = k.ok(&["get", "events"]).await;
    let header = table.lines().next().unwrap_or("");
    assert!(
        header.split_whitespace().collect::<Vec<_>>()
            == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{table}"
    );
    assert!(
        table.contains("Normal")
            && table.contains("configmap/settings")
            && table.contains("all good"),
        "{table}"
    );
    let wide = k
        .ok(&["get", "events.v1.events.k8s.io", "-o", "wide"])
        .await;
    assert!(wide.contains("my-operator"), "{wide}");
}

/// kubectl learns from discovery that a group is not served and says so without asking for
/// its path; asked for such a path directly it gets the real server's plain-text 404 page,
/// which client-go reports as NotFound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_resource_types_and_groups() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let out = k.run(&["get", "widgets.nope.example.com"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the server doesn't have a resource type \"widgets\""),
        "{stderr}"
    );
    let out = k
        .run(&["get", "--raw", "/apis/nope.example.com/v1/widgets"])
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "Error from server (NotFound): the server could not find the requested resource"
        ),
        "{stderr}"
    );
    let out = k.run(&["get", "--raw", "/apis/apps/v1/widgets"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "Error from server (NotFound): the server could not find the requested resource"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_shows_defaults_and_allocated_addresses() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let manifest = k.file(
        "app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: nginx\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports:\n  - port: 80\n",
    );
    k.ok(&["apply", "-f", &manifest]).await;
    let deployment = k.json(&["get", "deployment", "web"]).await;
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["imagePullPolicy"], "Always");
    let service = k.json(&["get", "service", "web"]).await;
    let ip = service["spec"]["clusterIP"].as_str().expect("cluster IP");
    let [a, b, ..] = ip.parse::<std::net::Ipv4Addr>().expect("IPv4").octets();
    assert!(
        a == 10 && (96..112).contains(&b),
        "{ip} outside 10.96.0.0/12"
    );
    let node_port = service["spec"]["ports"][0]["nodePort"]
        .as_u64()
        .expect("node port");
    let table = k.ok(&["get", "service", "web"]).await;
    assert!(table.contains(ip), "{table}");
    assert!(table.contains(&format!("80:{node_port}/TCP")), "{table}");
    // Re-applying the same manifest changes nothing, defaults and allocations included.
    let out = k.ok(&["apply", "-f", &manifest]).await;
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    assert!(out.contains("service/web unchanged"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_print_the_real_messages() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    let big = k.file(
        "big.json",
        &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "big", "annotations": {"k": "x".repeat(262_144)}}})
        .to_string(),
    );
    let out = k.run(&["create", "-f", &big]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "ConfigMap \"big\" is invalid: metadata.annotations: Too long: must have at most 262144 bytes"
        ),
        "{stderr}"
    );
    let frozen = k.file(
        "frozen.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frozen\nimmutable: true\ndata:\n  k: v\n",
    );
    k.ok(&["apply", "-f", &frozen]).await;
    let thawed = k.file(
        "thawed.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frozen\nimmutable: true\ndata:\n  k: w\n",
    );
    let out = k.run(&["apply", "-f", &thawed]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{stderr}"
    );
}

/// The object kubectl stored, without what differs between any two creates of it.
fn comparable(mut object: Value, namespace: &str) -> String {
    if let Some(meta) = object["metadata"].as_object_mut() {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
        ] {
            meta.remove(field);
        }
    }
    if let Some(spec) = object["spec"].as_object_mut() {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            port.as_object_mut().map(|p| p.remove("nodePort"));
        }
    }
    object.to_string().replace(namespace, "<namespace>")
}

/// kubectl's typed generators send protobuf; what they create must be what the same object sent
/// as JSON creates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_send_protobuf_and_store_what_json_would() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    k.ok(&["create", "namespace", "via-protobuf"]).await;
    k.ok(&["create", "namespace", "via-json"]).await;
    let commands: &[(&str, &[&str])] = &[
        (
            "configmap/cm",
            &[
                "create",
                "configmap",
                "cm",
                "--from-literal=a=b",
                "--from-literal=empty=",
            ],
        ),
        (
            "secret/s",
            &[
                "create",
                "secret",
                "generic",
                "s",
                "--from-literal=pw=hunter2",
            ],
        ),
        (
            "secret/reg",
            &[
                "create",
                "secret",
                "docker-registry",
                "reg",
                "--docker-server=r.io",
                "--docker-username=u",
                "--docker-password=p",
            ],
        ),
        (
            "deployment/web",
            &[
                "create",
                "deployment",
                "web",
                "--image=nginx:1.27",
                "--replicas=0",
                "--port=80",
            ],
        ),
        (
            "service/web",
            &["create", "service", "nodeport", "web", "--tcp=80:8080"],
        ),
        (
            "service/ext",
            &[
                "create",
                "service",
                "externalname",
                "ext",
                "--external-name=example.com",
            ],
        ),
        ("job/j", &["create", "job", "j", "--image=busybox"]),
        (
            "cronjob/cj",
            &[
                "create",
                "cronjob",
                "cj",
                "--image=busybox",
                "--schedule=@hourly",
            ],
        ),
        (
            "role/r",
            &["create", "role", "r", "--verb=get", "--resource=pods"],
        ),
        (
            "rolebinding/rb",
            &["create", "rolebinding", "rb", "--role=r", "--user=alice"],
        ),
        (
            "pdb/p",
            &[
                "create",
                "pdb",
                "p",
                "--selector=app=web",
                "--max-unavailable=0",
            ],
        ),
        (
            "quota/q",
            &["create", "quota", "q", "--hard=pods=10,cpu=2,memory=1Gi"],
        ),
        ("serviceaccount/sa", &["create", "serviceaccount", "sa"]),
        (
            "ingress/ing",
            &[
                "create",
                "ingress",
                "ing",
                "--rule=foo.com/bar=svc1:http",
                "--class=nginx",
            ],
        ),
    ];
    for (object, args) in commands {
        let mut typed = args.to_vec();
        typed.extend(["-n", "via-protobuf"]);
        k.ok(&typed).await;
        let mut dry = args.to_vec();
        dry.extend(["-n", "via-json", "--dry-run=client", "-o", "json"]);
        let manifest = k.file("manifest.json", &k.ok(&dry).await);
        k.ok(&["create", "-n", "via-json", "-f", &manifest]).await;

        let from_protobuf = k.json(&["get", object, "-n", "via-protobuf"]).await;
        let from_json = k.json(&["get", object, "-n", "via-json"]).await;
        let (mut a, mut b) = (
            comparable(from_protobuf, "via-protobuf"),
            comparable(from_json, "via-json"),
        );
        // A Job's generated labels and selector carry its own uid.
        if *object == "job/j" {
            let uid = |s: &str| {
                let v: Value = serde_json::from_str(s).expect("json");
                v["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"]
                    .as_str()
                    .expect("job uid label")
                    .to_string()
            };
            let (ua, ub) = (uid(&a), uid(&b));
            a = a.replace(&ua, "<uid>");
            b = b.replace(&ub, "<uid>");
        }
        assert_eq!(a, b, "{object}: protobuf (left) and JSON (right) differ");
    }
    // `kubectl run` too, down to the pod's defaults.
    k.ok(&["run", "pod1", "--image=nginx", "--port=80", "--env=A=1"])
        .await;
    let pod = k.json(&["get", "pod", "pod1"]).await;
    let container = &pod["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        serde_json::json!([{"name": "A", "value": "1"}])
    );
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(pod["spec"]["restartPolicy"], "Always");
}
