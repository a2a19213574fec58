//! The verbs on objects: create, get, list, update, patch, delete, deletecollection.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::Inner;
use super::gc::{self, Deleted, Propagation, Queue, Work};
use super::query::{hex_decode, hex_encode};
use crate::errors::{ApiError, cause};
use crate::meta::{
    finalizers, is_deleting, meta_mut, meta_str, name_suffix, now, spec_changed, tracks_generation,
    validate_labels, validate_name,
};
use crate::patch::{self, PatchContext, PatchError, PatchType};
use crate::registry::{ResourceType, TypeSchema, crd_types};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{BucketId, Filter, ObjRef, State};

/// A resolved resource path.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub bucket: BucketId,
    pub ty: Arc<ResourceType>,
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

impl Target {
    pub(crate) fn obj_ref(&self, name: &str) -> ObjRef {
        ObjRef {
            bucket: self.bucket,
            ns: self.ns.clone().unwrap_or_default(),
            name: name.to_string(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    pub(crate) fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(&self.ty.group, &self.ty.plural, name)
    }

    fn status_write(&self) -> bool {
        self.sub.as_deref() == Some("status")
    }
}

pub(crate) type Reply = Result<(u16, Bytes), ApiError>;

pub(crate) type Query = HashMap<String, String>;

fn dry_run(q: &Query) -> bool {
    q.get("dryRun").is_some_and(|v| v == "All")
}

fn is_crd(ty: &ResourceType) -> bool {
    ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions"
}

/// Serves a stored object at the requested version (custom resources may be served at several).
fn at_version(st: &State, t: &Target, json: &Bytes) -> Bytes {
    if st.buckets[t.bucket].types.len() < 2 {
        return json.clone();
    }
    let want = t.ty.api_version();
    match serde_json::from_slice::<Value>(json) {
        Ok(mut v) if v.get("apiVersion").and_then(Value::as_str) != Some(want.as_str()) => {
            v["apiVersion"] = json!(want);
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        _ => json.clone(),
    }
}

fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .or_else(|_| serde_saphyr::from_slice::<Value>(body))
        .map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "couldn't get version/kind; json parse error: expected a JSON object",
        ));
    }
    Ok(v)
}

/// The body's apiVersion and kind must be the ones the path names.
fn check_kind(st: &State, t: &Target, v: &mut Value) -> Result<(), ApiError> {
    let body = || {
        String::from_utf8_lossy(&serde_json::to_vec(v).unwrap_or_default())
            .chars()
            .take(200)
            .collect::<String>()
    };
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{}'",
            body()
        )));
    }
    let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api_version.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'apiVersion' is missing in '{}'",
            body()
        )));
    }
    let want = t.ty.api_version();
    if api_version != want {
        // Another served version of the same custom resource is accepted (no conversion).
        let same_bucket = st.buckets[t.bucket]
            .types
            .iter()
            .any(|x| x.api_version() == api_version);
        if !same_bucket {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({want})"
            )));
        }
    }
    if kind != t.ty.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({}) for {}",
            t.ty.kind, t.ty.plural
        )));
    }
    v["apiVersion"] = json!(want);
    Ok(())
}

