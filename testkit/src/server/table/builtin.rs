//! The columns of the real API server's printers for common built-in kinds.

use serde_json::{Map, Value, json};

use super::{
    AGE_DESCRIPTION, Cell, Column, age, age_column, builtin, human_duration, name_column,
    parse_path,
};
use crate::errors::ApiError;
use crate::registry::ResourceType;

mod other_kinds;

/// The columns of a built-in type's printer: upstream's default table (Name, Created At) for
/// the kinds without one, Name and Age for those whose printer is not modelled.
pub(super) fn columns(ty: &ResourceType) -> Result<Vec<Column>, ApiError> {
    if ty.kind == "Event" && matches!(ty.group.as_str(), "" | "events.k8s.io") {
        return Ok(event_columns());
    }
    if let Some(cols) = other_kinds::columns(&ty.group, &ty.kind) {
        return Ok(cols);
    }
    let mut cols = vec![name_column()];
    match (ty.group.as_str(), ty.kind.as_str()) {
        ("", "Namespace") => cols.push(builtin(
            "Status",
            "string",
            "The status of the namespace",
            |o| str_at(o, "/status/phase"),
        )),
        ("", "Pod") => {
            cols.push(builtin(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
                pod_ready,
            ));
            cols.push(builtin(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
                pod_status,
            ));
            cols.push(builtin(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                pod_restarts,
            ));
        }
        ("", "Service") => {
            cols.push(builtin("Type", "string", "The type of the service.", |o| {
                json!(
                    o.pointer("/spec/type")
                        .and_then(Value::as_str)
                        .unwrap_or("ClusterIP")
                )
            }));
            cols.push(builtin(
                "Cluster-IP",
                "string",
                "The IP address of the service.",
                |o| {
                    json!(
                        o.pointer("/spec/clusterIP")
                            .and_then(Value::as_str)
                            .unwrap_or("<none>")
                    )
                },
            ));
            cols.push(builtin(
                "External-IP",
                "string",
                "The external IP address of the service.",
                service_external_ip,
            ));
            cols.push(builtin(
                "Port(s)",
                "string",
                "The ports of the service.",
                service_ports,
            ));
        }
        // Upstream declares the counts below as strings; the cells are numbers all the same.
        ("", "ConfigMap") => cols.push(builtin(
            "Data",
            "string",
            "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
            |o| json!(len_at(o, "/data") + len_at(o, "/binaryData")),
        )),
        ("", "Secret") => {
            cols.push(builtin(
                "Type",
                "string",
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
                |o| str_at(o, "/type"),
            ));
            cols.push(builtin(
                "Data",
                "string",
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
                |o| json!(len_at(o, "/data")),
            ));
        }
        ("apps", "Deployment") => {
            cols.push(builtin(
                "Ready",
                "string",
                "Number of the pod with ready state",
                |o| {
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/readyReplicas"),
                        int_at(o, "/spec/replicas")
                    ))
                },
            ));
            cols.push(builtin(
                "Up-to-date",
                "string",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                |o| json!(int_at(o, "/status/updatedReplicas")),
            ));
            cols.push(builtin(
                "Available",
                "string",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                |o| json!(int_at(o, "/status/availableReplicas")),
            ));
        }
        ("apps", "ReplicaSet") => {
            cols.push(builtin(
                "Desired",
                "integer",
                "Replicas is the number of desired replicas.",
                |o| json!(int_at(o, "/spec/replicas")),
            ));
            cols.push(builtin(
                "Current",
                "integer",
                "Replicas is the most recently observed number of replicas.",
                |o| json!(int_at(o, "/status/replicas")),
            ));
            cols.push(builtin(
                "Ready",
                "integer",
                "The number of ready replicas for this replica set.",
                |o| json!(int_at(o, "/status/readyReplicas")),
            ));
        }
        ("apps", "StatefulSet") => cols.push(builtin(
            "Ready",
            "string",
            "Number of the pod with ready state",
            |o| {
                json!(format!(
                    "{}/{}",
                    int_at(o, "/status/readyReplicas"),
                    int_at(o, "/spec/replicas")
                ))
            },
        )),
        ("apps", "DaemonSet") => {
            for (name, path) in [
                ("Desired", "/status/desiredNumberScheduled"),
                ("Current", "/status/currentNumberScheduled"),
                ("Ready", "/status/numberReady"),
                ("Up-to-date", "/status/updatedNumberScheduled"),
                ("Available", "/status/numberAvailable"),
            ] {
                cols.push(Column {
                    name: name.into(),
                    ty: "integer",
                    format: "",
                    description: format!("The daemon set's {path}."),
                    priority: 0,
                    cell: Cell::Path(
                        parse_path(&format!(".{}", &path[1..].replace('/', ".")))?,
                        "integer".into(),
                    ),
                });
            }
            cols.push(builtin(
                "Node Selector",
                "string",
                "The node selector of the daemon set's pods.",
                daemonset_node_selector,
            ));
        }
        ("batch", "Job") => {
            cols.push(builtin(
                "Status",
                "string",
                "Status of the job.",
                job_status,
            ));
            cols.push(builtin(
                "Completions",
                "string",
                "The completed job count.",
                |o| {
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/succeeded"),
                        o.pointer("/spec/completions")
                            .and_then(Value::as_i64)
                            .unwrap_or(1)
                    ))
                },
            ));
            cols.push(builtin(
                "Duration",
                "string",
                "Time required to complete the job.",
                job_duration,
            ));
        }
        // No printer upstream: `rest.NewDefaultTableConvertor`.
        ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("rbac.authorization.k8s.io", "Role" | "ClusterRole")
        | ("", "LimitRange") => {
            cols.push(Column {
                name: "Created At".into(),
                ty: "date",
                format: "",
                description: AGE_DESCRIPTION.into(),
                priority: 0,
                cell: Cell::CreatedAt,
            });
            return Ok(cols);
        }
        ("coordination.k8s.io", "Lease") => cols.push(builtin(
            "Holder",
            "string",
            "The holder of the lease.",
            |o| str_at(o, "/spec/holderIdentity"),
        )),
        _ => {}
    }
    cols.push(age_column());
    cols.extend(wide_columns(ty));
    Ok(cols)
}

