//! From an HTTP request to a response: routing, fault injection, the request log.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use super::objects::{self, Target};
use super::query::{Route, parse_query, route};
use super::{
    Inner, ResponseBody, delete, discovery, list, partial, scale, served_types, table, watch,
};
use crate::errors::ApiError;
use crate::faults::FaultTarget;
use crate::log::RequestRecord;
use crate::patch::PatchType;
use crate::protobuf;
use crate::registry::TypeSchema;
use crate::store::State;

/// kube-apiserver's `--max-request-body-bytes` default: the handlers read at most this much of
/// a body and refuse a longer one before decoding it.
const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

pub(crate) fn bytes_response(code: u16, body: Bytes) -> Response<ResponseBody> {
    let mut resp = Response::new(Full::new(body).map_err(|e| match e {}).boxed_unsync());
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn value_response(code: u16, v: &Value) -> Response<ResponseBody> {
    bytes_response(code, Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
}

pub(crate) fn error_response(err: &ApiError) -> Response<ResponseBody> {
    let mut resp = value_response(err.code, &err.body());
    if let Some(secs) = err.retry_after
        && let Ok(v) = http::HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    resp
}

/// Go's `http.NotFound`, the last handler of kube-apiserver's delegation chain: a plain-text
/// `404 page not found`, not a Status. Paths nothing claims end here (see [`unserved`]).
fn page_not_found() -> Response<ResponseBody> {
    let mut resp = bytes_response(404, Bytes::from_static(b"404 page not found\n"));
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Whether kube-apiserver's own go-restful container has a web service covering paths under
/// this group: `/api` for the core group, `/apis/{group}` (its group discovery service) for
/// every built-in group it serves. Custom resource groups are served by apiextensions'
/// handler instead, outside go-restful.
fn routed_group(st: &State, group: &str) -> bool {
    group.is_empty()
        || st
            .buckets
            .iter()
            .any(|b| !b.custom && b.types.iter().any(|t| t.group == group))
}

/// The answer for a path under `group` that names nothing served. Under a built-in group the
/// go-restful router finds no route and answers a JSON `404` Status; anywhere else (an unknown
/// group, or a CRD group whose resource, version or scope does not match, which apiextensions'
/// handler passes down the chain) the request reaches the NotFound handler and gets the
/// plain-text page. kube-rs turns that into an `Error::Api` with code 404; kubectl reports
/// unknown resource types from discovery before it asks.
fn unserved(st: &State, group: &str) -> Response<ResponseBody> {
    if routed_group(st, group) {
        error_response(&ApiError::no_route(404))
    } else {
        page_not_found()
    }
}

/// Resolves `/api/v1/...` or `/apis/g/v/...` against the served types.
fn resolve(
    st: &State,
    group: &str,
    version: &str,
    rest: &[String],
) -> Result<Target, Box<Response<ResponseBody>>> {
    let namespaced_form = rest.len() >= 3
        && rest[0] == "namespaces"
        && st
            .lookup(group, version, &rest[2])
            .is_some_and(|b| st.buckets[b].primary().namespaced);
    let (ns, plural, name, sub, extra) = if namespaced_form {
        (
            Some(rest[1].clone()),
            &rest[2],
            rest.get(3),
            rest.get(4),
            rest.len() > 5,
        )
    } else {
        (None, &rest[0], rest.get(1), rest.get(2), rest.len() > 3)
    };
    let missing = || Box::new(unserved(st, group));
    let bucket = st.lookup(group, version, plural).ok_or_else(missing)?;
    let ty = st.buckets[bucket]
        .types
        .iter()
        .find(|t| t.group == group && t.version == version)
        .cloned()
        .ok_or_else(missing)?;
    // A namespaced type is served without a namespace only as a collection (list and watch
    // across namespaces); there is no route for one of its objects at cluster level, and a
    // cluster-scoped type has no namespaced routes.
    if (!ty.namespaced && ns.is_some()) || (ty.namespaced && ns.is_none() && name.is_some()) {
        return Err(missing());
    }
    let custom = st.buckets[bucket].custom;
    let sub = match sub.map(String::as_str) {
        _ if extra && !custom => return Err(missing()),
        None => None,
        Some("status") if ty.subresources.status && !extra => Some("status".to_string()),
        Some("scale") if ty.subresources.scale && !extra => Some("scale".to_string()),
        // The namespace controller's finalize subresource: treated as an update of the namespace.
        Some("finalize") if ty.kind == "Namespace" && group.is_empty() && !extra => None,
        // apiextensions' handler answers an unknown subresource of a served custom resource
        // with its own NotFound Status naming the object.
        Some(_) if custom => {
            return Err(Box::new(error_response(&ApiError::not_found(
                group,
                &ty.plural,
                name.map(String::as_str).unwrap_or(""),
            ))));
        }
        Some(_) => return Err(missing()),
    };
    Ok(Target {
        bucket,
        ty,
        ns,
        name: name.cloned(),
        sub,
    })
}

fn body_name(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Meta {
        name: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Named {
        metadata: Option<Meta>,
    }
    serde_json::from_slice::<Named>(body)
        .ok()
        .and_then(|n| n.metadata)
        .and_then(|m| m.name)
}

fn audit_verb(method: &Method, has_name: bool, watch: bool) -> Option<&'static str> {
    Some(match (method.as_str(), has_name) {
        ("GET", true) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    })
}

/// The refusal for a verb the path has no route for, or `None` when it is served. Built-in
/// types are routed by go-restful, which installs a route only for the verbs the storage
/// implements (`discovery` lists the same verbs): others get its bare `405`. Custom resources
/// are routed by apiextensions' handler, which refuses namespaced objects outside a namespace
/// by passing them down to the NotFound page and answers `NewMethodNotSupported` for
/// subresource verbs it does not serve.
fn unrouted_verb(st: &State, t: &Target, verb: &str) -> Option<Response<ResponseBody>> {
    let custom = st.buckets[t.bucket].custom;
    let cluster_wide_collection = t.ty.namespaced && t.ns.is_none();
    if cluster_wide_collection && !matches!(verb, "list" | "watch") {
        return Some(if custom {
            page_not_found()
        } else {
            error_response(&ApiError::no_route(405))
        });
    }
    let allowed = match t.sub {
        // `status` and `scale` serve get, update and patch only.
        // (A watch parameter on a subresource read is left to the read, as before.)
        Some(_) => matches!(verb, "get" | "update" | "patch" | "watch"),
        None => t.ty.verbs.iter().any(|v| v == verb),
    };
    if allowed {
        None
    } else if custom && t.sub.is_some() {
        Some(error_response(&ApiError::method_not_supported(
            &t.ty.group,
            &t.ty.plural,
            verb,
        )))
    } else {
        Some(error_response(&ApiError::no_route(405)))
    }
}

pub(crate) async fn handle(
    inner: Arc<Inner>,
    parts: http::request::Parts,
    body: Bytes,
) -> Response<ResponseBody> {
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query());
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let user_agent = header(http::header::USER_AGENT);
    let content_type = header(http::header::CONTENT_TYPE);
    let accept = header(http::header::ACCEPT);
    let view = match table::requested_version(&accept) {
        Some(version) => View::Table(version),
        None => partial::requested(&accept).map_or(View::Json, View::Metadata),
    };
    let mut record = RequestRecord {
        verb: parts.method.as_str().to_ascii_lowercase(),
        path: path.clone(),
        resource: String::new(),
        namespace: None,
        name: None,
        subresource: None,
        status: 200,
        user_agent,
        time: SystemTime::now(),
        patch_type: None,
    };
    let response = match route(&path) {
        Route::Resource {
            group,
            version,
            rest,
        } => {
            resource_request(
                &inner,
                &parts.method,
                &group,
                &version,
                &rest,
                &query,
                &content_type,
                view,
                body,
                &mut record,
            )
            .await
        }
        Route::OpenApiV2 | Route::OpenApiV3Index | Route::OpenApiV3(..)
            if !accepts_json(&header(http::header::ACCEPT)) =>
        {
            // What kube-openapi answers when no accepted type is one it can produce: this
            // server has no protobuf form of the documents, so protobuf-only clients must ask
            // for JSON.
            bytes_response(406, Bytes::new())
        }
        other => non_resource(&inner, &parts.method, other),
    };
    record.status = response.status().as_u16();
    if inner.record_requests {
        inner.log.push(record);
    }
    response
}

/// Whether an `Accept` header admits `application/json` (an absent header does), matching media
/// ranges the way kube-openapi's handler does (type and subtype, each possibly `*`).
fn accepts_json(accept: &str) -> bool {
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').any(|clause| {
        let range = clause.split(';').next().unwrap_or("").trim();
        let (kind, sub) = range.split_once('/').unwrap_or((range, ""));
        (kind == "application" || kind == "*") && (sub == "json" || sub == "*")
    })
}

