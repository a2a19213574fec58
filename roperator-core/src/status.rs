//! The status fields the engine writes on every parent, and a helper that declares them in a
//! CustomResourceDefinition.
//!
//! Besides the handler's own status, the engine writes:
//! - [`OBSERVED_GENERATION`]: the `metadata.generation` of the last successful sync;
//! - [`SYNC_ERROR`]: why the last sync failed (absent once a sync succeeds);
//! - a condition of type [`SYNCED`] in [`CONDITIONS`]: `True` after a successful sync, `False`
//!   with the failure's reason and message while syncs fail;
//! - for a controller with a rolling child type, a condition of type [`UPDATED`]: whether a
//!   rollout holds children back, and for which child it waits.
//!
//! Other conditions (the handler's) are kept as the handler returns them.
//!
//! A real API server prunes status fields that the CRD's schema does not declare (unless the
//! schema preserves unknown fields), so declare them, with [`add_to_crd`]:
//!
//! ```
//! use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
//! use roperator_core::status;
//!
//! let mut crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
//!     "metadata": { "name": "echoes.example.com" },
//!     "spec": {
//!         "group": "example.com", "scope": "Namespaced",
//!         "names": { "kind": "Echo", "plural": "echoes" },
//!         "versions": [{ "name": "v1", "served": true, "storage": true,
//!             "schema": { "openAPIV3Schema": { "type": "object" } } }]
//!     }
//! })).unwrap();
//! status::add_to_crd(&mut crd);
//! let version = &crd.spec.versions[0];
//! let schema = serde_json::to_value(&version.schema).unwrap();
//! let fields = &schema["openAPIV3Schema"]["properties"]["status"]["properties"];
//! assert_eq!(fields["observedGeneration"]["type"], "integer");
//! assert_eq!(fields["syncError"]["type"], "string");
//! assert_eq!(fields["conditions"]["type"], "array");
//! assert!(version.subresources.as_ref().unwrap().status.is_some());
//! // No printer columns were set, so kubectl's defaults stay; add the Synced one yourself:
//! assert!(version.additional_printer_columns.is_none());
//! crd.spec.versions[0].additional_printer_columns = Some(vec![status::synced_column()]);
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceSubresourceStatus,
    CustomResourceSubresources, CustomResourceValidation, JSONSchemaProps,
};
use serde_json::{Map, Value, json};

/// `status.observedGeneration`: the parent's `metadata.generation` at its last successful sync.
pub const OBSERVED_GENERATION: &str = "observedGeneration";
/// `status.syncError`: why the last sync failed; removed by the next successful sync.
pub const SYNC_ERROR: &str = "syncError";
/// `status.conditions`: the standard list of conditions, keyed by `type`.
pub const CONDITIONS: &str = "conditions";
/// The type of the condition the engine owns: `True` when the last sync succeeded.
pub const SYNCED: &str = "Synced";
/// The reason of a `Synced=True` condition.
pub const SYNCED_REASON: &str = "Synced";
/// The type of the condition the engine owns on parents of a controller with a rolling child
/// type ([`Rollout`](crate::Rollout)): `True` when every child of such a type has the handler's
/// latest answer, `False` while a rollout holds some back (reason [`ROLLING_UPDATE`] or
/// [`ROLLOUT_BLOCKED`], the message naming the child waited for and why).
pub const UPDATED: &str = "Updated";
/// The reason of `Updated=True`.
pub const UP_TO_DATE: &str = "UpToDate";
/// The reason of `Updated=False` when this sync updated children and others wait their turn.
pub const ROLLING_UPDATE: &str = "RollingUpdate";
/// The reason of `Updated=False` when children wait for one that is not ready.
pub const ROLLOUT_BLOCKED: &str = "RolloutBlocked";

/// The condition of type `type_` in `status` (an object's `status`), if it has one.
pub(crate) fn find_condition<'a>(status: &'a Value, type_: &str) -> Option<&'a Value> {
    status
        .get(CONDITIONS)?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// The printer column showing the [`SYNCED`] condition (`kubectl get` prints `True`/`False`).
pub fn synced_column() -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: "Synced".into(),
        type_: "string".into(),
        json_path: format!(".status.conditions[?(@.type==\"{SYNCED}\")].status"),
        description: Some("Whether the operator's last sync of this object succeeded".into()),
        ..Default::default()
    }
}

/// The printer column showing the [`UPDATED`] condition, for the CRD of a controller with a
/// rolling child type (`kubectl get` prints `False` while a rollout holds children back).
///
/// ```
/// let column = roperator_core::status::updated_column();
/// assert_eq!(column.json_path, ".status.conditions[?(@.type==\"Updated\")].status");
/// ```
pub fn updated_column() -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: "Updated".into(),
        type_: "string".into(),
        json_path: format!(".status.conditions[?(@.type==\"{UPDATED}\")].status"),
        description: Some(
            "Whether every child of a rolling type has the latest desired content".into(),
        ),
        ..Default::default()
    }
}

