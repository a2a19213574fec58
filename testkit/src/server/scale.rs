//! The `scale` subresource (`autoscaling/v1` Scale) for workloads and custom resources that
//! declare it: reads `spec.replicas`, `status.replicas` and the selector; writes `spec.replicas`.

use bytes::Bytes;
use serde_json::{Value, json};

use super::Inner;
use super::gc::Queue;
use super::objects::{Query, Reply, Target, finish, write_over};
use crate::errors::ApiError;
use crate::meta::meta_str;
use crate::patch::{self, PatchContext, PatchError, PatchType};
use crate::registry::TypeSchema;
use crate::store::{ObjRef, State};

/// JSON pointers to the replica counts and the selector.
struct Paths {
    spec: String,
    status: String,
    selector: Option<String>,
}

/// `.spec.replicas` (the CRD notation) as a JSON pointer.
fn pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |mut p, seg| {
            p.push('/');
            p.push_str(seg);
            p
        })
}

fn paths(st: &State, t: &Target) -> Paths {
    if let TypeSchema::Custom { .. } = t.ty.schema {
        let crd_name = format!("{}.{}", t.ty.plural, t.ty.group);
        let crd = st
            .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .and_then(|b| {
                st.get_value(&ObjRef {
                    bucket: b,
                    ns: String::new(),
                    name: crd_name,
                })
            });
        let scale = crd.as_ref().and_then(|c| {
            c.pointer("/spec/versions")?
                .as_array()?
                .iter()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(t.ty.version.as_str()))?
                .pointer("/subresources/scale")
                .cloned()
        });
        let field = |k: &str, d: &str| {
            pointer(
                scale
                    .as_ref()
                    .and_then(|s| s.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or(d),
            )
        };
        return Paths {
            spec: field("specReplicasPath", ".spec.replicas"),
            status: field("statusReplicasPath", ".status.replicas"),
            selector: scale
                .as_ref()
                .and_then(|s| s.get("labelSelectorPath"))
                .and_then(Value::as_str)
                .map(pointer),
        };
    }
    Paths {
        spec: "/spec/replicas".into(),
        status: "/status/replicas".into(),
        selector: None,
    }
}

/// A label selector (`matchLabels`) as the string form Scale reports.
fn selector_string(sel: &Value) -> String {
    sel.get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn scale_of(obj: &Value, p: &Paths) -> Value {
    let selector = match &p.selector {
        Some(ptr) => obj.pointer(ptr).and_then(Value::as_str).map(str::to_string),
        None => obj.pointer("/spec/selector").map(selector_string),
    };
    let mut meta = json!({});
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = obj.pointer(&format!("/metadata/{k}")) {
            meta[k] = v.clone();
        }
    }
    let mut status =
        json!({"replicas": obj.pointer(&p.status).and_then(Value::as_i64).unwrap_or(0)});
    if let Some(s) = selector {
        status["selector"] = json!(s);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": obj.pointer(&p.spec).and_then(Value::as_i64).unwrap_or(0)},
        "status": status,
    })
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

pub(crate) fn get(inner: &Inner, t: &Target) -> Reply {
    let st = inner.lock();
    let name = t.name();
    let obj = st
        .get_value(&t.obj_ref(name))
        .ok_or_else(|| t.not_found(name))?;
    Ok((200, to_bytes(&scale_of(&obj, &paths(&st, t)))))
}

/// Sets the replica count from a Scale and stores the object through the ordinary update path.
fn write_scale(st: &mut State, t: &Target, scale: &Value, q: &Query) -> Reply {
    let name = t.name().to_string();
    let r = t.obj_ref(&name);
    let live = st.get_value(&r).ok_or_else(|| t.not_found(&name))?;
    let live_rv = meta_str(&live, "resourceVersion").unwrap_or("");
    if let Some(rv) = meta_str(scale, "resourceVersion").filter(|rv| !rv.is_empty())
        && rv != live_rv
    {
        return Err(ApiError::stale(&t.ty.group, &t.ty.plural, &name));
    }
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            ApiError::invalid(
                "Scale",
                "autoscaling",
                &name,
                &[crate::errors::cause(
                    "FieldValueRequired",
                    "spec.replicas",
                    "Required value",
                )],
            )
        })?;
    if replicas < 0 {
        return Err(ApiError::invalid(
            "Scale",
            "autoscaling",
            &name,
            &[crate::errors::cause(
                "FieldValueInvalid",
                "spec.replicas",
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    let p = paths(st, t);
    let mut new = live.clone();
    let mut cur = &mut new;
    let segs: Vec<&str> = p.spec.trim_start_matches('/').split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(obj) = cur.as_object_mut() else {
            break;
        };
        if i + 1 == segs.len() {
            obj.insert((*seg).to_string(), json!(replicas));
            break;
        }
        cur = obj.entry((*seg).to_string()).or_insert_with(|| json!({}));
    }
    // Written over the main resource, recorded as a write of the scale subresource.
    let mut work = Queue::new();
    let reply = write_over(st, &mut work, t, &r, live, new, q, true);
    let reply = finish(st, work, reply)?;
    let stored: Value = serde_json::from_slice(&reply.1)
        .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    Ok((200, to_bytes(&scale_of(&stored, &p))))
}

pub(crate) fn update(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> Reply {
    let scale: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })?;
    let mut st = inner.lock();
    write_scale(&mut st, t, &scale, q)
}

pub(crate) fn patch(
    inner: &Inner,
    t: &Target,
    body: &[u8],
    content_type: &str,
    q: &Query,
) -> Reply {
    let custom = matches!(t.ty.schema, crate::registry::TypeSchema::Custom { .. });
    let pt = PatchType::from_content_type(content_type)
        .filter(|pt| !(custom && *pt == PatchType::StrategicMerge))
        .ok_or_else(|| ApiError::unsupported_patch_type(custom))?;
    let mut st = inner.lock();
    let name = t.name().to_string();
    let live = st
        .get_value(&t.obj_ref(&name))
        .ok_or_else(|| t.not_found(&name))?;
    let current = scale_of(&live, &paths(&st, t));
    // Strategic merge on a Scale is a plain merge: it has no lists.
    let pt = if pt == PatchType::StrategicMerge {
        PatchType::Merge
    } else {
        pt
    };
    let ctx = PatchContext {
        resource: &t.ty,
        field_manager: q.get("fieldManager").map(String::as_str),
        force: q.get("force").is_some_and(|f| f == "true"),
        subresource: Some("scale"),
    };
    let patched = patch::apply(pt, Some(&current), body, &ctx).map_err(|e| match e {
        PatchError::Malformed(m) => ApiError::bad_request(m),
        PatchError::UnsupportedMediaType(m) => ApiError::new(415, "UnsupportedMediaType", m),
        other => ApiError::new(422, "Invalid", other.to_string()),
    })?;
    write_scale(&mut st, t, &patched, q)
}
