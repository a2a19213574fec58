//! The printers of the built-in kinds beyond the core workloads (storage, networking, RBAC
//! bindings, scheduling, admission, nodes), as `pkg/printers/internalversion` writes their
//! rows.

use serde_json::{Value, json};

use super::super::{Cell, Column, age_column, builtin, name_column};
use super::{arr, join_or_none, label_selector, map_selector, since, str_at};

/// Every column of `kind`'s printer, or `None` for the kinds modelled elsewhere or not at all.
pub(super) fn columns(group: &str, kind: &str) -> Option<Vec<Column>> {
    let integer = |name: &str, description: &str, f: fn(&Value) -> Value| {
        builtin(name, "integer", description, f)
    };
    let string = |name: &str, description: &str, f: fn(&Value) -> Value| {
        builtin(name, "string", description, f)
    };
    let wide = |name: &str, description: &str, f: fn(&Value) -> Value| Column {
        priority: 1,
        ..builtin(name, "string", description, f)
    };
    Some(match (group, kind) {
        ("", "ServiceAccount") => vec![
            name_column(),
            string(
                "Secrets",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
                |o| json!(arr(o, "/secrets").len()),
            ),
            age_column(),
        ],
        ("", "PersistentVolumeClaim") => vec![
            name_column(),
            string(
                "Status",
                "Phase represents the current phase of PersistentVolumeClaim.",
                phase_or_terminating,
            ),
            string(
                "Volume",
                "VolumeName is the binding reference to the PersistentVolume backing this claim.",
                |o| str_at(o, "/spec/volumeName"),
            ),
            string(
                "Capacity",
                "Capacity represents the actual resources of the underlying volume.",
                |o| {
                    if text(o, "/spec/volumeName").is_empty() {
                        json!("")
                    } else {
                        json!(storage(o, "/status/capacity/storage"))
                    }
                },
            ),
            string(
                "Access Modes",
                "AccessModes contains the actual access modes the volume backing the PVC has.",
                |o| {
                    if text(o, "/spec/volumeName").is_empty() {
                        json!("")
                    } else {
                        json!(access_modes(arr(o, "/status/accessModes")))
                    }
                },
            ),
            string(
                "StorageClass",
                "StorageClassName is the name of the StorageClass required by the claim.",
                |o| json!(storage_class(o)),
            ),
            string(
                "VolumeAttributesClass",
                "VolumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.",
                |o| json!(unset_if_empty(text(o, "/spec/volumeAttributesClassName"))),
            ),
            age_column(),
            wide(
                "VolumeMode",
                "volumeMode defines what type of volume is required by the claim.",
                |o| json!(unset_if_empty(text(o, "/spec/volumeMode"))),
            ),
        ],
        ("", "PersistentVolume") => vec![
            name_column(),
            string(
                "Capacity",
                "capacity is the description of the persistent volume's resources and capacity.",
                |o| json!(storage(o, "/spec/capacity/storage")),
            ),
            string(
                "Access Modes",
                "accessModes contains all ways the volume can be mounted.",
                |o| json!(access_modes(arr(o, "/spec/accessModes"))),
            ),
            string(
                "Reclaim Policy",
                "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
                |o| str_at(o, "/spec/persistentVolumeReclaimPolicy"),
            ),
            string(
                "Status",
                "phase indicates if a volume is available, bound to a claim, or released by a claim.",
                phase_or_terminating,
            ),
            string(
                "Claim",
                "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
                |o| {
                    json!(match o.pointer("/spec/claimRef") {
                        Some(claim) =>
                            format!("{}/{}", text(claim, "/namespace"), text(claim, "/name")),
                        None => String::new(),
                    })
                },
            ),
            string(
                "StorageClass",
                "storageClassName is the name of StorageClass to which this persistent volume belongs.",
                |o| json!(storage_class(o)),
            ),
            string(
                "VolumeAttributesClass",
                "Name of VolumeAttributesClass to which this persistent volume belongs.",
                |o| json!(unset_if_empty(text(o, "/spec/volumeAttributesClassName"))),
            ),
            string(
                "Reason",
                "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
                |o| str_at(o, "/status/reason"),
            ),
            age_column(),
            wide(
                "VolumeMode",
                "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
                |o| json!(unset_if_empty(text(o, "/spec/volumeMode"))),
            ),
        ],
        ("", "Endpoints") => vec![
            name_column(),
            string("Endpoints", "Endpoints of the object.", endpoints),
            age_column(),
        ],
        ("", "PodTemplate") => vec![
            name_column(),
            string(
                "Containers",
                "Names of each container in the template.",
                |o| json!(join_or_none(arr(o, "/template/spec/containers"), "name")),
            ),
            string(
                "Images",
                "Images referenced by each container in the template.",
                |o| json!(join_or_none(arr(o, "/template/spec/containers"), "image")),
            ),
            string("Pod Labels", "The labels for the pod template.", |o| {
                json!(map_selector(o.pointer("/template/metadata/labels")))
            }),
        ],
        ("", "Node") => vec![
            name_column(),
            string("Status", "The status of the node", node_status),
            string("Roles", "The roles of the node", node_roles),
            age_column(),
            string("Version", "Kubelet Version reported by the node.", |o| {
                str_at(o, "/status/nodeInfo/kubeletVersion")
            }),
            wide(
                "Internal-IP",
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
                |o| node_address(o, "InternalIP"),
            ),
            wide(
                "External-IP",
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
                |o| node_address(o, "ExternalIP"),
            ),
            wide(
                "OS-Image",
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                |o| json!(unknown_if_empty(text(o, "/status/nodeInfo/osImage"))),
            ),
            wide(
                "Kernel-Version",
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                |o| json!(unknown_if_empty(text(o, "/status/nodeInfo/kernelVersion"))),
            ),
            wide(
                "Container-Runtime",
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                |o| {
                    json!(unknown_if_empty(text(
                        o,
                        "/status/nodeInfo/containerRuntimeVersion"
                    )))
                },
            ),
        ],
        ("batch", "CronJob") => vec![
            name_column(),
            string(
                "Schedule",
                "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
                |o| str_at(o, "/spec/schedule"),
            ),
            string(
                "Timezone",
                "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
                |o| json!(none_if_empty(text(o, "/spec/timeZone"))),
            ),
            // A boolean column whose cells are printBoolPtr's words.
            builtin(
                "Suspend",
                "boolean",
                "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.",
                |o| {
                    json!(match o.pointer("/spec/suspend").and_then(Value::as_bool) {
                        Some(true) => "True",
                        Some(false) => "False",
                        None => "<unset>",
                    })
                },
            ),
            integer(
                "Active",
                "A list of pointers to currently running jobs.",
                |o| json!(arr(o, "/status/active").len()),
            ),
            string(
                "Last Schedule",
                "Information when was the last time the job was successfully scheduled.",
                |o| {
                    json!(match o
                        .pointer("/status/lastScheduleTime")
                        .and_then(Value::as_str)
                    {
                        Some(t) => since(t),
                        None => "<none>".into(),
                    })
                },
            ),
            age_column(),
            wide(
                "Containers",
                "Names of each container in the template.",
                |o| {
                    json!(join_or_none(
                        arr(o, "/spec/jobTemplate/spec/template/spec/containers"),
                        "name"
                    ))
                },
            ),
            wide(
                "Images",
                "Images referenced by each container in the template.",
                |o| {
                    json!(join_or_none(
                        arr(o, "/spec/jobTemplate/spec/template/spec/containers"),
                        "image"
                    ))
                },
            ),
            wide("Selector", "Selector of the job template.", |o| {
                json!(label_selector(o.pointer("/spec/jobTemplate/spec/selector")))
            }),
        ],
        ("networking.k8s.io", "Ingress") => vec![
            name_column(),
            string(
                "Class",
                "The name of the IngressClass cluster resource.",
                |o| json!(none_if_empty(text(o, "/spec/ingressClassName"))),
            ),
            string(
                "Hosts",
                "Hosts that incoming requests are matched against before the ingress rule",
                ingress_hosts,
            ),
            string(
                "Address",
                "Address is a list containing ingress points for the load-balancer",
                |o| {
                    let mut points: Vec<&str> = arr(o, "/status/loadBalancer/ingress")
                        .iter()
                        .filter_map(|i| {
                            [text(i, "/ip"), text(i, "/hostname")]
                                .into_iter()
                                .find(|s| !s.is_empty())
                        })
                        .collect();
                    points.sort_unstable();
                    points.dedup();
                    // Never cut: the server's table convertor prints as `-o wide` does.
                    json!(points.join(","))
                },
            ),
            string("Ports", "Ports of TLS configurations that open", |o| {
                json!(if !arr(o, "/spec/tls").is_empty() {
                    "80, 443"
                } else {
                    "80"
                })
            }),
            age_column(),
        ],
        ("networking.k8s.io", "IngressClass") => vec![
            name_column(),
            string(
                "Controller",
                "Controller that is responsible for handling this class",
                |o| str_at(o, "/spec/controller"),
            ),
            string(
                "Parameters",
                "A reference to a resource with additional parameters",
                |o| {
                    json!(match o.pointer("/spec/parameters") {
                        None => "<none>".to_string(),
                        Some(p) => {
                            let group = text(p, "/apiGroup");
                            let kind = if group.is_empty() {
                                text(p, "/kind").to_string()
                            } else {
                                format!("{}.{group}", text(p, "/kind"))
                            };
                            format!("{kind}/{}", text(p, "/name"))
                        }
                    })
                },
            ),
            age_column(),
        ],
        ("networking.k8s.io", "NetworkPolicy") => vec![
            name_column(),
            string(
                "Pod-Selector",
                "Selects the pods to which this NetworkPolicy object applies.",
                |o| json!(label_selector(o.pointer("/spec/podSelector"))),
            ),
            age_column(),
        ],
        ("policy", "PodDisruptionBudget") => vec![
            name_column(),
            string(
                "Min Available",
                "The minimum number of pods that must be available simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\".",
                |o| json!(int_or_string(o, "/spec/minAvailable")),
            ),
            string(
                "Max Unavailable",
                "The maximum number of pods that may be unavailable simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\".",
                |o| json!(int_or_string(o, "/spec/maxUnavailable")),
            ),
            integer(
                "Allowed Disruptions",
                "Calculated number of pods that may be disrupted at this time.",
                |o| {
                    json!(
                        o.pointer("/status/disruptionsAllowed")
                            .and_then(Value::as_i64)
                            .unwrap_or(0)
                    )
                },
            ),
            age_column(),
        ],
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => vec![
            name_column(),
            string(
                "Role",
                "RoleRef can only reference the current namespace or a ClusterRole.",
                |o| {
                    json!(format!(
                        "{}/{}",
                        text(o, "/roleRef/kind"),
                        text(o, "/roleRef/name")
                    ))
                },
            ),
            age_column(),
            wide("Users", "Users in the roleBinding", |o| {
                json!(subjects(o, "User"))
            }),
            wide("Groups", "Groups in the roleBinding", |o| {
                json!(subjects(o, "Group"))
            }),
            wide(
                "ServiceAccounts",
                "ServiceAccounts in the roleBinding",
                |o| json!(subjects(o, "ServiceAccount")),
            ),
        ],
        ("scheduling.k8s.io", "PriorityClass") => vec![
            name_column(),
            integer(
                "Value",
                "The value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
                |o| json!(o.get("value").and_then(Value::as_i64).unwrap_or(0)),
            ),
            builtin(
                "Global-Default",
                "boolean",
                "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.",
                |o| {
                    json!(
                        o.get("globalDefault")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    )
                },
            ),
            age_column(),
            string(
                "PreemptionPolicy",
                "PreemptionPolicy is the Policy for preempting pods with lower priority.",
                |o| json!(unset_if_empty(text(o, "/preemptionPolicy"))),
            ),
        ],
        ("storage.k8s.io", "StorageClass") => vec![
            Column {
                cell: Cell::Builtin(|o| {
                    let default = [
                        "storageclass.kubernetes.io/is-default-class",
                        "storageclass.beta.kubernetes.io/is-default-class",
                    ]
                    .iter()
                    .any(|a| {
                        o.pointer("/metadata/annotations")
                            .and_then(|m| m.get(*a))
                            .and_then(Value::as_str)
                            == Some("true")
                    });
                    let name = text(o, "/metadata/name");
                    json!(if default {
                        format!("{name} (default)")
                    } else {
                        name.to_string()
                    })
                }),
                ..name_column()
            },
            string(
                "Provisioner",
                "Provisioner indicates the type of the provisioner.",
                |o| str_at(o, "/provisioner"),
            ),
            string(
                "ReclaimPolicy",
                "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.",
                |o| json!(or(text(o, "/reclaimPolicy"), "Delete")),
            ),
            string(
                "VolumeBindingMode",
                "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
                |o| json!(or(text(o, "/volumeBindingMode"), "Immediate")),
            ),
            builtin(
                "AllowVolumeExpansion",
                "string",
                "allowVolumeExpansion shows whether the storage class allow volume expand.",
                |o| {
                    json!(
                        o.get("allowVolumeExpansion")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    )
                },
            ),
            age_column(),
        ],
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => vec![
            name_column(),
            integer(
                "Webhooks",
                "Webhooks indicates the number of webhooks.",
                |o| json!(arr(o, "/webhooks").len()),
            ),
            age_column(),
        ],
        ("", "ResourceQuota") => vec![
            name_column(),
            age_column(),
            string(
                "Request",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
                |o| json!(quota_usage(o, false)),
            ),
            string(
                "Limit",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
                |o| json!(quota_usage(o, true)),
            ),
        ],
        ("apps", "ControllerRevision") => vec![
            name_column(),
            string("Controller", "Controller of the object", controller_of),
            string(
                "Revision",
                "Revision indicates the revision of the state represented by Data.",
                |o| json!(o.get("revision").and_then(Value::as_i64).unwrap_or(0)),
            ),
            age_column(),
        ],
        ("autoscaling", "HorizontalPodAutoscaler") => vec![
            name_column(),
            string(
                "Reference",
                "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.",
                |o| {
                    json!(format!(
                        "{}/{}",
                        text(o, "/spec/scaleTargetRef/kind"),
                        text(o, "/spec/scaleTargetRef/name")
                    ))
                },
            ),
            string(
                "Targets",
                "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).",
                hpa_targets,
            ),
            string(
                "MinPods",
                "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
                |o| {
                    json!(
                        o.pointer("/spec/minReplicas")
                            .and_then(Value::as_i64)
                            .map_or("<unset>".to_string(), |n| n.to_string())
                    )
                },
            ),
            string(
                "MaxPods",
                "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
                |o| {
                    json!(
                        o.pointer("/spec/maxReplicas")
                            .and_then(Value::as_i64)
                            .unwrap_or(0)
                    )
                },
            ),
            string(
                "Replicas",
                "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
                |o| {
                    json!(
                        o.pointer("/status/currentReplicas")
                            .and_then(Value::as_i64)
                            .unwrap_or(0)
                    )
                },
            ),
            age_column(),
        ],
        ("discovery.k8s.io", "EndpointSlice") => vec![
            name_column(),
            string(
                "AddressType",
                "addressType specifies the type of address carried by this EndpointSlice.",
                |o| str_at(o, "/addressType"),
            ),
            string(
                "Ports",
                "ports specifies the list of network ports exposed by each endpoint in this slice.",
                |o| {
                    let ports: Vec<String> = arr(o, "/ports")
                        .iter()
                        .map(|p| {
                            match (
                                p.get("port").and_then(Value::as_i64),
                                p.get("name").and_then(Value::as_str),
                            ) {
                                (Some(n), _) => n.to_string(),
                                (None, Some(name)) => name.to_string(),
                                (None, None) => "*".to_string(),
                            }
                        })
                        .collect();
                    json!(first_three(ports))
                },
            ),
            string(
                "Endpoints",
                "endpoints is a list of unique endpoints in this slice.",
                |o| {
                    let addresses: Vec<String> = arr(o, "/endpoints")
                        .iter()
                        .flat_map(|e| arr(e, "/addresses").iter().filter_map(Value::as_str))
                        .map(str::to_string)
                        .collect();
                    json!(first_three(addresses))
                },
            ),
            age_column(),
        ],
        _ => return None,
    })
}

