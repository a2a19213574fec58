//! Custom objects against their CRD's structural schema, as the API server treats them on create
//! and update: unknown fields are pruned, `default`s are filled in, then the object is validated.
//!
//! Modelled: `type` (with `x-kubernetes-int-or-string`), `nullable` (a `null` in a field that is
//! not nullable is pruned, as upstream does before defaulting), `required`, `enum`, `minimum` /
//! `maximum` (and their `exclusive...` forms), `multipleOf`, `minLength` / `maxLength`,
//! `minItems` / `maxItems`, `minProperties` / `maxProperties`, `items`, `properties`,
//! `additionalProperties`, `x-kubernetes-preserve-unknown-fields`,
//! `x-kubernetes-embedded-resource` (keeps `apiVersion`, `kind` and `metadata`, and requires the
//! first two), `x-kubernetes-list-type: set | map` uniqueness, `pattern` (RE2 syntax upstream,
//! checked with the `regex` crate, which shares it), and `default`.
//! Absent: string `format`s, `x-kubernetes-validations` (CEL), `oneOf` / `anyOf` / `allOf` /
//! `not`, and validation of the root `metadata` beyond what the server does for every object.
//!
//! ```
//! use serde_json::json;
//! use roperator_testkit::schema::validate_and_prune;
//!
//! let schema = json!({"type": "object", "properties": {
//!     "spec": {"type": "object", "required": ["size"], "properties": {
//!         "size": {"type": "integer"},
//!         "color": {"type": "string", "default": "red"}}}}});
//! let mut object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
//!     "metadata": {"name": "w"}, "spec": {"size": 1, "shape": "round"}});
//! validate_and_prune(&schema, &mut object).expect("valid");
//! assert_eq!(object["spec"], json!({"size": 1, "color": "red"}));
//!
//! let mut bad = json!({"spec": {"size": "one"}});
//! let causes = validate_and_prune(&schema, &mut bad).unwrap_err();
//! assert_eq!(causes[0].field, "spec.size");
//! assert_eq!(causes[0].reason, "FieldValueTypeInvalid");
//! ```

use serde_json::{Map, Value};

/// One field-level problem, as a `metav1.StatusCause` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueTypeInvalid`...
    pub reason: String,
    /// Human message, e.g. `Required value`.
    pub message: String,
    /// The field path, e.g. `spec.message`.
    pub field: String,
}

impl FieldCause {
    fn new(reason: &str, field: &str, message: String) -> Self {
        FieldCause {
            reason: reason.into(),
            message,
            field: field.into(),
        }
    }
}

/// Validates `object` against `schema` (the CRD version's `openAPIV3Schema`) and prunes fields the
/// schema does not know, in place. `metadata`, `apiVersion` and `kind` are never pruned.
///
/// In the order the API server uses: prune unknown fields (and `null`s where the schema does not
/// allow them), fill in `default`s, then validate. A `Value::Null` schema (a CRD version without
/// one) accepts anything.
pub fn validate_and_prune(schema: &Value, object: &mut Value) -> Result<(), Vec<FieldCause>> {
    if !schema.is_object() {
        return Ok(());
    }
    prune(schema, object);
    apply_defaults(schema, object);
    let causes = validate(schema, object);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(causes)
    }
}

/// The field-level problems of `object` against `schema`, without changing it.
pub fn validate(schema: &Value, object: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if schema.is_object() {
        check(schema, object, "", true, &mut causes);
    }
    causes
}

/// Removes the fields `schema` does not describe (unless it preserves unknown fields there) and
/// the `null`s in fields that are not nullable.
pub fn prune(schema: &Value, object: &mut Value) {
    if schema.is_object() {
        prune_at(schema, object, true);
    }
}

