//! `list`: selectors, paging with `limit` and `continue`.

use bytes::Bytes;
use serde_json::json;

use super::Inner;
use super::objects::{Query, Reply, Target, at_version};
use super::query::{hex_decode, hex_encode, integer};
use crate::errors::ApiError;
use crate::registry::TypeSchema;
use crate::selectors::{FieldLabels, FieldSelector, LabelSelector};
use crate::store::{Filter, State};

/// The list's filter from the query.
pub(crate) fn filter_for(t: &Target, q: &Query) -> Result<Filter, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        q.get("fieldSelector").map(String::as_str).unwrap_or(""),
        &t.ty.group,
        &t.ty.kind,
        match t.ty.schema {
            TypeSchema::BuiltIn { .. } => FieldLabels::BuiltIn,
            TypeSchema::Custom { .. } => FieldLabels::Custom {
                namespaced: t.ty.namespaced,
            },
        },
    )
    .map_err(ApiError::bad_request)?;
    Ok(Filter {
        bucket: t.bucket,
        ns: t.ns.clone(),
        labels,
        fields,
        view: None,
    })
}

/// `ValidateListOptions` (apimachinery's internalversion validation), for lists, watches and
/// deletecollection: `resourceVersionMatch` and `sendInitialEvents` only in the combinations
/// the server knows. A watch that names neither was already given both by the WatchList
/// defaulting (on in v1.32), which is why only explicit choices are checked.
pub(crate) fn validate_list_options(q: &Query, watch: bool) -> Result<(), ApiError> {
    let given = |k: &str| q.get(k).filter(|v| !v.is_empty());
    let rv_match = given("resourceVersionMatch").map(String::as_str);
    // A pointer in ListOptions: set by any value, even an empty one.
    let send_initial = q.contains_key("sendInitialEvents");
    let mut causes = Vec::new();
    let forbidden = |message: &str| {
        crate::errors::cause(
            "FieldValueForbidden",
            "resourceVersionMatch",
            format!("Forbidden: {message}"),
        )
    };
    let unsupported = |value: &str, supported: &str| {
        crate::errors::cause(
            "FieldValueNotSupported",
            "resourceVersionMatch",
            format!("Unsupported value: {value:?}: supported values: {supported}"),
        )
    };
    if watch {
        if send_initial && rv_match != Some("NotOlderThan") {
            causes.push(forbidden(
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if let Some(m) = rv_match {
            if !send_initial {
                causes.push(forbidden(
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if m != "NotOlderThan" {
                causes.push(unsupported(m, "\"NotOlderThan\""));
            }
            if given("continue").is_some() {
                causes.push(forbidden(
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
    } else {
        if let Some(m) = rv_match {
            let rv = given("resourceVersion");
            if rv.is_none() {
                causes.push(forbidden(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if given("continue").is_some() {
                causes.push(forbidden(
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if m != "Exact" && m != "NotOlderThan" {
                causes.push(unsupported(m, "\"Exact\", \"NotOlderThan\", \"\""));
            }
            if m == "Exact" && rv.is_some_and(|rv| rv == "0") {
                causes.push(forbidden(
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if send_initial {
            causes.push(crate::errors::cause(
                "FieldValueForbidden",
                "sendInitialEvents",
                "Forbidden: sendInitialEvents is forbidden for list",
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("ListOptions", "meta.k8s.io", "", &causes))
    }
}

/// How list items are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Items {
    /// As the JSON list a client gets: a built-in item without `apiVersion` and `kind`, which
    /// the real server only sets on the list itself (kubernetes/kubernetes#3030); custom
    /// objects, served as unstructured, keep theirs.
    OnTheWire,
    /// Whole, for the Table printer, whose rows may carry the objects.
    Whole,
}

pub(crate) fn list(inner: &Inner, t: &Target, q: &Query, items: Items) -> Reply {
    validate_list_options(q, false)?;
    let filter = filter_for(t, q)?;
    let rv = q.get("resourceVersion").filter(|v| !v.is_empty());
    let continues = q.get("continue").is_some_and(|c| !c.is_empty());
    // `resourceVersion=0` is served from the watch cache, which does not page; a list that
    // continues goes to etcd whatever its resource version.
    // A limit of zero or less is no limit.
    let limit = usize::try_from(integer(q, "limit")?.unwrap_or(0)).unwrap_or(0);
    let limit = if rv.is_some_and(|v| v == "0") && !continues {
        0
    } else {
        limit
    };
    let start: Option<(String, String)> = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(_) if rv.is_some_and(|v| v != "0") => {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        Some(token) => {
            let raw = hex_decode(token)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid continue token: continue key is not valid: illegal base64 data at input byte 0",
                    )
                })?;
            let (ns, name) = raw.split_once('\0').unwrap_or(("", &raw));
            Some((ns.to_string(), name.to_string()))
        }
        None => None,
    };
    let st = inner.lock();
    let bucket = &st.buckets[t.bucket];
    let ns = t.ns.clone();
    let lower = match (&start, &ns) {
        (Some(k), _) => std::ops::Bound::Excluded(k.clone()),
        (None, Some(ns)) => std::ops::Bound::Included((ns.clone(), String::new())),
        (None, None) => std::ops::Bound::Unbounded,
    };
    let mut out = Vec::with_capacity(1024);
    let mut count = 0usize;
    let mut last = None;
    for ((o_ns, o_name), s) in bucket.objects.range((lower, std::ops::Bound::Unbounded)) {
        if let Some(ns) = &ns
            && o_ns != ns
        {
            break;
        }
        if !filter.matches_bytes(&s.json) {
            continue;
        }
        push_item(&st, t, &s.json, items, &mut out);
        count += 1;
        if limit > 0 && count == limit {
            last = Some((o_ns.clone(), o_name.clone()));
            break;
        }
    }
    let meta = page_meta(&st, t, q, last);
    Ok((200, list_body(t, &meta, &out)))
}

/// A list's metadata. `last` is the key of the last item of a page that stopped at its limit:
/// etcd hands out a continue token (naming that key, so the next page starts after it) when
/// keys are left after it, whether or not they match the selectors (the next page may be
/// empty), and counts them only for an unfiltered list.
pub(crate) fn page_meta(
    st: &State,
    t: &Target,
    q: &Query,
    last: Option<(String, String)>,
) -> serde_json::Value {
    let mut meta = json!({"resourceVersion": st.rv.to_string()});
    if matches!(t.ty.schema, TypeSchema::Custom { .. }) {
        // An unstructured list's `SetContinue` writes the field even when it is empty.
        meta["continue"] = json!("");
    }
    let Some(last) = last else {
        return meta;
    };
    let token = hex_encode(format!("{}\0{}", last.0, last.1).as_bytes());
    let remaining = st.buckets[t.bucket]
        .objects
        .range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
        .take_while(|((n, _), _)| t.ns.as_ref().is_none_or(|ns| ns == n))
        .count();
    if remaining > 0 {
        meta["continue"] = json!(token);
        let unfiltered = ["labelSelector", "fieldSelector"]
            .iter()
            .all(|k| q.get(*k).is_none_or(String::is_empty));
        if unfiltered {
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    meta
}

/// Appends one stored object to the comma-separated `items` of a list.
pub(crate) fn push_item(st: &State, t: &Target, json: &Bytes, items: Items, out: &mut Vec<u8>) {
    if !out.is_empty() {
        out.push(b',');
    }
    let item = at_version(st, t, json);
    if items == Items::OnTheWire && matches!(t.ty.schema, TypeSchema::BuiltIn { .. }) {
        without_type_meta(&item, out);
    } else {
        out.extend_from_slice(&item);
    }
}

/// A `<Kind>List` around items written by [`push_item`].
pub(crate) fn list_body(t: &Target, meta: &serde_json::Value, items: &[u8]) -> Bytes {
    let mut body = Vec::with_capacity(items.len() + 200);
    body.extend_from_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            t.ty.kind,
            t.ty.api_version(),
            meta
        )
        .as_bytes(),
    );
    body.extend_from_slice(items);
    body.extend_from_slice(b"]}");
    Bytes::from(body)
}

/// Copies a compact JSON object (as the store writes them) without its top-level `apiVersion`
/// and `kind`, scanning instead of parsing: lists copy every item.
fn without_type_meta(json: &[u8], out: &mut Vec<u8>) {
    if json.first() != Some(&b'{') {
        out.extend_from_slice(json);
        return;
    }
    out.push(b'{');
    let mut first = true;
    let mut i = 1;
    while i < json.len() && json[i] == b'"' {
        let key_end = string_end(json, i);
        let value_end = value_end(json, key_end + 1);
        let key = &json[i..key_end];
        if key != b"\"apiVersion\"" && key != b"\"kind\"" {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(&json[i..value_end]);
            first = false;
        }
        i = value_end;
        if json.get(i) == Some(&b',') {
            i += 1;
        }
    }
    out.push(b'}');
}

/// The index just past the string that starts at `start`.
fn string_end(json: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    json.len()
}

/// The index just past the value that starts at `start`.
fn value_end(json: &[u8], start: usize) -> usize {
    match json.get(start) {
        Some(b'"') => string_end(json, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < json.len() {
                match json[i] {
                    b'"' => {
                        i = string_end(json, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            json.len()
        }
        _ => {
            let mut i = start;
            while i < json.len() && !matches!(json[i], b',' | b'}' | b']') {
                i += 1;
            }
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_meta_is_cut_from_the_top_level_only() {
        let object = serde_json::json!({"action": "x", "apiVersion": "v1", "data": {"kind": "k",
            "apiVersion": "\"}{,"}, "kind": "ConfigMap", "list": [1, {"a": [true, null]}],
            "metadata": {"name": "n"}, "z": -1.5});
        let mut out = Vec::new();
        without_type_meta(&serde_json::to_vec(&object).expect("json"), &mut out);
        let mut expected = object.clone();
        let map = expected.as_object_mut().expect("object");
        map.remove("apiVersion");
        map.remove("kind");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).expect("still JSON"),
            expected
        );
    }
}
