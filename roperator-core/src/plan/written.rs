//! The handler's answer as the engine writes it: in the form the API server stores, where that
//! form is known in advance, so that the stored object compares equal to it after a restart as
//! well as right after the write, and a field the handler drops is removed where the server
//! keeps it.
//!
//! - A Secret's `stringData` is a write-only convenience: the API server merges its values into
//!   `data` (base64-encoded, replacing the same keys) and never stores `stringData`. The engine
//!   does the merge itself, so the live `data` is compared with `data`, and a key the handler
//!   stops returning is removed from `data`, where it lives.
//! - A Secret's `data` and a ConfigMap's `binaryData` are bytes, returned in standard padded
//!   base64 whatever the form sent: the engine writes that form.
//!
//! What cannot be known in advance (defaults, canonical quantities, allocated values, webhooks)
//! is told apart from drift when comparing (see [`compare`](super::compare)).

use k8s_openapi::ByteString;
use serde_json::{Map, Value};

use crate::k8s_type::K8sType;

/// `answer` (a desired child, validated and normalized) as the engine writes it.
pub(crate) fn as_written(child_type: K8sType, answer: &Value) -> Value {
    let mut written = answer.clone();
    match (child_type.api_version, child_type.kind) {
        ("v1", "Secret") => {
            fold_string_data(&mut written);
            canonical_bytes(written.get_mut("data"));
        }
        ("v1", "ConfigMap") => canonical_bytes(written.get_mut("binaryData")),
        _ => {}
    }
    written
}

/// Moves `stringData` into `data`, as the API server does.
fn fold_string_data(secret: &mut Value) {
    let Value::Object(object) = secret else {
        return;
    };
    let Some(Value::Object(strings)) = object.remove("stringData") else {
        return;
    };
    let data = object
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Value::Object(data) = data {
        for (key, value) in strings {
            let bytes = match value {
                Value::String(text) => text.into_bytes(),
                other => other.to_string().into_bytes(),
            };
            data.insert(key, encode(bytes));
        }
    }
}

/// Re-encodes each base64 value in the standard form; a value that is not base64 is left for
/// the API server to refuse, with its own message.
fn canonical_bytes(values: Option<&mut Value>) {
    let Some(Value::Object(values)) = values else {
        return;
    };
    for value in values.values_mut() {
        if let Ok(ByteString(bytes)) = serde_json::from_value::<ByteString>(value.clone()) {
            *value = encode(bytes);
        }
    }
}

fn encode(bytes: Vec<u8>) -> Value {
    serde_json::to_value(ByteString(bytes)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s_type::k8s_types;
    use serde_json::json;

    #[test]
    fn string_data_goes_into_data_and_wins_over_the_same_key() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "b2xk", "keep": "a2VlcA=="},
            "stringData": {"a": "new", "b": "plain"}});
        let written = as_written(k8s_types::core::v1::Secret, &secret);
        assert_eq!(
            written,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                "data": {"a": "bmV3", "b": "cGxhaW4=", "keep": "a2VlcA=="}})
        );
        let only_strings = json!({"stringData": {"k": "v"}});
        assert_eq!(
            as_written(k8s_types::core::v1::Secret, &only_strings),
            json!({"data": {"k": "dg=="}})
        );
    }

    #[test]
    fn bytes_are_written_in_the_form_the_server_returns() {
        let cm = json!({"binaryData": {"a": "aGk=", "bad": "not base64!"}, "data": {"t": "aGk"}});
        let written = as_written(k8s_types::core::v1::ConfigMap, &cm);
        assert_eq!(written["binaryData"]["a"], "aGk=");
        assert_eq!(written["binaryData"]["bad"], "not base64!");
        assert_eq!(written["data"]["t"], "aGk", "text data is not bytes");
        // Other kinds are written as returned.
        let other = json!({"stringData": {"k": "v"}});
        assert_eq!(as_written(k8s_types::core::v1::ConfigMap, &other), other);
    }
}
