//! The verbs on objects: create, get, list, update, patch, delete, deletecollection.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::Inner;
use super::crd::{crd_initial_status, crd_serve, crd_status};
use super::gc::{self, Queue, Work};
use super::write_options::{self, Write};
use crate::errors::{ApiError, cause};
use crate::go_json;
use crate::meta::{
    allows_create_on_update, allows_unconditional_update, finalizers, is_deleting, meta_mut,
    meta_str, name_suffix, now, spec_changed, tracks_generation,
};
use crate::patch::{self, PatchContext, PatchError, PatchType};
use crate::registry::{ResourceType, TypeSchema, crd_types};
use crate::store::{BucketId, ObjRef, State};
use crate::validate::quote;

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

pub(crate) fn dry_run(q: &Query) -> bool {
    q.get("dryRun").is_some_and(|v| v == "All")
}

pub(crate) fn is_crd(ty: &ResourceType) -> bool {
    ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions"
}

/// Serves a stored object at the requested version (custom resources may be served at several;
/// Events are stored once and served as core v1 and events.k8s.io/v1).
pub(crate) fn at_version(st: &State, t: &Target, json: &Bytes) -> Bytes {
    if st.buckets[t.bucket].types.len() < 2 {
        return json.clone();
    }
    super::convert::serve_bytes(&t.ty, json)
}

/// The live object in the shape of the version the request is made at, so that updates and
/// patches apply to what the client reads.
fn live_as(st: &State, t: &Target, r: &ObjRef) -> Option<Value> {
    let mut v = st.get_value(r)?;
    if st.buckets[t.bucket].types.len() > 1 {
        super::convert::from_storage(&t.ty, &mut v);
    }
    Some(v)
}

/// The type of the bucket served at the request's group and version.
fn served_type<'a>(st: &'a State, t: &'a Target) -> &'a ResourceType {
    st.buckets[t.bucket]
        .types
        .iter()
        .find(|x| x.group == t.ty.group && x.version == t.ty.version)
        .map(|x| &**x)
        .unwrap_or(&t.ty)
}

/// A create or update body as JSON: YAML is converted, and what is neither is refused as the
/// real server's serializer negotiation refuses it (protobuf was read before).
pub(crate) fn json_body(t: &Target, content_type: &str, body: Bytes) -> Result<Bytes, ApiError> {
    // `mime.ParseMediaType` lowercases the type.
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "" | "application/json" => Ok(body),
        "application/yaml" => {
            let value = serde_saphyr::from_slice::<Value>(&body).map_err(|e| {
                let why = e.to_string();
                let why = why
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ");
                unrecognized(
                    t,
                    &format!("error converting YAML to JSON: yaml: {why}"),
                    &body,
                )
            })?;
            Ok(Bytes::from(value.to_string()))
        }
        _ => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            if matches!(t.ty.schema, TypeSchema::Custom { .. }) {
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
            } else {
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
            },
        )),
    }
}

/// `transformDecodeError` for a body whose kind could not even be read.
fn unrecognized(t: &Target, why: &str, body: &[u8]) -> ApiError {
    ApiError::bad_request(format!(
        "the object provided is unrecognized (must be of type {}): {why} ({})",
        t.ty.kind,
        go_json::summarize(body)
    ))
}

/// The body as a JSON object; what is not one fails where the real decoder reads its kind.
fn parse_object(t: &Target, body: &[u8]) -> Result<Value, ApiError> {
    if let Some(why) = go_json::kind_finding_error(body) {
        return Err(unrecognized(t, &why, body));
    }
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Ok(json!({})),
    }
}

