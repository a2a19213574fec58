//! Building the documents: definitions reachable from each group-version's kinds, and one path
//! item per URL a kind is served at.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{Catalog, Documents, group_version_path};
use crate::registry::{ResourceType, TypeSchema};

const V3_REF: &str = "#/components/schemas/";
const V2_REF: &str = "#/definitions/";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const KUBERNETES_VERSION: &str = "v1.37.0";

/// Definitions that exist only for this set of types (custom kinds, list kinds), looked up before
/// the shared catalog.
struct Definitions<'a> {
    catalog: &'a Catalog,
    local: Map<String, Value>,
}

impl Definitions<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.local
            .get(name)
            .or_else(|| self.catalog.definitions.get(name))
    }

    /// `roots` and every definition they refer to, transitively.
    fn closure<'n>(&self, roots: impl IntoIterator<Item = &'n str>) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let mut pending: Vec<String> = roots.into_iter().map(str::to_string).collect();
        while let Some(name) = pending.pop() {
            if out.contains_key(&name) {
                continue;
            }
            let Some(definition) = self.get(&name) else {
                continue;
            };
            collect_refs(definition, &mut pending);
            out.insert(name, definition.clone());
        }
        out
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref"
                    && let Some(name) = child.as_str().and_then(|r| r.strip_prefix(V3_REF))
                {
                    out.push(name.to_string());
                } else {
                    collect_refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

fn gvk(resource: &ResourceType, kind: &str) -> Value {
    json!({"group": resource.group, "version": resource.version, "kind": kind})
}

/// The definition name upstream gives a custom kind: the group reversed, then version and kind.
fn custom_definition_name(resource: &ResourceType) -> String {
    let reversed: Vec<&str> = resource.group.split('.').rev().collect();
    format!(
        "{}.{}.{}",
        reversed.join("."),
        resource.version,
        resource.kind
    )
}

fn custom_definition(resource: &ResourceType, schema: &Value) -> Value {
    let mut definition = match schema {
        Value::Object(_) => schema.clone(),
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    if let Value::Object(map) = &mut definition {
        map.entry("type").or_insert_with(|| json!("object"));
        let properties = map.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(properties) = properties {
            properties.insert(
                "apiVersion".into(),
                json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}),
            );
            properties.insert(
                "kind".into(),
                json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}),
            );
            properties.insert(
                "metadata".into(),
                json!({"allOf": [{"$ref": format!("{V3_REF}{OBJECT_META}")}], "description": "Standard object's metadata."}),
            );
        }
        map.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([gvk(resource, &resource.kind)]),
        );
    }
    definition
}

fn list_definition(resource: &ResourceType, item: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {}.", resource.kind, resource.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": format!("{V3_REF}{item}")}},
            "kind": {"type": "string"},
            "metadata": {"allOf": [{"$ref": format!("{V3_REF}{LIST_META}")}]}
        },
        "x-kubernetes-group-version-kind": [gvk(resource, &format!("{}List", resource.kind))]
    })
}

/// What an operation does, as `x-kubernetes-action` names it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Get,
    List,
    Post,
    Put,
    Patch,
    Delete,
    DeleteCollection,
}

impl Action {
    fn method(self) -> &'static str {
        match self {
            Action::Get | Action::List => "get",
            Action::Post => "post",
            Action::Put => "put",
            Action::Patch => "patch",
            Action::Delete | Action::DeleteCollection => "delete",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::List => "list",
            Action::Post => "post",
            Action::Put => "put",
            Action::Patch => "patch",
            Action::Delete => "delete",
            Action::DeleteCollection => "deletecollection",
        }
    }

    fn id_verb(self) -> &'static str {
        match self {
            Action::Get => "read",
            Action::List => "list",
            Action::Post => "create",
            Action::Put => "replace",
            Action::Patch => "patch",
            Action::Delete => "delete",
            Action::DeleteCollection => "deleteCollection",
        }
    }

    fn query(self) -> &'static [&'static str] {
        const LIST: &[&str] = &[
            "allowWatchBookmarks",
            "continue",
            "fieldSelector",
            "labelSelector",
            "limit",
            "resourceVersion",
            "resourceVersionMatch",
            "sendInitialEvents",
            "timeoutSeconds",
            "watch",
        ];
        match self {
            Action::Get => &[],
            Action::List => LIST,
            Action::Post | Action::Put => &["dryRun", "fieldManager", "fieldValidation"],
            Action::Patch => &["dryRun", "fieldManager", "fieldValidation", "force"],
            Action::Delete => &[
                "dryRun",
                "gracePeriodSeconds",
                "orphanDependents",
                "propagationPolicy",
            ],
            Action::DeleteCollection => &[
                "continue",
                "dryRun",
                "fieldSelector",
                "gracePeriodSeconds",
                "labelSelector",
                "limit",
                "orphanDependents",
                "propagationPolicy",
                "resourceVersion",
                "resourceVersionMatch",
                "sendInitialEvents",
                "timeoutSeconds",
            ],
        }
    }
}

