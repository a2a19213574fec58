//! Request paths and query strings.

use std::collections::HashMap;

/// Percent-decoding (with `+` as space, as Go's query parser does).
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query string as a map: the first value of a repeated parameter wins, as the parameter
/// codec reads a single value (`(*in)[0]`).
pub(crate) fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        };
        map.entry(k).or_insert(v);
    }
    map
}

/// A boolean parameter as the codec reads one (`Convert_Slice_string_To_bool`): `None` when
/// absent, otherwise true unless it is `0` or `false` in any case (so `watch=` and `watch=yes`
/// ask for a watch).
pub(crate) fn flag(q: &HashMap<String, String>, key: &str) -> Option<bool> {
    q.get(key)
        .map(|v| !(v == "0" || v.eq_ignore_ascii_case("false")))
}

/// An integer parameter as the codec reads one (`strconv.ParseInt` of the first value, so an
/// empty value is an error, not "unset").
pub(crate) fn integer(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<Option<i64>, crate::errors::ApiError> {
    let Some(v) = q.get(key) else {
        return Ok(None);
    };
    v.parse::<i64>().map(Some).map_err(|_| {
        // Go takes one sign off, then wants digits only.
        let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
        let why = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        crate::errors::ApiError::bad_request(format!(
            "strconv.ParseInt: parsing {}: {why}",
            crate::validate::quote(v)
        ))
    })
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Version,
    ApiVersions,
    ApiGroups,
    Group(String),
    GroupVersion(String, String),
    OpenApiV2,
    OpenApiV3Index,
    OpenApiV3(String, String),
    Healthz,
    /// A resource path, still unresolved against the served types: the segments after
    /// `/api/v1` or `/apis/{group}/{version}`.
    Resource {
        group: String,
        version: String,
        rest: Vec<String>,
    },
    Unknown,
}

pub(crate) fn route(path: &str) -> Route {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Healthz,
        ["api"] => Route::ApiVersions,
        ["apis"] => Route::ApiGroups,
        ["apis", g] => Route::Group(g.to_string()),
        ["api", v] => Route::GroupVersion(String::new(), v.to_string()),
        ["apis", g, v] => Route::GroupVersion(g.to_string(), v.to_string()),
        ["openapi", "v2"] | ["swagger.json"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Index,
        ["openapi", "v3", "api", v] => Route::OpenApiV3(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => Route::OpenApiV3(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => Route::Resource {
            group: String::new(),
            version: v.to_string(),
            rest: rest.iter().map(|x| x.to_string()).collect(),
        },
        ["apis", g, v, rest @ ..] => Route::Resource {
            group: g.to_string(),
            version: v.to_string(),
            rest: rest.iter().map(|x| x.to_string()).collect(),
        },
        _ => Route::Unknown,
    }
}

/// Hex, for opaque continue tokens.
pub(crate) fn hex_encode(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_selectors() {
        assert_eq!(decode("app%3Dweb%2Cenv+in+%28a%29"), "app=web,env in (a)");
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(
            hex_decode(&hex_encode(b"ns\0name")).as_deref(),
            Some(&b"ns\0name"[..])
        );
    }
}