/// The body's apiVersion and kind must be the ones the path names.
fn check_kind(st: &State, t: &Target, v: &mut Value) -> Result<(), ApiError> {
    // Built-in bodies are decoded with the path's group, version and kind as defaults (clients
    // such as the Python one omit them); custom objects are decoded as unstructured, which
    // needs them.
    if matches!(t.ty.schema, TypeSchema::BuiltIn { .. })
        && let Some(o) = v.as_object_mut()
    {
        for (key, default) in [
            ("kind", t.ty.kind.clone()),
            ("apiVersion", t.ty.api_version()),
        ] {
            if o.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
                o.insert(key.into(), json!(default));
            }
        }
    }
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
    // Another served version of the same custom resource is accepted (no conversion).
    let served_version = api_version == want
        || st.buckets[t.bucket]
            .types
            .iter()
            .any(|x| x.group == t.ty.group && x.api_version() == api_version);
    if served_version && kind == t.ty.kind {
        v["apiVersion"] = json!(want);
        return Ok(());
    }
    Err(match &t.ty.schema {
        TypeSchema::BuiltIn { .. } => wrong_built_in_type(st, t, api_version, kind),
        TypeSchema::Custom { .. } if !served_version => {
            // The custom resource converter knows only the CRD's versions.
            let version = api_version.rsplit('/').next().unwrap_or(api_version);
            ApiError::bad_request(format!(
                "{kind} in version {} cannot be handled as a {}: request to convert CR from an invalid group/version: {api_version}",
                quote(version),
                t.ty.kind
            ))
        }
        TypeSchema::Custom { .. } => {
            // Decoded as it is, then refused by the validator's `ValidateTypeMeta`.
            let (group, _) = api_version.split_once('/').unwrap_or(("", api_version));
            ApiError::invalid(
                kind,
                group,
                meta_str(v, "name").unwrap_or(""),
                &[cause(
                    "FieldValueInvalid",
                    "kind",
                    format!("Invalid value: {}: must be {}", quote(kind), t.ty.kind),
                )],
            )
        }
    })
}

/// The Go package of a built-in group's internal types (`core` for the legacy group), as Go
/// names their types in messages (`core.ConfigMap`).
pub(crate) fn internal_package(group: &str) -> &str {
    match group.split('.').next().unwrap_or("") {
        "" | "events" => "core",
        package => package,
    }
}

/// A built-in body of another type: the decoder makes that type and fails to convert it, or
/// knows no such type (`transformDecodeError` wraps either).
fn wrong_built_in_type(st: &State, t: &Target, api_version: &str, kind: &str) -> ApiError {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let internal_package = internal_package(&t.ty.group);
    let why = if st.bucket_by_kind(api_version, kind).is_some() {
        format!(
            "converting ({version}.{kind}) to ({internal_package}.{}): unknown conversion",
            t.ty.kind
        )
    } else {
        let group_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        format!(
            "no kind {} is registered for version {} in scheme \"pkg/api/legacyscheme/scheme.go:30\"",
            quote(kind),
            quote(&group_version)
        )
    };
    ApiError::bad_request(format!(
        "{kind} in version {} cannot be handled as a {}: {why}",
        quote(version),
        t.ty.kind
    ))
}

/// What decoding a body does on a real server: fields the type does not declare are refused or
/// dropped (`fieldValidation`), a built-in body must decode into its type (`400` otherwise) and
/// its quantities take their canonical form, and a custom object is pruned, defaulted and
/// checked against its schema.
///
/// Returns the warnings for the response (unknown fields dropped under `fieldValidation=Warn`).
fn decode_body(st: &State, t: &Target, v: &mut Value, q: &Query) -> Result<Vec<String>, ApiError> {
    let warnings = unknown_fields(st, t, v, q)?;
    match &t.ty.schema {
        TypeSchema::BuiltIn { decode, .. } => {
            let type_error = patch::body_type_error(&t.ty, v);
            type_error.map_or_else(|| decode(v), Err).map_err(|e| {
                ApiError::bad_request(format!(
                    "{kind} in version \"{ver}\" cannot be handled as a {kind}: {e}",
                    kind = t.ty.kind,
                    ver = t.ty.version
                ))
            })?;
            canonical_quantities(t, v)?;
        }
        TypeSchema::Custom { open_api_v3_schema } => {
            if !open_api_v3_schema.is_null() {
                let schema = match &served_type(st, t).schema {
                    TypeSchema::Custom { open_api_v3_schema } => open_api_v3_schema.clone(),
                    TypeSchema::BuiltIn { .. } => Value::Null,
                };
                let name = meta_str(v, "name").unwrap_or("").to_string();
                crate::schema::validate_and_prune(&schema, v)
                    .map_err(|causes| ApiError::invalid(&t.ty.kind, &t.ty.group, &name, &causes))?;
            }
        }
    }
    Ok(warnings)
}