fn parameter_type(name: &str) -> &'static str {
    match name {
        "allowWatchBookmarks" | "force" | "watch" | "sendInitialEvents" | "orphanDependents" => {
            "boolean"
        }
        "limit" | "timeoutSeconds" | "gracePeriodSeconds" => "integer",
        _ => "string",
    }
}

/// One operation, rendered later in either OpenAPI dialect.
struct Operation {
    action: Action,
    id: String,
    gvk: Value,
    /// The definition returned.
    response: String,
    /// The definition of the request body, and its content types.
    body: Option<(String, Vec<&'static str>)>,
}

struct PathItem {
    path_parameters: Vec<&'static str>,
    operations: Vec<Operation>,
}

fn camel(segment: &str) -> String {
    let mut chars = segment.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn operation_group(resource: &ResourceType) -> String {
    if resource.group.is_empty() {
        return "Core".into();
    }
    let trimmed = resource
        .group
        .trim_end_matches(".k8s.io")
        .trim_end_matches(".io");
    trimmed.split('.').map(camel).collect()
}

fn paths_for(resource: &ResourceType, root: &str, list: &str) -> Vec<(String, PathItem)> {
    let prefix = format!(
        "/{}",
        group_version_path(&resource.group, &resource.version)
    );
    let scope = if resource.namespaced {
        "Namespaced"
    } else {
        ""
    };
    let id = |action: Action, suffix: &str| {
        format!(
            "{}{}{}{scope}{}{suffix}",
            action.id_verb(),
            operation_group(resource),
            camel(&resource.version),
            resource.kind
        )
    };
    let has = |verb: &str| resource.verbs.iter().any(|v| v == verb);
    let is_custom = matches!(resource.schema, TypeSchema::Custom { .. });
    let patch_types: Vec<&'static str> = if is_custom {
        vec![
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ]
    } else {
        vec![
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ]
    };
    let operation = |action: Action, suffix: &str| {
        let (response, body) = match action {
            Action::List => (list.to_string(), None),
            Action::Get => (root.to_string(), None),
            Action::Post | Action::Put => (
                root.to_string(),
                Some((
                    root.to_string(),
                    vec!["application/json", "application/yaml"],
                )),
            ),
            Action::Patch => (
                root.to_string(),
                Some((PATCH.to_string(), patch_types.clone())),
            ),
            Action::Delete | Action::DeleteCollection => (
                STATUS.to_string(),
                Some((DELETE_OPTIONS.to_string(), vec!["application/json"])),
            ),
        };
        Operation {
            action,
            id: id(action, suffix),
            gvk: gvk(resource, &resource.kind),
            response,
            body,
        }
    };

    let collection = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{prefix}/{}", resource.plural)
    };
    let scope_parameters: Vec<&'static str> = if resource.namespaced {
        vec!["namespace"]
    } else {
        vec![]
    };
    let mut out = Vec::new();

    let mut collection_ops = Vec::new();
    for (verb, action) in [
        ("list", Action::List),
        ("create", Action::Post),
        ("deletecollection", Action::DeleteCollection),
    ] {
        if has(verb) {
            collection_ops.push(operation(action, ""));
        }
    }
    out.push((
        collection.clone(),
        PathItem {
            path_parameters: scope_parameters.clone(),
            operations: collection_ops,
        },
    ));

    let mut item_ops = Vec::new();
    for (verb, action) in [
        ("get", Action::Get),
        ("update", Action::Put),
        ("patch", Action::Patch),
        ("delete", Action::Delete),
    ] {
        if has(verb) {
            item_ops.push(operation(action, ""));
        }
    }
    let mut item_parameters = vec!["name"];
    item_parameters.extend(scope_parameters.iter().copied());
    out.push((
        format!("{collection}/{{name}}"),
        PathItem {
            path_parameters: item_parameters.clone(),
            operations: item_ops,
        },
    ));

    if resource.subresources.status {
        let ops = [Action::Get, Action::Put, Action::Patch]
            .into_iter()
            .map(|action| operation(action, "Status"))
            .collect();
        out.push((
            format!("{collection}/{{name}}/status"),
            PathItem {
                path_parameters: item_parameters,
                operations: ops,
            },
        ));
    }

    if resource.namespaced && has("list") {
        let mut all = operation(Action::List, "ForAllNamespaces");
        all.id = format!(
            "list{}{}{}ForAllNamespaces",
            operation_group(resource),
            camel(&resource.version),
            resource.kind
        );
        out.push((
            format!("{prefix}/{}", resource.plural),
            PathItem {
                path_parameters: vec![],
                operations: vec![all],
            },
        ));
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    V2,
    V3,
}

