//! Fixtures: loading YAML/JSON documents into the server, and builders for common objects.
//!
//! The builders return k8s-openapi types with only what a test usually needs; the namespace is
//! left unset so that `Api::namespaced(client, ns).create(..)` places them.
//!
//! ```
//! use roperator_testkit::fixtures;
//! let web = fixtures::deployment("web", "nginx:1.27", 2);
//! assert_eq!(web.spec.replicas, Some(2));
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use kube::api::ObjectMeta;
use serde_json::{Value, json};

use crate::server::{ApiServer, TestkitError};

/// Creates or replaces every object in `text` (multi-document YAML, a JSON object, or a `List`).
pub(crate) fn load_documents(
    server: &ApiServer,
    text: &str,
    source_name: &str,
) -> Result<usize, TestkitError> {
    let docs: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(v) => vec![v],
        Err(_) => serde_saphyr::from_multiple::<Value>(text).map_err(|e| TestkitError::Parse {
            source_name: source_name.to_string(),
            index: 0,
            message: e.to_string(),
        })?,
    };
    let mut count = 0;
    for (index, doc) in docs.into_iter().enumerate() {
        let items = match doc {
            Value::Null => continue,
            Value::Object(ref o)
                if o.get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                o.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            }
            Value::Object(_) => vec![doc],
            other => {
                return Err(TestkitError::Parse {
                    source_name: source_name.to_string(),
                    index,
                    message: format!("expected an object, found {other}"),
                });
            }
        };
        for item in items {
            server.apply_value(item)?;
            count += 1;
        }
    }
    Ok(count)
}

fn meta(name: &str, labels: Option<BTreeMap<String, String>>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels,
        ..Default::default()
    }
}

fn pairs<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    items
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A Namespace.
pub fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: meta(name, None),
        ..Default::default()
    }
}

/// A ConfigMap with the given data.
pub fn configmap<'a>(name: &str, data: impl IntoIterator<Item = (&'a str, &'a str)>) -> ConfigMap {
    ConfigMap {
        metadata: meta(name, None),
        data: Some(pairs(data)),
        ..Default::default()
    }
}

/// An Opaque Secret with the given string data.
pub fn secret<'a>(name: &str, data: impl IntoIterator<Item = (&'a str, &'a str)>) -> Secret {
    Secret {
        metadata: meta(name, None),
        string_data: Some(pairs(data)),
        type_: Some("Opaque".to_string()),
        ..Default::default()
    }
}

/// A Deployment of one container, selecting and labelling pods with `app: <name>`.
pub fn deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    let body = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]}
            }
        }
    });
    serde_json::from_value(body).unwrap_or_default()
}

/// A ClusterIP Service selecting `app: <selector_app>` on one TCP port.
pub fn service(name: &str, selector_app: &str, port: i32) -> Service {
    let body = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": selector_app}, "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
    });
    serde_json::from_value(body).unwrap_or_default()
}

/// Where `expected` is not included in `actual`: one line per difference, with its JSON path.
/// Objects match when every expected key matches; arrays match element by element over the
/// expected elements; anything else must be equal.
pub fn json_include_diff(actual: &Value, expected: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("$", actual, expected, &mut out);
    out
}

fn diff_at(path: &str, actual: &Value, expected: &Value, out: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => diff_at(&p, av, ev, out),
                    None => out.push(format!("{p}: missing, expected {ev}")),
                }
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if a.len() < e.len() {
                out.push(format!(
                    "{path}: expected at least {} elements, found {}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (av, ev)) in a.iter().zip(e).enumerate() {
                diff_at(&format!("{path}[{i}]"), av, ev, out);
            }
        }
        (a, e) if a == e => {}
        (a, e) => out.push(format!("{path}: expected {e}, found {a}")),
    }
}

/// Asserts that `expected` is included in `actual` (both anything `Serialize`), printing every
/// difference with its JSON path.
///
/// ```
/// use roperator_testkit::assert_json_include;
/// use serde_json::json;
/// assert_json_include!(actual: json!({"a": 1, "b": [1, 2]}), expected: json!({"b": [1]}));
/// ```
#[macro_export]
macro_rules! assert_json_include {
    (actual: $actual:expr, expected: $expected:expr $(,)?) => {{
        let actual = ::serde_json::to_value(&$actual).expect("actual value serializes to JSON");
        let expected =
            ::serde_json::to_value(&$expected).expect("expected value serializes to JSON");
        let diff = $crate::fixtures::json_include_diff(&actual, &expected);
        if !diff.is_empty() {
            panic!(
                "JSON inclusion failed:\n  {}\nactual:\n{}",
                diff.join("\n  "),
                ::serde_json::to_string_pretty(&actual).unwrap_or_default()
            );
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_paths() {
        let d = json_include_diff(
            &json!({"a": {"b": 1}, "l": [1]}),
            &json!({"a": {"b": 2, "c": 3}, "l": [1, 2]}),
        );
        assert_eq!(
            d,
            [
                "$.a.b: expected 2, found 1",
                "$.a.c: missing, expected 3",
                "$.l: expected at least 2 elements, found 1",
            ]
        );
    }

    #[test]
    #[should_panic(expected = "$.x: expected 2, found 1")]
    fn macro_panics_with_diff() {
        crate::assert_json_include!(actual: json!({"x": 1}), expected: json!({"x": 2}));
    }
}
