//! The four patch flavours the API server accepts, as pure functions on JSON values.
//!
//! The HTTP layer reads the object, calls [`apply`] and stores what comes back; nothing here
//! touches the store.

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
    /// `true` when the request targets the `/status` subresource.
    pub status_subresource: bool,
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
    /// Server-side apply conflicts with fields owned by other managers (409 Conflict); one entry
    /// per conflicting field: (manager, field path).
    #[error("Apply failed with {} conflict(s)", .0.len())]
    Conflicts(Vec<(String, String)>),
    /// The patch flavour is not accepted for this type, e.g. a strategic merge patch on a custom
    /// resource (415 UnsupportedMediaType).
    #[error("{0}")]
    UnsupportedMediaType(String),
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
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| PatchError::Malformed(format!("invalid JSON patch: {e}")))?;
            let mut doc = live.clone();
            json_patch::patch(&mut doc, &patch).map_err(|e| PatchError::Invalid(e.to_string()))?;
            Ok(doc)
        }
        PatchType::Merge => {
            let live = live.ok_or_else(|| PatchError::Invalid("object does not exist".into()))?;
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| PatchError::Malformed(format!("invalid JSON: {e}")))?;
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
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| PatchError::Malformed(format!("invalid JSON: {e}")))?;
            let catalog = Catalog::for_types([ctx.resource]);
            strategic::merge(live, &patch, catalog.root(ctx.resource))
        }
        PatchType::Apply => server_side::apply(live, body, ctx),
    }
}

/// Records, in `new.metadata.managedFields`, the fields a non-apply write (create, update, or a
/// JSON/merge/strategic patch) set, under `ctx.field_manager` with operation `Update`, so that a
/// later server-side apply sees who owns what. `old` is the object before the write.
pub fn track_update(old: Option<&Value>, new: &mut Value, ctx: &PatchContext<'_>) {
    managed::track_update(old, new, ctx);
}