fn non_resource(inner: &Inner, method: &Method, r: Route) -> Response<ResponseBody> {
    let (types, unknown_group) = {
        let st = inner.lock();
        let types = served_types(&st);
        let unknown = match &r {
            Route::Group(g) => discovery::api_group(&types, g)
                .is_none()
                .then(|| unserved(&st, g)),
            Route::GroupVersion(g, v) => discovery::resource_list(&types, g, v)
                .is_none()
                .then(|| unserved(&st, g)),
            Route::Resource { .. } | Route::Unknown => Some(page_not_found()),
            _ => None,
        };
        (types, unknown)
    };
    // A path nothing serves is a 404 whatever the method, as the real router answers.
    if let Some(resp) = unknown_group {
        return resp;
    }
    if method != Method::GET {
        return error_response(&ApiError::no_route(405));
    }
    let doc = match r {
        Route::Version => Some(discovery::version()),
        Route::Healthz => return bytes_response(200, Bytes::from_static(b"ok")),
        Route::ApiVersions => Some(discovery::api_versions()),
        Route::ApiGroups => Some(discovery::api_groups(&types)),
        Route::Group(g) => discovery::api_group(&types, &g),
        Route::GroupVersion(g, v) => discovery::resource_list(&types, &g, &v),
        // The documents are large; the cached serialized forms avoid rebuilding them per request.
        Route::OpenApiV2 => return bytes_response(200, crate::openapi::v2_document_json(&types)),
        Route::OpenApiV3Index => Some(crate::openapi::v3_index(&types)),
        Route::OpenApiV3(g, v) => {
            return match crate::openapi::v3_group_version_json(&types, &g, &v) {
                Some(doc) => bytes_response(200, doc),
                None => error_response(&ApiError::no_route(404)),
            };
        }
        Route::Resource { .. } | Route::Unknown => None,
    };
    match doc {
        Some(d) => value_response(200, &d),
        None => page_not_found(),
    }
}