/// Type-level validation: built-ins must decode into their k8s-openapi type, custom objects must
/// satisfy their schema (and lose unknown fields), CRDs must be servable.
fn validate_body(st: &State, t: &Target, v: &mut Value, name: &str) -> Result<(), ApiError> {
    if let Some(c) = validate_name(&t.ty.kind, name) {
        return Err(ApiError::invalid(&t.ty.kind, &t.ty.group, name, &[c]));
    }
    let label_causes = validate_labels(v);
    if !label_causes.is_empty() {
        return Err(ApiError::invalid(
            &t.ty.kind,
            &t.ty.group,
            name,
            &label_causes,
        ));
    }
    match &t.ty.schema {
        TypeSchema::BuiltIn { decode, .. } => decode(v).map_err(|e| {
            ApiError::bad_request(format!(
                "{kind} in version \"{ver}\" cannot be handled as a {kind}: {e}",
                kind = t.ty.kind,
                ver = t.ty.version
            ))
        })?,
        TypeSchema::Custom { open_api_v3_schema } => {
            if !open_api_v3_schema.is_null() {
                let schema = st.buckets[t.bucket]
                    .types
                    .iter()
                    .find(|x| x.version == t.ty.version)
                    .map(|x| match &x.schema {
                        TypeSchema::Custom { open_api_v3_schema } => open_api_v3_schema.clone(),
                        TypeSchema::BuiltIn { .. } => Value::Null,
                    })
                    .unwrap_or_else(|| open_api_v3_schema.clone());
                crate::schema::validate_and_prune(&schema, v)
                    .map_err(|causes| ApiError::invalid(&t.ty.kind, &t.ty.group, name, &causes))?;
            }
        }
    }
    if is_crd(&t.ty) {
        crd_types(v).map_err(|e| {
            ApiError::invalid(
                &t.ty.kind,
                &t.ty.group,
                name,
                &[cause("FieldValueInvalid", "spec", e.to_string())],
            )
        })?;
    }
    Ok(())
}

/// Fills in what the API server adds to a CRD: accepted names and conditions.
fn crd_status(v: &mut Value) {
    let names = v.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = v
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|x| x.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|x| x.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let t = now();
    v["status"] = json!({
        "acceptedNames": names,
        "storedVersions": stored,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": t},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": t},
        ]
    });
}

/// Serves what a stored CRD defines (and stops serving versions it no longer serves).
fn crd_serve(st: &mut State, v: &Value) {
    let Ok(types) = crd_types(v) else { return };
    let versions: Vec<String> = types.iter().map(|t| t.version.clone()).collect();
    for ty in types {
        st.register(ty, true);
    }
    let group = v
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = v
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(id) = st
        .buckets
        .iter()
        .position(|b| b.custom && b.primary().group == group && b.primary().plural == plural)
    {
        if versions.is_empty() {
            st.unregister_versions(id, &[]);
        } else {
            st.unregister_versions(id, &versions);
        }
    }
}

/// Called by the garbage collector when an object is gone for good.
pub(crate) fn after_removal(st: &mut State, work: &mut Queue, r: &ObjRef, last: &Value) {
    if !is_crd(st.buckets[r.bucket].primary()) {
        return;
    }
    let group = last
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = last
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(id) = st
        .buckets
        .iter()
        .position(|b| b.custom && b.primary().group == group && b.primary().plural == plural)
    else {
        return;
    };
    // The real server's CRD finalizer deletes every instance before the CRD goes; instances'
    // own finalizers are not waited for here.
    let keys: Vec<(String, String)> = st.buckets[id].objects.keys().cloned().collect();
    for (ns, name) in keys {
        let r = ObjRef {
            bucket: id,
            ns,
            name,
        };
        if let Some(v) = st.get_value(&r) {
            gc::remove_now(st, work, &r, v);
        }
    }
    st.unregister_versions(id, &[]);
    // The real server ends watches on a kind that is no longer served.
    st.watchers.retain(|w| w.filter.bucket != id);
}

fn ensure_namespace(st: &State, t: &Target, ns: &str) -> Result<(), ApiError> {
    if !t.ty.namespaced {
        return Ok(());
    }
    match st.namespace_state(ns) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(true) => Err(ApiError::forbidden(format!(
            "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            t.ty.plural,
            t.name()
        ))),
        Some(false) => Ok(()),
    }
}

fn patch_ctx<'a>(t: &'a Target, q: &'a Query) -> PatchContext<'a> {
    PatchContext {
        resource: &t.ty,
        field_manager: q.get("fieldManager").map(String::as_str),
        force: q.get("force").is_some_and(|f| f == "true"),
        status_subresource: t.status_write(),
    }
}

