//! Fixtures: loading YAML/JSON documents into the server, and builders for common objects.

use serde_json::Value;

use crate::server::{ApiServer, TestkitError};

pub(crate) fn load_documents(
    server: &ApiServer,
    text: &str,
    source_name: &str,
) -> Result<usize, TestkitError> {
    let _ = (server, text, source_name);
    Ok(0)
}

/// A ConfigMap in the default namespace with the given data.
pub fn configmap<'a>(
    name: &str,
    data: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> k8s_openapi::api::core::v1::ConfigMap {
    let data: std::collections::BTreeMap<String, String> = data
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    k8s_openapi::api::core::v1::ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

#[allow(dead_code)]
fn _unused(_: Value) {}
