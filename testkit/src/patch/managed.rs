//! `metadata.managedFields`: who owns which fields, and how non-apply writes change it.

use serde_json::{Map, Value, json};

use super::PatchContext;
use super::fields::{FieldPath, FieldSet, changed_fields, fields_of, from_fields_v1, to_fields_v1};
use crate::openapi::{Catalog, Cursor};
use crate::registry::TypeSchema;

/// The manager recorded for a write that names none and comes without a user agent (the HTTP
/// layer otherwise passes the user agent's prefix in `PatchContext::field_manager`).
pub(crate) const DEFAULT_MANAGER: &str = "unknown";

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) manager: String,
    /// `Apply` or `Update`.
    pub(crate) operation: String,
    pub(crate) api_version: String,
    pub(crate) time: Option<String>,
    pub(crate) subresource: Option<String>,
    pub(crate) fields: FieldSet,
}

impl Entry {
    /// How a conflict names this manager (upstream `printManager`): its name, the subresource
    /// it wrote through, and for `Update` entries the version it wrote at.
    pub(crate) fn printed(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            out.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    pub(crate) fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }
}

/// The entries recorded on `object`; entries that are not objects are skipped.
pub(crate) fn read(object: &Value) -> Vec<Entry> {
    let Some(Value::Array(items)) = object.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
            Some(Entry {
                manager: text("manager").unwrap_or_default(),
                operation: text("operation")?,
                api_version: text("apiVersion").unwrap_or_default(),
                time: text("time"),
                subresource: text("subresource").filter(|s| !s.is_empty()),
                fields: item.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
            })
        })
        .collect()
}

/// Writes `entries` (those owning anything) to `object.metadata.managedFields`.
pub(crate) fn write(object: &mut Value, entries: &[Entry]) {
    let rendered: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut entry = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(time) = &e.time {
                entry["time"] = json!(time);
            }
            if let Some(subresource) = &e.subresource {
                entry["subresource"] = json!(subresource);
            }
            entry
        })
        .collect();
    let Value::Object(root) = object else {
        return;
    };
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(metadata) = metadata else {
        return;
    };
    if rendered.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(rendered));
    }
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The fields no manager owns: identity and server-set metadata, and, for types with a status
/// subresource, whichever of `status` or the rest the request cannot write.
pub(crate) fn is_tracked(path: &FieldPath, ctx: &PatchContext<'_>) -> bool {
    const SERVER_METADATA: [&str; 10] = [
        "f:name",
        "f:namespace",
        "f:uid",
        "f:resourceVersion",
        "f:generation",
        "f:creationTimestamp",
        "f:deletionTimestamp",
        "f:deletionGracePeriodSeconds",
        "f:managedFields",
        "f:selfLink",
    ];
    let Some(first) = path.first() else {
        return false;
    };
    if first == "f:apiVersion" || first == "f:kind" {
        return false;
    }
    if first == "f:metadata"
        && path
            .get(1)
            .is_some_and(|f| SERVER_METADATA.contains(&f.as_str()))
    {
        return false;
    }
    if ctx.resource.subresources.status {
        let is_status = first == "f:status";
        return if ctx.subresource == Some("status") {
            is_status
        } else {
            !is_status
        };
    }
    true
}

pub(crate) fn subresource(ctx: &PatchContext<'_>) -> Option<&'static str> {
    ctx.subresource
}

/// Runs `f` with the schema cursor of the patched type: the catalog's for built-ins, the CRD's
/// own for custom resources.
pub(crate) fn with_schema<R>(ctx: &PatchContext<'_>, f: impl FnOnce(Option<Cursor<'_>>) -> R) -> R {
    match &ctx.resource.schema {
        TypeSchema::BuiltIn { .. } => {
            let catalog = Catalog::for_types([ctx.resource]);
            f(catalog.root(ctx.resource))
        }
        TypeSchema::Custom { open_api_v3_schema } => f(open_api_v3_schema
            .is_object()
            .then(|| Cursor::standalone(open_api_v3_schema))),
    }
}

/// See [`super::track_update`].
pub(crate) fn track_update(old: Option<&Value>, new: &mut Value, ctx: &PatchContext<'_>) {
    let manager = ctx.field_manager.unwrap_or(DEFAULT_MANAGER);
    let subresource = subresource(ctx);
    // A client that sends managedFields different from the stored ones overrides them, as with
    // the real server; otherwise the stored record is the starting point.
    let sent = new.pointer("/metadata/managedFields").cloned();
    let stored = old
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .cloned();
    let mut entries = match (&sent, &stored) {
        (Some(sent), stored) if Some(sent) != stored.as_ref() => read(new),
        _ => old.map(read).unwrap_or_default(),
    };
    let (changed, present) = with_schema(ctx, |schema| {
        let present = fields_of(new, schema);
        let changed: FieldSet = match old {
            Some(old) => changed_fields(old, new, schema),
            None => present.clone(),
        };
        (changed, present)
    });
    let changed: FieldSet = changed
        .into_iter()
        .filter(|path| is_tracked(path, ctx))
        .collect();
    if changed.is_empty() {
        write(new, &entries);
        return;
    }
    for entry in entries.iter_mut() {
        if !entry.is(manager, "Update", subresource) {
            entry.fields.retain(|path| !changed.contains(path));
        }
    }
    let api_version = ctx.resource.api_version();
    let position = entries
        .iter()
        .position(|e| e.is(manager, "Update", subresource));
    let entry = match position {
        Some(index) => &mut entries[index],
        None => {
            entries.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: api_version.clone(),
                time: None,
                subresource: subresource.map(str::to_string),
                fields: FieldSet::new(),
            });
            let last = entries.len() - 1;
            &mut entries[last]
        }
    };
    entry
        .fields
        .extend(changed.iter().filter(|p| present.contains(*p)).cloned());
    entry.fields.retain(|p| present.contains(p));
    entry.time = Some(now());
    entry.api_version = api_version;
    write(new, &entries);
}
