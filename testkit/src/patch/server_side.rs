//! `application/apply-patch+yaml`: server-side apply with field ownership.

use serde_json::Value;

use super::fields::{self, FieldSet, changed_fields, fields_of, owns_within, remove_at};
use super::managed::{self, Entry, is_tracked, now, subresource, with_schema};
use super::{PatchContext, PatchError};
use crate::openapi::{Cursor, ListType};

/// Parses an apply body: YAML (of which JSON is a subset) holding one object.
pub(crate) fn parse(body: &[u8]) -> Result<Value, PatchError> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) => serde_saphyr::from_slice(body)
            .map_err(|e| PatchError::Malformed(format!("error decoding YAML: {e}")))?,
    };
    if !parsed.is_object() {
        return Err(PatchError::Malformed(
            "the apply configuration must be an object".into(),
        ));
    }
    Ok(parsed)
}

/// Merges an applied configuration into a live value the way server-side apply does: objects
/// field by field, list-maps item by item on their keys, sets as a union, everything else
/// (atomic lists and maps, scalars) replaced.
fn merge(live: &mut Value, applied: &Value, schema: Option<Cursor<'_>>) {
    match (live, applied) {
        (Value::Object(live_map), Value::Object(applied_map))
            if !schema.is_some_and(|s| s.is_atomic_map()) =>
        {
            for (key, value) in applied_map {
                if value.is_null() {
                    live_map.remove(key);
                    continue;
                }
                let child = schema.and_then(|s| s.child(key));
                match live_map.get_mut(key) {
                    Some(existing) => merge(existing, value, child),
                    None => {
                        live_map.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(live_items), Value::Array(applied_items)) => {
            match schema.map_or(ListType::Atomic, |s| s.list_type()) {
                ListType::Map(keys) if !keys.is_empty() => {
                    let item_schema = schema.and_then(|s| s.items());
                    let same = |a: &Value, b: &Value| {
                        keys.iter()
                            .all(|k| fields::key_value(a, k) == fields::key_value(b, k))
                    };
                    for item in applied_items {
                        match live_items.iter_mut().find(|existing| same(existing, item)) {
                            Some(existing) => merge(existing, item, item_schema),
                            None => live_items.push(item.clone()),
                        }
                    }
                }
                ListType::Set => {
                    for item in applied_items {
                        if !live_items.contains(item) {
                            live_items.push(item.clone());
                        }
                    }
                }
                _ => *live_items = applied_items.clone(),
            }
        }
        (live, applied) => *live = applied.clone(),
    }
}

/// Server-side apply of `body` by `ctx.field_manager` onto `live` (`None`: the object is created).
pub(crate) fn apply(
    live: Option<&Value>,
    body: &[u8],
    ctx: &PatchContext<'_>,
) -> Result<Value, PatchError> {
    let manager = match ctx.field_manager {
        Some(manager) if !manager.is_empty() => manager,
        _ => {
            return Err(PatchError::Malformed(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
                    .into(),
            ));
        }
    };
    let applied = parse(body)?;
    check_identity(&applied, ctx)?;
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(PatchError::Malformed(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let subresource = subresource(ctx);
    let api_version = ctx.resource.api_version();

    // The API server types the configuration against the schema first; what does not fit is
    // refused before anything merges, with a plain error: a 500 without a reason (v1.32).
    let kind_name = format!(
        "{}{}; {}, Kind={}",
        applied
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(|ns| format!("{ns}/"))
            .unwrap_or_else(|| "/".into()),
        applied
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(""),
        ctx.resource.api_version(),
        ctx.resource.kind
    );
    if let Some(unknown) = crate::openapi::unknown_fields(ctx.resource, &applied).first() {
        return Err(PatchError::Internal(format!(
            "failed to create typed patch object ({kind_name}): .{unknown}: field not declared in schema"
        )));
    }
    if let Some(problem) = with_schema(ctx, |schema| fields::typing_error(&applied, schema)) {
        return Err(PatchError::Internal(format!(
            "failed to create typed patch object ({kind_name}): {problem}"
        )));
    }

    with_schema(ctx, |schema| {
        let applied_set: FieldSet = fields_of(&applied, schema)
            .into_iter()
            .filter(|p| is_tracked(p, ctx))
            .collect();
        let Some(live) = live else {
            let mut created = applied.clone();
            strip_nulls(&mut created);
            let entry = Entry {
                manager: manager.to_string(),
                operation: "Apply".into(),
                api_version: api_version.clone(),
                time: Some(now()),
                subresource: subresource.map(str::to_string),
                fields: applied_set,
            };
            managed::write(&mut created, &[entry]);
            return Ok(created);
        };

        let mut entries = managed::read(live);
        let mut merged = live.clone();
        merge(&mut merged, &applied, schema);

        let changed = changed_fields(live, &merged, schema);
        // Managers are told apart by name, operation and subresource: the same name's
        // `Update` entry conflicts with its `Apply` like anyone else's.
        let mut conflicts: Vec<(String, Vec<String>)> = Vec::new();
        for entry in &entries {
            if entry.is(manager, "Apply", subresource) {
                continue;
            }
            for path in entry.fields.intersection(&changed) {
                if applied_set.contains(path) || owns_within(&applied_set, path) {
                    conflicts.push((entry.printed(), path.clone()));
                }
            }
        }
        // Only `kubectl` itself (not any manager) may take over what its client-side apply
        // last set and nobody changed since; the other conflicts are still reported.
        if manager == KUBECTL && !ctx.force {
            conflicts.retain(|(_, path)| !last_applied_unchanged(live, path, schema));
        }
        if !conflicts.is_empty() && !ctx.force {
            let mut shown: Vec<(String, String)> = conflicts
                .iter()
                .map(|(m, p)| (m.clone(), fields::display(p)))
                .collect();
            shown.sort();
            shown.dedup();
            return Err(PatchError::Conflicts(shown));
        }
        // Forced, or nothing left in the way (what kubectl took over included): the others
        // lose what this apply changed.
        for entry in entries
            .iter_mut()
            .filter(|e| !e.is(manager, "Apply", subresource))
        {
            entry
                .fields
                .retain(|path| !(changed.contains(path) && applied_set.contains(path)));
        }
        if manager == KUBECTL && last_applied(live).is_some() {
            set_last_applied(&mut merged, &applied);
        }

        // Fields this manager applied before and no longer applies are removed from the object,
        // unless someone else also owns them.
        let previous = entries
            .iter()
            .find(|e| e.is(manager, "Apply", subresource))
            .map(|e| e.fields.clone())
            .unwrap_or_default();
        let others: FieldSet = entries
            .iter()
            .filter(|e| !e.is(manager, "Apply", subresource))
            .flat_map(|e| e.fields.iter().cloned())
            .collect();
        let dropped: Vec<&Vec<String>> = previous
            .difference(&applied_set)
            .filter(|path| !owns_within(&others, path) && !owns_within(&applied_set, path))
            .collect();
        // A dropped item takes its fields with it; removing those first could unkey the item.
        for path in &dropped {
            let under_dropped = dropped
                .iter()
                .any(|other| other.len() < path.len() && path.starts_with(other));
            if !under_dropped {
                remove_at(&mut merged, path);
            }
        }

        match entries
            .iter_mut()
            .find(|e| e.is(manager, "Apply", subresource))
        {
            Some(entry) => {
                entry.fields = applied_set;
                entry.time = Some(now());
                entry.api_version = api_version.clone();
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: "Apply".into(),
                api_version: api_version.clone(),
                time: Some(now()),
                subresource: subresource.map(str::to_string),
                fields: applied_set,
            }),
        }
        managed::write(&mut merged, &entries);
        Ok(merged)
    })
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn last_applied(object: &Value) -> Option<Value> {
    let text = object
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    serde_json::from_str(text).ok()
}

/// The field manager kubectl's server-side apply uses, the only one the API server lets take
/// over what kubectl's client-side apply set (`lastAppliedManager`).
const KUBECTL: &str = "kubectl";

/// `true` when `path` was last set by kubectl's client-side apply and still has that value:
/// the API server then lets kubectl's server-side apply take it over without `force`, which is
/// how moving from `kubectl apply` to `kubectl apply --server-side` works.
fn last_applied_unchanged(live: &Value, path: &[String], schema: Option<Cursor<'_>>) -> bool {
    let Some(config) = last_applied(live) else {
        return false;
    };
    fields_of(&config, schema).contains(path)
        && fields::value_at(&config, path).is_some()
        && fields::value_at(&config, path) == fields::value_at(live, path)
}

/// Keeps kubectl's last-applied annotation in step with a server-side apply by kubectl, as the
/// API server does for objects that carry it, so that a later client-side apply diffs against
/// what was applied last.
fn set_last_applied(object: &mut Value, applied: &Value) {
    let mut config = applied.clone();
    if let Some(Value::Object(annotations)) = config.pointer_mut("/metadata/annotations") {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty()
            && let Some(Value::Object(metadata)) = config.get_mut("metadata")
        {
            metadata.remove("annotations");
        }
    }
    let Ok(text) = serde_json::to_string(&config) else {
        return;
    };
    if let Some(Value::Object(annotations)) = object.pointer_mut("/metadata/annotations") {
        annotations.insert(LAST_APPLIED.into(), Value::String(text));
    }
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The applied configuration must name the type being patched.
fn check_identity(applied: &Value, ctx: &PatchContext<'_>) -> Result<(), PatchError> {
    let api_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = applied.get("kind").and_then(Value::as_str).unwrap_or("");
    // The field manager's version check, which prints the group version kind as Go does
    // (`apps/v1, Kind=StatefulSet`; the core group and a missing type leave their parts empty).
    if api_version != ctx.resource.api_version() || kind != ctx.resource.kind {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        return Err(PatchError::Malformed(format!(
            "invalid object type: {group}/{version}, Kind={kind}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
