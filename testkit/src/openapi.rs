//! The `/openapi/v2` and `/openapi/v3` documents, generated from the served types.

mod catalog;
mod list_types;

pub(crate) use catalog::{Catalog, Cursor, ListType};

use serde_json::{Value, json};

use crate::registry::ResourceType;

/// The Swagger 2.0 document served at `/openapi/v2`.
pub fn v2_document(types: &[ResourceType]) -> Value {
    let _ = types;
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.37.0"}, "paths": {}, "definitions": {}})
}

/// The index served at `/openapi/v3`: one entry per group-version.
pub fn v3_index(types: &[ResourceType]) -> Value {
    let _ = types;
    json!({"paths": {}})
}

/// The OpenAPI 3.0 document served at `/openapi/v3/apis/{group}/{version}` (or `/openapi/v3/api/v1`).
/// `None` when no served type has that group-version.
pub fn v3_group_version(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let _ = (types, group, version);
    None
}