/// The priority-1 columns `kubectl get -o wide` adds after Age.
fn wide_columns(ty: &ResourceType) -> Vec<Column> {
    let wide = |name: &str, description: &str, f: fn(&Value) -> Value| Column {
        priority: 1,
        ..builtin(name, "string", description, f)
    };
    let containers = || {
        wide(
            "Containers",
            "Names of each container in the template.",
            |o| {
                json!(join_or_none(
                    arr(o, "/spec/template/spec/containers"),
                    "name"
                ))
            },
        )
    };
    let images = || {
        wide(
            "Images",
            "Images referenced by each container in the template.",
            |o| {
                json!(join_or_none(
                    arr(o, "/spec/template/spec/containers"),
                    "image"
                ))
            },
        )
    };
    let selector = || {
        wide("Selector", "Label selector for the pods.", |o| {
            json!(label_selector(o.pointer("/spec/selector")))
        })
    };
    match (ty.group.as_str(), ty.kind.as_str()) {
        ("", "Pod") => vec![
            wide("IP", "IP address allocated to the pod.", |o| {
                json!(
                    o.pointer("/status/podIP")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")
                )
            }),
            wide("Node", "Name of the node the pod runs on.", |o| {
                json!(
                    o.pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")
                )
            }),
            wide(
                "Nominated Node",
                "Node the scheduler nominated for the pod.",
                |o| {
                    json!(
                        o.pointer("/status/nominatedNodeName")
                            .and_then(Value::as_str)
                            .unwrap_or("<none>")
                    )
                },
            ),
            wide(
                "Readiness Gates",
                "The pod's readiness gates.",
                pod_readiness_gates,
            ),
        ],
        ("", "Service") => vec![wide("Selector", "The service's pod selector.", |o| {
            json!(map_selector(o.pointer("/spec/selector")))
        })],
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") | ("batch", "Job") => {
            vec![containers(), images(), selector()]
        }
        ("apps", "StatefulSet") => vec![containers(), images()],
        _ => Vec::new(),
    }
}

