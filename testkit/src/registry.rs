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
    /// The version objects of this kind are kept at (discovery's `storageVersionHash` names
    /// it): the type's own for built-in kinds, the CRD's `storage: true` version for custom ones.
    pub storage_version: String,
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

/// The verbs of a custom resource, in the order the CRD discovery controller lists them.
const CUSTOM_RESOURCE_VERBS: [&str; 8] = [
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

/// The verbs every served type supports.
pub(crate) const STANDARD_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

fn decode_as<T: serde::de::DeserializeOwned>(value: &Value) -> Result<(), String> {
    T::deserialize(value).map(|_| ()).map_err(|e| e.to_string())
}

fn is_namespaced<T: k8s_openapi::Resource>() -> bool
where
    T::Scope: 'static,
{
    std::any::TypeId::of::<T::Scope>()
        == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>()
}

fn builtin<T>(
    singular: &str,
    short: &[&str],
    categories: &[&str],
    status: bool,
    scale: bool,
) -> ResourceType
where
    T: k8s_openapi::Resource + schemars::JsonSchema + serde::de::DeserializeOwned,
    T::Scope: 'static,
{
    ResourceType {
        group: T::GROUP.to_string(),
        version: T::VERSION.to_string(),
        kind: T::KIND.to_string(),
        plural: T::URL_PATH_SEGMENT.to_string(),
        singular: singular.to_string(),
        namespaced: is_namespaced::<T>(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        verbs: STANDARD_VERBS.iter().map(|s| s.to_string()).collect(),
        storage_version: T::VERSION.to_string(),
        subresources: Subresources { status, scale },
        schema: TypeSchema::BuiltIn {
            schema: schema_of::<T>,
            decode: decode_as::<T>,
        },
    }
}

fn without_verb(mut t: ResourceType, verb: &str) -> ResourceType {
    t.verbs.retain(|v| v != verb);
    t
}

/// The built-in types served from the start, at their current API versions.
pub fn builtin_types() -> Vec<ResourceType> {
    use k8s_openapi::api::{
        admissionregistration, apps, autoscaling, batch, coordination, core, discovery, events,
        networking, policy, rbac, scheduling, storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    vec![
        // The namespace storage implements no CollectionDeleter: kube-apiserver installs no
        // deletecollection route for it (a DELETE on the collection is a 405) and discovery
        // does not list the verb.
        without_verb(
            builtin::<core::v1::Namespace>("namespace", &["ns"], &[], true, false),
            "deletecollection",
        ),
        builtin::<core::v1::Node>("node", &["no"], &[], true, false),
        builtin::<core::v1::PersistentVolume>("persistentvolume", &["pv"], &[], true, false),
        builtin::<core::v1::Pod>("pod", &["po"], &["all"], true, false),
        builtin::<core::v1::PodTemplate>("podtemplate", &[], &[], false, false),
        builtin::<core::v1::Service>("service", &["svc"], &["all"], true, false),
        builtin::<core::v1::Endpoints>("endpoints", &["ep"], &[], false, false),
        builtin::<core::v1::ConfigMap>("configmap", &["cm"], &[], false, false),
        builtin::<core::v1::Secret>("secret", &[], &[], false, false),
        builtin::<core::v1::ServiceAccount>("serviceaccount", &["sa"], &[], false, false),
        builtin::<core::v1::Event>("event", &["ev"], &[], false, false),
        builtin::<core::v1::PersistentVolumeClaim>(
            "persistentvolumeclaim",
            &["pvc"],
            &[],
            true,
            false,
        ),
        builtin::<core::v1::ResourceQuota>("resourcequota", &["quota"], &[], true, false),
        builtin::<core::v1::LimitRange>("limitrange", &["limits"], &[], false, false),
        builtin::<events::v1::Event>("event", &["ev"], &[], false, false),
        builtin::<apps::v1::Deployment>("deployment", &["deploy"], &["all"], true, true),
        builtin::<apps::v1::ReplicaSet>("replicaset", &["rs"], &["all"], true, true),
        builtin::<apps::v1::StatefulSet>("statefulset", &["sts"], &["all"], true, true),
        builtin::<apps::v1::DaemonSet>("daemonset", &["ds"], &["all"], true, false),
        builtin::<apps::v1::ControllerRevision>("controllerrevision", &[], &[], false, false),
        builtin::<batch::v1::Job>("job", &[], &["all"], true, false),
        builtin::<batch::v1::CronJob>("cronjob", &["cj"], &["all"], true, false),
        builtin::<autoscaling::v2::HorizontalPodAutoscaler>(
            "horizontalpodautoscaler",
            &["hpa"],
            &["all"],
            true,
            false,
        ),
        builtin::<networking::v1::Ingress>("ingress", &["ing"], &[], true, false),
        builtin::<networking::v1::IngressClass>("ingressclass", &[], &[], false, false),
        builtin::<networking::v1::NetworkPolicy>("networkpolicy", &["netpol"], &[], false, false),
        builtin::<discovery::v1::EndpointSlice>("endpointslice", &[], &[], false, false),
        builtin::<policy::v1::PodDisruptionBudget>(
            "poddisruptionbudget",
            &["pdb"],
            &[],
            true,
            false,
        ),
        builtin::<rbac::v1::Role>("role", &[], &[], false, false),
        builtin::<rbac::v1::RoleBinding>("rolebinding", &[], &[], false, false),
        builtin::<rbac::v1::ClusterRole>("clusterrole", &[], &[], false, false),
        builtin::<rbac::v1::ClusterRoleBinding>("clusterrolebinding", &[], &[], false, false),
        builtin::<coordination::v1::Lease>("lease", &[], &[], false, false),
        builtin::<scheduling::v1::PriorityClass>("priorityclass", &["pc"], &[], false, false),
        builtin::<storage::v1::StorageClass>("storageclass", &["sc"], &[], false, false),
        builtin::<admissionregistration::v1::MutatingWebhookConfiguration>(
            "mutatingwebhookconfiguration",
            &[],
            &["api-extensions"],
            false,
            false,
        ),
        builtin::<admissionregistration::v1::ValidatingWebhookConfiguration>(
            "validatingwebhookconfiguration",
            &[],
            &["api-extensions"],
            false,
            false,
        ),
        builtin::<apiext::CustomResourceDefinition>(
            "customresourcedefinition",
            &["crd", "crds"],
            &["api-extensions"],
            true,
            false,
        ),
    ]
}

/// Why a CRD cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrdError {
    /// A required field of the CRD is missing or has the wrong type.
    #[error("CustomResourceDefinition {name:?}: field {field} is required")]
    Missing {
        /// The CRD's `metadata.name` (may be empty).
        name: String,
        /// The missing field, e.g. `spec.names.plural`.
        field: String,
    },
    /// `metadata.name` is not `<plural>.<group>`.
    #[error(
        "CustomResourceDefinition {name:?}: metadata.name must be spec.names.plural+\".\"+spec.group ({expected:?})"
    )]
    Name {
        /// The CRD's `metadata.name`.
        name: String,
        /// What it must be.
        expected: String,
    },
}

