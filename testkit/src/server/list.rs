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

pub(crate) fn list(inner: &Inner, t: &Target, q: &Query) -> Reply {
    let filter = filter_for(t, q)?;
    let limit: usize = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let start: Option<(String, String)> = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let raw = hex_decode(token)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(format!("continue key is not valid: {token:?}"))
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
        let more = hex_decode(tok)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|raw| {
                raw.split_once('\0')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .is_some_and(|k| {
                bucket
                    .objects
                    .range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                    .take_while(|((n, _), _)| ns.as_ref().is_none_or(|ns| ns == n))
                    .any(|(_, s)| filter.matches_bytes(&s.json))
            });
        if !more {
            next = None;
        }
    }
    let mut body = Vec::with_capacity(out.len() + 200);
    let head = json!({"resourceVersion": st.rv.to_string()});
    let mut meta = head;
    if let Some(n) = next {
        meta["continue"] = json!(n);
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
