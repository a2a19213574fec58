//! The four patch flavours the API server accepts, as pure functions on JSON values, and the
//! field-ownership record (`metadata.managedFields`) that server-side apply keeps.
//!
//! The HTTP layer reads the object, calls [`apply`] and stores what comes back; nothing here
//! touches the store. After every non-apply write (create, update, JSON/merge/strategic patch)
//! it calls [`track_update`] so that ownership stays right for later applies.
//!
//! * JSON patch (RFC 6902, including `test`) and JSON merge patch (RFC 7386): exact.
//! * Strategic merge patch: built-in types only (custom resources get `415`, as upstream);
//!   merge keys and strategies from the upstream `x-kubernetes-patch-*` markers, see
//!   `strategic.rs` for the directives and the two small approximations.
//! * Server-side apply (`application/apply-patch+yaml`), modelled:
//!   - `fieldManager` is required; the body is YAML or JSON and must carry the type's
//!     `apiVersion` and `kind` (`400 invalid object type: <group>/<version>, Kind=<kind>`),
//!     no `managedFields`, no field the schema does not declare, no list-map item without its
//!     keys and no text where the schema wants a number (v1.32's reasonless `500`, with the
//!     upstream `failed to create typed patch object` messages);
//!   - ownership per manager in `FieldsV1` form, one entry per (manager, operation,
//!     subresource), with `apiVersion` and `time`; identity and server-set metadata
//!     (`name`, `uid`, `resourceVersion`...) are owned by nobody, and for types with a status
//!     subresource `status` is owned only through `/status` and the rest only through the main
//!     resource;
//!   - merging by the server-side-apply list types (`x-kubernetes-list-type: map` with
//!     `x-kubernetes-list-map-keys`, `set`, atomic by default) and atomic maps/structs;
//!   - a conflict (`409`, one cause per field) when an applied value differs from the live one
//!     and another manager owns that field; `force=true` takes ownership instead; applying an
//!     equal value shares ownership;
//!   - fields a manager applied before and no longer applies are removed from the object unless
//!     another manager owns them; list items go with all their fields;
//!   - applying to an object that does not exist creates it (`live = None`);
//!   - moving from client-side to server-side apply: for the `kubectl` manager only, conflicts
//!     on fields whose live value is still what `kubectl.kubernetes.io/last-applied-configuration`
//!     says are taken over without `force` (the others are still reported), and its apply keeps
//!     that annotation up to date;
//!   - `Update` ownership for non-apply writes ([`track_update`]): the writer owns what it
//!     changed, and other managers lose those fields without a conflict; a client that sends
//!     `managedFields` different from the stored ones replaces them.
//! * The merged result is defaulted by the server afterwards, as upstream does, and the applier
//!   owns only what it applied; a list-map key the configuration leaves out counts with its
//!   default only for a port's `protocol` (`TCP`), the one keyed default of the served types.
//! * Server-side apply, not modelled: version conversion of managed fields, `x-kubernetes-list-type`
//!   markers of built-in types beyond the generated table (unmarked built-in lists are atomic),
//!   and the capping of `Update` entries.
//!
//! ```
//! use roperator_testkit::patch::PatchType;
//! assert_eq!(
//!     PatchType::from_content_type("application/apply-patch+yaml; charset=utf-8"),
//!     Some(PatchType::Apply)
//! );
//! ```

mod decode_error;
mod fields;
mod managed;
mod server_side;
mod strategic;
#[cfg(test)]
pub(crate) mod test_types;

use serde_json::Value;

use crate::openapi::Catalog;
use crate::registry::{ResourceType, TypeSchema};

/// The patch flavours, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// The flavour for a request's `Content-Type` (parameters such as `; charset=utf-8` ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// What a patch needs to know beyond the two documents.
#[derive(Debug, Clone, Copy)]
pub struct PatchContext<'a> {
    /// The type being patched (merge keys, list types, schema).
    pub resource: &'a ResourceType,
    /// `fieldManager` query parameter (required for apply).
    pub field_manager: Option<&'a str>,
    /// `force` query parameter (apply only).
    pub force: bool,
    /// The subresource the request targets (`status`, `scale`), which the managed fields
    /// entry records; `status` also limits what the write may own.
    pub subresource: Option<&'static str>,
}

/// Why a patch could not be applied; the HTTP layer maps each to a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (400 BadRequest).
    #[error("{0}")]
    Malformed(String),
    /// The patch is well formed but cannot be applied, e.g. a JSON patch `test` failed or a path
    /// does not exist (422 Invalid).
    #[error("{0}")]
    Invalid(String),
    /// A JSON patch that decodes but cannot be applied: a failed `test`, a missing path, an
    /// unknown `op` (422 Invalid, whose message the server replaces with a generic one).
    #[error("{0}")]
    Rejected(String),
    /// Server-side apply conflicts with fields owned by other managers (409 Conflict); one entry
    /// per conflicting field: (manager, field path).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<(String, String)>),
    /// What the server fails on with a plain error rather than a status (500, no reason): a
    /// server-side apply configuration that does not fit the type's schema.
    #[error("{0}")]
    Internal(String),
    /// The patch flavour is not accepted for this type, e.g. a strategic merge patch on a custom
    /// resource (415 UnsupportedMediaType).
    #[error("{0}")]
    UnsupportedMediaType(String),
}

/// How Go prints the type strategic merge and merge patches are decoded into.
const GO_MAP: &str = "map[string]interface {}";

