//! Label and field selectors, with the grammar the API server accepts.

use serde_json::Value;

mod labels;

pub(crate) use labels::LabelSelector;

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

    #[test]
    fn unsupported_field_is_refused() {
        let err = FieldSelector::parse("spec.foo=bar", "", "ConfigMap").expect_err("refused");
        assert!(err.contains("spec.foo"));
    }
}
