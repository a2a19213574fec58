//! Server-side Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the
//! columns `kubectl get` prints, computed the way the real API server's printers compute them.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use http::Response;
use http_body::Frame;
use http_body_util::BodyExt;

use super::ResponseBody;
use super::objects::{Query, Target};
use crate::errors::ApiError;
use crate::store::{ObjRef, State};

mod builtin;

/// The `meta.k8s.io` version of Table the client asked for, if it asked for one.
///
/// Clients list media types in order of preference; the first Table type we can serve wins.
pub(crate) fn requested_version(accept: &str) -> Option<&'static str> {
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        if essence != "application/json" && essence != "*/*" {
            continue;
        }
        let (mut is_table, mut group, mut version) = (false, "", "");
        for p in parts {
            match p.split_once('=') {
                Some(("as", v)) => is_table = v == "Table",
                Some(("g", v)) => group = v,
                Some(("v", v)) => version = v,
                _ => {}
            }
        }
        if is_table && group == "meta.k8s.io" {
            match version {
                "v1" => return Some("v1"),
                "v1beta1" => return Some("v1beta1"),
                _ => {}
            }
        }
    }
    None
}

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Include {
    None,
    Metadata,
    Object,
}

fn include(q: &Query) -> Result<Include, ApiError> {
    match q.get("includeObject").map(String::as_str) {
        None | Some("") | Some("Metadata") => Ok(Include::Metadata),
        Some("None") => Ok(Include::None),
        Some("Object") => Ok(Include::Object),
        // `ValidateTableOptions`, wrapped by the handler's `optionsForTransform`.
        Some(other) => Err(ApiError::bad_request(format!(
            "Unable to convert to Table as requested: includeObject: Invalid value: {}: must be 'Metadata', 'Object', 'None', or empty",
            crate::validate::quote(other)
        ))),
    }
}

/// One column: its definition and how to compute its cell from an object.
struct Column {
    name: String,
    ty: &'static str,
    format: &'static str,
    description: String,
    priority: i64,
    cell: Cell,
}

enum Cell {
    Name,
    Age,
    /// The creation timestamp itself, as the default printer's "Created At" shows it.
    CreatedAt,
    /// A CRD printer column: a JSONPath and its declared type.
    Path(Vec<Step>, String),
    Builtin(fn(&Value) -> Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    /// `[?(@.a.b=="x")]` (or `!=`): the first element of an array whose field at `path` equals
    /// (or differs from) `value`, as the API server shows a printer column such as
    /// `.status.conditions[?(@.type=="Ready")].status`: the first result.
    Filter {
        path: Vec<String>,
        equal: bool,
        value: Value,
    },
}

/// `metav1.ObjectMeta{}.SwaggerDoc()["name"]`, the same text as the OpenAPI field description.
const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// `metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]`.
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn name_column() -> Column {
    Column {
        name: "Name".into(),
        ty: "string",
        format: "name",
        description: NAME_DESCRIPTION.into(),
        priority: 0,
        cell: Cell::Name,
    }
}

fn age_column() -> Column {
    Column {
        name: "Age".into(),
        ty: "string",
        format: "",
        description: AGE_DESCRIPTION.into(),
        priority: 0,
        cell: Cell::Age,
    }
}

fn builtin(name: &str, ty: &'static str, description: &str, f: fn(&Value) -> Value) -> Column {
    Column {
        name: name.into(),
        ty,
        format: "",
        description: description.into(),
        priority: 0,
        cell: Cell::Builtin(f),
    }
}

/// Renders a GET (one object) or LIST reply body as a Table.
pub(crate) fn render(
    st: &State,
    t: &Target,
    q: &Query,
    version: &str,
    body: &[u8],
) -> Result<Bytes, ApiError> {
    let include = include(q)?;
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            500,
            "InternalError",
            format!("stored object is not JSON: {e}"),
        )
    })?;
    let columns = columns(st, t)?;
    let (items, mut meta): (Vec<Value>, Map<String, Value>) = if t.name.is_some() {
        let mut meta = Map::new();
        if let Some(rv) = v.pointer("/metadata/resourceVersion") {
            meta.insert("resourceVersion".into(), rv.clone());
        }
        (vec![v], meta)
    } else {
        let meta = v
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let items = match v.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        (items, meta)
    };
    // A Table's ListMeta: an empty continue token (unstructured lists write one) is left out.
    meta.retain(|k, v| match k.as_str() {
        "continue" => v.as_str().is_some_and(|c| !c.is_empty()),
        "resourceVersion" | "remainingItemCount" => true,
        _ => false,
    });
    let table = Printer {
        columns,
        include,
        version: version.to_string(),
    }
    .table(Value::Object(meta), items);
    serde_json::to_vec(&table)
        .map(Bytes::from)
        .map_err(|e| ApiError::new(500, "InternalError", format!("cannot serialize table: {e}")))
}

