//! The core/v1 defaulting functions (upstream `pkg/apis/core/v1/defaults.go`, v1.32).

use serde_json::{Map, Value, json};

use super::{at, at_mut, object, set_empty, set_unset, text, unset_number};

/// `SetDefaults_Pod`: requests default to limits (on Pods only, not on templates, so that a
/// template's pods still get LimitRange defaults), service links on, and host ports for
/// host-network pods.
pub(super) fn pod(pod: &mut Map<String, Value>) {
    let spec = object(pod, "spec");
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let resources = object(container, "resources");
            let Some(Value::Object(limits)) = resources.get("limits").cloned() else {
                continue;
            };
            if limits.is_empty() {
                continue;
            }
            let requests = object(resources, "requests");
            for (name, amount) in limits {
                requests.entry(name).or_insert(amount);
            }
        }
    }
    set_unset(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&Value::Bool(true)) {
        for list in ["containers", "initContainers"] {
            host_ports(spec.get_mut(list));
        }
    }
}

/// With host networking every container port is a host port.
fn host_ports(containers: Option<&mut Value>) {
    let Some(Value::Array(containers)) = containers else {
        return;
    };
    for container in containers.iter_mut() {
        let Some(Value::Array(ports)) = container.get_mut("ports") else {
            continue;
        };
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if unset_number(port, "hostPort")
                && let Some(container_port) = port.get("containerPort").cloned()
            {
                port.insert("hostPort".into(), container_port);
            }
        }
    }
}

/// `SetDefaults_PodSpec` (deliberately small upstream: anything added here would change every
/// stored pod template and roll every workload on upgrade).
pub(super) fn pod_spec(spec: &mut Map<String, Value>) {
    set_empty(spec, "dnsPolicy", "ClusterFirst");
    set_empty(spec, "restartPolicy", "Always");
    set_unset(spec, "securityContext", json!({}));
    set_unset(spec, "terminationGracePeriodSeconds", json!(30));
    set_empty(spec, "schedulerName", "default-scheduler");
    // Not defaulting but the v1 conversion every PodSpec goes through: the deprecated
    // `serviceAccount` is read when `serviceAccountName` is empty, and always mirrors it.
    if text(spec, "serviceAccountName").is_none()
        && let Some(account) = text(spec, "serviceAccount").map(str::to_string)
    {
        spec.insert("serviceAccountName".into(), json!(account));
    }
    match text(spec, "serviceAccountName").map(str::to_string) {
        Some(account) => spec.insert("serviceAccount".into(), json!(account)),
        None => spec.remove("serviceAccount"),
    };
}

/// `SetDefaults_Container` (and `SetDefaults_EphemeralContainer`).
pub(super) fn container(container: &mut Map<String, Value>) {
    let policy = pull_policy(text(container, "image").unwrap_or(""));
    set_empty(container, "imagePullPolicy", policy);
    set_empty(container, "terminationMessagePath", "/dev/termination-log");
    set_empty(container, "terminationMessagePolicy", "File");
}

/// The pull policy upstream derives from an image reference: `Always` for the `latest` tag
/// (which is what a reference without tag or digest means), `IfNotPresent` otherwise, including
/// references that do not parse.
pub(crate) fn pull_policy(image: &str) -> &'static str {
    match image_tag(image) {
        Some(tag) if tag == "latest" => "Always",
        _ => "IfNotPresent",
    }
}

/// The tag of an image reference as `parsers.ParseImageName` returns it: `latest` when neither a
/// tag nor a digest is given, `""` with a digest only, `None` when the reference is malformed.
fn image_tag(image: &str) -> Option<String> {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // A tag is what follows the last ':' after the last '/' (an earlier ':' is a registry port).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if !valid_repository(repository) || tag.is_some_and(|t| !valid_tag(t)) {
        return None;
    }
    if digest.is_some_and(|d| !d.contains(':')) {
        return None;
    }
    Some(match (tag, digest) {
        (Some(tag), _) => tag.to_string(),
        (None, Some(_)) => String::new(),
        (None, None) => "latest".to_string(),
    })
}

/// The docker reference grammar, loosely: a domain (which may hold capitals and a port) and a
/// lowercase path of `[a-z0-9._-]` components.
fn valid_repository(repository: &str) -> bool {
    if repository.is_empty() {
        return false;
    }
    let mut components: Vec<&str> = repository.split('/').collect();
    let first = components[0];
    let has_domain = components.len() > 1
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        let domain_ok = first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !domain_ok {
            return false;
        }
        components.remove(0);
    }
    components.iter().all(|c| {
        !c.is_empty()
            && c.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
            })
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
    })
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !tag.starts_with(['.', '-'])
}

/// `SetDefaults_Volume`: a volume without a source is an emptyDir.
pub(super) fn volume(volume: &mut Map<String, Value>) {
    let has_source = volume
        .iter()
        .any(|(key, value)| key != "name" && !value.is_null());
    if !has_source {
        volume.insert("emptyDir".into(), json!({}));
    }
}

/// `SetDefaults_Probe`.
pub(super) fn probe(probe: &mut Map<String, Value>) {
    for (field, default) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if unset_number(probe, field) {
            probe.insert(field.into(), json!(default));
        }
    }
}

/// `SetDefaults_HTTPGetAction`.
pub(super) fn http_get_action(action: &mut Map<String, Value>) {
    set_empty(action, "path", "/");
    set_empty(action, "scheme", "HTTP");
}

/// `SetDefaults_{Secret,ConfigMap,DownwardAPI,Projected}VolumeSource`: files are 0644.
pub(super) fn file_mode(source: &mut Map<String, Value>) {
    set_unset(source, "defaultMode", json!(0o644));
}