/// The form of the answer the `Accept` header asks for.
#[derive(Debug, Clone, Copy)]
enum View {
    Json,
    /// A `meta.k8s.io` Table of that version.
    Table(&'static str),
    /// `PartialObjectMetadata` or its list.
    Metadata(partial::Partial),
}

#[allow(clippy::too_many_arguments)]
async fn resource_request(
    inner: &Arc<Inner>,
    method: &Method,
    group: &str,
    version: &str,
    rest: &[String],
    query: &std::collections::HashMap<String, String>,
    content_type: &str,
    view: View,
    body: Bytes,
    record: &mut RequestRecord,
) -> Response<ResponseBody> {
    let table_version = match view {
        View::Table(version) => Some(version),
        _ => None,
    };
    let metadata_only = match view {
        View::Metadata(shape) => Some(shape),
        _ => None,
    };
    if rest.is_empty() {
        return non_resource(
            inner,
            method,
            Route::GroupVersion(group.to_string(), version.to_string()),
        );
    }
    // The deprecated `/watch/` paths upstream still serves (`/api/v1/watch/namespaces/{ns}/
    // configmaps[/{name}]`): a watch whatever the query says, of one object when named.
    let (rest, watch_path) = match rest.split_first() {
        Some((first, tail)) if first == "watch" && !tail.is_empty() => (tail, true),
        _ => (rest, false),
    };
    let resolved = resolve(&inner.lock(), group, version, rest);
    let t = match resolved {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    // The deprecated watch routes exist for collections and objects only, and only for GET.
    if watch_path && t.sub.is_some() {
        return error_response(&ApiError::no_route(404));
    }
    if watch_path && method != Method::GET {
        return error_response(&ApiError::no_route(405));
    }
    // A named GET is a get whatever its `watch` parameter: only collections are watched.
    let watch =
        watch_path || (t.name.is_none() && super::query::flag(query, "watch").unwrap_or(false));
    record.resource = t.ty.plural.clone();
    record.namespace = t.ns.clone();
    record.name = t.name.clone();
    record.subresource = t.sub.clone();
    let Some(verb) = audit_verb(method, t.name.is_some(), watch) else {
        return error_response(&ApiError::no_route(405));
    };
    record.verb = verb.to_string();
    if let Some(refusal) = unrouted_verb(&inner.lock(), &t, verb) {
        return refusal;
    }
    if body.len() > MAX_REQUEST_BODY_BYTES
        && matches!(
            verb,
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    {
        return error_response(&ApiError::request_entity_too_large(MAX_REQUEST_BODY_BYTES));
    }
    // kubectl's typed commands (`kubectl create deployment ...`) and client-go's typed clients
    // write in protobuf; everything past this point reads JSON.
    let body = if content_type.starts_with(protobuf::MEDIA_TYPE)
        && matches!(verb, "create" | "update" | "delete" | "deletecollection")
        && !body.is_empty()
    {
        // Custom resources are served in JSON and YAML only.
        if matches!(t.ty.schema, TypeSchema::Custom { .. }) {
            return error_response(&ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
            ));
        }
        match protobuf::to_json(&body) {
            Ok(json) => Bytes::from(json.to_string()),
            Err(e) => return error_response(&e),
        }
    } else if matches!(verb, "create" | "update") {
        match objects::json_body(&t, content_type, body) {
            Ok(body) => body,
            Err(e) => return error_response(&e),
        }
    } else {
        body
    };
    if verb == "create" {
        // Audit logs (and fault rules) name the created object, which only the body knows.
        record.name = body_name(&body);
    }
    if verb == "patch" {
        record.patch_type = PatchType::from_content_type(content_type);
    }
    // A write that names no manager is recorded under the client's user agent up to its first
    // `/` ("kubectl-client-side-apply/v1.32.0 ..." -> "kubectl-client-side-apply"), as the real
    // server does; apply patches still must name one.
    let mut query = query.clone();
    if matches!(verb, "create" | "update" | "patch")
        && record.patch_type != Some(PatchType::Apply)
        && query.get("fieldManager").is_none_or(String::is_empty)
        && let Some(agent) = record
            .user_agent
            .split('/')
            .next()
            .filter(|a| !a.is_empty())
    {
        query.insert("fieldManager".into(), agent.to_string());
    }
    let query = &query;
    let outcome = inner.faults.check(&FaultTarget {
        verb,
        resource: &t.ty.plural,
        namespace: t.ns.as_deref(),
        name: record.name.as_deref(),
    });
    if let Some(latency) = outcome.latency {
        tokio::time::sleep(latency).await;
    }
    if let Some(err) = outcome.error {
        return error_response(&err);
    }
    if verb == "watch" {
        let mut t = t;
        let mut q = query.clone();
        if let Some(name) = t.name.take() {
            // A watch path that names an object watches that one object; a field selector of
            // its own may only name the same one.
            let fields = match super::list::filter_for(&t, &q) {
                Ok(filter) => filter.fields,
                Err(e) => return error_response(&e),
            };
            if fields.is_empty() {
                q.insert("fieldSelector".into(), format!("metadata.name={name}"));
            } else if fields.requires_exact_match("metadata.name") != Some(name.as_str()) {
                return error_response(&ApiError::bad_request(
                    "fieldSelector metadata.name doesn't match requested name",
                ));
            }
        }
        let stream = watch::watch(inner.clone(), &t, &q);
        let stream = match view {
            View::Table(v) => stream.and_then(|r| table::watch(&inner.lock(), &t, &q, v, r)),
            View::Metadata(_) => stream.map(partial::watch),
            View::Json => stream,
        };
        return stream.unwrap_or_else(|e| error_response(&e));
    }
    if t.sub.as_deref() == Some("scale") {
        let result = match verb {
            "get" => scale::get(inner, &t),
            "update" => scale::update(inner, &t, &body, query),
            _ => scale::patch(inner, &t, &body, content_type, query),
        };
        return match result {
            Ok((code, bytes)) => bytes_response(code, bytes),
            Err(e) => error_response(&e),
        };
    }
    let (result, warnings) = match verb {
        "get" => (objects::get(inner, &t), Vec::new()),
        "list" => {
            let items = match table_version {
                Some(_) => list::Items::Whole,
                None => list::Items::OnTheWire,
            };
            (list::list(inner, &t, query, items), Vec::new())
        }
        "create" => objects::create(inner, &t, &body, query),
        "update" => objects::update(inner, &t, &body, query),
        "patch" => objects::patch(inner, &t, &body, content_type, query),
        "delete" => delete::delete(inner, &t, &body, query),
        _ => delete::delete_collection(inner, &t, &body, query),
    };
    let result = match (table_version, metadata_only) {
        (Some(v), _) if matches!(verb, "get" | "list") => result.and_then(|(code, bytes)| {
            Ok((code, table::render(&inner.lock(), &t, query, v, &bytes)?))
        }),
        (None, Some(shape)) if matches!(verb, "get" | "list") => {
            result.and_then(|(code, bytes)| Ok((code, partial::render(&t, shape, &bytes)?)))
        }
        _ => result,
    };
    let mut response = match result {
        Ok((code, bytes)) => bytes_response(code, bytes),
        Err(e) => error_response(&e),
    };
    for warning in warnings {
        // The header form of RFC 7234 warnings the real server sends: code 299, agent "-".
        if let Ok(v) = http::HeaderValue::from_str(&format!("299 - {warning:?}")) {
            response.headers_mut().append(http::header::WARNING, v);
        }
    }
    response
}
