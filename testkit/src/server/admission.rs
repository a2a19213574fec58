//! The admission plugins of a default kube-apiserver that the testkit models: mutating, on
//! creates, `ServiceAccount` (a Pod's service account and its token volume),
//! `DefaultTolerationSeconds`, `Priority`, and `StorageObjectInUseProtection` (the claim
//! protection finalizer); validating, `Priority`'s single default PriorityClass.
//!
//! They run after the field manager has recorded the write, so what they add belongs to no
//! manager, as on a real server. (`LimitRanger` and `ResourceQuota` are not modelled: see the
//! crate docs.)

use serde_json::{Map, Value, json};

use super::objects::Target;
use crate::errors::ApiError;
use crate::meta::name_suffix;
use crate::store::{ObjRef, State};

const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";

/// Mutates a new object of `t`'s type as the admission chain would, or refuses it.
pub(crate) fn on_create(st: &mut State, t: &Target, object: &mut Value) -> Result<(), ApiError> {
    if !t.ty.group.is_empty() {
        return Ok(());
    }
    match t.ty.kind.as_str() {
        "Pod" => pod(st, t, object),
        "PersistentVolumeClaim" => {
            let meta = crate::meta::meta_mut(object);
            if let Some(meta) = meta {
                let finalizers = meta
                    .entry("finalizers")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = finalizers
                    && !list.iter().any(|f| f == "kubernetes.io/pvc-protection")
                {
                    list.push(json!("kubernetes.io/pvc-protection"));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn pod(st: &mut State, t: &Target, pod: &mut Value) -> Result<(), ApiError> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let automount_sa = service_account(st, t, pod, &name)?;
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if spec.get("automountServiceAccountToken") != Some(&Value::Bool(false)) && automount_sa {
        let suffix = name_suffix(&mut st.rng);
        mount_token(spec, &format!("{TOKEN_VOLUME_PREFIX}{suffix}"));
    }
    default_tolerations(spec);
    priority(st, spec, &name)
}

/// Names the `default` service account when none is given, refuses a pod whose account does
/// not exist, and tells whether the account lets its token be mounted.
fn service_account(st: &State, t: &Target, pod: &mut Value, name: &str) -> Result<bool, ApiError> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(true);
    };
    let given = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            spec.get("serviceAccount")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or("default")
        .to_string();
    spec.insert("serviceAccountName".into(), json!(given));
    let ns = t.ns.clone().unwrap_or_default();
    let account = st.lookup("", "v1", "serviceaccounts").and_then(|bucket| {
        st.get_value(&ObjRef {
            bucket,
            ns: ns.clone(),
            name: given.clone(),
        })
    });
    let Some(account) = account else {
        return Err(forbidden_pod(
            name,
            &format!(
                "error looking up service account {ns}/{given}: serviceaccount \"{given}\" not found"
            ),
        ));
    };
    Ok(account.get("automountServiceAccountToken") != Some(&Value::Bool(false)))
}

/// Mounts the projected token volume in every container that has nothing at the token path.
fn mount_token(spec: &mut Map<String, Value>, generated: &str) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|volumes| {
            volumes
                .iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .find(|n| n.starts_with(TOKEN_VOLUME_PREFIX))
                .map(str::to_string)
        });
    let volume = existing.clone().unwrap_or_else(|| generated.to_string());
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let mounts = container
                .entry("volumeMounts")
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(mounts) = mounts else {
                continue;
            };
            if mounts
                .iter()
                .any(|m| m.get("mountPath") == Some(&json!(TOKEN_MOUNT_PATH)))
            {
                continue;
            }
            mounts.push(json!({"name": volume, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}));
            needed = true;
        }
    }
    if needed && existing.is_none() {
        let volumes = spec
            .entry("volumes")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(volumes) = volumes {
            volumes.push(json!({
                "name": volume,
                "projected": {
                    "defaultMode": 0o644,
                    "sources": [
                        // An hour, plus the seven seconds the plugin adds so that kubelets can
                        // tell its tokens from ones a user asked for.
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                    ],
                },
            }));
        }
    }
}