/// `listWithMoreString`: the first three, then how many more; `<unset>` for none.
fn first_three(mut items: Vec<String>) -> String {
    let count = items.len();
    items.truncate(3);
    match count {
        0 => "<unset>".into(),
        1..=3 => items.join(","),
        _ => format!("{} + {} more...", items.join(","), count - 3),
    }
}

/// `printResourceQuota`: `used/hard` for each resource of `status.hard` in name order, the
/// `limits.*` ones in the Limit column.
fn quota_usage(o: &Value, limits: bool) -> String {
    let Some(hard) = o.pointer("/status/hard").and_then(Value::as_object) else {
        return String::new();
    };
    let mut names: Vec<&String> = hard.keys().collect();
    names.sort();
    names
        .into_iter()
        .filter(|name| name.starts_with("limits.") == limits)
        .map(|name| {
            let used = o
                .pointer("/status/used")
                .and_then(|u| u.get(name.as_str()))
                .and_then(Value::as_str)
                .unwrap_or("0");
            format!(
                "{name}: {used}/{}",
                hard[name.as_str()].as_str().unwrap_or("0")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The controlling owner as `kind.group/name` (lowercase kind), or `<none>`.
fn controller_of(o: &Value) -> Value {
    let owner = arr(o, "/metadata/ownerReferences")
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true));
    json!(match owner {
        None => "<none>".to_string(),
        Some(r) => {
            let group = text(r, "/apiVersion")
                .rsplit_once('/')
                .map_or("", |(g, _)| g);
            let kind = text(r, "/kind").to_lowercase();
            let kind = if group.is_empty() {
                kind
            } else {
                format!("{kind}.{group}")
            };
            format!("{kind}/{}", text(r, "/name"))
        }
    })
}

/// `formatHPAMetrics`: up to two metrics as `current/target`, resources named.
fn hpa_targets(o: &Value) -> Value {
    let specs = arr(o, "/spec/metrics");
    if specs.is_empty() {
        return json!("<none>");
    }
    let statuses = arr(o, "/status/currentMetrics");
    let quantity = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".into(),
    };
    let shown: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let status = statuses.get(i);
            let current = |kind: &str, field: &str| {
                status
                    .and_then(|s| s.pointer(&format!("/{kind}/current/{field}")))
                    .map(|v| quantity(Some(v)))
                    .unwrap_or_else(|| "<unknown>".into())
            };
            match text(spec, "/type") {
                "Resource" | "ContainerResource" => {
                    let kind = if text(spec, "/type") == "Resource" {
                        "resource"
                    } else {
                        "containerResource"
                    };
                    let name = spec
                        .pointer(&format!("/{kind}/name"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let target = spec
                        .pointer(&format!("/{kind}/target"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    match target.get("averageValue") {
                        Some(value) => format!(
                            "{name}: {}/{}",
                            current(kind, "averageValue"),
                            quantity(Some(value))
                        ),
                        None => {
                            let now = status
                                .and_then(|s| {
                                    s.pointer(&format!("/{kind}/current/averageUtilization"))
                                })
                                .and_then(Value::as_i64)
                                .map_or("<unknown>".to_string(), |n| format!("{n}%"));
                            let want = target
                                .get("averageUtilization")
                                .and_then(Value::as_i64)
                                .map_or("<auto>".to_string(), |n| format!("{n}%"));
                            format!("{name}: {now}/{want}")
                        }
                    }
                }
                "Pods" => format!(
                    "{}/{}",
                    current("pods", "averageValue"),
                    quantity(spec.pointer("/pods/target/averageValue"))
                ),
                // An object's or an external metric: a value, or an average per pod.
                kind @ ("Object" | "External") => {
                    let field = if kind == "Object" {
                        "object"
                    } else {
                        "external"
                    };
                    let target = spec
                        .pointer(&format!("/{field}/target"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    match target.get("averageValue") {
                        Some(v) => format!(
                            "{}/{} (avg)",
                            current(field, "averageValue"),
                            quantity(Some(v))
                        ),
                        None => format!(
                            "{}/{}",
                            current(field, "value"),
                            quantity(target.get("value"))
                        ),
                    }
                }
                _ => "<unknown type>".into(),
            }
        })
        .collect();
    json!(if shown.len() > 2 {
        format!("{} + {} more...", shown[..2].join(", "), shown.len() - 2)
    } else {
        shown.join(", ")
    })
}

fn text<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

fn none_if_empty(value: &str) -> &str {
    or(value, "<none>")
}

fn unset_if_empty(value: &str) -> &str {
    or(value, "<unset>")
}

fn unknown_if_empty(value: &str) -> &str {
    or(value, "<unknown>")
}

fn phase_or_terminating(o: &Value) -> Value {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        json!("Terminating")
    } else {
        str_at(o, "/status/phase")
    }
}

/// A storage quantity as `Quantity.String()` prints it (`0` when there is none).
fn storage(o: &Value, pointer: &str) -> String {
    match o.pointer(pointer) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".into(),
    }
}

/// `GetAccessModesAsString`: each mode once, in a fixed order.
fn access_modes(modes: &[Value]) -> String {
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.iter().any(|m| m.as_str() == Some(*mode)))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The beta storage-class annotation, else `spec.storageClassName`.
fn storage_class(o: &Value) -> &str {
    o.pointer("/metadata/annotations")
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| text(o, "/spec/storageClassName"))
}

fn int_or_string(o: &Value, pointer: &str) -> String {
    match o.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "N/A".into(),
    }
}

/// `formatHosts`: up to three hosts, `*` when no rule names one; once three are listed, every
/// further rule (with a host or not) counts as one more.
fn ingress_hosts(o: &Value) -> Value {
    const MAX: usize = 3;
    let rules = arr(o, "/spec/rules");
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        more |= hosts.len() == MAX;
        let host = text(rule, "/host");
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    json!(match (hosts.is_empty(), more) {
        (true, _) => "*".to_string(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - MAX),
        (false, false) => hosts.join(","),
    })
}

/// `formatEndpoints`: up to three `ip:port` pairs (bare IPs for subsets without ports).
fn endpoints(o: &Value) -> Value {
    let subsets = arr(o, "/subsets");
    if subsets.is_empty() {
        return json!("<none>");
    }
    let mut shown = Vec::new();
    let mut count = 0;
    for subset in subsets {
        let addresses: Vec<&str> = arr(subset, "/addresses")
            .iter()
            .map(|a| text(a, "/ip"))
            .collect();
        let ports = arr(subset, "/ports");
        if ports.is_empty() {
            count += addresses.len();
            shown.extend(addresses.iter().map(|ip| ip.to_string()));
            continue;
        }
        for port in ports {
            count += addresses.len();
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            shown.extend(addresses.iter().map(|ip| {
                if ip.contains(':') {
                    format!("[{ip}]:{number}")
                } else {
                    format!("{ip}:{number}")
                }
            }));
        }
    }
    let more = shown.len() > 3;
    shown.truncate(3);
    json!(if more {
        format!("{} + {} more...", shown.join(","), count - 3)
    } else {
        shown.join(",")
    })
}

fn node_status(o: &Value) -> Value {
    let mut status: Vec<&str> = arr(o, "/status/conditions")
        .iter()
        .filter(|c| text(c, "/type") == "Ready")
        .map(|c| {
            if text(c, "/status") == "True" {
                "Ready"
            } else {
                "NotReady"
            }
        })
        .take(1)
        .collect();
    if status.is_empty() {
        status.push("Unknown");
    }
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    json!(status.join(","))
}

/// `findNodeRoles`: `node-role.kubernetes.io/<role>` labels and the `kubernetes.io/role` value.
fn node_roles(o: &Value) -> Value {
    let mut roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
                    Some(role) if !role.is_empty() => Some(role),
                    _ if k == "kubernetes.io/role" => v.as_str().filter(|r| !r.is_empty()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    json!(if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    })
}

fn node_address(o: &Value, kind: &str) -> Value {
    json!(
        arr(o, "/status/addresses")
            .iter()
            .find(|a| text(a, "/type") == kind)
            .map(|a| text(a, "/address"))
            .unwrap_or("<none>")
    )
}

/// `SubjectsStrings`: the subjects of one kind, service accounts as `namespace/name`.
fn subjects(o: &Value, kind: &str) -> String {
    arr(o, "/subjects")
        .iter()
        .filter(|s| text(s, "/kind") == kind)
        .map(|s| {
            if kind == "ServiceAccount" {
                format!("{}/{}", text(s, "/namespace"), text(s, "/name"))
            } else {
                text(s, "/name").to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
