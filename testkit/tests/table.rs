//! Server-side Table output: what `kubectl get` asks for (`Accept: ...;as=Table;...`) and prints.

use std::path::PathBuf;
use std::time::Duration;

use roperator_testkit::ApiServer;
use serde_json::{Value, json};

const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

async fn post(client: &kube::Client, path: &str, body: Value) {
    let req = http::Request::post(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).expect("serializable"))
        .expect("request");
    client.request_text(req).await.expect("create succeeds");
}

async fn get(client: &kube::Client, path: &str, accept: &str) -> Value {
    let req = http::Request::get(path)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(req).await.expect("get succeeds");
    serde_json::from_str(&text).expect("JSON reply")
}

fn column_names(table: &Value) -> Vec<&str> {
    table["columnDefinitions"]
        .as_array()
        .expect("columnDefinitions")
        .iter()
        .map(|c| c["name"].as_str().expect("column name"))
        .collect()
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    })
}

fn echo_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "echoservers.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "echoservers", "singular": "echoserver", "kind": "EchoServer"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Message", "type": "string", "jsonPath": ".spec.message", "description": "What it echoes"},
                    {"name": "First-Port", "type": "integer", "jsonPath": ".spec.ports[0].port", "priority": 1},
                    {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "replicas": {"type": "integer"},
                            "message": {"type": "string"},
                            "ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}}
                        }},
                        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
                    }
                }}
            }]
        }
    })
}

