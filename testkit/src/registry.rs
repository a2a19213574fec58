//! What the server serves: one [`ResourceType`] per kind.
//!
//! Shared by the HTTP layer (routing, discovery), the patch engines (merge keys) and the OpenAPI
//! documents, so that all of them agree on what a type is.

use serde_json::Value;

/// Optional subresources a type serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subresources {
    /// `/status`: writes there change only `.status`; writes to the main resource leave it alone.
    pub status: bool,
    /// `/scale`.
    pub scale: bool,
}

/// Where the schema of a type comes from.
#[derive(Debug, Clone)]
pub enum TypeSchema {
    /// A k8s-openapi type: the schema is generated with `schemars`, and bodies must deserialize
    /// into the Rust type (`decode` returns the serde error message when they do not).
    BuiltIn {
        /// Generates the OpenAPI schema of the type (k8s-openapi's `schemars` feature).
        schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
        /// Checks that a JSON body decodes into the k8s-openapi type.
        decode: fn(&Value) -> Result<(), String>,
    },
    /// A custom resource: the served version's `schema.openAPIV3Schema` from its CRD.
    Custom {
        /// The structural schema; `Value::Null` when the CRD gives none.
        open_api_v3_schema: Value,
    },
}

/// One served kind at one version.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    /// Version within the group, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `ConfigMap`.
    pub kind: String,
    /// The lowercase plural used in URLs, e.g. `configmaps`.
    pub plural: String,
    /// The lowercase singular, e.g. `configmap`.
    pub singular: String,
    /// `true` for namespaced types, `false` for cluster-scoped ones.
    pub namespaced: bool,
    /// Short names such as `cm`.
    pub short_names: Vec<String>,
    /// Categories such as `all`.
    pub categories: Vec<String>,
    /// Verbs the type supports, as discovery lists them.
    pub verbs: Vec<String>,
    /// Served subresources.
    pub subresources: Subresources,
    /// Where the schema comes from.
    pub schema: TypeSchema,
}

impl ResourceType {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}