/// Validation of the object about to be stored (`old` for updates): the type's rules, and for
/// CRDs, that their kinds can be served.
fn validate_object(t: &Target, v: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = meta_str(v, "name").unwrap_or("");
    let mut causes = match old {
        None => crate::validate::on_create(&t.ty, v),
        Some(old) => crate::validate::on_update(&t.ty, v, old),
    };
    // The CRD rules above catch what keeps a CRD from being served; this is the last guard.
    if causes.is_empty()
        && is_crd(&t.ty)
        && let Err(e) = crd_types(v)
    {
        causes.push(cause("FieldValueInvalid", "spec", e.to_string()));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&t.ty.kind, &t.ty.group, name, &causes))
    }
}

/// How the request wants fields its type does not declare treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// The request's choice, which [`write_options::validate`] checked: Warn is the real server's
/// default when the parameter is absent.
fn field_validation(q: &Query) -> FieldValidation {
    match q.get("fieldValidation").map(String::as_str) {
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        _ => FieldValidation::Warn,
    }
}

/// `fieldValidation`: refuses (Strict) or drops (Warn, Ignore) the fields the type does not
/// declare, returning the warnings to send. Custom objects lose theirs later, in schema pruning.
fn unknown_fields(
    st: &State,
    t: &Target,
    v: &mut Value,
    q: &Query,
) -> Result<Vec<String>, ApiError> {
    let mode = field_validation(q);
    // A custom resource is checked against the schema of the version it is written at.
    let ty = served_type(st, t);
    let unknown = match (mode, &ty.schema) {
        (FieldValidation::Ignore, TypeSchema::Custom { .. }) => Vec::new(),
        (FieldValidation::Strict, _) | (_, TypeSchema::Custom { .. }) => {
            crate::openapi::unknown_fields(ty, v)
        }
        (_, TypeSchema::BuiltIn { .. }) => crate::openapi::prune_unknown_fields(ty, v),
    };
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let listed = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect::<Vec<_>>();
    match mode {
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{kind} in version \"{ver}\" cannot be handled as a {kind}: strict decoding error: {fields}",
            kind = t.ty.kind,
            ver = t.ty.version,
            fields = listed.join(", ")
        ))),
        FieldValidation::Warn => Ok(listed),
        FieldValidation::Ignore => Ok(Vec::new()),
    }
}

/// Quantity fields in their stored form; a malformed one fails decoding on the real server,
/// which names no field (only the regular expression).
fn canonical_quantities(t: &Target, v: &mut Value) -> Result<(), ApiError> {
    if !matches!(t.ty.schema, TypeSchema::BuiltIn { .. }) {
        return Ok(());
    }
    crate::quantity::canonicalize_object(&t.ty.group, &t.ty.kind, v).map_err(|bad| {
        ApiError::bad_request(format!(
            "{kind} in version \"{ver}\" cannot be handled as a {kind}: {e}",
            kind = t.ty.kind,
            ver = t.ty.version,
            e = bad.error
        ))
    })
}

/// The `NamespaceLifecycle` admission plugin: nothing is created in a namespace that does not
/// exist (`404`) or is being deleted (`403`, naming the object as admission sees it: before
/// name generation, so by its `generateName` when it has no name).
fn ensure_namespace(st: &State, t: &Target, ns: &str, v: &Value) -> Result<(), ApiError> {
    if !t.ty.namespaced {
        return Ok(());
    }
    match st.namespace_state(ns) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(true) => {
            let name = [meta_str(v, "name"), meta_str(v, "generateName")]
                .into_iter()
                .flatten()
                .find(|n| !n.is_empty())
                .unwrap_or("Unknown");
            Err(ApiError::namespace_terminating(
                &t.ty.group,
                &t.ty.plural,
                name,
                ns,
            ))
        }
        Some(false) => Ok(()),
    }
}

fn patch_ctx<'a>(t: &'a Target, q: &'a Query) -> PatchContext<'a> {
    PatchContext {
        resource: &t.ty,
        field_manager: q.get("fieldManager").map(String::as_str),
        force: q.get("force").is_some_and(|f| f == "true"),
        subresource: match t.sub.as_deref() {
            Some("status") => Some("status"),
            Some("scale") => Some("scale"),
            _ => None,
        },
    }
}

