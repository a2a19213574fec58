//! Service allocation through `kube::Client`: cluster IPs from the service range, node ports
//! from the node port range, both kept across updates, refused when taken, out of range or
//! changed, and released when the Service goes.

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use roperator_testkit::ApiServer;
use serde_json::{Value, json};

fn service(name: &str, spec: Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("service")
}

fn ports() -> Value {
    json!([{"name": "http", "port": 80}])
}

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn in_default_range(ip: &str) -> bool {
    let ip: std::net::Ipv4Addr = ip.parse().expect("an IPv4 address");
    let [a, b, ..] = ip.octets();
    a == 10 && (96..112).contains(&b)
}

async fn create(api: &Api<Service>, name: &str, spec: Value) -> Result<Service, Status> {
    api.create(&PostParams::default(), &service(name, spec))
        .await
        .map_err(api_err)
}

#[tokio::test]
async fn cluster_ips_come_from_the_range_and_are_distinct() {
    let server = ApiServer::new();
    let services: Api<Service> = Api::default_namespaced(server.client());
    let mut seen = Vec::new();
    for i in 0..20 {
        let svc = create(&services, &format!("s{i}"), json!({"ports": ports()}))
            .await
            .expect("create");
        let spec = svc.spec.expect("spec");
        let ip = spec.cluster_ip.expect("cluster IP");
        assert!(in_default_range(&ip), "{ip}");
        assert_ne!(ip, "10.96.0.1", "held for the kubernetes Service");
        assert_eq!(spec.cluster_ips, Some(vec![ip.clone()]));
        assert_eq!(spec.ip_families, Some(vec!["IPv4".to_string()]));
        assert_eq!(spec.ip_family_policy.as_deref(), Some("SingleStack"));
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.session_affinity.as_deref(), Some("None"));
        let port = &spec.ports.expect("ports")[0];
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
        assert_eq!(
            port.target_port,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
        );
        assert!(!seen.contains(&ip), "{ip} handed out twice");
        seen.push(ip);
    }
}

#[tokio::test]
async fn the_range_is_configurable() {
    let server = ApiServer::builder()
        .service_cluster_ip_range("172.20.0.0/24")
        .service_node_port_range(31000..=31009)
        .build();
    let services: Api<Service> = Api::default_namespaced(server.client());
    let svc = create(
        &services,
        "np",
        json!({"type": "NodePort", "ports": ports()}),
    )
    .await
    .expect("create");
    let spec = svc.spec.expect("spec");
    assert!(spec.cluster_ip.expect("ip").starts_with("172.20.0."));
    let node_port = spec.ports.expect("ports")[0].node_port.expect("node port");
    assert!((31000..=31009).contains(&node_port), "{node_port}");
    let err = create(
        &services,
        "outside",
        json!({"clusterIP": "10.96.0.50", "ports": ports()}),
    )
    .await
    .expect_err("outside the range");
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Service \"outside\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.50\"}: failed to allocate IP 10.96.0.50: provided IP 10.96.0.50 is not in the valid range"
    );
}

#[tokio::test]
async fn an_allocated_ip_is_kept_refused_twice_immutable_and_freed_on_delete() {
    let server = ApiServer::new();
    let services: Api<Service> = Api::default_namespaced(server.client());
    let first = create(
        &services,
        "first",
        json!({"clusterIP": "10.96.0.10", "ports": ports()}),
    )
    .await
    .expect("a chosen address");
    assert_eq!(
        first.spec.as_ref().unwrap().cluster_ips,
        Some(vec!["10.96.0.10".to_string()])
    );

    let err = create(
        &services,
        "second",
        json!({"clusterIP": "10.96.0.10", "ports": ports()}),
    )
    .await
    .expect_err("taken");
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    let details = err.details.expect("details");
    assert_eq!(
        (details.kind.as_str(), details.name.as_str()),
        ("Service", "second")
    );
    assert_eq!(details.causes[0].field, "spec.clusterIPs");
    assert_eq!(
        details.causes[0].message,
        "Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"
    );

    // An update that leaves the address out keeps it (as an operator replacing its Service
    // with what it wants, without the server's values, does).
    let mut resend = service("first", json!({"ports": [{"name": "http", "port": 8080}]}));
    resend.metadata.resource_version = first.metadata.resource_version.clone();
    let replaced = services
        .replace("first", &PostParams::default(), &resend)
        .await
        .expect("replace");
    assert_eq!(
        replaced.spec.unwrap().cluster_ip.as_deref(),
        Some("10.96.0.10")
    );

    let err = services
        .patch(
            "first",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"clusterIP": "10.96.0.11", "clusterIPs": ["10.96.0.11"]}}),
            ),
        )
        .await
        .map_err(api_err)
        .expect_err("immutable");
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Service \"first\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"
    );

    services
        .delete("first", &DeleteParams::default())
        .await
        .expect("delete");
    create(
        &services,
        "second",
        json!({"clusterIP": "10.96.0.10", "ports": ports()}),
    )
    .await
    .expect("released on delete");
}