fn new_object(
    st: &mut State,
    work: &mut Queue,
    t: &Target,
    mut v: Value,
    q: &Query,
    track: bool,
) -> Reply {
    check_kind(st, t, &mut v)?;
    let path_ns = t.ns.clone().unwrap_or_default();
    let body_ns = meta_str(&v, "namespace").unwrap_or("").to_string();
    if t.ty.namespaced && !body_ns.is_empty() && body_ns != path_ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let mut name = meta_str(&v, "name").unwrap_or("").to_string();
    let generate = meta_str(&v, "generateName").unwrap_or("").to_string();
    if name.is_empty() {
        if generate.is_empty() {
            return Err(ApiError::invalid(
                &t.ty.kind,
                &t.ty.group,
                "",
                &[cause(
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )],
            ));
        }
        loop {
            name = format!("{generate}{}", name_suffix(&mut st.rng));
            if st.get(&t.obj_ref(&name)).is_none() {
                break;
            }
        }
    }
    if let Some(n) = &t.name
        && *n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({n})"
        )));
    }
    ensure_namespace(st, t, &path_ns)?;
    let Some(meta) = meta_mut(&mut v) else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    meta.insert("name".into(), json!(name));
    if t.ty.namespaced {
        meta.insert("namespace".into(), json!(path_ns));
    } else {
        meta.remove("namespace");
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now()));
    if tracks_generation(&t.ty) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("resourceVersion");
    meta.remove("selfLink");
    if t.ty.subresources.status
        && let Some(o) = v.as_object_mut()
    {
        o.remove("status");
    }
    if t.ty.kind == "Pod" && t.ty.group.is_empty() {
        v["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    }
    if t.ty.kind == "Namespace" && t.ty.group.is_empty() {
        v["spec"] = json!({"finalizers": ["kubernetes"]});
        v["status"] = json!({"phase": "Active"});
    }
    validate_body(st, t, &mut v, &name)?;
    let r = t.obj_ref(&name);
    if st.get(&r).is_some() {
        return Err(ApiError::already_exists(&t.ty.group, &t.ty.plural, &name));
    }
    if track {
        patch::track_update(None, &mut v, &patch_ctx(t, q));
    }
    if is_crd(&t.ty) {
        crd_status(&mut v);
    }
    if st.simulate_workloads {
        super::workloads::simulate(&t.ty, &mut v);
    }
    if dry_run(q) {
        return Ok((201, Bytes::from(serde_json::to_vec(&v).unwrap_or_default())));
    }
    let json = st.put(&r, None, &mut v);
    if is_crd(&t.ty) {
        crd_serve(st, &v);
    }
    if v.pointer("/metadata/ownerReferences").is_some() {
        work.push_back(Work::Evaluate(r));
    }
    Ok((201, json))
}

/// Writes `new` over `live` with every rule of an update: identity fields kept, status rules,
/// finalizer rules, generation, no-op detection, finishing a deletion.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_over(
    st: &mut State,
    work: &mut Queue,
    t: &Target,
    r: &ObjRef,
    live: Value,
    mut new: Value,
    q: &Query,
    track: bool,
) -> Reply {
    let status_sub = t.ty.subresources.status;
    if t.status_write() {
        let status = new.get("status").cloned();
        // Ownership recorded by a server-side apply to /status survives the status-only rule.
        let managed = new.pointer("/metadata/managedFields").cloned();
        new = live.clone();
        if let (Some(managed), Some(meta)) = (managed, meta_mut(&mut new)) {
            meta.insert("managedFields".into(), managed);
        }
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    } else if status_sub {
        match live.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    v_copy_identity(&live, &mut new);
    if is_deleting(&live) {
        let before = finalizers(&live);
        if let Some(added) = finalizers(&new).into_iter().find(|f| !before.contains(f)) {
            return Err(ApiError::invalid(
                &t.ty.kind,
                &t.ty.group,
                &r.name,
                &[cause(
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"
                    ),
                )],
            ));
        }
    }
    let generation = live
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let bumped = spec_changed(&live, &new, status_sub);
    if tracks_generation(&t.ty)
        && let Some(meta) = meta_mut(&mut new)
    {
        meta.insert(
            "generation".into(),
            json!(if bumped { generation + 1 } else { generation }),
        );
    }
    validate_body(st, t, &mut new, &r.name)?;
    if st.simulate_workloads && !t.status_write() {
        super::workloads::simulate(&t.ty, &mut new);
    }
    if is_crd(&t.ty) {
        let status = live.get("status").cloned();
        crd_status(&mut new);
        if let (Some(old), Some(meta_new)) = (status, new.get("status").cloned()) {
            // Keep condition timestamps stable so an unchanged CRD stays a no-op.
            if old.get("acceptedNames") == meta_new.get("acceptedNames") {
                new["status"] = old;
            }
        }
    }
    if same_object(&live, &new) {
        let json = st.get(r).map(|s| s.json.clone()).unwrap_or_default();
        return Ok((200, json));
    }
    if track {
        patch::track_update(Some(&live), &mut new, &patch_ctx(t, q));
    }
    if dry_run(q) {
        return Ok((
            200,
            Bytes::from(serde_json::to_vec(&new).unwrap_or_default()),
        ));
    }
    if is_deleting(&new) && finalizers(&new).is_empty() {
        let last = gc::remove_now(st, work, r, new);
        return Ok((
            200,
            Bytes::from(serde_json::to_vec(&last).unwrap_or_default()),
        ));
    }
    let json = st.put(r, Some(&live), &mut new);
    if is_crd(&t.ty) {
        crd_serve(st, &new);
    }
    let old_refs = live.pointer("/metadata/ownerReferences");
    let new_refs = new.pointer("/metadata/ownerReferences");
    if old_refs != new_refs {
        if new_refs.is_some() {
            work.push_back(Work::Evaluate(r.clone()));
        }
        for o in old_refs.and_then(Value::as_array).into_iter().flatten() {
            if let Some(uid) = o.get("uid").and_then(Value::as_str) {
                work.push_back(Work::Foreground(uid.to_string()));
            }
        }
    }
    Ok((200, json))
}