/// Fills in `default` values for missing fields, at every depth present in `object`.
pub fn apply_defaults(schema: &Value, object: &mut Value) {
    if schema.is_object() {
        default_at(schema, object);
    }
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// Keys every object at the root or marked `x-kubernetes-embedded-resource` keeps.
const RESOURCE_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn prune_at(schema: &Value, value: &mut Value, is_root: bool) {
    match value {
        Value::Object(map) => {
            let keeps_resource_keys = is_root || flag(schema, "x-kubernetes-embedded-resource");
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let props = properties(schema);
            let additional = schema.get("additionalProperties");
            map.retain(|key, child| {
                if keeps_resource_keys && RESOURCE_KEYS.contains(&key.as_str()) {
                    return true;
                }
                let child_schema = props
                    .and_then(|p| p.get(key))
                    .or_else(|| additional.filter(|a| a.is_object()));
                match child_schema {
                    Some(child_schema) => !child.is_null() || flag(child_schema, "nullable"),
                    None => preserve || additional == Some(&Value::Bool(true)),
                }
            });
            for (key, child) in map.iter_mut() {
                if keeps_resource_keys && RESOURCE_KEYS.contains(&key.as_str()) {
                    continue;
                }
                let child_schema = props
                    .and_then(|p| p.get(key))
                    .or_else(|| additional.filter(|a| a.is_object()));
                if let Some(child_schema) = child_schema {
                    prune_at(child_schema, child, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    prune_at(item_schema, item, false);
                }
            }
        }
        _ => {}
    }
}

fn default_at(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = properties(schema) {
                for (key, child_schema) in props {
                    if !map.contains_key(key)
                        && let Some(default) = child_schema.get("default")
                    {
                        map.insert(key.clone(), default.clone());
                    }
                }
                for (key, child) in map.iter_mut() {
                    if let Some(child_schema) = props.get(key) {
                        default_at(child_schema, child);
                    }
                }
            } else if let Some(additional) =
                schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for child in map.values_mut() {
                    default_at(additional, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    default_at(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        // kube-openapi's `isFloatInt`: `1.0` is an integer.
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "number" => value.is_number(),
        _ => true,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A value as the upstream messages quote it: strings in quotes, other scalars bare.
fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// An unstructured value as Go's `%#v` prints it in a `field.Duplicate`.
fn go_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let pairs: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k:?}:{}", go_value(&map[k])))
                .collect();
            format!("map[string]interface {{}}{{{}}}", pairs.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_value).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Null => "interface {}(nil)".into(),
        other => other.to_string(),
    }
}

fn number(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn check(schema: &Value, value: &Value, path: &str, is_root: bool, causes: &mut Vec<FieldCause>) {
    let shown = if path.is_empty() { "<root>" } else { path };
    if value.is_null() {
        if !flag(schema, "nullable") && !is_root {
            causes.push(FieldCause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: \"null\": {shown} in body must be of type {}: \"null\"",
                    schema
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("object")
                ),
            ));
        }
        return;
    }
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    if int_or_string {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            let actual = type_name(value);
            causes.push(FieldCause::new(
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: \"{actual}\": {shown} in body must be of type integer,string: \"{actual}\""),
            ));
            return;
        }
    } else if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !type_matches(expected, value)
    {
        let actual = type_name(value);
        causes.push(FieldCause::new(
            "FieldValueTypeInvalid",
            path,
            format!("Invalid value: \"{actual}\": {shown} in body must be of type {expected}: \"{actual}\""),
        ));
        return;
    }

    match value {
        Value::Number(n) => check_number(
            schema,
            n.as_f64().unwrap_or_default(),
            value,
            path,
            shown,
            causes,
        ),
        Value::String(s) => {
            if let Some(cause) = check_string(schema, s, value, path, shown) {
                causes.push(cause);
            }
        }
        Value::Array(items) => check_array(schema, items, path, shown, causes),
        Value::Object(map) => check_object(schema, map, path, is_root, shown, causes),
        _ => {}
    }
    // kube-openapi's common validator (enum) runs after the type-specific ones.
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        // Allowed strings as they are, others as JSON, each quoted by `field.NotSupported`.
        let supported: Vec<String> = allowed
            .iter()
            .map(|a| match a {
                Value::String(s) => format!("{s:?}"),
                other => format!("{:?}", other.to_string()),
            })
            .collect();
        causes.push(FieldCause::new(
            "FieldValueNotSupported",
            path,
            format!(
                "Unsupported value: {}: supported values: {}",
                quoted(value),
                supported.join(", ")
            ),
        ));
    }
}