fn reference(dialect: Dialect, name: &str) -> Value {
    match dialect {
        Dialect::V2 => json!({"$ref": format!("{V2_REF}{name}")}),
        Dialect::V3 => json!({"$ref": format!("{V3_REF}{name}")}),
    }
}

fn parameter(dialect: Dialect, name: &str, location: &str) -> Value {
    let kind = parameter_type(name);
    let mut p = json!({"name": name, "in": location, "uniqueItems": true});
    if location == "path" {
        p["required"] = json!(true);
    }
    match dialect {
        Dialect::V2 => p["type"] = json!(kind),
        Dialect::V3 => p["schema"] = json!({"type": kind}),
    }
    p
}

fn render_path(dialect: Dialect, item: &PathItem) -> Value {
    let mut rendered = Map::new();
    let mut shared: Vec<Value> = item
        .path_parameters
        .iter()
        .map(|name| parameter(dialect, name, "path"))
        .collect();
    shared.push(parameter(dialect, "pretty", "query"));
    rendered.insert("parameters".into(), Value::Array(shared));
    for op in &item.operations {
        let mut parameters: Vec<Value> = op
            .action
            .query()
            .iter()
            .map(|name| parameter(dialect, name, "query"))
            .collect();
        let mut out = json!({
            "operationId": op.id,
            "x-kubernetes-action": op.action.name(),
            "x-kubernetes-group-version-kind": op.gvk,
        });
        let ok = reference(dialect, &op.response);
        match dialect {
            Dialect::V2 => {
                if let Some((body, content_types)) = &op.body {
                    parameters.push(json!({"name": "body", "in": "body", "required": op.action != Action::Delete && op.action != Action::DeleteCollection, "schema": reference(dialect, body)}));
                    out["consumes"] = json!(content_types);
                }
                out["produces"] = json!(["application/json", "application/yaml"]);
                out["responses"] = json!({"200": {"description": "OK", "schema": ok}, "401": {"description": "Unauthorized"}});
                if matches!(op.action, Action::Post | Action::Put | Action::Patch) {
                    out["responses"]["201"] = json!({"description": "Created", "schema": ok});
                }
            }
            Dialect::V3 => {
                if let Some((body, content_types)) = &op.body {
                    let content: Map<String, Value> = content_types
                        .iter()
                        .map(|ct| (ct.to_string(), json!({"schema": reference(dialect, body)})))
                        .collect();
                    out["requestBody"] = json!({"content": content, "required": matches!(op.action, Action::Post | Action::Put | Action::Patch)});
                }
                let content =
                    json!({"application/json": {"schema": ok}, "application/yaml": {"schema": ok}});
                out["responses"] = json!({"200": {"description": "OK", "content": content}, "401": {"description": "Unauthorized"}});
                if matches!(op.action, Action::Post | Action::Put | Action::Patch) {
                    out["responses"]["201"] = json!({"description": "Created", "content": content});
                }
            }
        }
        out["parameters"] = Value::Array(parameters);
        rendered.insert(op.action.method().into(), out);
    }
    Value::Object(rendered)
}