/// Fields a client can never change with an update.
fn v_copy_identity(live: &Value, new: &mut Value) {
    let keep = [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "namespace",
        "name",
        "generation",
    ];
    let live_meta = live.get("metadata").cloned().unwrap_or(json!({}));
    if let Some(meta) = meta_mut(new) {
        for k in keep {
            match live_meta.get(k) {
                Some(x) => {
                    meta.insert(k.into(), x.clone());
                }
                None => {
                    meta.remove(k);
                }
            }
        }
        meta.remove("selfLink");
    }
    if let Some(rv) = live_meta.get("resourceVersion")
        && let Some(meta) = meta_mut(new)
    {
        meta.insert("resourceVersion".into(), rv.clone());
    }
}

/// Equal apart from the times in managedFields (which every write would otherwise touch); a
/// change of ownership alone (a second manager applying the same values) is a change.
fn same_object(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(Value::Array(entries)) =
            meta_mut(&mut v).and_then(|m| m.get_mut("managedFields"))
        {
            for entry in entries.iter_mut() {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("time");
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

pub(crate) fn finish(st: &mut State, mut work: Queue, reply: Reply) -> Reply {
    gc::drain(st, &mut work);
    reply
}

pub(crate) fn get(inner: &Inner, t: &Target) -> Reply {
    let st = inner.lock();
    let name = t.name();
    let stored = st.get(&t.obj_ref(name)).ok_or_else(|| t.not_found(name))?;
    Ok((200, at_version(&st, t, &stored.json)))
}

/// The list's filter from the query.
pub(crate) fn filter_for(t: &Target, q: &Query) -> Result<Filter, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        q.get("fieldSelector").map(String::as_str).unwrap_or(""),
        &t.ty.kind,
    )
    .map_err(ApiError::bad_request)?;
    Ok(Filter {
        bucket: t.bucket,
        ns: t.ns.clone(),
        labels,
        fields,
    })
}

pub(crate) fn list(inner: &Inner, t: &Target, q: &Query) -> Reply {
    let filter = filter_for(t, q)?;
    let limit: usize = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let start: Option<(String, String)> = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let raw = hex_decode(token)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(format!("continue key is not valid: {token:?}"))
                })?;
            let (ns, name) = raw.split_once('\0').unwrap_or(("", &raw));
            Some((ns.to_string(), name.to_string()))
        }
        None => None,
    };
    let st = inner.lock();
    let bucket = &st.buckets[t.bucket];
    let ns = t.ns.clone();
    let lower = match (&start, &ns) {
        (Some(k), _) => std::ops::Bound::Excluded(k.clone()),
        (None, Some(ns)) => std::ops::Bound::Included((ns.clone(), String::new())),
        (None, None) => std::ops::Bound::Unbounded,
    };
    let mut out = Vec::with_capacity(1024);
    let mut count = 0usize;
    let mut next = None;
    for ((o_ns, o_name), s) in bucket.objects.range((lower, std::ops::Bound::Unbounded)) {
        if let Some(ns) = &ns
            && o_ns != ns
        {
            break;
        }
        if !filter.matches_bytes(&s.json) {
            continue;
        }
        if count > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&at_version(&st, t, &s.json));
        count += 1;
        if limit > 0 && count == limit {
            // The token names the last item returned, so the next page starts after it.
            next = Some(hex_encode(format!("{o_ns}\0{o_name}").as_bytes()));
            break;
        }
    }
    // Only hand out a continue token when something is actually left.
    if let Some(tok) = &next {
        let more = hex_decode(tok)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|raw| {
                raw.split_once('\0')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .is_some_and(|k| {
                bucket
                    .objects
                    .range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                    .take_while(|((n, _), _)| ns.as_ref().is_none_or(|ns| ns == n))
                    .any(|(_, s)| filter.matches_bytes(&s.json))
            });
        if !more {
            next = None;
        }
    }
    let mut body = Vec::with_capacity(out.len() + 200);
    let head = json!({"resourceVersion": st.rv.to_string()});
    let mut meta = head;
    if let Some(n) = next {
        meta["continue"] = json!(n);
    }
    body.extend_from_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            t.ty.kind,
            t.ty.api_version(),
            meta
        )
        .as_bytes(),
    );
    body.extend_from_slice(&out);
    body.extend_from_slice(b"]}");
    Ok((200, Bytes::from(body)))
}