/// What a Table needs besides the objects: the columns and what rows carry.
struct Printer {
    columns: Vec<Column>,
    include: Include,
    version: String,
}

impl Printer {
    fn table(&self, meta: Value, items: Vec<Value>) -> Value {
        let now = jiff::Timestamp::now();
        let rows: Vec<Value> = items.into_iter().map(|o| self.row(o, now)).collect();
        let defs: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "type": c.ty,
                    "format": c.format,
                    "description": c.description,
                    "priority": c.priority,
                })
            })
            .collect();
        json!({
            "kind": "Table",
            "apiVersion": format!("meta.k8s.io/{}", self.version),
            "metadata": meta,
            "columnDefinitions": defs,
            "rows": rows,
        })
    }

    fn row(&self, obj: Value, now: jiff::Timestamp) -> Value {
        let cells: Vec<Value> = self.columns.iter().map(|c| cell(c, &obj, now)).collect();
        let mut row = json!({ "cells": cells });
        match self.include {
            Include::None => {}
            Include::Metadata => {
                row["object"] = json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": format!("meta.k8s.io/{}", self.version),
                    "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
                });
            }
            Include::Object => row["object"] = obj,
        }
        row
    }

    /// One watch event with its object as a one-row Table (bookmarks and errors pass through
    /// as they are, as the real server sends them); `headers` is whether this is the
    /// first object of the stream, the only one whose Table carries the column definitions
    /// (upstream sets `NoHeaders` after it, which leaves them `null`).
    fn watch_line(&self, line: Bytes, headers: &mut bool) -> Bytes {
        let Ok(mut event) = serde_json::from_slice::<Value>(&line) else {
            return line;
        };
        if !matches!(
            event.get("type").and_then(Value::as_str),
            Some("ADDED" | "MODIFIED" | "DELETED")
        ) {
            return line;
        }
        let Some(obj) = event.get_mut("object").map(Value::take) else {
            return line;
        };
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        event["object"] = self.table(json!({ "resourceVersion": rv }), vec![obj]);
        if !std::mem::replace(headers, false) {
            event["object"]["columnDefinitions"] = Value::Null;
        }
        let mut out = serde_json::to_vec(&event).unwrap_or_default();
        out.push(b'\n');
        Bytes::from(out)
    }
}

/// A watch asked for as Table: every object event carries a one-row Table, as with the real
/// server, the first with the column definitions (kubectl reuses the columns it printed the
/// list with).
pub(crate) fn watch(
    st: &State,
    t: &Target,
    q: &Query,
    version: &str,
    resp: Response<ResponseBody>,
) -> Result<Response<ResponseBody>, ApiError> {
    let printer = Printer {
        columns: columns(st, t)?,
        include: include(q)?,
        version: version.to_string(),
    };
    let mut headers = true;
    Ok(resp.map(move |body| {
        body.map_frame(move |frame| match frame.into_data() {
            Ok(line) => Frame::data(printer.watch_line(line, &mut headers)),
            Err(frame) => frame,
        })
        .boxed_unsync()
    }))
}

fn cell(c: &Column, obj: &Value, now: jiff::Timestamp) -> Value {
    match &c.cell {
        Cell::Name => obj
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null),
        Cell::Age => json!(age(
            obj.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
            now
        )),
        Cell::CreatedAt => obj
            .pointer("/metadata/creationTimestamp")
            .cloned()
            .unwrap_or(Value::Null),
        Cell::Path(steps, ty) => printer_cell(ty, select(obj, steps), now),
        Cell::Builtin(f) => f(obj),
    }
}

/// The age of a timestamp as kubectl prints it ("45s", "3m12s", "5h", "2d3h", ...).
pub(super) fn age(created: Option<&str>, now: jiff::Timestamp) -> String {
    let Some(ts) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    human_duration(now.as_second() - ts.as_second())
}

fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The columns for the target's type: a CRD's printer columns, or a built-in printer.
fn columns(st: &State, t: &Target) -> Result<Vec<Column>, ApiError> {
    if st.buckets[t.bucket].custom {
        crd_columns(st, t)
    } else {
        builtin::columns(&t.ty)
    }
}

