//! Field sets in the `FieldsV1` shape of `metadata.managedFields`, computed from objects.
//!
//! A set is a collection of member paths; each path element is written the way `FieldsV1` writes
//! it: `f:<field>`, `k:<JSON of the key fields>` for an item of a list-map, `v:<JSON value>` for
//! an item of a set. Objects are walked field by field; lists follow their server-side-apply list
//! type from the schema (map with keys, set, or atomic — the default, owned as one field); maps
//! marked atomic are owned as one field.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::openapi::{Cursor, ListType};

/// One path to an owned field, element by element (`["f:spec", "f:replicas"]`).
pub(crate) type FieldPath = Vec<String>;

/// A set of owned fields.
pub(crate) type FieldSet = BTreeSet<FieldPath>;

/// The member paths of a `FieldsV1` document. Malformed parts are skipped: ownership records
/// come from clients too and must never make a write fail.
pub(crate) fn from_fields_v1(value: &Value) -> FieldSet {
    fn walk(value: &Value, path: &mut FieldPath, out: &mut FieldSet) {
        let Value::Object(map) = value else {
            return;
        };
        for (key, child) in map {
            if key == "." {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
                continue;
            }
            path.push(key.clone());
            match child {
                Value::Object(inner) if !inner.is_empty() => walk(child, path, out),
                _ => {
                    out.insert(path.clone());
                }
            }
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// The `FieldsV1` document of a set.
pub(crate) fn to_fields_v1(set: &FieldSet) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: BTreeMap<String, Node>,
    }
    fn render(node: &Node) -> Value {
        let mut map = Map::new();
        if node.member && !node.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (key, child) in &node.children {
            map.insert(key.clone(), render(child));
        }
        Value::Object(map)
    }
    let mut root = Node::default();
    for path in set {
        let mut node = &mut root;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        node.member = true;
    }
    render(&root)
}

/// The value of key field `key` of a list-map item. A missing `protocol` counts as `TCP`, the
/// default every built-in port list applies before the real server computes item identity.
pub(crate) fn key_value(item: &Value, key: &str) -> Option<Value> {
    match item.get(key) {
        Some(value) => Some(value.clone()),
        None if key == "protocol" => Some(Value::String("TCP".into())),
        None => None,
    }
}

/// The key element of a list-map item (`k:{"name":"app"}`), `None` when the item lacks every key.
fn key_element(item: &Value, keys: &[&str]) -> Option<String> {
    let fields: Map<String, Value> = keys
        .iter()
        .filter_map(|k| key_value(item, k).map(|v| (k.to_string(), v)))
        .collect();
    if fields.is_empty() {
        None
    } else {
        Some(format!("k:{}", Value::Object(fields)))
    }
}

/// Every field `value` sets, as server-side apply counts them.
pub(crate) fn fields_of(value: &Value, schema: Option<Cursor<'_>>) -> FieldSet {
    let mut out = FieldSet::new();
    if let Value::Object(map) = value {
        collect_object(map, schema, &mut Vec::new(), &mut out);
    }
    out
}

fn is_atomic_map(schema: Option<Cursor<'_>>) -> bool {
    schema.is_some_and(|s| s.is_atomic_map())
}

fn collect_object(
    map: &Map<String, Value>,
    schema: Option<Cursor<'_>>,
    path: &mut FieldPath,
    out: &mut FieldSet,
) {
    for (key, child) in map {
        if child.is_null() {
            continue;
        }
        path.push(format!("f:{key}"));
        collect_field(child, schema.and_then(|s| s.child(key)), path, out);
        path.pop();
    }
}

fn collect_field(
    value: &Value,
    schema: Option<Cursor<'_>>,
    path: &mut FieldPath,
    out: &mut FieldSet,
) {
    match value {
        Value::Object(map) if !map.is_empty() && !is_atomic_map(schema) => {
            collect_object(map, schema, path, out);
        }
        Value::Array(items) => {
            let list_type = schema.map_or(ListType::Atomic, |s| s.list_type());
            match list_type {
                ListType::Map(keys) if !keys.is_empty() => {
                    let elements: Option<Vec<String>> =
                        items.iter().map(|item| key_element(item, &keys)).collect();
                    let Some(elements) = elements else {
                        out.insert(path.clone());
                        return;
                    };
                    let item_schema = schema.and_then(|s| s.items());
                    for (item, element) in items.iter().zip(elements) {
                        path.push(element);
                        out.insert(path.clone());
                        if let Value::Object(item_map) = item {
                            collect_object(item_map, item_schema, path, out);
                        }
                        path.pop();
                    }
                }
                ListType::Set => {
                    for item in items {
                        path.push(format!("v:{item}"));
                        out.insert(path.clone());
                        path.pop();
                    }
                }
                _ => {
                    out.insert(path.clone());
                }
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The first place where `value` does not fit its schema as structured-merge-diff types it: a
/// list-map item without one of its list's key fields, or a number field holding something
/// else, described as the API server describes it (`.spec.ports: element 0: associative list
/// with keys has an element that omits key field "name" (and doesn't have default value)`,
/// `.spec.replicas: expected numeric (int or float), got string`).
pub(crate) fn typing_error(value: &Value, schema: Option<Cursor<'_>>) -> Option<String> {
    fn walk(value: &Value, schema: Option<Cursor<'_>>, path: &str) -> Option<String> {
        match value {
            Value::Object(map) => map.iter().find_map(|(key, child)| {
                walk(
                    child,
                    schema.and_then(|s| s.child(key)),
                    &format!("{path}.{key}"),
                )
            }),
            Value::Array(items) => {
                let schema = schema?;
                let ListType::Map(keys) = schema.list_type() else {
                    let item_schema = schema.items();
                    return items.iter().find_map(|item| walk(item, item_schema, path));
                };
                let item_schema = schema.items();
                items.iter().enumerate().find_map(|(index, item)| {
                    if let Some(key) = keys.iter().find(|k| key_value(item, k).is_none()) {
                        return Some(format!(
                            "{path}: element {index}: associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                        ));
                    }
                    let selector: Vec<String> = keys
                        .iter()
                        .filter_map(|k| key_value(item, k).map(|v| format!("{k}={v}")))
                        .collect();
                    walk(item, item_schema, &format!("{path}[{}]", selector.join(",")))
                })
            }
            Value::String(_) | Value::Bool(_) => {
                let numeric = schema
                    .map(Cursor::resolved)
                    .and_then(|s| s.schema.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t == "integer" || t == "number");
                // `%T` of what was sent.
                let sent = if value.is_string() { "string" } else { "bool" };
                numeric.then(|| format!("{path}: expected numeric (int or float), got {sent}"))
            }
            _ => None,
        }
    }
    walk(value, schema, "")
}

/// How a path element selects within a value.
enum Selector {
    Field(String),
    Key(Map<String, Value>),
    Item(Value),
}

fn selector(element: &str) -> Option<Selector> {
    if let Some(field) = element.strip_prefix("f:") {
        return Some(Selector::Field(field.to_string()));
    }
    if let Some(key) = element.strip_prefix("k:") {
        return match serde_json::from_str(key) {
            Ok(Value::Object(map)) => Some(Selector::Key(map)),
            _ => None,
        };
    }
    if let Some(item) = element.strip_prefix("v:") {
        return serde_json::from_str(item).ok().map(Selector::Item);
    }
    None
}

fn matches_key(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter()
        .all(|(k, v)| key_value(item, k).as_ref() == Some(v))
}

/// The value at `path` in `value`.
pub(crate) fn value_at<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut current = value;
    for element in path {
        current = match selector(element)? {
            Selector::Field(field) => current.get(&field)?,
            Selector::Key(key) => current
                .as_array()?
                .iter()
                .find(|item| matches_key(item, &key))?,
            Selector::Item(wanted) => current.as_array()?.iter().find(|item| **item == wanted)?,
        };
    }
    Some(current)
}

fn value_at_mut<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut current = value;
    for element in path {
        current = match selector(element)? {
            Selector::Field(field) => current.get_mut(&field)?,
            Selector::Key(key) => current
                .as_array_mut()?
                .iter_mut()
                .find(|item| matches_key(item, &key))?,
            Selector::Item(wanted) => current
                .as_array_mut()?
                .iter_mut()
                .find(|item| **item == wanted)?,
        };
    }
    Some(current)
}

/// Removes the field, list item or set member at `path`; nothing when it is not there.
pub(crate) fn remove_at(value: &mut Value, path: &[String]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let Some(parent) = value_at_mut(value, parent_path) else {
        return;
    };
    match selector(last) {
        Some(Selector::Field(field)) => {
            if let Value::Object(map) = parent {
                map.remove(&field);
            }
        }
        Some(Selector::Key(key)) => {
            if let Value::Array(items) = parent {
                items.retain(|item| !matches_key(item, &key));
            }
        }
        Some(Selector::Item(wanted)) => {
            if let Value::Array(items) = parent {
                items.retain(|item| *item != wanted);
            }
        }
        None => {}
    }
}

/// The fields whose value differs between `old` and `new`: set, changed or removed. A list item
/// or set member counts as changed only when it appears or disappears (changes inside an item
/// are changes of the item's own fields).
pub(crate) fn changed_fields(old: &Value, new: &Value, schema: Option<Cursor<'_>>) -> FieldSet {
    let before = fields_of(old, schema);
    let after = fields_of(new, schema);
    before
        .union(&after)
        .filter(|path| {
            let (a, b) = (value_at(old, path), value_at(new, path));
            let item = path
                .last()
                .is_some_and(|e| e.starts_with("k:") || e.starts_with("v:"));
            if item {
                a.is_some() != b.is_some()
            } else {
                a != b
            }
        })
        .cloned()
        .collect()
}

/// `true` when `path` or anything under it is in `set`.
pub(crate) fn owns_within(set: &FieldSet, path: &[String]) -> bool {
    set.range(path.to_vec()..)
        .next()
        .is_some_and(|p| p.starts_with(path))
}

/// Human form of a path, as conflict messages print it: `.spec.containers[name="app"].image`.
pub(crate) fn display(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        match selector(element) {
            Some(Selector::Field(field)) => {
                out.push('.');
                out.push_str(&field);
            }
            Some(Selector::Key(key)) => {
                let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
            Some(Selector::Item(item)) => out.push_str(&format!("[={item}]")),
            None => out.push_str(element),
        }
    }
    out
}