/// Declares the engine's status fields in every version of `crd`, turns on its status
/// subresource (the engine writes status through it) and adds the [`synced_column`] printer
/// column when the version has printer columns and lacks it.
///
/// A version whose printer columns are not set keeps `kubectl`'s default columns; add
/// [`synced_column`] yourself if you want it there too.
pub fn add_to_crd(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        let schema = version
            .schema
            .get_or_insert_with(CustomResourceValidation::default)
            .open_api_v3_schema
            .get_or_insert_with(|| JSONSchemaProps {
                type_: Some("object".into()),
                ..Default::default()
            });
        let status = schema
            .properties
            .get_or_insert_with(Default::default)
            .entry("status".into())
            .or_insert_with(|| JSONSchemaProps {
                type_: Some("object".into()),
                ..Default::default()
            });
        let fields = status.properties.get_or_insert_with(Default::default);
        for (name, props) in engine_fields() {
            fields.entry(name.into()).or_insert(props);
        }
        version
            .subresources
            .get_or_insert_with(CustomResourceSubresources::default)
            .status
            .get_or_insert(CustomResourceSubresourceStatus(json!({})));
        if let Some(columns) = &mut version.additional_printer_columns
            && !columns.iter().any(|c| c.name == "Synced")
        {
            columns.push(synced_column());
        }
    }
}

fn engine_fields() -> Vec<(&'static str, JSONSchemaProps)> {
    let schema = |v: Value| serde_json::from_value::<JSONSchemaProps>(v).unwrap_or_default();
    vec![
        (
            OBSERVED_GENERATION,
            schema(json!({"type": "integer", "format": "int64",
                "description": "The metadata.generation of the last successful sync (written by the operator)."})),
        ),
        (
            SYNC_ERROR,
            schema(json!({"type": "string",
                "description": "Why the last sync failed; absent once a sync succeeds (written by the operator)."})),
        ),
        (
            CONDITIONS,
            schema(json!({
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "description": "Standard conditions; the operator owns the Synced and Updated conditions.",
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "status": {"type": "string"},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                        "observedGeneration": {"type": "integer", "format": "int64"}
                    }
                }
            })),
        ),
    ]
}

/// How the last sync ended, as the [`SYNCED`] condition shows it.
pub(crate) enum SyncedState<'a> {
    Succeeded,
    Failed { reason: &'a str, message: &'a str },
}

/// Sets the [`SYNCED`] condition in `status` (a status object being built), keeping the other
/// conditions. `current` is the parent's status as it is now: an unchanged condition keeps its
/// `lastTransitionTime`, so that a converged parent's status does not change.
pub(crate) fn set_synced(
    status: &mut Map<String, Value>,
    current: Option<&Value>,
    state: SyncedState<'_>,
    generation: Option<i64>,
) {
    let (value, reason, message) = match state {
        SyncedState::Succeeded => (true, SYNCED_REASON, "the last sync succeeded"),
        SyncedState::Failed { reason, message } => (false, reason, message),
    };
    let condition = Condition {
        type_: SYNCED,
        status: value,
        reason,
        message,
    };
    set_condition(status, current, &condition, generation);
}

/// A condition the engine owns.
pub(crate) struct Condition<'a> {
    pub type_: &'a str,
    pub status: bool,
    pub reason: &'a str,
    pub message: &'a str,
}

/// Sets `condition` in `status` (a status object being built), keeping the other conditions;
/// see [`set_synced`].
pub(crate) fn set_condition(
    status: &mut Map<String, Value>,
    current: Option<&Value>,
    condition: &Condition<'_>,
    generation: Option<i64>,
) {
    let value = if condition.status { "True" } else { "False" };
    let previous = current.and_then(|s| find_condition(s, condition.type_));
    let since = match previous {
        Some(p) if p["status"] == value => p["lastTransitionTime"].clone(),
        _ => Value::String(now_rfc3339()),
    };
    let mut new = json!({
        "type": condition.type_,
        "status": value,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": since,
    });
    if let Some(generation) = generation {
        new["observedGeneration"] = json!(generation);
    }
    let list = status
        .entry(CONDITIONS)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(items) = list {
        match items.iter_mut().find(|c| c["type"] == condition.type_) {
            Some(existing) => *existing = new,
            None => items.push(new),
        }
    }
}

/// Seconds precision, as `metav1.Time` is serialized.
fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| jiff::Timestamp::now().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time_and_other_conditions_stay() {
        let current = json!({"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Synced", "status": "True", "reason": "Synced", "message": "the last sync succeeded", "lastTransitionTime": "2020-01-01T00:00:00Z"}
        ]});
        let mut status = current.as_object().unwrap().clone();
        set_synced(&mut status, Some(&current), SyncedState::Succeeded, None);
        assert_eq!(Value::Object(status.clone()), current);

        set_synced(
            &mut status,
            Some(&current),
            SyncedState::Failed {
                reason: "SyncFailed",
                message: "boom",
            },
            Some(3),
        );
        let synced = &status["conditions"][1];
        assert_eq!(synced["status"], "False");
        assert_eq!(synced["message"], "boom");
        assert_eq!(synced["observedGeneration"], 3);
        assert_ne!(synced["lastTransitionTime"], "2020-01-01T00:00:00Z");
        assert_eq!(status["conditions"][0]["type"], "Ready");
    }
}