/// A custom resource's columns: Name, then the served version's `additionalPrinterColumns`
/// (which default to a single `Age` date column, as the real API server defaults them).
fn crd_columns(st: &State, t: &Target) -> Result<Vec<Column>, ApiError> {
    let crd_name = format!("{}.{}", t.ty.plural, t.ty.group);
    let crd = st
        .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .and_then(|bucket| {
            st.get(&ObjRef {
                bucket,
                ns: String::new(),
                name: crd_name.clone(),
            })
        })
        .and_then(|s| serde_json::from_slice::<Value>(&s.json).ok());
    let declared: Vec<Value> = crd
        .as_ref()
        .and_then(|crd| crd.pointer("/spec/versions"))
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(t.ty.version.as_str()))
        })
        .and_then(|v| v.get("additionalPrinterColumns"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut cols = vec![name_column()];
    if declared.is_empty() {
        cols.push(Column {
            name: "Age".into(),
            ty: "date",
            format: "",
            description: AGE_DESCRIPTION.into(),
            priority: 0,
            cell: Cell::Path(parse_path(".metadata.creationTimestamp")?, "date".into()),
        });
        return Ok(cols);
    }
    for (i, c) in declared.iter().enumerate() {
        let field = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("");
        let ty = match field("type") {
            "integer" => "integer",
            "number" => "number",
            "boolean" => "boolean",
            "date" => "date",
            _ => "string",
        };
        let path = parse_path(field("jsonPath")).map_err(|e| {
            ApiError::new(500, "InternalError", format!(
                "customresourcedefinition {crd_name}: spec.versions[{}].additionalPrinterColumns[{i}].jsonPath: {}",
                t.ty.version, e.message
            ))
        })?;
        cols.push(Column {
            name: field("name").to_string(),
            ty,
            format: match field("format") {
                "int32" => "int32",
                "int64" => "int64",
                "float" => "float",
                "double" => "double",
                "byte" => "byte",
                "date" => "date",
                "date-time" => "date-time",
                "password" => "password",
                _ => "",
            },
            description: field("description").to_string(),
            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
            cell: Cell::Path(path, ty.to_string()),
        });
    }
    Ok(cols)
}

/// Parses the JSONPath subset printer columns use: `.a.b`, `.a[0].b`, `.a['b.c']`,
/// `.a[?(@.type=="Ready")].b`, optionally wrapped in `{...}`.
fn parse_path(path: &str) -> Result<Vec<Step>, ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("unsupported JSONPath {path:?}: {why}"));
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(p);
    let p = p.strip_prefix('$').unwrap_or(p);
    let b = p.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end] != b'.' && b[end] != b'[' {
                    end += 1;
                }
                if end == start {
                    return Err(bad("empty field name"));
                }
                steps.push(Step::Field(p[start..end].to_string()));
                i = end;
            }
            b'[' => {
                let close = p[i..]
                    .find(']')
                    .map(|c| c + i)
                    .ok_or_else(|| bad("unclosed '['"))?;
                let inner = p[i + 1..close].trim();
                if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    steps.push(Step::Field(q.to_string()));
                } else if inner.starts_with('?') {
                    steps.push(parse_filter(inner).ok_or_else(|| {
                        bad("a filter must read ?(@.field==\"value\") or ?(@.field!=\"value\")")
                    })?);
                } else {
                    let n = inner.parse::<usize>().map_err(|_| {
                        bad("only numeric indexes, quoted names and ?(@.field==\"value\") filters are supported")
                    })?;
                    steps.push(Step::Index(n));
                }
                i = close + 1;
            }
            _ => return Err(bad("expected '.' or '['")),
        }
    }
    if steps.is_empty() {
        return Err(bad("empty path"));
    }
    Ok(steps)
}

/// `?(@.a.b=="x")`, `?(@.a!='x')`, `?(@.n==3)`: an equality test of a field against a literal.
fn parse_filter(inner: &str) -> Option<Step> {
    let expr = inner.strip_prefix("?(")?.strip_suffix(')')?.trim();
    let (lhs, rhs, equal) = match (expr.split_once("=="), expr.split_once("!=")) {
        (Some((l, r)), _) => (l, r, true),
        (None, Some((l, r))) => (l, r, false),
        (None, None) => return None,
    };
    let path: Vec<String> = lhs
        .trim()
        .strip_prefix("@.")?
        .split('.')
        .map(str::to_string)
        .collect();
    if path.iter().any(String::is_empty) {
        return None;
    }
    let rhs = rhs.trim();
    let value = match rhs
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| rhs.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
    {
        Some(text) => Value::String(text.to_string()),
        None => serde_json::from_str::<Value>(rhs)
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())?,
    };
    Some(Step::Filter { path, equal, value })
}