/// Creates an object the way the real create handler does, in its order: decode (with
/// defaulting), admission's namespace check, the field manager, mutating admission, the
/// strategy's preparation (identity, status, generated fields), Service allocation,
/// validation, and the storage's existence check; then the read back (defaulting again, as a
/// real server decodes what it stored).
fn new_object(
    st: &mut State,
    work: &mut Queue,
    t: &Target,
    mut v: Value,
    q: &Query,
    track: bool,
) -> Reply {
    check_kind(st, t, &mut v)?;
    // The storage refuses a version it can read as a positive number, after validation and
    // admission, before it looks for an existing object.
    let sets_version = meta_str(&v, "resourceVersion")
        .and_then(|rv| rv.parse::<u64>().ok())
        .is_some_and(|rv| rv != 0);
    let path_ns = t.ns.clone().unwrap_or_default();
    let body_ns = meta_str(&v, "namespace").unwrap_or("").to_string();
    if t.ty.namespaced && !body_ns.is_empty() && body_ns != path_ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let Some(n) = &t.name
        && meta_str(&v, "name").is_some_and(|name| !name.is_empty() && name != n)
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({n})",
            meta_str(&v, "name").unwrap_or("")
        )));
    }
    let warnings = decode_body(st, t, &mut v, q)?;
    st.warnings.extend(warnings);
    crate::defaults::apply(&t.ty, &mut v);
    ensure_namespace(st, t, &path_ns, &v)?;
    let name = generate_name(st, t, &v)?;
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
    for server_set in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
        "selfLink",
    ] {
        meta.remove(server_set);
    }
    if track {
        patch::track_update(None, &mut v, &patch_ctx(t, q));
    }
    super::admission::on_create(st, t, &mut v)?;
    if t.ty.subresources.status
        && let Some(o) = v.as_object_mut()
    {
        o.remove("status");
    }
    super::strategy::on_create(&t.ty, &mut v);
    let r = t.obj_ref(&name);
    if is_core(&t.ty, "Service") {
        let State { allocator, rng, .. } = st;
        allocator.on_create(rng, &r, &mut v)?;
    }
    validate_object(t, &v, None)?;
    st.warnings
        .extend(crate::validate::finalizer_warnings(&t.ty, &v, None));
    super::admission::validate(st, t, &v)?;
    if sets_version && !dry_run(q) {
        // A plain error of the storage layer: a 500 with no reason (`StatusReasonUnknown`).
        return Err(ApiError::new(
            500,
            "",
            "resourceVersion should not be set on objects to be created",
        ));
    }
    if st.get(&r).is_some() {
        return Err(ApiError::already_exists(&t.ty.group, &t.ty.plural, &name));
    }
    crate::defaults::apply(&t.ty, &mut v);
    if is_crd(&t.ty) {
        crd_initial_status(&mut v);
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
        // The naming and establishing controllers answer at once, in a write of their own:
        // the create's response shows the CRD as stored, a read right after it established.
        let mut established = v.clone();
        crd_status(&mut established, Some(&v));
        st.put(&r, Some(&v), &mut established);
    }
    if v.pointer("/metadata/ownerReferences").is_some() {
        work.push_back(Work::Evaluate(r));
    }
    if is_core(&t.ty, "Namespace") {
        work.push_back(Work::NamespaceCreated(name));
    }
    Ok((201, at_version(st, t, &json)))
}

/// Creates `v` as a controller of the cluster would (`q` names its field manager), within the
/// request that called for it.
pub(crate) fn create_as(
    st: &mut State,
    work: &mut Queue,
    t: &Target,
    v: Value,
    q: &Query,
) -> Reply {
    new_object(st, work, t, v, q, true)
}

/// The object's name: its own, or `generateName` plus five random characters not taken yet.
/// A name that is missing altogether, or a bad `generateName`, is refused as validation would.
fn generate_name(st: &mut State, t: &Target, v: &Value) -> Result<String, ApiError> {
    let name = meta_str(v, "name").unwrap_or("").to_string();
    if !name.is_empty() {
        return Ok(name);
    }
    let generate = meta_str(v, "generateName").unwrap_or("").to_string();
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
    // `SimpleNameGenerator` keeps the name within 63 characters: 58 of prefix, 5 random.
    let generate: String = generate.chars().take(58).collect();
    loop {
        let candidate = format!("{generate}{}", name_suffix(&mut st.rng));
        if st.get(&t.obj_ref(&candidate)).is_none() {
            return Ok(candidate);
        }
    }
}

