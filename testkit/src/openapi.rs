//! The `/openapi/v2` and `/openapi/v3` documents, generated from the served types.
//!
//! Built-in kinds get k8s-openapi's schemas (through `schemars`), annotated with the upstream
//! list and patch extensions (`x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`...) so
//! that `kubectl apply` computes the same strategic merge patches as against a real cluster.
//! Custom kinds get their CRD's `openAPIV3Schema`, with `metadata` pointing at `ObjectMeta` as the
//! real server publishes it. Every kind's definition carries `x-kubernetes-group-version-kind`, and
//! the paths carry one operation per verb with the `x-kubernetes-action` and
//! `x-kubernetes-group-version-kind` extensions and the query parameters the server accepts
//! (`fieldValidation` on PATCH is what tells kubectl to leave validation to the server).
//!
//! `/openapi/v2` is generated as JSON only. kubectl 1.32 asks for it in protobuf, and only as a
//! fallback: it computes strategic merge patches from the v3 documents, explains from them, and
//! leaves validation to the server once a v3 PATCH operation lists `fieldValidation` — so the
//! server should answer a protobuf request for v2 with `406 Not Acceptable` rather than JSON.
//! [`unknown_fields`] and [`prune_unknown_fields`] give the server what `fieldValidation=Strict`
//! and the dropping of undeclared fields need, from the same schemas.
//!
//! Generating the documents takes a while (a Pod's schema alone is large), so they are cached
//! and regenerated only when the set of served types changes (a fingerprint of the types is
//! compared on every call).
//!
//! ```
//! # let types: Vec<roperator_testkit::registry::ResourceType> = Vec::new();
//! let index = roperator_testkit::openapi::v3_index(&types);
//! assert!(index["paths"].is_object());
//! ```

mod catalog;
mod documents;
mod list_types;
mod unknown;

pub(crate) use catalog::{Catalog, Cursor, ListType, reference_name};

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;

use crate::registry::{ResourceType, TypeSchema};

/// The generated documents for one set of served types.
struct Documents {
    v2: Value,
    v2_json: Bytes,
    v3_index: Value,
    /// `api/v1`, `apis/apps/v1`... → (document, serialized document).
    v3: std::collections::HashMap<String, (Value, Bytes)>,
}

/// Documents by fingerprint of the types they describe. Several servers with different types can
/// live in one test process, so more than one set is kept; the bound keeps a process that
/// registers CRDs in a loop from growing without limit.
static CACHE: Mutex<Vec<(u64, Arc<Documents>)>> = Mutex::new(Vec::new());
const CACHE_ENTRIES: usize = 8;

fn fingerprint(types: &[ResourceType]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for t in types {
        (&t.group, &t.version, &t.kind, &t.plural, t.namespaced).hash(&mut hasher);
        (t.subresources.status, t.subresources.scale, &t.verbs).hash(&mut hasher);
        match &t.schema {
            TypeSchema::BuiltIn { .. } => 0u8.hash(&mut hasher),
            TypeSchema::Custom { open_api_v3_schema } => {
                1u8.hash(&mut hasher);
                open_api_v3_schema.to_string().hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

fn documents(types: &[ResourceType]) -> Arc<Documents> {
    let print = fingerprint(types);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, docs)) = cache.iter().find(|(cached, _)| *cached == print) {
        return docs.clone();
    }
    let generated = Arc::new(documents::generate(types));
    if cache.len() >= CACHE_ENTRIES {
        cache.remove(0);
    }
    cache.push((print, generated.clone()));
    generated
}

/// The key of a group-version in the `/openapi/v3` index: `api/v1` or `apis/{group}/{version}`.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The Swagger 2.0 document served at `/openapi/v2`.
pub fn v2_document(types: &[ResourceType]) -> Value {
    documents(types).v2.clone()
}

/// [`v2_document`], serialized (cached, so serving it costs no serialization).
pub fn v2_document_json(types: &[ResourceType]) -> Bytes {
    documents(types).v2_json.clone()
}

/// The index served at `/openapi/v3`: one entry per group-version.
pub fn v3_index(types: &[ResourceType]) -> Value {
    documents(types).v3_index.clone()
}

/// The OpenAPI 3.0 document served at `/openapi/v3/apis/{group}/{version}` (or `/openapi/v3/api/v1`).
/// `None` when no served type has that group-version.
pub fn v3_group_version(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let docs = documents(types);
    docs.v3
        .get(&group_version_path(group, version))
        .map(|(doc, _)| doc.clone())
}

/// [`v3_group_version`], serialized (cached).
pub fn v3_group_version_json(types: &[ResourceType], group: &str, version: &str) -> Option<Bytes> {
    let docs = documents(types);
    docs.v3
        .get(&group_version_path(group, version))
        .map(|(_, json)| json.clone())
}

/// The fields of `object` that its type's schema does not declare, as paths such as
/// `spec.template.spec.containers[0].imagee`, for `fieldValidation=Strict` (refuse with
/// `400 BadRequest`: `strict decoding error: unknown field "<path>"`) and `Warn` (a `Warning`
/// header per field). Fields under `x-kubernetes-preserve-unknown-fields` and free-form maps are
/// never unknown. Empty when the type has no schema.
///
/// ```
/// # let types = roperator_testkit::registry::builtin_types();
/// # let deployments = types.iter().find(|t| t.kind == "Deployment").expect("built in");
/// let object = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
///     "metadata": {"name": "web"}, "spec": {"replica": 2}});
/// let unknown = roperator_testkit::openapi::unknown_fields(deployments, &object);
/// assert_eq!(unknown, ["spec.replica"]);
/// ```
pub fn unknown_fields(resource: &ResourceType, object: &Value) -> Vec<String> {
    match &resource.schema {
        TypeSchema::BuiltIn { .. } => {
            let catalog = Catalog::for_types([resource]);
            catalog
                .root(resource)
                .map(|root| unknown::unknown_fields(root, object, false))
                .unwrap_or_default()
        }
        TypeSchema::Custom { open_api_v3_schema } if open_api_v3_schema.is_object() => {
            unknown::unknown_fields(Cursor::standalone(open_api_v3_schema), object, true)
        }
        TypeSchema::Custom { .. } => Vec::new(),
    }
}

/// Drops the fields of a built-in object that its type does not declare, as decoding into the
/// Go type does on a real server when `fieldValidation` is `Ignore` (or, after warning, `Warn`);
/// returns their paths. Custom objects are pruned by [`crate::schema::validate_and_prune`].
pub fn prune_unknown_fields(resource: &ResourceType, object: &mut Value) -> Vec<String> {
    match &resource.schema {
        TypeSchema::BuiltIn { .. } => {
            let catalog = Catalog::for_types([resource]);
            catalog
                .root(resource)
                .map(|root| unknown::prune_unknown_fields(root, object, false))
                .unwrap_or_default()
        }
        TypeSchema::Custom { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
