//! What the patch handler answers when the patched object does not decode into its Go type (a
//! string where the type has a number, a number where it has text): not the create handler's
//! `400`, but a `422` with one cause on the field `patch` (`applyPatchToObject` for strategic
//! merge patches, `applyPatchToCurrentObject` for JSON and merge patches).

use serde_json::Value;

use super::PatchType;
use crate::openapi::{Cursor, reference_name};

/// A value of the wrong JSON type for its field.
#[derive(Debug, PartialEq)]
pub(crate) struct Mismatch {
    /// The JSON field names from the root (no list indices or map keys, as Go's decoder names
    /// them).
    pub fields: Vec<String>,
    /// The Go struct holding the field.
    pub struct_name: String,
    /// The Go type of the field (`int32`, `string`, `map[string]string`, `v1.PodSpec`...).
    pub go_type: String,
    /// What the JSON held as Go names it (`string`, `bool`, `object`, `array`, `number`, or
    /// `number 1.5` for a number an integer field cannot hold).
    pub sent: String,
}

impl Mismatch {
    /// Go's `UnmarshalTypeError` for it.
    pub(crate) fn unmarshal_error(&self) -> String {
        format!(
            "json: cannot unmarshal {} into Go struct field {}.{} of type {}",
            self.sent,
            self.struct_name,
            self.fields.join("."),
            self.go_type
        )
    }
}

/// How far [`first_mismatch`] looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Depth {
    /// Scalars only: the mismatches of a patched object that upstream reports as the `422` on
    /// `patch` (a container of the wrong kind there is a `400`, answered elsewhere).
    Scalars,
    /// Objects and lists too: what the JSON decoder of a create or update notices.
    Containers,
}

/// The Go type values of this schema decode into, as `reflect` prints it; `None` where the
/// type decodes itself (quantities, int-or-strings, times, byte strings) and so says other words.
fn go_type(schema: Cursor<'_>, depth: Depth) -> Option<String> {
    let resolved = schema.resolved().schema;
    let format = resolved.get("format").and_then(Value::as_str).unwrap_or("");
    let scalar = match resolved.get("type").and_then(Value::as_str) {
        Some("integer") if format == "int32" => Some("int32"),
        Some("integer") => Some("int64"),
        Some("number") => Some("float64"),
        Some("boolean") => Some("bool"),
        Some("string") if format.is_empty() || format == "date-time" => Some("string"),
        Some("string") => return None,
        _ => None,
    };
    if let Some(scalar) = scalar {
        // A `date-time` is a `metav1.Time`, which reads its own text.
        return (format != "date-time" || depth == Depth::Scalars).then(|| scalar.to_string());
    }
    if depth == Depth::Scalars {
        return None;
    }
    if resolved.get("properties").is_some() {
        // `io.k8s.api.apps.v1.DeploymentSpec` is `v1.DeploymentSpec` to Go.
        let name = reference_name(schema.schema)?;
        let mut parts = name.rsplit('.');
        let (kind, package) = (parts.next()?, parts.next()?);
        return Some(format!("{package}.{kind}"));
    }
    if let Some(values) = schema.additional() {
        if reference_name(values.schema).is_some_and(|r| r.ends_with(".Quantity")) {
            return Some("v1.ResourceList".into());
        }
        let values = match values
            .resolved()
            .schema
            .get("format")
            .and_then(Value::as_str)
        {
            Some("byte") => "[]uint8".to_string(),
            _ => go_type(values, depth)?,
        };
        return Some(format!("map[string]{values}"));
    }
    let items = schema.items()?;
    Some(format!("[]{}", go_type(items, depth)?))
}

fn fits(go_type: &str, value: &Value) -> bool {
    match go_type {
        _ if value.is_null() => true,
        "int32" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "int64" => value.is_i64(),
        "float64" => value.is_number(),
        "bool" => value.is_boolean(),
        "string" => value.is_string(),
        t if t.starts_with("[]") => value.is_array(),
        _ => value.is_object(),
    }
}

/// The first field of `object` whose value the type cannot hold, in key order (objects keep
/// their keys sorted here; Go reads them in document order, so with two bad fields it may name
/// the other one).
pub(crate) fn first_mismatch(
    object: &Value,
    root: Cursor<'_>,
    kind: &str,
    depth: Depth,
) -> Option<Mismatch> {
    fn check(
        value: &Value,
        schema: Cursor<'_>,
        holder: &str,
        fields: &mut Vec<String>,
        depth: Depth,
    ) -> Option<Mismatch> {
        if depth == Depth::Scalars && (value.is_object() || value.is_array()) {
            return walk(value, schema, holder, fields, depth);
        }
        match go_type(schema, depth) {
            Some(go_type) if !fits(&go_type, value) => {
                let sent = match value {
                    // Go quotes a number only when it is the number that does not fit.
                    Value::Number(n) if go_type.starts_with("int") => format!("number {n}"),
                    _ => crate::go_json::kind_name(value).to_string(),
                };
                Some(Mismatch {
                    fields: fields.clone(),
                    struct_name: holder.to_string(),
                    go_type,
                    sent,
                })
            }
            _ => walk(value, schema, holder, fields, depth),
        }
    }
    fn walk(
        value: &Value,
        schema: Cursor<'_>,
        struct_name: &str,
        fields: &mut Vec<String>,
        depth: Depth,
    ) -> Option<Mismatch> {
        match value {
            Value::Object(map) => {
                let own = reference_name(schema.schema).map(|r| r.rsplit('.').next().unwrap_or(r));
                let is_struct = schema.resolved().schema.get("properties").is_some();
                let holder = if is_struct {
                    own.unwrap_or(struct_name)
                } else {
                    struct_name
                };
                for (key, child) in map {
                    let Some(child_schema) = schema.child(key) else {
                        continue;
                    };
                    if is_struct {
                        fields.push(key.clone());
                    }
                    let found = check(child, child_schema, holder, fields, depth);
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
                    .find_map(|item| check(item, item_schema, struct_name, fields, depth))
            }
            _ => None,
        }
    }
    walk(object, root, kind, &mut Vec::new(), depth)
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
        (patched.to_string(), mismatch.unmarshal_error())
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
        first_mismatch(
            object,
            catalog.root(resource)?,
            &resource.kind,
            Depth::Scalars,
        )
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
                go_type: "int32".into(),
                sent: "string".into(),
            })
        );
        let mut bad = deployment;
        bad["spec"]["template"]["spec"]["containers"][0]["image"] = json!(5);
        let found = mismatch(&test_types::deployment(), &bad).expect("mismatch");
        assert_eq!(
            (
                found.fields.join("."),
                found.struct_name.as_str(),
                found.go_type.as_str(),
                found.sent.as_str()
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
            go_type: "int32".into(),
            sent: "string".into(),
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
