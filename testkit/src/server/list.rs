//! `list`: selectors, paging with `limit` and `continue`.

use bytes::Bytes;
use serde_json::json;

use super::Inner;
use super::objects::{Query, Reply, Target, at_version};
use super::query::{hex_decode, hex_encode};
use crate::errors::ApiError;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::Filter;

/// The list's filter from the query.
pub(crate) fn filter_for(t: &Target, q: &Query) -> Result<Filter, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        q.get("fieldSelector").map(String::as_str).unwrap_or(""),
        &t.ty.group,
        &t.ty.kind,
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
    let send_initial = given("sendInitialEvents").is_some();
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

pub(crate) fn list(inner: &Inner, t: &Target, q: &Query) -> Reply {
    validate_list_options(q, false)?;
    let filter = filter_for(t, q)?;
    let rv = q.get("resourceVersion").filter(|v| !v.is_empty());
    let continues = q.get("continue").is_some_and(|c| !c.is_empty());
    // `resourceVersion=0` is served from the watch cache, which does not page; a list that
    // continues goes to etcd whatever its resource version.
    let limit: usize = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(_) if rv.is_some_and(|v| v == "0") && !continues => 0,
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
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
    let mut next = None;
    let mut remaining = 0usize;
    for ((o_ns, o_name), s) in bucket.objects.range((lower, std::ops::Bound::Unbounded)) {
        if let Some(ns) = &ns
            && o_ns != ns
        {
            break;
        }
        if !filter.matches_bytes(&s.json) {
            continue;
        }
        if count > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&at_version(&st, t, &s.json));
        count += 1;
        if limit > 0 && count == limit {
            // The token names the last item returned, so the next page starts after it.
            next = Some(hex_encode(format!("{o_ns}\0{o_name}").as_bytes()));
            break;
        }
    }
    // Only hand out a continue token when something is actually left.
    if let Some(tok) = &next {
        let rest = hex_decode(tok)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|raw| {
                raw.split_once('\0')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .map(|k| {
                bucket
                    .objects
                    .range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                    .take_while(|((n, _), _)| ns.as_ref().is_none_or(|ns| ns == n))
                    .filter(|(_, s)| filter.matches_bytes(&s.json))
                    .count()
            })
            .unwrap_or(0);
        if rest == 0 {
            next = None;
        }
        remaining = rest;
    }
    let mut body = Vec::with_capacity(out.len() + 200);
    let head = json!({"resourceVersion": st.rv.to_string()});
    let mut meta = head;
    if let Some(n) = next {
        meta["continue"] = json!(n);
        // etcd counts what is left only when nothing is filtered out.
        let unfiltered = ["labelSelector", "fieldSelector"]
            .iter()
            .all(|k| q.get(*k).is_none_or(String::is_empty));
        if unfiltered {
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    body.extend_from_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            t.ty.kind,
            t.ty.api_version(),
            meta
        )
        .as_bytes(),
    );
    body.extend_from_slice(&out);
    body.extend_from_slice(b"]}");
    Ok((200, Bytes::from(body)))
}