fn is_core(ty: &ResourceType, kind: &str) -> bool {
    ty.group.is_empty() && ty.kind == kind && matches!(ty.schema, TypeSchema::BuiltIn { .. })
}

/// Where etcd keeps the object, as storage errors name it: `/registry/<prefix>/<ns>/<name>`,
/// the prefix being the resource (a few core ones have their historical prefixes) or, for
/// custom resources, `<group>/<resource>`.
fn etcd_key(st: &State, t: &Target, name: &str) -> String {
    let ty = &t.ty;
    let prefix = if st.buckets[t.bucket].custom {
        format!("{}/{}", ty.group, ty.plural)
    } else {
        match (ty.group.as_str(), ty.plural.as_str()) {
            ("", "replicationcontrollers") => "controllers".into(),
            ("", "endpoints") => "services/endpoints".into(),
            ("", "nodes") => "minions".into(),
            ("", "services") => "services/specs".into(),
            ("networking.k8s.io", "ingresses") => "ingress".into(),
            (_, plural) => plural.to_string(),
        }
    };
    match &t.ns {
        Some(ns) => format!("/registry/{prefix}/{ns}/{name}"),
        None => format!("/registry/{prefix}/{name}"),
    }
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
    // Decoded and defaulted like a new body, so that leaving out a defaulted field is no
    // change, and `0.5` over `500m` is none either.
    let warnings = decode_body(st, t, &mut new, q)?;
    st.warnings.extend(warnings);
    crate::defaults::apply(&t.ty, &mut new);
    if !t.status_write() {
        if is_core(&t.ty, "Service") {
            let State { allocator, rng, .. } = st;
            allocator.on_update(rng, r, &mut new, &live)?;
        }
        super::strategy::on_update(&t.ty, &mut new, &live);
    }
    let generation = live
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let bumped = spec_changed(&live, &new, status_sub)
        || (t.ty.group == "apps" && t.ty.kind == "Deployment" && annotations_changed(&live, &new));
    if tracks_generation(&t.ty)
        && let Some(meta) = meta_mut(&mut new)
    {
        meta.insert(
            "generation".into(),
            json!(if bumped { generation + 1 } else { generation }),
        );
    }
    validate_object(t, &new, Some(&live))?;
    st.warnings.extend(crate::validate::finalizer_warnings(
        &t.ty,
        &new,
        Some(&live),
    ));
    super::admission::validate(st, t, &new)?;
    if st.simulate_workloads && !t.status_write() {
        super::workloads::simulate(&t.ty, &mut new);
    }
    if is_crd(&t.ty) {
        // A status write sets the versions ever stored (how a migration retires one); any
        // other write only adds the storage version to them.
        let written = t.status_write().then(|| {
            new.pointer("/status/storedVersions")
                .cloned()
                .unwrap_or(json!([]))
        });
        let status = live.get("status").cloned();
        crd_status(&mut new, Some(&live));
        if let (Some(mut old), Some(meta_new)) = (status, new.get("status").cloned()) {
            // Keep condition timestamps stable so an unchanged CRD stays a no-op.
            if old.get("acceptedNames") == meta_new.get("acceptedNames") {
                old["storedVersions"] = meta_new["storedVersions"].clone();
                new["status"] = old;
            }
        }
        if let Some(written) = written {
            new["status"]["storedVersions"] = written;
        }
        let causes = crate::validate::crd_stored_versions(&new);
        if !causes.is_empty() {
            return Err(ApiError::invalid(
                &t.ty.kind,
                &t.ty.group,
                r.name.as_str(),
                &causes,
            ));
        }
    }
    // Ownership first: a client that sends no managedFields keeps the stored ones, so an
    // update that changes nothing stays a no-op.
    if track {
        patch::track_update(Some(&live), &mut new, &patch_ctx(t, q));
    }
    if same_object(&live, &new) {
        let json = st.get(r).map(|s| s.json.clone()).unwrap_or_default();
        return Ok((200, at_version(st, t, &json)));
    }
    if dry_run(q) {
        return Ok((
            200,
            Bytes::from(serde_json::to_vec(&new).unwrap_or_default()),
        ));
    }
    if is_deleting(&new) && finalizers(&new).is_empty() {
        let last = gc::remove_now(st, work, r, new);
        let json = Bytes::from(serde_json::to_vec(&last).unwrap_or_default());
        return Ok((200, at_version(st, t, &json)));
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
    Ok((200, at_version(st, t, &json)))
}

/// Whether `metadata.annotations` differ (absent and empty are the same, as upstream's
/// semantic equality treats nil and empty maps). The Deployment strategy bumps `generation` on
/// such a change too, because a Deployment's annotations are copied to its ReplicaSets; the
/// other apps/v1 strategies look at the spec only.
fn annotations_changed(live: &Value, new: &Value) -> bool {
    let annotations = |v: &Value| {
        v.pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    annotations(live) != annotations(new)
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

/// Warnings for the response (`Warning: 299 - "..."` headers) with the outcome of a write.
pub(crate) type Written = (Reply, Vec<String>);

fn locked(inner: &Inner, write: impl FnOnce(&mut State) -> Reply) -> Written {
    let mut st = inner.lock();
    st.warnings.clear();
    let reply = write(&mut st);
    let warnings = std::mem::take(&mut st.warnings);
    (reply, warnings)
}

pub(crate) fn create(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> Written {
    locked(inner, |st| create_locked(st, t, body, q))
}

pub(crate) fn update(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> Written {
    locked(inner, |st| update_locked(st, t, body, q))
}

pub(crate) fn patch(
    inner: &Inner,
    t: &Target,
    body: &[u8],
    content_type: &str,
    q: &Query,
) -> Written {
    locked(inner, |st| patch_locked(st, t, body, content_type, q))
}

fn create_locked(st: &mut State, t: &Target, body: &[u8], q: &Query) -> Reply {
    write_options::validate(Write::Create, q)?;
    let v = parse_object(t, body)?;
    let mut work = Queue::new();
    let reply = new_object(st, &mut work, t, v, q, true);
    finish(st, work, reply)
}

fn update_locked(st: &mut State, t: &Target, body: &[u8], q: &Query) -> Reply {
    write_options::validate(Write::Update, q)?;
    let mut v = parse_object(t, body)?;
    check_kind(st, t, &mut v)?;
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
    let mut work = Queue::new();
    let Some(live) = live_as(st, t, &r) else {
        if !allows_create_on_update(&t.ty) {
            return Err(t.not_found(&name));
        }
        // Leases, Endpoints, Events and RBAC objects are created by an update of a missing
        // object, as their strategies allow; the generic store answers 201 then.
        if let Some(meta) = meta_mut(&mut v) {
            meta.remove("resourceVersion");
        }
        let reply = new_object(st, &mut work, t, v, q, true);
        return finish(st, work, reply);
    };
    // The storage checks a uid the body gives before anything else (`Preconditions.Check`).
    if let Some(uid) = meta_str(&v, "uid").filter(|u| !u.is_empty())
        && Some(uid) != meta_str(&live, "uid")
    {
        return Err(ApiError::conflict(
            &t.ty.group,
            &t.ty.plural,
            &name,
            &format!(
                "StorageError: invalid object, Code: 4, Key: {}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                etcd_key(st, t, &name),
                meta_str(&live, "uid").unwrap_or("")
            ),
        ));
    }
    let body_rv = meta_str(&v, "resourceVersion").unwrap_or("").to_string();
    let live_rv = meta_str(&live, "resourceVersion").unwrap_or("").to_string();
    if body_rv.is_empty() {
        if !allows_unconditional_update(&t.ty) {
            // The generic store names the resource (plural), not the kind, in this error.
            return Err(ApiError::invalid(
                &t.ty.plural,
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
    let reply = write_over(st, &mut work, t, &r, live, v, q, true);
    finish(st, work, reply)
}

fn patch_locked(st: &mut State, t: &Target, body: &[u8], content_type: &str, q: &Query) -> Reply {
    let custom = matches!(t.ty.schema, TypeSchema::Custom { .. });
    let pt = PatchType::from_content_type(content_type)
        .filter(|pt| !(custom && *pt == PatchType::StrategicMerge))
        .ok_or_else(|| ApiError::unsupported_patch_type(custom))?;
    write_options::validate(Write::Patch(pt), q)?;
    let name = t.name().to_string();
    let r = t.obj_ref(&name);
    let live = live_as(st, t, &r);
    if live.is_none() && pt != PatchType::Apply {
        return Err(t.not_found(&name));
    }
    let ctx = patch_ctx(t, q);
    let patched = patch::apply(pt, live.as_ref(), body, &ctx).map_err(|e| match e {
        PatchError::Malformed(m) => ApiError::bad_request(m),
        PatchError::Invalid(m) => ApiError::new(422, "Invalid", m),
        // `NewGenericServerResponse(422, ...)`: json-patch's own error is not passed on.
        PatchError::Rejected(_) => {
            let mut err = ApiError::new(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
            );
            err.details = Some(json!({}));
            err
        }
        PatchError::UnsupportedMediaType(m) => ApiError::new(415, "UnsupportedMediaType", m),
        PatchError::Internal(m) => ApiError::new(500, "", m),
        PatchError::Conflicts(c) => {
            let causes: Vec<Value> = c
                .iter()
                .map(|(manager, field)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {manager}"), "field": field}))
                .collect();
            let mut err = ApiError::new(409, "Conflict", patch::conflict_message(&c));
            // `errors.NewApplyConflict`: the details carry the causes only, no name or kind.
            err.details = Some(json!({"causes": causes}));
            err
        }
    })?;
    let mut v = patched;
    if !v.is_object() {
        return Err(ApiError::bad_request("the patch did not produce an object"));
    }
    if let Some(why) = patch::decode_failure(pt, body, &v, &ctx) {
        // `errors.NewInvalid` with no kind or name: the message starts ` "" is invalid`.
        return Err(ApiError::invalid(
            "",
            "",
            "",
            &[cause("FieldValueInvalid", "patch", why)],
        ));
    }
    patched_identity(t, &name, live.is_some(), &mut v)?;
    let mut work = Queue::new();
    let track = pt != PatchType::Apply;
    let reply = match live {
        None => new_object(st, &mut work, t, v, q, track),
        Some(live) => {
            let live_rv = meta_str(&live, "resourceVersion").unwrap_or("").to_string();
            let new_rv = meta_str(&v, "resourceVersion").unwrap_or("").to_string();
            if !new_rv.is_empty() && new_rv != live_rv {
                return Err(ApiError::stale(&t.ty.group, &t.ty.plural, &name));
            }
            check_kind(st, t, &mut v)?;
            write_over(st, &mut work, t, &r, live, v, q, track)
        }
    };
    finish(st, work, reply)
}

/// What the patch handler checks on the patched object before it is written (`applyPatch`): a
/// uid only an existing object can have, the request's namespace, and the URL's name.
fn patched_identity(t: &Target, name: &str, exists: bool, v: &mut Value) -> Result<(), ApiError> {
    if !exists && let Some(uid) = meta_str(v, "uid").filter(|u| !u.is_empty()) {
        return Err(ApiError::conflict(
            &t.ty.group,
            &t.ty.plural,
            name,
            &format!(
                "uid mismatch: the provided object specified uid {uid}, and no existing object was found"
            ),
        ));
    }
    let expected = if t.ty.namespaced {
        t.ns.clone().unwrap_or_default()
    } else {
        String::new()
    };
    let given = meta_str(v, "namespace").unwrap_or("").to_string();
    if !given.is_empty() && !expected.is_empty() && given != expected {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let Some(meta) = meta_mut(v) {
        if expected.is_empty() {
            meta.remove("namespace");
        } else {
            meta.insert("namespace".into(), json!(expected));
        }
    }
    match meta_str(v, "name").unwrap_or("") {
        "" => Err(ApiError::bad_request(format!(
            "the name of the object ({name} based on URL) was undeterminable: name must be provided"
        ))),
        given if given != name => Err(ApiError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
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
    let reply = match live_as(&st, &t, &r) {
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