/// kube-openapi's string validator: `maxLength`, then `minLength`, then `pattern`, stopping
/// at the first failure.
fn check_string(
    schema: &Value,
    s: &str,
    value: &Value,
    path: &str,
    shown: &str,
) -> Option<FieldCause> {
    let length = s.chars().count() as f64;
    if let Some(max) = number(schema, "maxLength")
        && length > max
    {
        return Some(FieldCause::new(
            "FieldValueTooLong",
            path,
            format!("Too long: must have at most {max} bytes"),
        ));
    }
    if let Some(min) = number(schema, "minLength")
        && length < min
    {
        return Some(FieldCause::new(
            "FieldValueInvalid",
            path,
            format!(
                "Invalid value: {}: {shown} in body should be at least {min} chars long",
                quoted(value)
            ),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && matches_pattern(pattern, s) == Some(false)
    {
        return Some(FieldCause::new(
            "FieldValueInvalid",
            path,
            format!(
                "Invalid value: {}: {shown} in body should match '{pattern}'",
                quoted(value)
            ),
        ));
    }
    None
}

/// Whether `text` matches the schema `pattern` (RE2 syntax upstream, which the `regex` crate
/// shares); `None` for a pattern that does not compile, which upstream refuses when the CRD is
/// written. Compiled patterns are cached: the same few patterns are checked on every write.
fn matches_pattern(pattern: &str, text: &str) -> Option<bool> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache.len() > 1024 {
        cache.clear();
    }
    let compiled = cache
        .entry(pattern.to_string())
        .or_insert_with(|| regex::Regex::new(pattern).ok());
    compiled.as_ref().map(|re| re.is_match(text))
}

fn check_number(
    schema: &Value,
    n: f64,
    value: &Value,
    path: &str,
    shown: &str,
    causes: &mut Vec<FieldCause>,
) {
    let mut invalid = |message: String| {
        causes.push(FieldCause::new(
            "FieldValueInvalid",
            path,
            format!("Invalid value: {value}: {shown} in body {message}"),
        ));
    };
    if let Some(factor) = number(schema, "multipleOf")
        && factor != 0.0
        && (n / factor).fract() != 0.0
    {
        invalid(format!("should be a multiple of {factor}"));
    }
    if let Some(min) = number(schema, "minimum") {
        if flag(schema, "exclusiveMinimum") {
            if n <= min {
                invalid(format!("should be greater than {min}"));
            }
        } else if n < min {
            invalid(format!("should be greater than or equal to {min}"));
        }
    }
    if let Some(max) = number(schema, "maximum") {
        if flag(schema, "exclusiveMaximum") {
            if n >= max {
                invalid(format!("should be less than {max}"));
            }
        } else if n > max {
            invalid(format!("should be less than or equal to {max}"));
        }
    }
}

fn check_array(
    schema: &Value,
    items: &[Value],
    path: &str,
    shown: &str,
    causes: &mut Vec<FieldCause>,
) {
    let item_schema = schema.get("items");
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        if let Some(item_schema) = item_schema {
            check(item_schema, item, &item_path, false, causes);
        }
    }
    let count = items.len() as f64;
    if let Some(min) = number(schema, "minItems")
        && count < min
    {
        causes.push(FieldCause::new(
            "FieldValueInvalid",
            path,
            format!(
                "Invalid value: {}: {shown} in body should have at least {min} items",
                items.len()
            ),
        ));
    }
    if let Some(max) = number(schema, "maxItems")
        && count > max
    {
        causes.push(FieldCause::new(
            "FieldValueTooMany",
            path,
            format!("Too many: {}: must have at most {max} items", items.len()),
        ));
    }
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        // `listtype.ValidateListSetsAndMaps`: each repeated value once, at its first repeat.
        Some("set") => {
            for (index, item) in items.iter().enumerate() {
                if items[..index]
                    .iter()
                    .filter(|earlier| *earlier == item)
                    .count()
                    == 1
                {
                    causes.push(FieldCause::new(
                        "FieldValueDuplicate",
                        &format!("{path}[{index}]"),
                        format!("Duplicate value: {}", go_value(item)),
                    ));
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let identity = |item: &Value| -> Map<String, Value> {
                keys.iter()
                    .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect()
            };
            for (index, item) in items.iter().enumerate() {
                let id = identity(item);
                let repeats = items[..index]
                    .iter()
                    .filter(|earlier| identity(earlier) == id)
                    .count();
                if repeats == 1 {
                    causes.push(FieldCause::new(
                        "FieldValueDuplicate",
                        &format!("{path}[{index}]"),
                        format!("Duplicate value: {}", go_value(&Value::Object(id))),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    is_root: bool,
    shown: &str,
    causes: &mut Vec<FieldCause>,
) {
    let embedded = flag(schema, "x-kubernetes-embedded-resource");
    if embedded {
        for key in ["apiVersion", "kind"] {
            if map
                .get(key)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                causes.push(FieldCause::new(
                    "FieldValueRequired",
                    &join(path, key),
                    "Required value: must not be empty".into(),
                ));
            }
        }
    }
    let count = map.len() as f64;
    if let Some(max) = number(schema, "maxProperties")
        && count > max
    {
        causes.push(FieldCause::new(
            "FieldValueTooMany",
            path,
            format!("Too many: {}: must have at most {max} items", map.len()),
        ));
        return;
    }
    if let Some(min) = number(schema, "minProperties")
        && count < min
    {
        causes.push(FieldCause::new(
            "FieldValueInvalid",
            path,
            format!(
                "Invalid value: {}: {shown} in body should have at least {min} properties",
                map.len()
            ),
        ));
        return;
    }
    let props = properties(schema);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, child) in map {
        if (is_root || embedded) && RESOURCE_KEYS.contains(&key.as_str()) {
            if key != "metadata" && !child.is_string() {
                let actual = type_name(child);
                causes.push(FieldCause::new(
                    "FieldValueTypeInvalid",
                    &join(path, key),
                    format!("Invalid value: \"{actual}\": {} in body must be of type string: \"{actual}\"", join(path, key)),
                ));
            }
            continue;
        }
        let child_schema = props.and_then(|p| p.get(key)).or(additional);
        if let Some(child_schema) = child_schema {
            check(child_schema, child, &join(path, key), false, causes);
        }
    } // kube-openapi's object validator reports missing properties after the present ones.
    if let Some(Value::Array(required)) = schema.get("required") {
        for key in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(key) {
                causes.push(FieldCause::new(
                    "FieldValueRequired",
                    &join(path, key),
                    "Required value".into(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
