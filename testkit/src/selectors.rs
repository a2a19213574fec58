//! Label and field selectors, with the grammar the API server accepts.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed `labelSelector`; an empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_top(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

fn set_values(rest: &str, raw: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement {raw:?}: expected a parenthesised set of values")
        })?;
    Ok(inner
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if input.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for raw in split_top(input) {
            let part = raw.trim();
            if part.is_empty() {
                return Err(format!(
                    "unable to parse requirement: empty requirement in {input:?}"
                ));
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Requirement::NotIn(k.trim().to_string(), set_values(rest, part)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Requirement::In(k.trim().to_string(), set_values(rest, part)?)
            } else if part.contains(['(', ')', ' ', '<', '>']) {
                return Err(format!("unable to parse requirement: {part:?}"));
            } else {
                Requirement::Exists(part.to_string())
            };
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object with these labels (`metadata.labels`, may be absent) matches.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        })
    }
}

/// A parsed `fieldSelector` (equality and inequality on supported fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

/// The field labels of the kinds whose upstream conversion registers its own function
/// (`AddFieldLabelConversionFunc` in `pkg/apis/*/v1/conversion.go`); `None` for the others,
/// which take `metadata.name` and `metadata.namespace` only
/// (`DefaultMetaV1FieldSelectorConversion`).
fn kind_fields(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    Some(match (group, kind) {
        ("", "Pod") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "Node") => &["metadata.name", "spec.unschedulable"],
        ("", "Namespace") => &["metadata.name", "status.phase"],
        // Since v1.31 (`ServiceSelectableFields`).
        ("", "Service") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.clusterIP",
            "spec.type",
        ],
        ("", "Secret") => &["metadata.name", "metadata.namespace", "type"],
        ("", "Event") | ("events.k8s.io", "Event") => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("apps", "ReplicaSet") => &["metadata.name", "metadata.namespace", "status.replicas"],
        ("batch", "Job") => &["metadata.name", "metadata.namespace", "status.successful"],
        _ => return None,
    })
}

/// The stored field a label selects, or the refusal the real server gives for it.
fn supported_field(group: &str, kind: &str, field: &str) -> Result<String, String> {
    let stored = crate::server::convert::field_label(group, kind, field)
        .ok_or_else(|| format!("field label not supported: {field}"))?;
    // Pods still answer to the field's pre-v1 name.
    let stored = if (group, kind, stored.as_str()) == ("", "Pod", "spec.host") {
        "spec.nodeName".to_string()
    } else {
        stored
    };
    match kind_fields(group, kind) {
        Some(fields) if fields.contains(&stored.as_str()) => Ok(stored),
        Some(_) => Err(format!("field label not supported: {field}")),
        None if matches!(stored.as_str(), "metadata.name" | "metadata.namespace") => Ok(stored),
        None => Err(format!(
            "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        )),
    }
}

impl FieldSelector {
    /// Parses a selector for a type of `group` and `kind`. Labels are stored under the name the
    /// stored object answers to (an events.k8s.io `regarding.name` selects `involvedObject.name`
    /// of the stored core Event, as upstream's field label conversion does).
    pub fn parse(input: &str, group: &str, kind: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if input.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for raw in input.split(',') {
            let part = raw.trim();
            if part.is_empty() {
                continue;
            }
            let (field, equal, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{input}'; can't understand '{part}'"
                ));
            };
            let stored = supported_field(group, kind, field.trim())?;
            reqs.push((stored, equal, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let text = |path: &str| {
            let mut cur = Some(object);
            for seg in path.split('.') {
                cur = cur.and_then(|c| c.get(seg));
            }
            match cur {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            }
        };
        self.0.iter().all(|(field, equal, value)| {
            let actual = match field.as_str() {
                // The only Event label that is not a JSON path: the core strategy selects by
                // `source.component`, or the reporting controller when that is empty.
                "source" => {
                    let component = text("source.component");
                    if component.is_empty() {
                        text("reportingComponent")
                    } else {
                        component
                    }
                }
                path => text(path),
            };
            (actual == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn set_based_requirements_with_commas_inside_parentheses() {
        let sel =
            LabelSelector::parse("app in (web, api),tier notin (db),!legacy,env").expect("parses");
        assert!(sel.matches(Some(&labels(
            json!({"app": "api", "tier": "front", "env": "x"})
        ))));
        assert!(!sel.matches(Some(&labels(
            json!({"app": "api", "tier": "db", "env": "x"})
        ))));
        assert!(!sel.matches(Some(&labels(
            json!({"app": "api", "env": "x", "legacy": "1"})
        ))));
        assert!(!sel.matches(Some(&labels(json!({"app": "api"})))));
    }

    #[test]
    fn inequality_matches_missing_label() {
        let sel = LabelSelector::parse("app!=web").expect("parses");
        assert!(sel.matches(None));
        assert!(!sel.matches(Some(&labels(json!({"app": "web"})))));
    }

    #[test]
    fn unsupported_field_is_refused() {
        let err = FieldSelector::parse("spec.foo=bar", "", "ConfigMap").expect_err("refused");
        assert!(err.contains("spec.foo"));
    }
}