#[tokio::test]
async fn headless_and_external_name_services_get_no_address() {
    let server = ApiServer::new();
    let services: Api<Service> = Api::default_namespaced(server.client());
    let headless = create(
        &services,
        "db",
        json!({"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}),
    )
    .await
    .expect("headless");
    let spec = headless.spec.expect("spec");
    assert_eq!(spec.cluster_ips, Some(vec!["None".to_string()]));
    assert_eq!(spec.ip_family_policy.as_deref(), Some("SingleStack"));
    let selectorless = create(&services, "peers", json!({"clusterIP": "None"}))
        .await
        .expect("headless without selector");
    let spec = selectorless.spec.expect("spec");
    assert_eq!(spec.ip_family_policy.as_deref(), Some("RequireDualStack"));
    assert_eq!(
        spec.ip_families,
        Some(vec!["IPv4".to_string(), "IPv6".to_string()])
    );
    let external = create(
        &services,
        "ext",
        json!({"type": "ExternalName", "externalName": "db.example.com"}),
    )
    .await
    .expect("external name");
    let spec = external.spec.expect("spec");
    assert_eq!(spec.cluster_ip, None);
    assert_eq!(spec.ip_families, None);
    assert_eq!(spec.internal_traffic_policy, None);
}

#[tokio::test]
async fn node_ports_are_allocated_kept_refused_twice_and_released() {
    let server = ApiServer::new();
    let services: Api<Service> = Api::default_namespaced(server.client());
    let lb = create(
        &services,
        "lb",
        json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local",
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                      {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}),
    )
    .await
    .expect("load balancer");
    let spec = lb.spec.expect("spec");
    let ports = spec.ports.expect("ports");
    let node_port = ports[0].node_port.expect("node port");
    assert!((30000..=32767).contains(&node_port));
    assert_eq!(
        ports[1].node_port,
        Some(node_port),
        "one port number, one node port"
    );
    assert_eq!(spec.allocate_load_balancer_node_ports, Some(true));
    let health = spec.health_check_node_port.expect("health check port");
    assert_ne!(health, node_port);

    let err = create(
        &services,
        "np",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]}),
    )
    .await
    .expect_err("taken");
    assert_eq!(err.code, 422);
    assert_eq!(
        err.details.unwrap().causes[0].field,
        "spec.ports[0].nodePort"
    );
    let err = create(
        &services,
        "np",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}),
    )
    .await
    .expect_err("out of range");
    assert_eq!(
        err.message,
        "Service \"np\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );

    // Switching to ClusterIP gives the node ports back (they were not touched).
    let switched = services
        .patch(
            "lb",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"type": "ClusterIP"}})),
        )
        .await
        .expect("to ClusterIP");
    let spec = switched.spec.expect("spec");
    assert!(spec.ports.unwrap().iter().all(|p| p.node_port.is_none()));
    assert_eq!(spec.health_check_node_port, None);
    assert_eq!(spec.external_traffic_policy, None);
    create(
        &services,
        "np",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]}),
    )
    .await
    .expect("free again");
}