/// Upstream's event printer (`printEvent`), used for both API versions of Events since they
/// are one resource: no Name or Age column by default, the name only with `-o wide`. The cells
/// read the core field names or their events.k8s.io/v1 equivalents, whichever the row has.
fn event_columns() -> Vec<Column> {
    let col = |name: &str, priority: i64, description: &str, f: fn(&Value) -> Value| Column {
        priority,
        ..builtin(name, "string", description, f)
    };
    vec![
        col(
            "Last Seen",
            0,
            "Deprecated field assuring backward compatibility with core.v1 Event type",
            event_last_seen,
        ),
        col(
            "Type",
            0,
            "Type of this event (Normal, Warning), new types could be added in the future",
            |o| str_at(o, "/type"),
        ),
        col(
            "Reason",
            0,
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            |o| str_at(o, "/reason"),
        ),
        col(
            "Object",
            0,
            "The object that this event is about.",
            event_object,
        ),
        col(
            "Subobject",
            1,
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
            |o| {
                json!(event_str(
                    o,
                    &["/involvedObject/fieldPath", "/regarding/fieldPath"]
                ))
            },
        ),
        col(
            "Source",
            1,
            "The component reporting this event. Should be a short machine understandable string.",
            event_source,
        ),
        col(
            "Message",
            0,
            "A human-readable description of the status of this operation.",
            |o| json!(event_str(o, &["/message", "/note"]).trim()),
        ),
        col(
            "First Seen",
            1,
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            |o| json!(event_first_seen(o)),
        ),
        col(
            "Count",
            1,
            "The number of times this event has occurred.",
            event_count,
        ),
        col(
            "Name",
            1,
            "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request a name to be generated automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.",
            |o| str_at(o, "/metadata/name"),
        ),
    ]
}

/// The first of `pointers` that holds a non-empty string.
fn event_str<'a>(o: &'a Value, pointers: &[&str]) -> &'a str {
    pointers
        .iter()
        .filter_map(|p| o.pointer(p).and_then(Value::as_str))
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

fn since(ts: &str) -> String {
    age((!ts.is_empty()).then_some(ts), jiff::Timestamp::now())
}

fn event_first_seen(o: &Value) -> String {
    let first = event_str(o, &["/firstTimestamp", "/deprecatedFirstTimestamp"]);
    since(if first.is_empty() {
        event_str(o, &["/eventTime"])
    } else {
        first
    })
}

fn event_last_seen(o: &Value) -> Value {
    if let Some(t) = o
        .pointer("/series/lastObservedTime")
        .and_then(Value::as_str)
    {
        return json!(since(t));
    }
    let last = event_str(o, &["/lastTimestamp", "/deprecatedLastTimestamp"]);
    json!(if last.is_empty() {
        event_first_seen(o)
    } else {
        since(last)
    })
}

fn event_count(o: &Value) -> Value {
    if let Some(n) = o.pointer("/series/count").and_then(Value::as_i64) {
        return json!(n);
    }
    // Singleton events written through events.k8s.io/v1 have no count.
    let n = ["/count", "/deprecatedCount"]
        .iter()
        .find_map(|p| o.pointer(p).and_then(Value::as_i64))
        .unwrap_or(0);
    json!(if n == 0 { 1 } else { n })
}

fn event_object(o: &Value) -> Value {
    let kind = event_str(o, &["/involvedObject/kind", "/regarding/kind"]).to_lowercase();
    let name = event_str(o, &["/involvedObject/name", "/regarding/name"]);
    json!(if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    })
}

/// `formatEventSource`: component (the source's, else the reporting controller) and instance
/// (the source host, else the reporting instance), each taken independently.
fn event_source(o: &Value) -> Value {
    let who = event_str(
        o,
        &[
            "/source/component",
            "/deprecatedSource/component",
            "/reportingComponent",
            "/reportingController",
        ],
    );
    let instance = event_str(
        o,
        &[
            "/source/host",
            "/deprecatedSource/host",
            "/reportingInstance",
        ],
    );
    json!(if instance.is_empty() {
        who.to_string()
    } else {
        format!("{who}, {instance}")
    })
}

fn join_or_none(items: &[Value], field: &str) -> String {
    let names: Vec<&str> = items
        .iter()
        .filter_map(|c| c.get(field).and_then(Value::as_str))
        .collect();
    if names.is_empty() {
        "<none>".into()
    } else {
        names.join(",")
    }
}