/// `DefaultTolerationSeconds`: five minutes on a node that is not ready or unreachable, unless
/// the pod already says how long.
fn default_tolerations(spec: &mut Map<String, Value>) {
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(list) = tolerations else {
        return;
    };
    for taint in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = list.iter().any(|t| {
            let key = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        });
        if !tolerated {
            list.push(
                json!({"key": taint, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 300}),
            );
        }
    }
}

/// The `Priority` plugin: a pod's priority (and preemption policy) come from its class, or
/// from the `globalDefault` class when it names none; a value the pod gives itself must agree.
fn priority(st: &State, spec: &mut Map<String, Value>, name: &str) -> Result<(), ApiError> {
    let classes = priority_classes(st);
    let wanted = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let class = if wanted.is_empty() {
        let default = default_priority_class(&classes);
        if let Some(default) = default
            && let Some(class_name) = default.pointer("/metadata/name")
        {
            spec.insert("priorityClassName".into(), class_name.clone());
        }
        default
    } else {
        let found = classes
            .iter()
            .find(|c| c.pointer("/metadata/name").and_then(Value::as_str) == Some(&wanted));
        match found {
            Some(class) => Some(class),
            None => {
                return Err(forbidden_pod(
                    name,
                    &format!("no PriorityClass with name {wanted} was found"),
                ));
            }
        }
    };
    let value = class
        .and_then(|c| c.get("value"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let policy = class
        .and_then(|c| c.get("preemptionPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("PreemptLowerPriority")
        .to_string();
    if let Some(given) = spec.get("priority").and_then(Value::as_i64)
        && given != value
    {
        return Err(forbidden_pod(
            name,
            &format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
            ),
        ));
    }
    if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str)
        && given != policy
    {
        return Err(forbidden_pod(
            name,
            &format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            ),
        ));
    }
    spec.insert("priority".into(), json!(value));
    spec.insert("preemptionPolicy".into(), json!(policy));
    Ok(())
}

fn priority_classes(st: &State) -> Vec<Value> {
    st.lookup("scheduling.k8s.io", "v1", "priorityclasses")
        .map(|bucket| {
            st.buckets[bucket]
                .objects
                .values()
                .filter_map(|s| serde_json::from_slice(&s.json).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `getDefaultPriorityClass`: of the classes marked `globalDefault` (one, unless they were
/// created concurrently), the lowest.
fn default_priority_class(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|c| c.get("globalDefault") == Some(&Value::Bool(true)))
        .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
}

/// The validating half of admission, after the object itself was validated: the `Priority`
/// plugin keeps a single `globalDefault` PriorityClass.
pub(crate) fn validate(st: &State, t: &Target, object: &Value) -> Result<(), ApiError> {
    if (t.ty.group.as_str(), t.ty.kind.as_str()) != ("scheduling.k8s.io", "PriorityClass")
        || object.get("globalDefault") != Some(&Value::Bool(true))
    {
        return Ok(());
    }
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let classes = priority_classes(st);
    let Some(existing) = default_priority_class(&classes)
        .and_then(|c| c.pointer("/metadata/name"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    if existing == name {
        return Ok(());
    }
    let mut err = ApiError::forbidden(format!(
        "priorityclasses.scheduling.k8s.io \"{name}\" is forbidden: PriorityClass {existing} is already marked as default. Only one default can exist"
    ));
    err.details =
        Some(json!({"name": name, "group": "scheduling.k8s.io", "kind": "priorityclasses"}));
    Err(err)
}

fn forbidden_pod(name: &str, why: &str) -> ApiError {
    let mut err = ApiError::forbidden(format!("pods \"{name}\" is forbidden: {why}"));
    err.details = Some(json!({"name": name, "kind": "pods"}));
    err
}
