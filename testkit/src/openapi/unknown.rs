//! Fields a schema does not declare, for `fieldValidation=Strict` / `Warn`.

use serde_json::Value;

use super::Cursor;

/// Paths (`spec.template.spec.containers[0].imagee`) of the fields of `object` that `root` does
/// not declare. `structural` is true for CRD schemas, where an object schema without
/// `properties`, `additionalProperties` or `x-kubernetes-preserve-unknown-fields` declares no
/// field at all; built-in schemas leave such objects free-form.
pub(crate) fn unknown_fields(root: Cursor<'_>, object: &Value, structural: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut copy = object.clone();
    walk(root, &mut copy, "", true, structural, false, &mut out);
    out
}

/// Removes the fields [`unknown_fields`] reports, returning their paths.
pub(crate) fn prune_unknown_fields(
    root: Cursor<'_>,
    object: &mut Value,
    structural: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, object, "", true, structural, true, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(
    schema: Cursor<'_>,
    value: &mut Value,
    path: &str,
    is_root: bool,
    structural: bool,
    remove: bool,
    out: &mut Vec<String>,
) {
    let resolved = schema.resolved();
    match value {
        Value::Object(map) => {
            let preserve = schema
                .extension("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let embedded = schema
                .extension("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let has_properties = resolved.schema.get("properties").is_some();
            let additional = resolved.schema.get("additionalProperties");
            let free_form = !structural && !has_properties && additional.is_none();
            let mut unknown = Vec::new();
            for (key, child) in map.iter_mut() {
                if (is_root || embedded) && (key == "apiVersion" || key == "kind") {
                    continue;
                }
                if structural && (is_root || embedded) && key == "metadata" {
                    continue;
                }
                let child_path = join(path, key);
                if let Some(child_schema) = schema.property(key) {
                    walk(
                        child_schema,
                        child,
                        &child_path,
                        false,
                        structural,
                        remove,
                        out,
                    );
                } else if let Some(child_schema) = schema.additional() {
                    walk(
                        child_schema,
                        child,
                        &child_path,
                        false,
                        structural,
                        remove,
                        out,
                    );
                } else if !(preserve || free_form || additional == Some(&Value::Bool(true))) {
                    out.push(child_path);
                    unknown.push(key.clone());
                }
            }
            if remove {
                for key in unknown {
                    map.remove(&key);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.items() {
                for (index, item) in items.iter_mut().enumerate() {
                    let item_path = format!("{path}[{index}]");
                    walk(
                        item_schema,
                        item,
                        &item_path,
                        false,
                        structural,
                        remove,
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}
