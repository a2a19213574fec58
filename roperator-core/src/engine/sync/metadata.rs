//! The labels and annotations a sync sets on its parent (decorators, mostly): compared with
//! what the parent shows and what the controller applied before, so that a converged parent
//! costs no request.

use std::collections::BTreeMap;

use crate::object::Observed;
use crate::response::ParentMetadata;

/// `true` when the parent must be applied to: a wanted key is missing or different, or a key
/// the controller applied before is no longer wanted.
pub(super) fn needs_apply(parent: &Observed, manager: &str, wanted: &ParentMetadata) -> bool {
    let owned = parent
        .applied_metadata()
        .iter()
        .find(|a| a.manager == manager);
    let (owned_labels, owned_annotations) = owned
        .map(|a| (a.labels.as_slice(), a.annotations.as_slice()))
        .unwrap_or_default();
    differs(&wanted.labels, owned_labels, |k| parent.label(k))
        || differs(&wanted.annotations, owned_annotations, |k| {
            parent.annotation(k)
        })
}

fn differs<'a>(
    wanted: &BTreeMap<String, String>,
    owned: &[String],
    live: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    wanted.iter().any(|(k, v)| live(k) != Some(v.as_str()))
        || owned.iter().any(|k| !wanted.contains_key(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parent(labels: serde_json::Value, owned: &[&str]) -> Observed {
        let fields: serde_json::Map<String, serde_json::Value> = owned
            .iter()
            .map(|k| (format!("f:{k}"), json!({})))
            .collect();
        Observed::from_json(json!({"metadata": {"name": "ns", "labels": labels,
            "managedFields": [{"manager": "deco", "operation": "Apply",
                "fieldsV1": {"f:metadata": {"f:labels": fields}}}]}}))
        .unwrap()
    }

    fn wanted(labels: &[(&str, &str)]) -> ParentMetadata {
        ParentMetadata {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn only_a_missing_value_or_a_key_no_longer_wanted_needs_a_write() {
        let p = parent(json!({"a": "1", "theirs": "x"}), &["a"]);
        assert!(!needs_apply(&p, "deco", &wanted(&[("a", "1")])));
        assert!(needs_apply(&p, "deco", &wanted(&[("a", "2")])));
        assert!(needs_apply(&p, "deco", &wanted(&[("a", "1"), ("b", "1")])));
        // `a` was ours and is no longer wanted: it must go.
        assert!(needs_apply(&p, "deco", &wanted(&[])));
        // Another manager's keys are not ours to remove.
        assert!(!needs_apply(&p, "other", &wanted(&[])));
    }
}
