//! The generated schemas of the built-in types, shared by the OpenAPI documents and the patch
//! engines, generated once per kind and then cached.
//!
//! Schemas come from k8s-openapi's `schemars` implementations (OpenAPI 3 settings, so references
//! read `#/components/schemas/<name>`), annotated with the list and patch extensions of
//! [`list_types`](super::list_types) that upstream documents carry and schemars output lacks.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::list_types::{ATOMIC_STRUCTS, EXTRA_MAP_KEYS, LIST_TYPES, ListKind, RETAIN_KEYS};
use crate::registry::{ResourceType, TypeSchema};

/// All built-in definitions generated so far, by definition name, plus the definition name of
/// each built-in kind's root schema.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// `io.k8s.api.core.v1.Pod` → schema, with references to `#/components/schemas/...`.
    pub(crate) definitions: Map<String, Value>,
    roots: HashMap<String, String>,
}

static CATALOG: RwLock<Option<Arc<Catalog>>> = RwLock::new(None);

fn type_key(resource: &ResourceType) -> String {
    format!("{}/{}/{}", resource.group, resource.version, resource.kind)
}

/// The upstream definition name of a built-in kind, used when the schema function returns the
/// schema inline rather than as a reference.
fn derived_definition_name(resource: &ResourceType) -> String {
    let group = if resource.group.is_empty() {
        "core"
    } else {
        resource.group.split('.').next().unwrap_or(&resource.group)
    };
    if group == "apiextensions" {
        format!(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{}.{}",
            resource.version, resource.kind
        )
    } else {
        format!("io.k8s.api.{group}.{}.{}", resource.version, resource.kind)
    }
}

impl Catalog {
    /// The catalog, extended with every built-in type in `types` not generated yet.
    pub(crate) fn for_types<'a>(types: impl IntoIterator<Item = &'a ResourceType>) -> Arc<Catalog> {
        let current = CATALOG
            .read()
            .map(|guard| guard.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
            .unwrap_or_default();
        let missing: Vec<&ResourceType> = types
            .into_iter()
            .filter(|t| matches!(t.schema, TypeSchema::BuiltIn { .. }))
            .filter(|t| !current.roots.contains_key(&type_key(t)))
            .collect();
        if missing.is_empty() && !current.definitions.is_empty() {
            return current;
        }
        let mut guard = CATALOG
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let base = guard.clone().unwrap_or_default();
        let mut next = Catalog {
            definitions: base.definitions.clone(),
            roots: base.roots.clone(),
        };
        if next.definitions.is_empty() {
            next.add_support_types();
        }
        for resource in missing {
            next.add(resource);
        }
        let next = Arc::new(next);
        *guard = Some(next.clone());
        next
    }

    fn add(&mut self, resource: &ResourceType) {
        let TypeSchema::BuiltIn { schema, .. } = &resource.schema else {
            return;
        };
        let mut generator = SchemaSettings::openapi3().into_generator();
        let mut root: Value = schema(&mut generator).to_value();
        let mut definitions = generator.take_definitions(true);
        for transform in generator.transforms_mut() {
            let mut as_schema = match schemars::Schema::try_from(root.clone()) {
                Ok(schema) => schema,
                Err(_) => break,
            };
            transform.transform(&mut as_schema);
            root = as_schema.to_value();
        }
        let name = match reference_name(&root) {
            Some(name) => name.to_string(),
            None => {
                let name = derived_definition_name(resource);
                definitions.insert(name.clone(), root);
                name
            }
        };
        for (def_name, mut definition) in definitions {
            if self.definitions.contains_key(&def_name) {
                continue;
            }
            annotate(&def_name, &mut definition);
            self.definitions.insert(def_name, definition);
        }
        // A kind registered under a name that an earlier kind already generated (shared types)
        // still needs its group-version-kind listed on the shared definition.
        if let Some(Value::Object(definition)) = self.definitions.get_mut(&name) {
            let gvk = json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
            let list = definition
                .entry("x-kubernetes-group-version-kind")
                .or_insert_with(|| json!([]));
            if let Value::Array(list) = list
                && !list.contains(&gvk)
            {
                list.push(gvk);
            }
        }
        self.roots.insert(type_key(resource), name);
    }

    /// The apimachinery types every group-version document refers to.
    fn add_support_types(&mut self) {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
        let mut generator = SchemaSettings::openapi3().into_generator();
        generator.subschema_for::<meta::ObjectMeta>();
        generator.subschema_for::<meta::ListMeta>();
        generator.subschema_for::<meta::Status>();
        generator.subschema_for::<meta::DeleteOptions>();
        generator.subschema_for::<meta::Patch>();
        for (def_name, mut definition) in generator.take_definitions(true) {
            annotate(&def_name, &mut definition);
            self.definitions.entry(def_name).or_insert(definition);
        }
    }

    /// The definition name of a built-in kind's schema, if it is in the catalog.
    pub(crate) fn root_name(&self, resource: &ResourceType) -> Option<&str> {
        self.roots.get(&type_key(resource)).map(String::as_str)
    }

    /// A cursor at the root schema of a built-in kind.
    pub(crate) fn root(&self, resource: &ResourceType) -> Option<Cursor<'_>> {
        let name = self.root_name(resource)?;
        let schema = self.definitions.get(name)?;
        Some(Cursor {
            definitions: Some(&self.definitions),
            schema,
        })
    }
}

/// The definition a `{"$ref": ...}` or `{"allOf": [{"$ref": ...}]}` schema points at.
pub(crate) fn reference_name(schema: &Value) -> Option<&str> {
    let reference = match schema.get("$ref") {
        Some(reference) => reference,
        None => schema.get("allOf")?.get(0)?.get("$ref")?,
    };
    reference.as_str()?.rsplit('/').next()
}

