//! What the patch handler answers when the patched object does not decode into its Go type (a
//! string where the type has a number, a number where it has text): not the create handler's
//! `400`, but a `422` with one cause on the field `patch` (`applyPatchToObject` for strategic
//! merge patches, `applyPatchToCurrentObject` for JSON and merge patches).

use serde_json::Value;

use super::PatchType;
use crate::openapi::{Cursor, reference_name};

/// A scalar of the wrong JSON type where the schema wants another scalar.
#[derive(Debug, PartialEq)]
pub(crate) struct Mismatch {
    /// The JSON field names from the root (no list indices or map keys, as Go's decoder names
    /// them).
    pub fields: Vec<String>,
    /// The Go struct holding the field.
    pub struct_name: String,
    /// The Go type of the field (`int32`, `string`, `bool`...).
    pub go_type: &'static str,
    /// What the JSON held (`string`, `number`, `bool`).
    pub sent: &'static str,
}

fn go_scalar(schema: Cursor<'_>) -> Option<&'static str> {
    let resolved = schema.resolved().schema;
    let format = resolved.get("format").and_then(Value::as_str).unwrap_or("");
    match resolved.get("type").and_then(Value::as_str)? {
        "integer" if format == "int32" => Some("int32"),
        "integer" => Some("int64"),
        "number" => Some("float64"),
        "boolean" => Some("bool"),
        // Quantities, int-or-strings and byte strings decode from more than a string.
        "string" if format.is_empty() || format == "date-time" => Some("string"),
        _ => None,
    }
}

fn sent(value: &Value) -> Option<&'static str> {
    match value {
        Value::String(_) => Some("string"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("bool"),
        _ => None,
    }
}

fn fits(go_type: &str, value: &Value) -> bool {
    match go_type {
        "int32" | "int64" => value.is_i64() || value.is_u64(),
        "float64" => value.is_number(),
        "bool" => value.is_boolean(),
        _ => value.is_string(),
    }
}

/// The first scalar field of `object` whose value the type cannot hold.
pub(crate) fn first_mismatch(object: &Value, root: Cursor<'_>, kind: &str) -> Option<Mismatch> {
    fn walk(
        value: &Value,
        schema: Cursor<'_>,
        struct_name: &str,
        fields: &mut Vec<String>,
    ) -> Option<Mismatch> {
        match value {
            Value::Object(map) => {
                let own = reference_name(schema.schema).map(|r| r.rsplit('.').next().unwrap_or(r));
                let is_struct = schema.resolved().schema.get("properties").is_some();
                for (key, child) in map {
                    let Some(child_schema) = schema.child(key) else {
                        continue;
                    };
                    let holder = if is_struct {
                        own.unwrap_or(struct_name)
                    } else {
                        struct_name
                    };
                    if is_struct {
                        fields.push(key.clone());
                    }
                    let found = match (go_scalar(child_schema), sent(child)) {
                        (Some(go_type), Some(sent)) if !fits(go_type, child) => Some(Mismatch {
                            fields: fields.clone(),
                            struct_name: holder.to_string(),
                            go_type,
                            sent,
                        }),
                        _ => walk(child, child_schema, holder, fields),
                    };
                    if is_struct {
                        fields.pop();
                    }
                    if found.is_some() {
                        return found;
                    }
                }
                None
            }
            Value::Array(items) => {
                let item_schema = schema.items()?;
                items
                    .iter()
                    .find_map(|item| match (go_scalar(item_schema), sent(item)) {
                        (Some(go_type), Some(sent)) if !fits(go_type, item) => Some(Mismatch {
                            fields: fields.clone(),
                            struct_name: struct_name.to_string(),
                            go_type,
                            sent,
                        }),
                        _ => walk(item, item_schema, struct_name, fields),
                    })
            }
            _ => None,
        }
    }
    walk(object, root, kind, &mut Vec::new())
}

/// The message of the `422`: the patch (strategic) or the patched object (JSON and merge) as
/// the value, and the decoder's complaint.
pub(crate) fn message(
    pt: PatchType,
    patch: &Value,
    patched: &Value,
    mismatch: &Mismatch,
) -> String {
    let (value, why) = if pt == PatchType::StrategicMerge {
        (
            go_text(patch),
            format!("unrecognized type: {}", mismatch.go_type),
        )
    } else {
        (
            patched.to_string(),
            format!(
                "json: cannot unmarshal {} into Go struct field {}.{} of type {}",
                mismatch.sent,
                mismatch.struct_name,
                mismatch.fields.join("."),
                mismatch.go_type
            ),
        )
    };
    format!("Invalid value: {}: {why}", crate::validate::quote(&value))
}

/// A decoded JSON value as Go's `%+v` prints it (`map[spec:map[replicas:abc]]`).
pub(crate) fn go_text(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_text).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_text(v)))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::openapi::Catalog;
    use crate::patch::test_types;

    fn mismatch(resource: &crate::registry::ResourceType, object: &Value) -> Option<Mismatch> {
        let catalog = Catalog::for_types([resource]);
        first_mismatch(object, catalog.root(resource)?, &resource.kind)
    }

    #[test]
    fn scalars_of_the_wrong_json_type_are_found_with_their_go_names() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx",
                        "ports": [{"containerPort": 80}],
                        "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}],
                        "terminationGracePeriodSeconds": 30}}}});
        assert_eq!(mismatch(&test_types::deployment(), &deployment), None);

        let mut bad = deployment.clone();
        bad["spec"]["replicas"] = json!("abc");
        assert_eq!(
            mismatch(&test_types::deployment(), &bad),
            Some(Mismatch {
                fields: vec!["spec".into(), "replicas".into()],
                struct_name: "DeploymentSpec".into(),
                go_type: "int32",
                sent: "string",
            })
        );
        let mut bad = deployment;
        bad["spec"]["template"]["spec"]["containers"][0]["image"] = json!(5);
        let found = mismatch(&test_types::deployment(), &bad).expect("mismatch");
        assert_eq!(
            (
                found.fields.join("."),
                found.struct_name.as_str(),
                found.go_type,
                found.sent
            ),
            (
                "spec.template.spec.containers.image".to_string(),
                "Container",
                "string",
                "number"
            )
        );
    }

    #[test]
    fn the_message_shows_the_patch_as_go_prints_it_for_strategic_merge_patches() {
        let found = Mismatch {
            fields: vec!["spec".into(), "replicas".into()],
            struct_name: "DeploymentSpec".into(),
            go_type: "int32",
            sent: "string",
        };
        let patch = json!({"spec": {"replicas": "abc"}});
        assert_eq!(
            message(PatchType::StrategicMerge, &patch, &Value::Null, &found),
            "Invalid value: \"map[spec:map[replicas:abc]]\": unrecognized type: int32"
        );
        let patched = json!({"spec": {"replicas": "abc"}});
        assert_eq!(
            message(PatchType::Merge, &patch, &patched, &found),
            "Invalid value: \"{\\\"spec\\\":{\\\"replicas\\\":\\\"abc\\\"}}\": json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
    }
}
