//! Resource types for the patch engines' unit tests, built the way the registry builds them.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use serde_json::{Value, json};

use crate::registry::{ResourceType, Subresources, TypeSchema};

fn built_in(group: &str, kind: &str, plural: &str, schema: TypeSchema) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced: true,
        short_names: vec![],
        categories: vec![],
        verbs: [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
        .map(String::from)
        .to_vec(),
        storage_version: "v1".into(),
        subresources: Subresources {
            status: true,
            scale: false,
        },
        schema,
    }
}

macro_rules! schema_of {
    ($ty:ty) => {
        TypeSchema::BuiltIn {
            schema: |generator| generator.subschema_for::<$ty>(),
            decode: |value| {
                serde_json::from_value::<$ty>(value.clone())
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        }
    };
}

pub(crate) fn deployment() -> ResourceType {
    built_in("apps", "Deployment", "deployments", schema_of!(Deployment))
}

pub(crate) fn service() -> ResourceType {
    built_in("", "Service", "services", schema_of!(Service))
}

/// Pod registered with an inline root schema (`json_schema` rather than `subschema_for`), the
/// other way a registry can hand a schema over.
pub(crate) fn pod() -> ResourceType {
    built_in(
        "",
        "Pod",
        "pods",
        TypeSchema::BuiltIn {
            schema: <Pod as schemars::JsonSchema>::json_schema,
            decode: |value| {
                serde_json::from_value::<Pod>(value.clone())
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        },
    )
}

pub(crate) fn config_map() -> ResourceType {
    let mut rt = built_in("", "ConfigMap", "configmaps", schema_of!(ConfigMap));
    rt.subresources.status = false;
    rt
}

/// A namespaced custom resource `example.com/v1 Widget` with the given schema.
pub(crate) fn widget(schema: Value) -> ResourceType {
    let mut rt = built_in(
        "example.com",
        "Widget",
        "widgets",
        TypeSchema::Custom {
            open_api_v3_schema: schema,
        },
    );
    rt.singular = "widget".into();
    rt
}

/// A widget schema with a spec of known fields and a status.
pub(crate) fn widget_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}
                        }
                    },
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }
    })
}