#[tokio::test]
async fn deployment_list_and_get_as_table() {
    let server = ApiServer::new();
    server.simulate_workloads(true);
    let client = server.client();
    post(
        &client,
        "/apis/apps/v1/namespaces/default/deployments",
        deployment("web", 2),
    )
    .await;
    let table = get(
        &client,
        "/apis/apps/v1/namespaces/default/deployments",
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert!(table["metadata"]["resourceVersion"].is_string(), "{table}");
    assert_eq!(
        column_names(&table),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    // The -o wide columns come last, at priority 1.
    let priorities: Vec<i64> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["priority"].as_i64())
        .collect();
    assert_eq!(priorities, [0, 0, 0, 0, 0, 1, 1, 1]);
    let row = &table["rows"][0];
    assert_eq!(
        &row["cells"].as_array().expect("cells")[5..],
        ["c", "nginx", "app=web"]
    );
    assert_eq!(row["cells"][0], "web");
    assert_eq!(row["cells"][1], "2/2");
    assert_eq!(row["cells"][2], 2);
    assert_eq!(row["cells"][3], 2);
    let age = row["cells"][4].as_str().expect("age is a string");
    assert!(
        age.ends_with('s'),
        "a new object's age is in seconds: {age}"
    );
    // By default each row carries the object's metadata only.
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["name"], "web");
    assert!(row["object"].get("spec").is_none());

    // GET of one object, with the full object requested and the older Table version.
    let one = get(
        &client,
        "/apis/apps/v1/namespaces/default/deployments/web?includeObject=Object",
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
    )
    .await;
    assert_eq!(one["apiVersion"], "meta.k8s.io/v1beta1");
    assert_eq!(one["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["rows"][0]["object"]["kind"], "Deployment");
    assert_eq!(one["rows"][0]["object"]["spec"]["replicas"], 2);

    // Without the Table media type, the plain list comes back as before.
    let plain = get(
        &client,
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
    )
    .await;
    assert_eq!(plain["kind"], "DeploymentList");
}

#[tokio::test]
async fn service_columns_match_kubectl() {
    let server = ApiServer::new();
    let client = server.client();
    post(
        &client,
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "front"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.96.0.20",
                "selector": {"app": "front"},
                "ports": [
                    {"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"},
                    {"name": "dns", "port": 53, "nodePort": 30053, "protocol": "UDP"}
                ]
            }
        }),
    )
    .await;
    let table = get(
        &client,
        "/api/v1/namespaces/default/services?includeObject=None",
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(
        column_names(&table),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    let row = &table["rows"][0];
    assert_eq!(row["cells"][0], "front");
    assert_eq!(row["cells"][1], "NodePort");
    assert_eq!(row["cells"][2], "10.96.0.20");
    assert_eq!(row["cells"][3], "<none>");
    assert_eq!(row["cells"][4], "80:30080/TCP,53:30053/UDP");
    assert_eq!(row["cells"][6], "app=front");
    assert!(row.get("object").is_none(), "includeObject=None: {row}");
}

#[tokio::test]
async fn custom_resource_printer_columns() {
    let server = ApiServer::new();
    let client = server.client();
    post(
        &client,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        echo_crd(),
    )
    .await;
    post(
        &client,
        "/apis/example.com/v1/namespaces/default/echoservers",
        json!({
            "apiVersion": "example.com/v1", "kind": "EchoServer",
            "metadata": {"name": "hello"},
            "spec": {"replicas": 3, "message": "hi there", "ports": [{"port": 8080}]}
        }),
    )
    .await;
    let table = get(
        &client,
        "/apis/example.com/v1/namespaces/default/echoservers",
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(
        column_names(&table),
        ["Name", "Replicas", "Message", "First-Port", "Ready", "Age"]
    );
    let defs = &table["columnDefinitions"];
    assert_eq!(defs[1]["type"], "integer");
    assert_eq!(defs[2]["description"], "What it echoes");
    assert_eq!(defs[3]["priority"], 1);
    assert_eq!(defs[5]["type"], "date");
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "hello");
    assert_eq!(cells[1], 3);
    assert_eq!(cells[2], "hi there");
    assert_eq!(cells[3], 8080);
    assert_eq!(cells[4], Value::Null, "no status yet: {cells}");
    let age = cells[5].as_str().expect("date cell is a string");
    assert!(age.ends_with('s'), "date cells read as ages: {age}");

    // A CRD without printer columns gets Name and an Age date column.
    let crds = get(
        &client,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(column_names(&crds), ["Name", "Created At"]);
    assert_eq!(crds["rows"][0]["cells"][0], "echoservers.example.com");
    let created = crds["rows"][0]["cells"][1].as_str().expect("timestamp");
    assert!(
        created.parse::<jiff::Timestamp>().is_ok(),
        "CRDs show when they were created: {created}"
    );
}

#[tokio::test]
async fn watch_events_carry_one_row_tables() {
    let server = ApiServer::new();
    let client = server.client();
    post(
        &client,
        "/api/v1/namespaces/default/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}, "data": {"a": "1"}}),
    )
    .await;
    let req =
        http::Request::get(
            "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Done",
        )
            .header(http::header::ACCEPT, KUBECTL_ACCEPT)
            .body(Vec::new())
            .expect("request");
    let text = client.request_text(req).await.expect("watch succeeds");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert_eq!(events.len(), 1, "{text}");
    assert_eq!(events[0]["type"], "ADDED");
    let table = &events[0]["object"];
    assert_eq!(table["kind"], "Table");
    assert_eq!(column_names(table), ["Name", "Data", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "one");
    assert_eq!(table["rows"][0]["cells"][1], 1);
    assert_eq!(table["rows"][0]["object"]["metadata"]["name"], "one");

    // Only the stream's first Table carries the column definitions.
    let req =
        http::Request::get("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1")
            .header(http::header::ACCEPT, KUBECTL_ACCEPT)
            .body(Vec::new())
            .expect("request");
    let text = client.request_text(req).await.expect("watch succeeds");
    let definitions: Vec<bool> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("event"))
        .map(|e| e["object"]["columnDefinitions"].is_array())
        .collect();
    assert_eq!(definitions, [true, false], "{text}");
}

#[tokio::test]
async fn unknown_include_object_is_rejected() {
    let server = ApiServer::new();
    let req = http::Request::get("/api/v1/namespaces?includeObject=Everything")
        .header(http::header::ACCEPT, KUBECTL_ACCEPT)
        .body(Vec::new())
        .expect("request");
    match server.client().request_text(req).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 400);
            assert_eq!(
                s.message,
                "Unable to convert to Table as requested: includeObject: Invalid value: \"Everything\": must be 'Metadata', 'Object', 'None', or empty"
            );
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

struct Kubectl {
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn new(listening: &roperator_testkit::Listening) -> Self {
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

    async fn ok(&self, args: &[&str]) -> String {
        let mut cmd = self.command(args);
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("kubectl runs"))
            .await
            .expect("join");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// The header line and the line for `name` from kubectl's table output, split into fields.
fn row_of<'a>(out: &'a str, name: &str) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or("").split_whitespace().collect();
    let row = lines
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or("")
        .split_whitespace()
        .collect();
    (header, row)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_prints_server_side_columns() {
    let server = ApiServer::new();
    server.simulate_workloads(true);
    let client = server.client();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    post(
        &client,
        "/apis/apps/v1/namespaces/default/deployments",
        deployment("web", 2),
    )
    .await;
    let out = k.ok(&["get", "deployments"]).await;
    let (header, row) = row_of(&out, "web");
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
    assert_eq!(&row[..4], ["web", "2/2", "2", "2"], "{out}");
    let wide = k.ok(&["get", "deployments", "-o", "wide"]).await;
    let (header, row) = row_of(&wide, "web");
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{wide}"
    );
    assert_eq!(&row[5..], ["c", "nginx", "app=web"], "{wide}");

    post(
        &client,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        echo_crd(),
    )
    .await;
    post(
        &client,
        "/apis/example.com/v1/namespaces/default/echoservers",
        json!({
            "apiVersion": "example.com/v1", "kind": "EchoServer",
            "metadata": {"name": "hello"},
            "spec": {"replicas": 3, "message": "hi", "ports": [{"port": 8080}]}
        }),
    )
    .await;
    let out = k.ok(&["get", "echoservers"]).await;
    let (header, row) = row_of(&out, "hello");
    // First-Port has priority 1: only `-o wide` shows it.
    assert_eq!(
        header,
        ["NAME", "REPLICAS", "MESSAGE", "READY", "AGE"],
        "{out}"
    );
    // No status yet: the Ready cell is empty, so the age is the fourth field.
    assert_eq!(&row[..3], ["hello", "3", "hi"], "{out}");
    assert!(
        row.get(3).is_some_and(|age| age.ends_with('s')) && row.len() == 4,
        "the date column reads as an age: {out}"
    );
    let wide = k.ok(&["get", "echoservers", "-o", "wide"]).await;
    let (header, row) = row_of(&wide, "hello");
    assert_eq!(
        header,
        ["NAME", "REPLICAS", "MESSAGE", "FIRST-PORT", "READY", "AGE"],
        "{wide}"
    );
    assert_eq!(row.get(3), Some(&"8080"), "{wide}");

    // -A puts the namespace (from the rows' metadata) in front.
    let all = k.ok(&["get", "deployments", "-A"]).await;
    let mut lines = all.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("NAMESPACE") && h.contains("READY")),
        "{all}"
    );
    assert!(
        lines.any(|l| l.split_whitespace().collect::<Vec<_>>()[..3] == ["default", "web", "2/2"]),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_still_prints_changes() {
    let server = ApiServer::new();
    let client = server.client();
    let listening = server.listen().await;
    let k = Kubectl::new(&listening);
    post(
        &client,
        "/api/v1/namespaces/default/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "first"}, "data": {"a": "1"}}),
    )
    .await;
    // The request timeout ends kubectl's watch, so its output is complete when it exits.
    let mut cmd = k.command(&["get", "configmaps", "-w", "--request-timeout=4s"]);
    cmd.stdout(std::process::Stdio::piped());
    cmd.stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("kubectl starts");
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output());
    // Write only once kubectl's watch is open, so the change arrives as a watch event.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while server
        .requests()
        .count(|r| r.verb == "watch" && r.resource == "configmaps")
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "kubectl never started watching"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    post(
        &client,
        "/api/v1/namespaces/default/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "second"}, "data": {"a": "1", "b": "2"}}),
    )
    .await;
    let out = waiter.await.expect("join").expect("kubectl output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (header, first) = row_of(&stdout, "first");
    assert_eq!(header, ["NAME", "DATA", "AGE"], "{stdout}");
    assert_eq!(first.get(1), Some(&"1"), "{stdout}");
    // The event arrives as a Table row in the list's columns, under the one header.
    let (_, second) = row_of(&stdout, "second");
    assert_eq!(second.get(1), Some(&"2"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("NAME")).count(),
        1,
        "{stdout}"
    );
}

/// The cells of the only row of a table, by column name.
fn row_cells(table: &Value) -> Vec<(String, Value)> {
    column_names(table)
        .into_iter()
        .map(String::from)
        .zip(
            table["rows"][0]["cells"]
                .as_array()
                .expect("cells")
                .iter()
                .cloned(),
        )
        .collect()
}

/// Expected cells, by column name.
type Cells = Vec<(&'static str, Value)>;

#[tokio::test]
async fn kinds_beyond_workloads_print_their_upstream_columns() {
    let server = ApiServer::new();
    let client = server.client();
    let cases: Vec<(&str, Value, Cells)> = vec![
        (
            "/apis/storage.k8s.io/v1/storageclasses",
            json!({"metadata": {"name": "fast", "annotations":
                {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "x.io/disk"}),
            vec![
                ("Name", json!("fast (default)")),
                ("Provisioner", json!("x.io/disk")),
                ("ReclaimPolicy", json!("Delete")),
                ("VolumeBindingMode", json!("Immediate")),
                ("AllowVolumeExpansion", json!(false)),
            ],
        ),
        (
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": "50%",
                "selector": {"matchLabels": {"app": "web"}}}}),
            vec![
                ("Min Available", json!("50%")),
                ("Max Unavailable", json!("N/A")),
                ("Allowed Disruptions", json!(0)),
            ],
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            json!({"metadata": {"name": "web"}, "spec": {"rules": [{"host": "a.example.com"},
                {"host": "b.example.com"}], "tls": [{"hosts": ["a.example.com"]}]}}),
            vec![
                ("Class", json!("<none>")),
                ("Hosts", json!("a.example.com,b.example.com")),
                ("Address", json!("")),
                ("Ports", json!("80, 443")),
            ],
        ),
        (
            "/apis/batch/v1/namespaces/default/cronjobs",
            json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
            vec![
                ("Schedule", json!("0 3 * * *")),
                ("Timezone", json!("<none>")),
                ("Suspend", json!("False")),
                ("Active", json!(0)),
                ("Last Schedule", json!("<none>")),
            ],
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            json!({"metadata": {"name": "read"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount",
                "name": "default", "namespace": "default"}]}),
            vec![
                ("Role", json!("ClusterRole/view")),
                ("ServiceAccounts", json!("default/default")),
            ],
        ),
    ];
    let cases = cases.into_iter().chain([
        (
            "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
            json!({"metadata": {"name": "web"}, "spec": {"maxReplicas": 5,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}),
            vec![
                ("Reference", json!("Deployment/web")),
                ("Targets", json!("cpu: <unknown>/80%")),
                ("MinPods", json!("1")),
                ("MaxPods", json!(5)),
                ("Replicas", json!(0)),
            ],
        ),
        (
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
            json!({"metadata": {"name": "web-1"}, "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}],
                "ports": [{"name": "http", "port": 80}]}),
            vec![
                ("AddressType", json!("IPv4")),
                ("Ports", json!("80")),
                ("Endpoints", json!("10.0.0.1,10.0.0.2")),
            ],
        ),
        (
            "/apis/apps/v1/namespaces/default/controllerrevisions",
            json!({"metadata": {"name": "web-1"}, "revision": 3}),
            vec![("Controller", json!("<none>")), ("Revision", json!(3))],
        ),
    ]);
    // Declared types as upstream declares them, whatever the cells hold.
    let declared = [
        ("Suspend", "boolean"),
        ("MaxPods", "string"),
        ("Replicas", "string"),
        ("Revision", "string"),
    ];
    for (path, body, expected) in cases {
        post(&client, path, body).await;
        let table = get(&client, path, KUBECTL_ACCEPT).await;
        let cells = row_cells(&table);
        for (column, value) in expected {
            assert!(
                cells.iter().any(|(c, v)| c == column && *v == value),
                "{path}: {column} = {value} in {cells:?}"
            );
        }
        for definition in table["columnDefinitions"].as_array().expect("columns") {
            if let Some((_, ty)) = declared.iter().find(|(n, _)| definition["name"] == *n) {
                assert_eq!(definition["type"], *ty, "{path}: {definition}");
            }
        }
    }

    // `formatHosts`: once three hosts are listed every further rule counts, with a host or
    // not; rules without one before that are skipped. The address is never cut short.
    let ingresses = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";
    post(
        &client,
        ingresses,
        json!({"metadata": {"name": "sparse"}, "spec": {"rules": [{"host": "h1"}, {}, {}, {},
            {"host": "h2"}]}}),
    )
    .await;
    let req = http::Request::patch(format!("{ingresses}/sparse/status"))
        .header(http::header::CONTENT_TYPE, "application/merge-patch+json")
        .body(
            serde_json::to_vec(&json!({"status": {"loadBalancer": {"ingress":
                [{"hostname": "ingress.example.com"}]}}}))
            .expect("json"),
        )
        .expect("request");
    client.request_text(req).await.expect("status patch");
    let table = get(
        &client,
        &format!("{ingresses}?fieldSelector=metadata.name%3Dsparse"),
        KUBECTL_ACCEPT,
    )
    .await;
    let cells = row_cells(&table);
    assert!(
        cells.contains(&("Hosts".to_string(), json!("h1,h2"))),
        "{cells:?}"
    );
    assert!(
        cells.contains(&("Address".to_string(), json!("ingress.example.com"))),
        "{cells:?}"
    );
    // A kind upstream has no printer for gets the default table: Name and Created At.
    post(
        &client,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        json!({"metadata": {"name": "reader"}, "rules": []}),
    )
    .await;
    let roles = get(
        &client,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(column_names(&roles), ["Name", "Created At"]);
    // Every namespace's `default` ServiceAccount is listed with its (no) secrets.
    let accounts = get(
        &client,
        "/api/v1/namespaces/default/serviceaccounts",
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(column_names(&accounts), ["Name", "Secrets", "Age"]);
    assert_eq!(row_cells(&accounts)[1], ("Secrets".to_string(), json!(0)));
    assert_eq!(accounts["columnDefinitions"][1]["type"], "string");
}

#[tokio::test]
async fn a_table_page_keeps_the_list_paging_metadata() {
    let server = ApiServer::new();
    let client = server.client();
    for name in ["a", "b"] {
        post(
            &client,
            "/api/v1/namespaces/default/configmaps",
            json!({"metadata": {"name": name}}),
        )
        .await;
    }
    let page = get(
        &client,
        "/api/v1/namespaces/default/configmaps?limit=1",
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(page["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["metadata"]["remainingItemCount"], 2, "{page}");
    assert!(
        page["metadata"]["continue"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
}