/// A patch body decoded as the patch handler's strict JSON decoder reads it, failing with Go's
/// words: `whole` is the Go type of the document, `item` that of an array's items (the JSON
/// patch operations, which must be objects).
fn decode_patch<T: serde::de::DeserializeOwned>(
    body: &[u8],
    whole: &str,
    item: &str,
) -> Result<T, String> {
    if let Some(why) = crate::go_json::syntax_error(body) {
        return Err(why);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let wants_array = whole.starts_with("[]");
    let wrong = match &value {
        Value::Null => None,
        Value::Array(items) if wants_array => items
            .iter()
            .find(|i| !i.is_object() && !i.is_null())
            .map(|i| (i, item)),
        Value::Object(_) if !wants_array => None,
        other => Some((other, whole)),
    };
    if let Some((value, go_type)) = wrong {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            crate::go_json::kind_name(value)
        ));
    }
    let value = match value {
        Value::Null if wants_array => Value::Array(Vec::new()),
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| {
                    if i.is_null() {
                        Value::Object(serde_json::Map::new())
                    } else {
                        i
                    }
                })
                .collect(),
        ),
        other => other,
    };
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Applies `body` to `live` (None when the object does not exist yet, which only apply allows).
pub fn apply(
    patch_type: PatchType,
    live: Option<&Value>,
    body: &[u8],
    ctx: &PatchContext<'_>,
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => {
            let live = live.ok_or_else(|| PatchError::Invalid("object does not exist".into()))?;
            // Upstream decodes the operations as loose maps, so an unknown `op` fails only when
            // applied, like a failed `test` or a missing path.
            let operations: Vec<serde_json::Map<String, Value>> =
                decode_patch(body, "[]handlers.jsonPatchOp", "handlers.jsonPatchOp")
                    .map_err(|e| PatchError::Malformed(format!("error decoding patch: {e}")))?;
            let patch: json_patch::Patch = serde_json::from_value(Value::Array(
                operations.into_iter().map(Value::Object).collect(),
            ))
            .map_err(|e| PatchError::Rejected(e.to_string()))?;
            let mut doc = live.clone();
            json_patch::patch(&mut doc, &patch).map_err(|e| PatchError::Rejected(e.to_string()))?;
            Ok(doc)
        }
        PatchType::Merge => {
            let live = live.ok_or_else(|| PatchError::Invalid("object does not exist".into()))?;
            let patch: serde_json::Map<String, Value> = decode_patch(body, GO_MAP, "")
                .map_err(|e| PatchError::Malformed(format!("error decoding patch: {e}")))?;
            let patch = Value::Object(patch);
            let mut doc = live.clone();
            json_patch::merge(&mut doc, &patch);
            Ok(doc)
        }
        PatchType::StrategicMerge => {
            let live = live.ok_or_else(|| PatchError::Invalid("object does not exist".into()))?;
            if !matches!(ctx.resource.schema, TypeSchema::BuiltIn { .. }) {
                return Err(PatchError::UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types include: \
                     application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                        .into(),
                ));
            }
            let patch: serde_json::Map<String, Value> =
                decode_patch(body, GO_MAP, "").map_err(PatchError::Malformed)?;
            let patch = Value::Object(patch);
            let catalog = Catalog::for_types([ctx.resource]);
            strategic::merge(live, &patch, catalog.root(ctx.resource))
        }
        PatchType::Apply => server_side::apply(live, body, ctx),
    }
}

/// Go's `UnmarshalTypeError` for a create or update body of a built-in type that holds a value
/// of the wrong JSON type (`json: cannot unmarshal string into Go struct field ConfigMap.data of
/// type map[string]string`), or `None` when every value fits its field.
pub(crate) fn body_type_error(resource: &ResourceType, body: &Value) -> Option<String> {
    if !matches!(resource.schema, TypeSchema::BuiltIn { .. }) {
        return None;
    }
    let catalog = Catalog::for_types([resource]);
    decode_error::first_mismatch(
        body,
        catalog.root(resource)?,
        &resource.kind,
        decode_error::Depth::Containers,
    )
    .map(|m| m.unmarshal_error())
}

/// Why a JSON, merge or strategic merge patch produced an object that does not decode into the
/// built-in type (a value of the wrong JSON type), as the message of the `422`'s `patch` cause;
/// `None` when it decodes, or for custom resources and server-side apply.
pub fn decode_failure(
    pt: PatchType,
    body: &[u8],
    patched: &Value,
    ctx: &PatchContext<'_>,
) -> Option<String> {
    if pt == PatchType::Apply || !matches!(ctx.resource.schema, TypeSchema::BuiltIn { .. }) {
        return None;
    }
    let mismatch = managed::with_schema(ctx, |schema| {
        decode_error::first_mismatch(
            patched,
            schema?,
            &ctx.resource.kind,
            decode_error::Depth::Scalars,
        )
    })?;
    let patch: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    Some(decode_error::message(pt, &patch, patched, &mismatch))
}

/// Records, in `new.metadata.managedFields`, the fields a non-apply write (create, update, or a
/// JSON/merge/strategic patch) set, under `ctx.field_manager` with operation `Update`, so that a
/// later server-side apply sees who owns what. `old` is the object before the write.
pub fn track_update(old: Option<&Value>, new: &mut Value, ctx: &PatchContext<'_>) {
    managed::track_update(old, new, ctx);
}

/// The message of a server-side-apply conflict, worded as the API server words it
/// (`getConflictMessage`); managers come printed (`"m"`, `"m" using v1`), paths in order.
pub(crate) fn conflict_message(conflicts: &[(String, String)]) -> String {
    if let [(manager, path)] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|(m, _)| m.as_str()).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(
            conflicts
                .iter()
                .filter(|(m, _)| m == manager)
                .map(|(_, p)| format!("- {p}")),
        );
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}