/// `app=web,tier=front`, sorted, or `<none>`.
fn map_selector(m: Option<&Value>) -> String {
    let mut pairs: Vec<String> = m
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// A LabelSelector as kubectl prints it: `app=web,env in (a,b),!legacy`.
fn label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    for e in arr(sel, "/matchExpressions") {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        parts.push(match e.get("operator").and_then(Value::as_str) {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_string(),
        });
    }
    parts.sort();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn pod_readiness_gates(o: &Value) -> Value {
    let gates = arr(o, "/spec/readinessGates");
    if gates.is_empty() {
        return json!("<none>");
    }
    let ready = gates
        .iter()
        .filter_map(|g| g.get("conditionType").and_then(Value::as_str))
        .filter(|t| {
            arr(o, "/status/conditions").iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(*t)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
        .count();
    json!(format!("{ready}/{}", gates.len()))
}

fn str_at(o: &Value, p: &str) -> Value {
    o.pointer(p)
        .and_then(Value::as_str)
        .map(Value::from)
        .unwrap_or(json!(""))
}

fn int_at(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn len_at(o: &Value, p: &str) -> usize {
    o.pointer(p).and_then(Value::as_object).map_or(0, Map::len)
}

fn arr<'a>(o: &'a Value, p: &str) -> &'a [Value] {
    o.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn pod_ready(o: &Value) -> Value {
    let total = arr(o, "/spec/containers").len();
    let ready = arr(o, "/status/containerStatuses")
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    json!(format!("{ready}/{total}"))
}

fn pod_status(o: &Value) -> Value {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        return json!("Terminating");
    }
    let waiting = arr(o, "/status/containerStatuses").iter().find_map(|c| {
        c.pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
    });
    let reason = o
        .pointer("/status/reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty());
    let phase = o.pointer("/status/phase").and_then(Value::as_str);
    json!(waiting.or(reason).or(phase).unwrap_or("Pending"))
}

fn pod_restarts(o: &Value) -> Value {
    let n: i64 = arr(o, "/status/containerStatuses")
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
        .sum();
    json!(n.to_string())
}

fn service_external_ip(o: &Value) -> Value {
    let ty = o
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let external: Vec<&str> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let ingress: Vec<&str> = arr(o, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| {
            i.get("ip")
                .or_else(|| i.get("hostname"))
                .and_then(Value::as_str)
        })
        .collect();
    let s = match ty {
        "ExternalName" => o
            .pointer("/spec/externalName")
            .and_then(Value::as_str)
            .unwrap_or("<none>")
            .to_string(),
        "LoadBalancer" => {
            let all: Vec<&str> = ingress.iter().chain(external.iter()).copied().collect();
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        _ if !external.is_empty() => external.join(","),
        _ => "<none>".to_string(),
    };
    json!(s)
}

fn service_ports(o: &Value) -> Value {
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) if np != 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    if ports.is_empty() {
        json!("<none>")
    } else {
        json!(ports.join(","))
    }
}

fn daemonset_node_selector(o: &Value) -> Value {
    let sel = o
        .pointer("/spec/template/spec/nodeSelector")
        .and_then(Value::as_object);
    match sel {
        Some(m) if !m.is_empty() => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            pairs.sort();
            json!(pairs.join(","))
        }
        _ => json!("<none>"),
    }
}

fn condition_true(o: &Value, ty: &str) -> bool {
    arr(o, "/status/conditions").iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some(ty)
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}

fn job_status(o: &Value) -> Value {
    let s = if condition_true(o, "Complete") {
        "Complete"
    } else if condition_true(o, "Failed") {
        "Failed"
    } else if condition_true(o, "FailureTarget") {
        "FailureTarget"
    } else if condition_true(o, "Suspended") {
        "Suspended"
    } else {
        "Running"
    };
    json!(s)
}

fn job_duration(o: &Value) -> Value {
    let ts = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    };
    let Some(start) = ts("/status/startTime") else {
        return json!("");
    };
    let end = ts("/status/completionTime").unwrap_or_else(jiff::Timestamp::now);
    json!(human_duration(end.as_second() - start.as_second()))
}