/// `SetDefaults_ServiceAccountTokenProjection`: tokens live an hour.
pub(super) fn token_projection(projection: &mut Map<String, Value>) {
    set_unset(projection, "expirationSeconds", json!(3600));
}

/// `SetDefaults_HostPathVolumeSource`: the type is set, to the empty `HostPathUnset`.
pub(super) fn host_path(source: &mut Map<String, Value>) {
    set_unset(source, "type", json!(""));
}

/// `SetDefaults_ObjectFieldSelector`.
pub(super) fn field_selector(selector: &mut Map<String, Value>) {
    set_empty(selector, "apiVersion", "v1");
}

/// A resource field's `divisor` is a non-pointer Quantity: Go writes its zero value, `"0"`.
pub(super) fn resource_field_selector(selector: &mut Map<String, Value>) {
    set_unset(selector, "divisor", json!("0"));
}

/// `SetDefaults_Service`. (Cluster IPs, IP families and node ports are allocated by the
/// Service storage, not defaulted: see the `allocate` module.)
pub(super) fn service(service: &mut Map<String, Value>) {
    let spec = object(service, "spec");
    set_empty(spec, "sessionAffinity", "None");
    match text(spec, "sessionAffinity") {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let has_timeout = at(
                spec,
                &["sessionAffinityConfig", "clientIP", "timeoutSeconds"],
            )
            .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    set_empty(spec, "type", "ClusterIP");
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_empty(port, "protocol", "TCP");
            let unset_target = match port.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(n) => n.as_i64() == Some(0),
            };
            if unset_target && let Some(number) = port.get("port").cloned() {
                port.insert("targetPort".into(), number);
            }
        }
    }
    let kind = text(spec, "type").unwrap_or("").to_string();
    let external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| !ips.is_empty());
    let externally_accessible =
        kind == "LoadBalancer" || kind == "NodePort" || (kind == "ClusterIP" && external_ips);
    if externally_accessible {
        set_empty(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_unset(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        set_unset(spec, "allocateLoadBalancerNodePorts", json!(true));
        if let Some(Value::Array(ingresses)) =
            at_mut(service, &["status", "loadBalancer", "ingress"])
        {
            for ingress in ingresses.iter_mut().filter_map(Value::as_object_mut) {
                if text(ingress, "ip").is_some() {
                    set_unset(ingress, "ipMode", json!("VIP"));
                }
            }
        }
    }
}

/// `SetDefaults_Secret`, and the conversion every Secret write goes through on decode:
/// `stringData` is a write-only convenience whose values replace the same keys of `data`
/// (base64 encoded there) and is never stored.
pub(super) fn secret(secret: &mut Map<String, Value>) {
    set_empty(secret, "type", "Opaque");
    let Some(string_data) = secret.remove("stringData") else {
        return;
    };
    let Value::Object(string_data) = string_data else {
        return;
    };
    if string_data.is_empty() {
        return;
    }
    let data = object(secret, "data");
    for (key, value) in string_data {
        let plain = match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        data.insert(key, encode(plain.as_bytes()));
    }
}

fn encode(bytes: &[u8]) -> Value {
    Value::String(crate::meta::base64(bytes))
}

/// `SetDefaults_Namespace`: every named namespace carries `kubernetes.io/metadata.name`, which
/// always holds its name (a client cannot set it to anything else).
pub(super) fn namespace(namespace: &mut Map<String, Value>) {
    let Some(name) = namespace
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
    else {
        return;
    };
    let labels = object(object(namespace, "metadata"), "labels");
    labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
}

/// `SetDefaults_NamespaceStatus`.
pub(super) fn namespace_status(status: &mut Map<String, Value>) {
    set_empty(status, "phase", "Active");
}

/// `SetDefaults_PersistentVolumeClaim`: a claim is `Pending` until bound.
pub(super) fn claim(claim: &mut Map<String, Value>) {
    set_empty(object(claim, "status"), "phase", "Pending");
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
pub(super) fn claim_spec(spec: &mut Map<String, Value>) {
    set_unset(spec, "volumeMode", json!("Filesystem"));
}

/// `SetDefaults_Endpoints`: ports are TCP unless told otherwise.
pub(super) fn endpoints(endpoints: &mut Map<String, Value>) {
    let Some(Value::Array(subsets)) = endpoints.get_mut("subsets") else {
        return;
    };
    for subset in subsets.iter_mut() {
        let Some(Value::Array(ports)) = subset.get_mut("ports") else {
            continue;
        };
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_empty(port, "protocol", "TCP");
        }
    }
}

/// `SetDefaults_LimitRangeItem`: for containers, the default limit falls back to the max, and
/// the default request to the default limit, then to the min.
pub(super) fn limit_range_item(item: &mut Map<String, Value>) {
    if text(item, "type") != Some("Container") {
        return;
    }
    let amounts = |item: &Map<String, Value>, key: &str| -> Map<String, Value> {
        item.get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut default = amounts(item, "default");
    for (name, amount) in amounts(item, "max") {
        default.entry(name).or_insert(amount);
    }
    let mut request = amounts(item, "defaultRequest");
    for (name, amount) in default.clone() {
        request.entry(name).or_insert(amount);
    }
    for (name, amount) in amounts(item, "min") {
        request.entry(name).or_insert(amount);
    }
    // Empty maps are left out when Go serializes them (`omitempty`).
    for (key, map) in [("default", default), ("defaultRequest", request)] {
        if !map.is_empty() {
            item.insert(key.into(), Value::Object(map));
        }
    }
}

/// An embedded ObjectMeta (a template's) that no one gave a creation time.
pub(super) fn embedded_meta(meta: &mut Map<String, Value>) {
    if !meta.contains_key("creationTimestamp") {
        meta.insert("creationTimestamp".into(), Value::Null);
    }
}