fn annotate(def_name: &str, definition: &mut Value) {
    if ATOMIC_STRUCTS.contains(&def_name)
        && let Value::Object(map) = definition
    {
        map.insert("x-kubernetes-map-type".into(), json!("atomic"));
    }
    let Some(Value::Object(properties)) = definition.get_mut("properties") else {
        return;
    };
    for (row_def, field, kind) in LIST_TYPES {
        if *row_def != def_name {
            continue;
        }
        let Some(Value::Object(property)) = properties.get_mut(*field) else {
            continue;
        };
        match kind {
            ListKind::Map(keys @ [first, ..]) => {
                let map_keys = EXTRA_MAP_KEYS
                    .iter()
                    .find(|(d, f, _)| *d == def_name && f == field)
                    .map_or(*keys, |(_, _, extra)| *extra);
                property.insert("x-kubernetes-list-type".into(), json!("map"));
                property.insert("x-kubernetes-list-map-keys".into(), json!(map_keys));
                property.insert("x-kubernetes-patch-merge-key".into(), json!(first));
                property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
            }
            // A keyed list without keys cannot merge by key: left atomic.
            ListKind::Map([]) => {}
            ListKind::Set => {
                property.insert("x-kubernetes-list-type".into(), json!("set"));
                property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
            }
            ListKind::AtomicMap => {
                property.insert("x-kubernetes-map-type".into(), json!("atomic"));
            }
        }
    }
    for (row_def, field) in RETAIN_KEYS {
        if *row_def != def_name {
            continue;
        }
        if let Some(Value::Object(property)) = properties.get_mut(*field) {
            let strategy = match property.get("x-kubernetes-patch-strategy") {
                Some(Value::String(s)) if s == "merge" => "merge,retainKeys",
                _ => "retainKeys",
            };
            property.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
        }
    }
}

/// A position in a schema: built-in schemas resolve references through the catalog, CRD schemas
/// are self-contained.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    definitions: Option<&'a Map<String, Value>>,
    /// The schema at this position, references not yet followed.
    pub(crate) schema: &'a Value,
}

impl<'a> Cursor<'a> {
    /// A cursor over a self-contained schema (a CRD's `openAPIV3Schema`).
    pub(crate) fn standalone(schema: &'a Value) -> Self {
        Cursor {
            definitions: None,
            schema,
        }
    }

    /// The schema this position describes, with references followed.
    pub(crate) fn resolved(self) -> Self {
        let mut current = self;
        for _ in 0..8 {
            let Some(name) = reference_name(current.schema) else {
                return current;
            };
            let Some(target) = current.definitions.and_then(|defs| defs.get(name)) else {
                return current;
            };
            current = Cursor {
                definitions: current.definitions,
                schema: target,
            };
        }
        current
    }

    /// The schema of property `field` of this object schema. The returned cursor sits on the
    /// property's own schema (where list and patch extensions live), not yet resolved.
    pub(crate) fn property(self, field: &str) -> Option<Self> {
        let resolved = self.resolved();
        let schema = resolved.schema.get("properties")?.get(field)?;
        Some(Cursor {
            definitions: resolved.definitions,
            schema,
        })
    }

    /// The schema of the values of a map (`additionalProperties`).
    pub(crate) fn additional(self) -> Option<Self> {
        let resolved = self.resolved();
        let schema = resolved.schema.get("additionalProperties")?;
        schema.is_object().then_some(Cursor {
            definitions: resolved.definitions,
            schema,
        })
    }

    /// The schema of a field of an object, whichever of `properties` or `additionalProperties`
    /// describes it.
    pub(crate) fn child(self, field: &str) -> Option<Self> {
        let resolved = self.resolved();
        resolved.property(field).or_else(|| resolved.additional())
    }

    /// The schema of the items of an array.
    pub(crate) fn items(self) -> Option<Self> {
        let resolved = self.resolved();
        let schema = resolved.schema.get("items")?;
        Some(Cursor {
            definitions: resolved.definitions,
            schema,
        })
    }

    /// An extension (`x-kubernetes-...`) on this position or, failing that, on the schema it
    /// refers to.
    pub(crate) fn extension(self, key: &str) -> Option<&'a Value> {
        self.schema
            .get(key)
            .or_else(|| self.resolved().schema.get(key))
    }

    /// The merge key of a list under strategic merge patch (`None`: the list is replaced).
    pub(crate) fn patch_merge_key(self) -> Option<&'a str> {
        self.extension("x-kubernetes-patch-merge-key")?.as_str()
    }

    /// The strategic-merge-patch strategy list (`merge`, `retainKeys`).
    pub(crate) fn patch_strategies(self) -> Vec<&'a str> {
        self.extension("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .map(|s| s.split(',').map(str::trim).collect())
            .unwrap_or_default()
    }

    /// The server-side-apply list type: `map` with keys, `set`, or atomic.
    pub(crate) fn list_type(self) -> ListType<'a> {
        match self
            .extension("x-kubernetes-list-type")
            .and_then(Value::as_str)
        {
            Some("map") => {
                let keys = self
                    .extension("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                ListType::Map(keys)
            }
            Some("set") => ListType::Set,
            _ => ListType::Atomic,
        }
    }

    /// `true` when a map is replaced as a whole under server-side apply.
    pub(crate) fn is_atomic_map(self) -> bool {
        matches!(
            self.extension("x-kubernetes-map-type")
                .and_then(Value::as_str),
            Some("atomic")
        ) || (self.extension("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
            && self.resolved().schema.get("properties").is_none())
    }
}

/// Server-side-apply list semantics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListType<'a> {
    /// Items identified by these key fields.
    Map(Vec<&'a str>),
    /// Distinct scalars.
    Set,
    /// Replaced whole, owned as one field.
    Atomic,
}