/// A definition as Swagger 2.0 wants it: references under `#/definitions/`, `allOf` wrappers of a
/// single reference collapsed (v2 references take no siblings), no `nullable`.
fn to_v2(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(all_of)) = map.get("allOf")
                && all_of.len() == 1
                && let Some(Value::String(r)) = all_of[0].get("$ref")
            {
                return json!({"$ref": r.replacen(V3_REF, V2_REF, 1)});
            }
            if let Some(Value::String(r)) = map.get("$ref") {
                return json!({"$ref": r.replacen(V3_REF, V2_REF, 1)});
            }
            Value::Object(
                map.iter()
                    .filter(|(k, _)| k.as_str() != "nullable")
                    .map(|(k, v)| (k.clone(), to_v2(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v2).collect()),
        other => other.clone(),
    }
}

fn content_hash(bytes: &[u8]) -> String {
    // Two differently seeded passes make the hash long enough that clients caching documents by
    // URL never see a collision in practice.
    let mut first = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut first);
    let mut second = std::collections::hash_map::DefaultHasher::new();
    (bytes.len(), bytes).hash(&mut second);
    format!("{:016X}{:016X}", first.finish(), second.finish())
}

/// A group-version's definition roots and path items.
type GroupVersion = (BTreeSet<String>, Vec<(String, PathItem)>);

pub(super) fn generate(types: &[ResourceType]) -> Documents {
    let catalog = Catalog::for_types(types);
    let mut definitions = Definitions {
        catalog: &catalog,
        local: Map::new(),
    };
    // group-version path → (definition roots, path items)
    let mut groups: BTreeMap<String, GroupVersion> = BTreeMap::new();
    for resource in types {
        let root = match &resource.schema {
            TypeSchema::BuiltIn { .. } => match catalog.root_name(resource) {
                Some(name) => name.to_string(),
                None => continue,
            },
            TypeSchema::Custom { open_api_v3_schema } => {
                let name = custom_definition_name(resource);
                definitions.local.insert(
                    name.clone(),
                    custom_definition(resource, open_api_v3_schema),
                );
                name
            }
        };
        let list = format!("{root}List");
        if definitions.get(&list).is_none() {
            definitions
                .local
                .insert(list.clone(), list_definition(resource, &root));
        }
        let entry = groups
            .entry(group_version_path(&resource.group, &resource.version))
            .or_default();
        entry.0.insert(root.clone());
        entry.0.insert(list.clone());
        entry.1.extend(paths_for(resource, &root, &list));
    }

    let support = [STATUS, DELETE_OPTIONS, PATCH];
    let mut v3 = HashMap::new();
    let mut index = Map::new();
    let mut v2_roots = BTreeSet::new();
    let mut v2_paths = Map::new();
    for (gv, (roots, paths)) in &groups {
        let schemas = definitions.closure(roots.iter().map(String::as_str).chain(support));
        let rendered_paths: Map<String, Value> = paths
            .iter()
            .map(|(path, item)| (path.clone(), render_path(Dialect::V3, item)))
            .collect();
        let doc = json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
            "paths": rendered_paths,
            "components": {"schemas": schemas},
        });
        let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
        index.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", content_hash(&bytes))}),
        );
        v3.insert(gv.clone(), (doc, bytes));
        v2_roots.extend(roots.iter().cloned());
        for (path, item) in paths {
            v2_paths.insert(path.clone(), render_path(Dialect::V2, item));
        }
    }

    let v2_definitions: Map<String, Value> = definitions
        .closure(v2_roots.iter().map(String::as_str).chain(support))
        .into_iter()
        .map(|(name, definition)| (name, to_v2(&definition)))
        .collect();
    let v2 = json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": v2_paths,
        "definitions": v2_definitions,
    });
    let v2_json = Bytes::from(serde_json::to_vec(&v2).unwrap_or_default());
    Documents {
        v2,
        v2_json,
        v3_index: json!({"paths": index}),
        v3,
    }
}
