//! `ValidateConfigMap`, `ValidateSecret` and their update rules (`pkg/apis/core/validation`).

use serde_json::{Map, Value};

use super::{forbidden, invalid, names, quote, required, too_long};
use crate::schema::FieldCause;

/// `MaxSecretSize`, the limit of a ConfigMap's and a Secret's data (decoded bytes).
pub(crate) const MAX_DATA_BYTES: usize = 1024 * 1024;

const IMMUTABLE: &str = "field is immutable when `immutable` is set";

fn map<'a>(object: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    object.get(key).and_then(Value::as_object)
}

fn key_problems(section: &str, key: &str) -> Vec<FieldCause> {
    names::config_map_key(key)
        .into_iter()
        .map(|msg| invalid(&format!("{section}[{key}]"), &quote(key), &msg))
        .collect()
}

/// The length of a `[]byte` field as stored (its base64 decoded).
fn decoded_len(value: &Value) -> usize {
    serde_json::from_value::<k8s_openapi::ByteString>(value.clone())
        .map(|b| b.0.len())
        .unwrap_or(0)
}

/// `ValidateConfigMap`: keys, no key in both `data` and `binaryData`, 1 MiB in total. (The
/// size error names no field: upstream reports it on the empty path.)
pub(super) fn config_map(object: &Value) -> Vec<FieldCause> {
    let empty = Map::new();
    let data = map(object, "data").unwrap_or(&empty);
    let binary = map(object, "binaryData").unwrap_or(&empty);
    let mut causes = Vec::new();
    let mut total = 0;
    for (key, value) in data {
        causes.extend(key_problems("data", key));
        if binary.contains_key(key) {
            causes.push(invalid(
                &format!("data[{key}]"),
                &quote(key),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.as_str().map_or(0, str::len);
    }
    for (key, value) in binary {
        causes.extend(key_problems("binaryData", key));
        if data.contains_key(key) {
            causes.push(invalid(
                &format!("binaryData[{key}]"),
                &quote(key),
                "duplicate of key present in data",
            ));
        }
        total += decoded_len(value);
    }
    if total > MAX_DATA_BYTES {
        causes.push(too_long("", MAX_DATA_BYTES));
    }
    causes
}

/// `ValidateSecret`: keys, 1 MiB of decoded data, and the keys each well-known type requires.
pub(super) fn secret(object: &Value) -> Vec<FieldCause> {
    let empty = Map::new();
    let data = map(object, "data").unwrap_or(&empty);
    let mut causes = Vec::new();
    let mut total = 0;
    for (key, value) in data {
        causes.extend(key_problems("data", key));
        total += decoded_len(value);
    }
    if total > MAX_DATA_BYTES {
        causes.push(too_long("data", MAX_DATA_BYTES));
    }
    let has = |key: &str| data.contains_key(key);
    let secret_type = object.get("type").and_then(Value::as_str).unwrap_or("");
    match secret_type {
        "kubernetes.io/service-account-token" => {
            let named = object
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if !named {
                causes.push(required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => causes.extend(json_key(data, ".dockercfg")),
        "kubernetes.io/dockerconfigjson" => causes.extend(json_key(data, ".dockerconfigjson")),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            causes.push(required("data[username]", ""));
            causes.push(required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth"
            if data
                .get("ssh-privatekey")
                .is_none_or(|v| decoded_len(v) == 0) =>
        {
            causes.push(required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    causes.push(required(&format!("data[{key}]"), ""));
                }
            }
        }
        _ => {}
    }
    causes
}

/// A docker config Secret must hold its key, as well-formed JSON.
fn json_key(data: &Map<String, Value>, key: &str) -> Vec<FieldCause> {
    let Some(value) = data.get(key) else {
        return vec![required(&format!("data[{key}]"), "")];
    };
    let bytes = serde_json::from_value::<k8s_openapi::ByteString>(value.clone())
        .map(|b| b.0)
        .unwrap_or_default();
    match serde_json::from_slice::<Map<String, Value>>(&bytes) {
        Ok(_) => Vec::new(),
        Err(e) => vec![invalid(
            &format!("data[{key}]"),
            "\"<secret contents redacted>\"",
            &e.to_string(),
        )],
    }
}

/// `ValidateConfigMapUpdate` / `ValidateSecretUpdate`: once `immutable: true`, the data and the
/// flag itself stay as they are (metadata may still change).
pub(super) fn immutable(new: &Value, old: &Value, sections: &[&str]) -> Vec<FieldCause> {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return Vec::new();
    }
    let mut causes = Vec::new();
    if new.get("immutable") != Some(&Value::Bool(true)) {
        causes.push(forbidden("immutable", IMMUTABLE));
    }
    for section in sections {
        // Absent and empty are one value once the server has stored them (Go drops empty maps).
        let content = |v: &Value| map(v, section).filter(|m| !m.is_empty()).cloned();
        if content(new) != content(old) {
            causes.push(forbidden(section, IMMUTABLE));
        }
    }
    causes
}
