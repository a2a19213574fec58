//! Metadata-only answers (`Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`
//! and `...List`), which kube's `get_metadata`, `list_metadata` and `metadata_watcher` ask for:
//! each object reduced to its `metadata`, as upstream's `asPartialObjectMetadata(List)` does.

use bytes::Bytes;
use http::Response;
use http_body::Frame;
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use super::ResponseBody;
use super::objects::{Target, internal_package};
use crate::errors::ApiError;
use crate::registry::TypeSchema;

/// Which metadata-only form the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Partial {
    Object,
    List,
}

/// The metadata-only form the `Accept` header asks for first, if any (`meta.k8s.io/v1`).
pub(crate) fn requested(accept: &str) -> Option<Partial> {
    accept.split(',').find_map(|media| {
        let mut parts = media.split(';').map(str::trim);
        if parts.next() != Some("application/json") {
            return None;
        }
        let (mut shape, mut group, mut version) = (None, "", "");
        for p in parts {
            match p.split_once('=') {
                Some(("as", "PartialObjectMetadata")) => shape = Some(Partial::Object),
                Some(("as", "PartialObjectMetadataList")) => shape = Some(Partial::List),
                Some(("g", g)) => group = g,
                Some(("v", v)) => version = v,
                _ => {}
            }
        }
        shape.filter(|_| group == "meta.k8s.io" && version == "v1")
    })
}

fn partial(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Go's `%T` of the list the handler holds: the internal type, or unstructured.
fn list_type(t: &Target) -> String {
    match t.ty.schema {
        TypeSchema::Custom { .. } => "*unstructured.UnstructuredList".into(),
        TypeSchema::BuiltIn { .. } => {
            format!("*{}.{}List", internal_package(&t.ty.group), t.ty.kind)
        }
    }
}

/// A get or list answer in the asked-for form; asking for the other form is a `406`.
pub(crate) fn render(t: &Target, shape: Partial, body: &[u8]) -> Result<Bytes, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            500,
            "InternalError",
            format!("stored object is not JSON: {e}"),
        )
    })?;
    let is_list = value.get("items").is_some() && t.name.is_none();
    let out = match (shape, is_list) {
        (Partial::Object, false) => partial(&value),
        (Partial::List, true) => {
            let meta: Map<String, Value> = value
                .get("metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, v)| {
                            // A typed list omits an empty continue token.
                            *k != "continue" || v.as_str().is_some_and(|c| !c.is_empty())
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let items: Vec<Value> = value
                .get("items")
                .and_then(Value::as_array)
                .map(|items| items.iter().map(partial).collect())
                .unwrap_or_default();
            json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": items,
            })
        }
        (Partial::Object, true) => {
            return Err(not_acceptable(format!(
                "you requested PartialObjectMetadata, but the requested object is a list ({})",
                list_type(t)
            )));
        }
        (Partial::List, false) => {
            let object_type = match t.ty.schema {
                TypeSchema::Custom { .. } => "*unstructured.Unstructured".to_string(),
                TypeSchema::BuiltIn { .. } => {
                    format!("*{}.{}", internal_package(&t.ty.group), t.ty.kind)
                }
            };
            return Err(not_acceptable(format!(
                "you requested PartialObjectMetadataList, but the requested object is not a list ({object_type})"
            )));
        }
    };
    Ok(Bytes::from(serde_json::to_vec(&out).unwrap_or_default()))
}

fn not_acceptable(message: String) -> ApiError {
    ApiError::new(406, "NotAcceptable", message)
}

/// A watch asked for in metadata-only form: every event's object reduced to its metadata.
pub(crate) fn watch(resp: Response<ResponseBody>) -> Response<ResponseBody> {
    resp.map(|body| {
        body.map_frame(|frame| match frame.into_data() {
            Ok(line) => Frame::data(watch_line(line)),
            Err(frame) => frame,
        })
        .boxed_unsync()
    })
}

fn watch_line(line: Bytes) -> Bytes {
    let Ok(mut event) = serde_json::from_slice::<Value>(&line) else {
        return line;
    };
    if event.get("type").and_then(Value::as_str) == Some("ERROR") {
        return line;
    }
    let Some(object) = event.get("object") else {
        return line;
    };
    event["object"] = partial(object);
    let mut out = serde_json::to_vec(&event).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}
