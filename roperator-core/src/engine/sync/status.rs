//! The parent's status: the handler's, plus what the engine owns (`observedGeneration`, the
//! `Synced` condition, `syncError` while syncs fail), written only when it changed.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::outcome::{Failure, FailureKind, SyncOutcome, write_failed};
use crate::engine::controller::Controller;
use crate::leader::WritePermit;
use crate::object::Observed;
use crate::plan::Progress;
use crate::plan::is_subset;
use crate::status::{
    CONDITIONS, Condition, OBSERVED_GENERATION, ROLLING_UPDATE, ROLLOUT_BLOCKED, SYNC_ERROR,
    SyncedState, UP_TO_DATE, UPDATED, find_condition, set_condition, set_synced,
};

/// The status to write after a successful handler call, or `None` when the parent already
/// shows it (or the controller writes no status): the handler's status (the current one when
/// the handler gives none) plus `observedGeneration`, `Synced=True` and, for a controller with
/// rolling child types, the `Updated` condition from this sync's `rollouts` (`None`: the
/// condition stays as it is).
pub(super) fn desired(
    ctl: &Controller,
    parent: &Observed,
    handler_status: Option<Value>,
    rollouts: Option<&[Progress]>,
    invalid: FailureKind,
) -> Result<Option<Value>, Failure> {
    if !ctl.config.writes_status() {
        return match handler_status {
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(Failure::new(
                invalid,
                "the response sets a status, but this decorator writes none: drop the status, or configure the controller with `with_status_writes`",
            )),
        };
    }
    let mut status: Map<String, Value> = match handler_status {
        Some(Value::Object(map)) => map,
        None | Some(Value::Null) => match parent.status() {
            Some(Value::Object(map)) => {
                let mut map = map.clone();
                map.remove(SYNC_ERROR);
                map
            }
            _ => Map::new(),
        },
        Some(other) => {
            return Err(Failure::new(
                invalid,
                format!("status must be a JSON object, got {}", json_type(&other)),
            ));
        }
    };
    if let Some(generation) = parent.generation {
        status.insert(OBSERVED_GENERATION.into(), json!(generation));
    }
    set_synced(
        &mut status,
        parent.status(),
        SyncedState::Succeeded,
        parent.generation,
    );
    match rollouts {
        Some(rollouts) if !rollouts.is_empty() => {
            let (updated, reason, message) = rollout_condition(rollouts);
            let condition = Condition {
                type_: UPDATED,
                status: updated,
                reason,
                message: &message,
            };
            set_condition(&mut status, parent.status(), &condition, parent.generation);
        }
        _ => keep_condition(&mut status, parent.status(), UPDATED),
    }
    Ok(changed(parent, Value::Object(status)))
}

/// The `Updated` condition for these rollouts: whether children are held back, and why.
fn rollout_condition(rollouts: &[Progress]) -> (bool, &'static str, String) {
    let behind: Vec<&Progress> = rollouts.iter().filter(|p| p.held > 0).collect();
    if behind.is_empty() {
        let message = "every child of a rolling type has the latest desired content".to_string();
        return (true, UP_TO_DATE, message);
    }
    let updating = behind.iter().any(|p| !p.updating.is_empty());
    let parts: Vec<String> = behind
        .iter()
        .map(|p| {
            let kind = p.child_type.kind;
            let waiting = if !p.updating.is_empty() {
                format!("updating {kind} {}", p.updating.join(", "))
            } else if let Some((name, why)) = &p.waiting_for {
                format!("waiting for {kind} {name}: {why}")
            } else {
                "waiting".to_string()
            };
            format!(
                "{} of {} {kind} children not updated yet, {waiting}",
                p.held, p.children
            )
        })
        .collect();
    let reason = if updating {
        ROLLING_UPDATE
    } else {
        ROLLOUT_BLOCKED
    };
    (false, reason, parts.join("; "))
}

/// Keeps the condition `type_` of `current` in `status` when the handler's status lacks it
/// (an engine-owned condition the handler does not know about).
fn keep_condition(status: &mut Map<String, Value>, current: Option<&Value>, type_: &str) {
    let Some(previous) = current.and_then(|s| find_condition(s, type_)) else {
        return;
    };
    if let Some(Value::Array(items)) = status.get_mut(CONDITIONS)
        && !items.iter().any(|c| c["type"] == type_)
    {
        items.push(previous.clone());
    }
}

fn changed(parent: &Observed, status: Value) -> Option<Value> {
    let empty = Value::Object(Map::new());
    let current = parent.status().unwrap_or(&empty);
    if is_subset(&status, current) && is_subset(current, &status) {
        None
    } else {
        Some(status)
    }
}

/// Writes `status` (if any) and returns the parent as the API server has it now.
pub(super) async fn write(
    ctl: &Controller,
    permit: &WritePermit,
    parent: &Arc<Observed>,
    status: Option<Value>,
) -> Result<Arc<Observed>, SyncOutcome> {
    match status {
        None => Ok(Arc::clone(parent)),
        Some(status) => ctl
            .writer
            .write_status(permit, parent, status)
            .await
            .map_err(write_failed),
    }
}

/// Puts a failed sync's message in the parent's status (`syncError` and `Synced=False`), only
/// when it is not already there, so that `kubectl get` shows it next to the Events. Children
/// are not touched, and `observedGeneration` keeps naming the last generation synced
/// successfully.
pub(super) async fn show_failure(ctl: &Controller, parent: &Observed, failure: &Failure) {
    if !ctl.config.writes_status() {
        return;
    }
    let mut status = match parent.status() {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    status.insert(SYNC_ERROR.into(), Value::String(failure.message.clone()));
    set_synced(
        &mut status,
        parent.status(),
        SyncedState::Failed {
            reason: failure.kind.event_reason(),
            message: &failure.message,
        },
        parent.generation,
    );
    let Some(status) = changed(parent, Value::Object(status)) else {
        return;
    };
    let Ok(permit) = ctl.gate.acquire().await else {
        return;
    };
    if let Err(e) = ctl.writer.write_status(&permit, parent, status).await {
        tracing::debug!(error = %e, "could not show the sync error in the parent's status");
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