fn select<'a>(obj: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(obj, |v, s| match s {
        Step::Field(f) => v.get(f.as_str()),
        Step::Index(n) => v.get(*n),
        Step::Filter { path, equal, value } => v.as_array()?.iter().find(|item| {
            path.iter()
                .try_fold(*item, |x, f| x.get(f.as_str()))
                .is_some_and(|field| (field == value) == *equal)
        }),
    })
}

/// A printer column's cell: the value if it has the column's type, else empty, as the real API
/// server does. Dates become ages ("5m") on the server: kubectl prints cells verbatim.
fn printer_cell(ty: &str, v: Option<&Value>, now: jiff::Timestamp) -> Value {
    let Some(v) = v else { return Value::Null };
    match ty {
        "integer" => v
            .as_i64()
            .map(Value::from)
            .or_else(|| v.as_f64().map(|f| Value::from(f as i64)))
            .unwrap_or(Value::Null),
        "number" => v.as_f64().map(Value::from).unwrap_or(Value::Null),
        "boolean" => v.as_bool().map(Value::from).unwrap_or(Value::Null),
        "date" => match v.as_str() {
            Some(s) => match s.parse::<jiff::Timestamp>() {
                Ok(ts) => json!(human_duration(now.as_second() - ts.as_second())),
                Err(_) => json!("<invalid>"),
            },
            None => Value::Null,
        },
        _ => match v {
            Value::String(s) => json!(s),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_table_version_kubectl_accepts() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(requested_version(kubectl), Some("v1"));
        assert_eq!(
            requested_version("application/json;as=Table;v=v1beta1;g=meta.k8s.io"),
            Some("v1beta1")
        );
        assert_eq!(requested_version("application/json"), None);
        assert_eq!(
            requested_version("application/json;as=Table;v=v2;g=meta.k8s.io, application/json"),
            None
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(30 * 60), "30m");
        assert_eq!(human_duration(5 * 3600 + 60), "5h1m");
        assert_eq!(human_duration(20 * 3600), "20h");
        assert_eq!(human_duration(2 * 86400 + 3 * 3600), "2d3h");
        assert_eq!(human_duration(30 * 86400), "30d");
    }

    #[test]
    fn json_path_subset() {
        let o = json!({"spec": {"ports": [{"port": 80}], "a.b": 1}});
        let steps = parse_path(".spec.ports[0].port").expect("valid path");
        assert_eq!(select(&o, &steps), Some(&json!(80)));
        let steps = parse_path("{.spec['a.b']}").expect("valid path");
        assert_eq!(select(&o, &steps), Some(&json!(1)));
        assert!(parse_path("spec").is_err());
        assert!(parse_path(".spec[x]").is_err());
    }

    #[test]
    fn json_path_filters_pick_the_first_matching_element() {
        let o = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "generation": 2},
            {"type": "Synced", "status": "True", "generation": 3},
        ]}});
        let path = ".status.conditions[?(@.type==\"Synced\")].status";
        assert_eq!(select(&o, &parse_path(path).unwrap()), Some(&json!("True")));
        let path = "{.status.conditions[?(@.type != 'Ready')].type}";
        assert_eq!(
            select(&o, &parse_path(path).unwrap()),
            Some(&json!("Synced"))
        );
        let path = ".status.conditions[?(@.generation==2)].type";
        assert_eq!(
            select(&o, &parse_path(path).unwrap()),
            Some(&json!("Ready"))
        );
        // No match, or no array there: an empty cell, as on a real server.
        let path = ".status.conditions[?(@.type==\"Available\")].status";
        assert_eq!(select(&o, &parse_path(path).unwrap()), None);
        assert_eq!(
            select(&o, &parse_path(".status[?(@.type==\"Ready\")]").unwrap()),
            None
        );
        for unsupported in [
            ".a[?(@.type)]",
            ".a[?(@.type=~\"x\")]",
            ".a[?(type==\"x\")]",
            ".a[?(@.t==x)]",
        ] {
            assert!(parse_path(unsupported).is_err(), "{unsupported}");
        }
    }
}