/// The types a CRD (apiextensions.k8s.io/v1, as JSON) serves: one per served version.
pub fn crd_types(crd: &Value) -> Result<Vec<ResourceType>, CrdError> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let text = |ptr: &str, field: &str| -> Result<String, CrdError> {
        crd.pointer(ptr)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| CrdError::Missing {
                name: name.clone(),
                field: field.to_string(),
            })
    };
    let group = text("/spec/group", "spec.group")?;
    let plural = text("/spec/names/plural", "spec.names.plural")?;
    let kind = text("/spec/names/kind", "spec.names.kind")?;
    let scope = text("/spec/scope", "spec.scope")?;
    let expected = format!("{plural}.{group}");
    if name != expected {
        return Err(CrdError::Name { name, expected });
    }
    let singular = crd
        .pointer("/spec/names/singular")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let strings = |ptr: &str| -> Vec<String> {
        crd.pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CrdError::Missing {
            name: name.clone(),
            field: "spec.versions".into(),
        })?;
    let storage_version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .or(versions.first())
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut types = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let version = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| CrdError::Missing {
                name: name.clone(),
                field: format!("spec.versions[{i}].name"),
            })?;
        if !v.get("served").and_then(Value::as_bool).unwrap_or(false) {
            continue;
        }
        types.push(ResourceType {
            group: group.clone(),
            version: version.to_string(),
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced: scope == "Namespaced",
            short_names: strings("/spec/names/shortNames"),
            categories: strings("/spec/names/categories"),
            verbs: CUSTOM_RESOURCE_VERBS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            storage_version: storage_version.clone(),
            subresources: Subresources {
                status: v.pointer("/subresources/status").is_some(),
                scale: v.pointer("/subresources/scale").is_some(),
            },
            schema: TypeSchema::Custom {
                open_api_v3_schema: v
                    .pointer("/schema/openAPIV3Schema")
                    .cloned()
                    .unwrap_or(Value::Null),
            },
        });
    }
    Ok(types)
}