pub(crate) fn create(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> Reply {
    let v = parse_object(body)?;
    if meta_str(&v, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
        // What the real storage layer answers (as a 500, not a validation error).
        return Err(ApiError::new(
            500,
            "InternalError",
            "Internal error occurred: resourceVersion should not be set on objects to be created",
        ));
    }
    let mut st = inner.lock();
    let mut work = Queue::new();
    let reply = new_object(&mut st, &mut work, t, v, q, true);
    finish(&mut st, work, reply)
}

pub(crate) fn update(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> Reply {
    let mut v = parse_object(body)?;
    let mut st = inner.lock();
    check_kind(&st, t, &mut v)?;
    let name = t.name().to_string();
    let body_name = meta_str(&v, "name").unwrap_or("");
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if t.ty.namespaced {
        let body_ns = meta_str(&v, "namespace").unwrap_or("");
        if !body_ns.is_empty() && Some(body_ns) != t.ns.as_deref() {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let r = t.obj_ref(&name);
    let live = st.get_value(&r).ok_or_else(|| t.not_found(&name))?;
    let body_rv = meta_str(&v, "resourceVersion").unwrap_or("").to_string();
    let live_rv = meta_str(&live, "resourceVersion").unwrap_or("").to_string();
    if body_rv.is_empty() {
        if matches!(t.ty.schema, TypeSchema::Custom { .. }) {
            return Err(ApiError::invalid(
                &t.ty.kind,
                &t.ty.group,
                &name,
                &[cause(
                    "FieldValueInvalid",
                    "metadata.resourceVersion",
                    "Invalid value: 0x0: must be specified for an update",
                )],
            ));
        }
    } else if body_rv != live_rv {
        return Err(ApiError::stale(&t.ty.group, &t.ty.plural, &name));
    }
    let mut work = Queue::new();
    let reply = write_over(&mut st, &mut work, t, &r, live, v, q, true);
    finish(&mut st, work, reply)
}

pub(crate) fn patch(
    inner: &Inner,
    t: &Target,
    body: &[u8],
    content_type: &str,
    q: &Query,
) -> Reply {
    let pt = PatchType::from_content_type(content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
    let name = t.name().to_string();
    let mut st = inner.lock();
    let r = t.obj_ref(&name);
    let live = st.get_value(&r);
    if live.is_none() && pt != PatchType::Apply {
        return Err(t.not_found(&name));
    }
    if pt == PatchType::Apply && q.get("fieldManager").is_none_or(|m| m.is_empty()) {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let ctx = patch_ctx(t, q);
    let patched = patch::apply(pt, live.as_ref(), body, &ctx).map_err(|e| match e {
        PatchError::Malformed(m) => ApiError::bad_request(m),
        PatchError::Invalid(m) => ApiError::new(422, "Invalid", m),
        PatchError::UnsupportedMediaType(m) => ApiError::new(415, "UnsupportedMediaType", m),
        PatchError::Conflicts(c) => {
            let causes: Vec<Value> = c
                .iter()
                .map(|(manager, field)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": field}))
                .collect();
            let mut err = ApiError::new(
                409,
                "Conflict",
                format!(
                    "Apply failed with {} conflict{}: {}",
                    c.len(),
                    if c.len() == 1 { "" } else { "s" },
                    c.iter().map(|(m, f)| format!("conflict with \"{m}\": {f}")).collect::<Vec<_>>().join(", ")
                ),
            );
            err.details = Some(json!({"name": name, "group": t.ty.group, "kind": t.ty.plural, "causes": causes}));
            err
        }
    })?;
    let mut work = Queue::new();
    let track = pt != PatchType::Apply;
    let reply = match live {
        None => {
            let mut v = patched;
            if let Some(meta) = meta_mut(&mut v) {
                meta.insert("name".into(), json!(name));
            }
            new_object(&mut st, &mut work, t, v, q, track)
        }
        Some(live) => {
            let mut v = patched;
            if !v.is_object() {
                return Err(ApiError::bad_request("the patch did not produce an object"));
            }
            let live_rv = meta_str(&live, "resourceVersion").unwrap_or("").to_string();
            let new_rv = meta_str(&v, "resourceVersion").unwrap_or("").to_string();
            if !new_rv.is_empty() && new_rv != live_rv {
                return Err(ApiError::stale(&t.ty.group, &t.ty.plural, &name));
            }
            if meta_str(&v, "name").is_some_and(|n| n != name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta_str(&v, "name").unwrap_or("")
                )));
            }
            check_kind(&st, t, &mut v)?;
            write_over(&mut st, &mut work, t, &r, live, v, q, track)
        }
    };
    finish(&mut st, work, reply)
}

/// DeleteOptions from the body and the query.
struct DeleteOptions {
    policy: Propagation,
    uid: Option<String>,
    rv: Option<String>,
}

fn delete_options(body: &[u8], q: &Query) -> Result<DeleteOptions, ApiError> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    let policy_text = v
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| q.get("propagationPolicy").cloned());
    let orphan = v
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .or_else(|| q.get("orphanDependents").map(|x| x == "true"));
    let policy = match (policy_text, orphan) {
        (Some(p), _) => Propagation::parse(&p)?,
        (None, Some(true)) => Propagation::Orphan,
        _ => Propagation::Background,
    };
    Ok(DeleteOptions {
        policy,
        uid: v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        rv: v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn success_status(t: &Target, name: &str, uid: &str) -> Bytes {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": t.ty.group, "kind": t.ty.plural, "uid": uid},
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

pub(crate) fn delete(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> Reply {
    let opts = delete_options(body, q)?;
    let name = t.name().to_string();
    let mut st = inner.lock();
    let r = t.obj_ref(&name);
    let live = st.get_value(&r).ok_or_else(|| t.not_found(&name))?;
    let live_uid = meta_str(&live, "uid").unwrap_or("").to_string();
    if let Some(uid) = &opts.uid
        && *uid != live_uid
    {
        return Err(ApiError::conflict(
            &t.ty.group,
            &t.ty.plural,
            &name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {live_uid}"
            ),
        ));
    }
    let live_rv = meta_str(&live, "resourceVersion").unwrap_or("").to_string();
    if let Some(rv) = &opts.rv
        && *rv != live_rv
    {
        return Err(ApiError::conflict(
            &t.ty.group,
            &t.ty.plural,
            &name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {live_rv}"
            ),
        ));
    }
    if dry_run(q) {
        return Ok((
            200,
            Bytes::from(serde_json::to_vec(&live).unwrap_or_default()),
        ));
    }
    let mut work = Queue::new();
    let reply = match gc::delete_object(&mut st, &mut work, &r, opts.policy) {
        None => Err(t.not_found(&name)),
        Some(Deleted::Gone(_)) => Ok((200, success_status(t, &name, &live_uid))),
        Some(Deleted::Pending(json)) => Ok((200, json)),
    };
    finish(&mut st, work, reply)
}

pub(crate) fn delete_collection(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> Reply {
    let opts = delete_options(body, q)?;
    let filter = filter_for(t, q)?;
    let mut st = inner.lock();
    let keys: Vec<(String, String)> = st.buckets[t.bucket]
        .objects
        .iter()
        .filter(|((ns, _), _)| t.ns.as_ref().is_none_or(|n| n == ns))
        .filter(|(_, s)| filter.matches_bytes(&s.json))
        .map(|(k, _)| k.clone())
        .collect();
    let mut work = Queue::new();
    let mut items: Vec<u8> = Vec::new();
    for (ns, name) in keys {
        let r = ObjRef {
            bucket: t.bucket,
            ns,
            name,
        };
        let json = match gc::delete_object(&mut st, &mut work, &r, opts.policy) {
            Some(Deleted::Gone(v)) => Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
            Some(Deleted::Pending(json)) => json,
            None => continue,
        };
        if !items.is_empty() {
            items.push(b',');
        }
        items.extend_from_slice(&json);
        gc::drain(&mut st, &mut work);
    }
    let mut body = format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"}},\"items\":[",
        t.ty.kind,
        t.ty.api_version(),
        st.rv
    )
    .into_bytes();
    body.extend_from_slice(&items);
    body.extend_from_slice(b"]}");
    Ok((200, Bytes::from(body)))
}

/// Creates or replaces an object given as JSON (fixtures, CRD registration, default namespaces).
pub(crate) fn upsert(inner: &Inner, value: Value) -> Result<(), super::TestkitError> {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = meta_str(&value, "name").unwrap_or("").to_string();
    let refused = |e: ApiError| super::TestkitError::Refused {
        kind: kind.clone(),
        name: name.clone(),
        code: e.code,
        reason: e.reason.to_string(),
        message: e.message,
    };
    let mut st = inner.lock();
    let bucket = st.bucket_by_kind(&api_version, &kind).ok_or_else(|| {
        refused(ApiError::not_found(
            "",
            &format!("{api_version}/{kind}"),
            &name,
        ))
    })?;
    let ty = st.buckets[bucket]
        .types
        .iter()
        .find(|t| t.api_version() == api_version)
        .cloned()
        .unwrap_or_else(|| st.buckets[bucket].primary().clone());
    let ns = if ty.namespaced {
        Some(
            meta_str(&value, "namespace")
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string(),
        )
    } else {
        None
    };
    let t = Target {
        bucket,
        ty,
        ns,
        name: None,
        sub: None,
    };
    let q = Query::from([("fieldManager".to_string(), "roperator-testkit".to_string())]);
    let mut work = Queue::new();
    let r = t.obj_ref(&name);
    let reply = match st.get_value(&r) {
        None => new_object(&mut st, &mut work, &t, value, &q, true),
        Some(live) => {
            let mut v = value;
            check_kind(&st, &t, &mut v).map_err(refused)?;
            let t = Target {
                name: Some(name.clone()),
                ..t.clone()
            };
            write_over(&mut st, &mut work, &t, &r, live, v, &q, true)
        }
    };
    finish(&mut st, work, reply).map(|_| ()).map_err(refused)
}
