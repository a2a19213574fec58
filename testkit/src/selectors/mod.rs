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

/// Which of the server's field label converters reads a type's field selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldLabels {
    /// A built-in type: its own conversion function, or the default metav1 one.
    BuiltIn,
    /// A custom resource (`crConverter`): `metadata.name`, and `metadata.namespace` where the
    /// type is namespaced.
    Custom { namespaced: bool },
}

/// The stored field a label selects, or the refusal the real server gives for it.
fn supported_field(
    group: &str,
    kind: &str,
    labels: FieldLabels,
    field: &str,
) -> Result<String, String> {
    if let FieldLabels::Custom { namespaced } = labels {
        return match field {
            "metadata.name" => Ok(field.to_string()),
            "metadata.namespace" if namespaced => Ok(field.to_string()),
            _ => Err(format!("field label not supported: {field}")),
        };
    }
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

/// The terms of a field selector: split on commas that no backslash escapes.
fn split_terms(input: &str) -> Vec<&str> {
    if input.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in input.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&input[start..]);
    terms
}

/// A term's field, whether it asks for equality, and its still escaped value: the first
/// operator found, `!=` before `==` before `=` at each position.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    (0..term.len())
        .filter(|i| term.is_char_boundary(*i))
        .find_map(|i| {
            let rest = &term[i..];
            [("!=", false), ("==", true), ("=", true)]
                .into_iter()
                .find(|(op, _)| rest.starts_with(op))
                .map(|(op, equal)| (&term[..i], equal, &rest[op.len()..]))
        })
}

/// `fields.UnescapeValue`: `\\`, `\,` and `\=` stand for themselves; other escapes and bare
/// commas or equals signs are refused (the rune printed as its number, as Go's `%v` does).
fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                ));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                ));
            }
            c => out.push(c),
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".into());
    }
    Ok(out)
}

impl FieldSelector {
    /// Parses a selector for a type of `group` and `kind`. Labels are stored under the name the
    /// stored object answers to (an events.k8s.io `regarding.name` selects `involvedObject.name`
    /// of the stored core Event, as upstream's field label conversion does).
    pub fn parse(
        input: &str,
        group: &str,
        kind: &str,
        labels: FieldLabels,
    ) -> Result<Self, String> {
        // `fields.ParseSelector`: terms split on unescaped commas and sorted, each read whole
        // (no trimming), then every field translated (`ConvertFieldLabel`).
        let mut terms = split_terms(input);
        terms.sort_unstable();
        let mut parsed = Vec::new();
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let (field, equal, value) = split_term(term)
                .ok_or_else(|| format!("invalid selector: '{input}'; can't understand '{term}'"))?;
            parsed.push((field, equal, unescape(value)?));
        }
        let reqs = parsed
            .into_iter()
            .map(|(field, equal, value)| {
                Ok((supported_field(group, kind, labels, field)?, equal, value))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `RequiresExactMatch`: the value an equality term requires of `field`, if one does.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, equal, _)| *equal && f == field)
            .map(|(_, _, value)| value.as_str())
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
    use serde_json::json;

    use super::*;

    #[test]
    fn field_selectors_are_split_sorted_and_unescaped_as_upstream() {
        let sel =
            FieldSelector::parse(r"metadata.name=a\,b", "", "ConfigMap", FieldLabels::BuiltIn)
                .expect("parses");
        assert!(sel.matches(&json!({"metadata": {"name": "a,b"}})));
        for (input, message) in [
            (
                "metadata.name",
                "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
            ),
            (
                "metadata.name==x=y",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                r"metadata.name=a\b",
                r"invalid field selector: invalid escape sequence: \b",
            ),
            // Sorted first, so the unknown field is reported after every term parsed.
            (
                "spec.x=1,metadata.name=a=b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "metadata.name =x",
                "\"metadata.name \" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            ),
        ] {
            assert_eq!(
                FieldSelector::parse(input, "", "ConfigMap", FieldLabels::BuiltIn),
                Err(message.to_string()),
                "{input}"
            );
        }
    }

    #[test]
    fn unsupported_field_is_refused() {
        let err = FieldSelector::parse("spec.foo=bar", "", "ConfigMap", FieldLabels::BuiltIn)
            .expect_err("refused");
        assert!(err.contains("spec.foo"));
        let custom = |namespaced, input| {
            FieldSelector::parse(
                input,
                "example.com",
                "Widget",
                FieldLabels::Custom { namespaced },
            )
        };
        assert_eq!(
            custom(true, "spec.size=3"),
            Err("field label not supported: spec.size".into())
        );
        assert!(custom(true, "metadata.namespace=a").is_ok());
        assert_eq!(
            custom(false, "metadata.namespace=a"),
            Err("field label not supported: metadata.namespace".into())
        );
    }
}
