//! One sync of one parent: snapshot, handler, plan, writes, status; then the next schedule.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Engine;
use super::cache::ObjectKey;
use super::writer::{Change, WriteError};
use crate::handler::{HandlerFailure, Outcome as HandlerOutcome};
use crate::leader::WritePermit;
use crate::object::Object;
use crate::plan::{self, PlanContext, is_subset};
use crate::request::SyncRequest;

/// A parent that writes on this many syncs in a row is in a hot loop (usually a status that
/// changes on every call, like a timestamp): its syncs are then spaced by the error backoff.
const HOT_LOOP_STREAK: u32 = 10;

/// After deleting a child to recreate it, the next sync comes this soon (the deletion may still
/// be in progress; then the sync waits and the child's deletion event brings the next one).
const RECREATE_FOLLOW_UP: Duration = Duration::from_millis(50);

/// How a sync ended.
#[derive(Debug)]
pub(crate) enum SyncOutcome {
    /// The parent is not in the cache any more.
    Gone,
    /// Done; `wrote` says whether anything was written.
    Success {
        resync_after: Option<Duration>,
        wrote: bool,
    },
    /// Nothing to do until something changes (a parent being deleted without our finalizer).
    Idle,
    /// Failed; retried with backoff (or after `retry_after`).
    Failed {
        result: &'static str,
        reason: &'static str,
        message: String,
        warn: bool,
    },
    /// Leadership was lost: the new leader takes over.
    NotLeader,
    /// A blocking handler timed out and still runs: the key is released when it returns.
    HandlerStillRunning,
    /// That handler returned at last (its answer is discarded): the key is released, and the
    /// parent retried with backoff.
    HandlerReturnedLate,
}

pub(crate) async fn sync_task(engine: Arc<Engine>, key: ObjectKey, epoch: CancellationToken) {
    let span = tracing::info_span!(
        "sync",
        namespace = key.namespace.as_deref().unwrap_or(""),
        name = %key.name,
        parent = engine.config.parent.kind,
    );
    let started = Instant::now();
    let outcome = tokio::select! {
        outcome = sync_once(&engine, &key, &epoch).instrument(span.clone()) => outcome,
        _ = epoch.cancelled() => SyncOutcome::NotLeader,
    };
    if let SyncOutcome::Failed {
        message,
        warn: true,
        ..
    } = &outcome
    {
        tokio::select! {
            _ = show_error(&engine, &key, message).instrument(span.clone()) => {}
            _ = epoch.cancelled() => {}
        }
    }
    engine
        .metrics
        .sync_duration
        .observe(started.elapsed().as_secs_f64());
    let _entered = span.enter();
    finish(&engine, &key, outcome);
}

/// The field of the parent's status that shows why its last sync failed. The handler's status
/// replaces the whole status on the next successful sync, which clears it.
pub(crate) const SYNC_ERROR_FIELD: &str = "syncError";

/// Puts a failed sync's message in the parent's status (only when it is not already there), so
/// that `kubectl get -o yaml` shows it next to the Events. Children are not touched, and
/// `observedGeneration` keeps naming the last generation synced successfully.
async fn show_error(engine: &Engine, key: &ObjectKey, message: &str) {
    let Some((parent, _)) = engine.cache.snapshot(key) else {
        return;
    };
    let mut status = match parent.status() {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    if status.get(SYNC_ERROR_FIELD).and_then(Value::as_str) == Some(message) {
        return;
    }
    status.insert(SYNC_ERROR_FIELD.into(), Value::String(message.to_string()));
    let Ok(permit) = engine.gate.acquire().await else {
        return;
    };
    if let Err(e) = engine
        .writer
        .write_status(&permit, &parent, Value::Object(status))
        .await
    {
        tracing::debug!(error = %e, "could not show the sync error in the parent's status");
    }
}

/// Records the outcome and schedules the parent's next sync; releases the key.
pub(crate) fn finish(engine: &Engine, key: &ObjectKey, outcome: SyncOutcome) {
    let config = &engine.config;
    let now = Instant::now();
    match outcome {
        SyncOutcome::Gone => {
            engine.metrics.sync_result("gone");
            engine.queue.forget(key);
            engine.retry().remove(key);
        }
        SyncOutcome::Idle => {
            engine.metrics.sync_result("success");
            engine.queue.forget(key);
            engine.retry().remove(key);
        }
        SyncOutcome::Success {
            resync_after,
            wrote,
        } => {
            engine.metrics.sync_result("success");
            engine.queue.succeeded(key);
            let streak = {
                let mut retry = engine.retry();
                let state = retry.entry(key.clone()).or_default();
                state.failures = 0;
                state.writing_streak = if wrote { state.writing_streak + 1 } else { 0 };
                state.writing_streak
            };
            let period = jittered(config.resync_period, 0.1);
            let next = resync_after.map_or(period, |d| d.min(period));
            if streak >= HOT_LOOP_STREAK {
                let hold = backoff(
                    config.backoff_initial,
                    config.backoff_max,
                    streak - HOT_LOOP_STREAK + 1,
                );
                if streak == HOT_LOOP_STREAK {
                    tracing::warn!(
                        "parent {key} wrote on {streak} syncs in a row; spacing its syncs by {hold:?}"
                    );
                    if let Some((parent, _)) = engine.cache.snapshot(key) {
                        engine.events.warning(&config.parent, &parent, "HotLoop", format!(
                            "every sync changes something ({streak} in a row); syncs are now spaced by up to {:?}. A status that changes on every call (a timestamp, a counter) causes this.",
                            config.backoff_max
                        ));
                    }
                }
                engine.queue.hold(key, now + hold);
            }
            engine.queue.add_at(key.clone(), now + next);
        }
        SyncOutcome::Failed {
            result,
            reason,
            message,
            warn,
        } => {
            engine.metrics.sync_result(result);
            let failures = {
                let mut retry = engine.retry();
                let state = retry.entry(key.clone()).or_default();
                state.failures = state.failures.saturating_add(1);
                state.failures
            };
            let delay = backoff(config.backoff_initial, config.backoff_max, failures);
            if warn {
                tracing::warn!(%reason, retry_in = ?delay, "sync of {} {key} failed: {message}", config.parent.kind);
                if let Some((parent, _)) = engine.cache.snapshot(key) {
                    engine
                        .events
                        .warning(&config.parent, &parent, reason, message);
                }
            } else {
                tracing::debug!(%reason, retry_in = ?delay, "sync of {} {key} must be retried: {message}", config.parent.kind);
            }
            if warn {
                // Until then, changes of its children (a Deployment's status, say) do not
                // bring the sync back: a failing parent is retried at the backoff's pace, not
                // the event rate. A change of the parent itself does.
                engine.queue.back_off(key, now + delay);
            } else {
                // A conflict: the event of the write we lost to may bring the retry sooner.
                engine.queue.add_at(key.clone(), now + delay);
            }
        }
        SyncOutcome::NotLeader => {
            engine.metrics.sync_result("not_leader");
            // The gate may refuse a permit while this replica still counts as leader (a quorum
            // round that timed out under load): no leadership change will re-enqueue the
            // parent then, so keep it queued. A follower never dequeues it anyway.
            engine
                .queue
                .add_at(key.clone(), now + config.backoff_initial);
        }
        SyncOutcome::HandlerStillRunning => {
            engine.metrics.sync_result("timeout");
            return; // the key is released when the handler returns
        }
        SyncOutcome::HandlerReturnedLate => {
            // Counted as a timeout already; only the retry is left to schedule.
            let failures = engine.retry().get(key).map_or(1, |s| s.failures.max(1));
            let delay = backoff(config.backoff_initial, config.backoff_max, failures);
            engine.queue.back_off(key, now + delay);
        }
    }
    engine.queue.done(key);
}

/// `initial * 2^(attempt-1)`, at most `max`, scaled by a random factor in [0.75, 1.25].
pub(crate) fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    jittered(exp.min(max), 0.25).min(max)
}

fn jittered(d: Duration, spread: f64) -> Duration {
    let factor = 1.0 + rand::rng().random_range(-spread..=spread);
    d.mul_f64(factor)
}

/// The outcome of a sync that panicked inside the engine (a bug): retried with backoff like
/// any failure.
pub(crate) fn engine_panicked(message: String) -> SyncOutcome {
    failed(
        "panic",
        "EnginePanicked",
        format!(
            "the engine panicked while syncing (a bug in roperator; please report it): {message}"
        ),
    )
}

fn failed(result: &'static str, reason: &'static str, message: String) -> SyncOutcome {
    SyncOutcome::Failed {
        result,
        reason,
        message,
        warn: true,
    }
}

fn write_failed(e: WriteError) -> SyncOutcome {
    match e {
        WriteError::NotLeader(_) => SyncOutcome::NotLeader,
        WriteError::Conflict(message) => SyncOutcome::Failed {
            result: "conflict",
            reason: "Conflict",
            message,
            warn: false,
        },
        WriteError::Collision(message) => failed("write_error", "NameCollision", message),
        e @ WriteError::Api { .. } => failed("write_error", "WriteFailed", e.to_string()),
    }
}

async fn sync_once(
    engine: &Arc<Engine>,
    key: &ObjectKey,
    epoch: &CancellationToken,
) -> SyncOutcome {
    let Some((mut parent, mut children)) = engine.cache.snapshot(key) else {
        return SyncOutcome::Gone;
    };
    let finalizer = engine.config.finalizer.as_deref();
    let has_our_finalizer = finalizer.is_some_and(|f| parent.finalizers().contains(&f));
    if parent.deleting && !has_our_finalizer {
        return SyncOutcome::Idle;
    }
    let finalizing = parent.deleting;
    if let (false, Some(f)) = (has_our_finalizer, finalizer) {
        // Before the handler runs, not after it succeeds: a parent whose syncs fail still
        // gets its finalize call when it is deleted, and whatever the handler set up outside
        // the cluster on an earlier partial success is cleaned up.
        let permit = match write_permit(engine).await {
            Ok(p) => p,
            Err(outcome) => return outcome,
        };
        match engine.writer.add_finalizer(&permit, &parent, f).await {
            Ok(updated) => parent = updated.unwrap_or(parent),
            Err(e) => return write_failed(e),
        }
    }
    children.sort_by(|a, b| {
        (&a.api_version, &a.kind, &a.namespace, &a.name).cmp(&(
            &b.api_version,
            &b.kind,
            &b.namespace,
            &b.name,
        ))
    });
    let request = SyncRequest::from_snapshot(Arc::clone(&parent), children.clone(), finalizing);

    let outcome = match call_handler(engine, key, request, finalizing).await {
        Ok(outcome) => outcome,
        Err(outcome) => return outcome,
    };
    if epoch.is_cancelled() {
        return SyncOutcome::NotLeader;
    }
    match outcome {
        HandlerOutcome::Sync(response) => {
            if let Some(first) = response.serialize_errors.first() {
                return failed(
                    "invalid",
                    "InvalidSyncResponse",
                    format!("invalid sync response: {first}"),
                );
            }
            let ctx = PlanContext {
                operator: &engine.config.name,
                parent_type: engine.config.parent,
                parent: &parent,
                child_types: &engine.config.children,
                namespaces: &engine.config.namespaces,
            };
            let desired = match plan::validate(&ctx, &response.children) {
                Ok(d) => d,
                Err(e) => return failed("invalid", "InvalidSyncResponse", e.to_string()),
            };
            let status = match desired_status(&parent, response.status) {
                Ok(s) => s,
                Err(message) => return failed("invalid", "InvalidSyncResponse", message),
            };
            let written = engine.cache.written_for(&children);
            let actions = plan::plan(&ctx, &children, &desired, &written);
            if actions.is_empty() && status.is_none() {
                return SyncOutcome::Success {
                    resync_after: response.resync_after,
                    wrote: false,
                };
            }
            let permit = match write_permit(engine).await {
                Ok(p) => p,
                Err(outcome) => return outcome,
            };
            let creates = actions
                .iter()
                .any(|a| matches!(a, plan::Action::Create { .. }));
            if creates {
                match engine.writer.parent_is_live(&parent).await {
                    Ok(true) => {}
                    Ok(false) => return SyncOutcome::Idle,
                    Err(e) => return write_failed(e),
                }
            }
            let mut changes = Vec::new();
            let mut failure = None;
            for action in actions {
                match engine.writer.apply(&permit, &parent, action).await {
                    Ok(change) => changes.push(change),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            report_changes(engine, &parent, &changes);
            // A recreated child is created on the next sync, once its deletion is seen; ask for
            // that sync now rather than wait for an event.
            let recreating = changes.iter().any(|c| c.verb == "recreating");
            if let Some(e) = failure {
                return write_failed(e);
            }
            if let Some(status) = status
                && let Err(e) = engine.writer.write_status(&permit, &parent, status).await
            {
                return write_failed(e);
            }
            // The handler computed its status from the children as they were before these
            // writes, and the watch echo of our own writes queues nothing; one follow-up sync
            // lets the status reflect what the writes produced (it writes nothing if it agrees).
            let follow_up = if recreating {
                Some(RECREATE_FOLLOW_UP)
            } else if !changes.is_empty() {
                Some(Duration::ZERO)
            } else {
                response.resync_after
            };
            SyncOutcome::Success {
                resync_after: follow_up,
                wrote: true,
            }
        }
        HandlerOutcome::Finalize(response) => {
            if let Some(first) = response.serialize_errors.first() {
                return failed(
                    "invalid",
                    "InvalidFinalizeResponse",
                    format!("invalid finalize response: {first}"),
                );
            }
            let status = match desired_status(&parent, response.status) {
                Ok(s) => s,
                Err(message) => return failed("invalid", "InvalidFinalizeResponse", message),
            };
            let done = response.retry_after.is_none();
            if status.is_none() && !done {
                return SyncOutcome::Success {
                    resync_after: response.retry_after,
                    wrote: false,
                };
            }
            let permit = match write_permit(engine).await {
                Ok(p) => p,
                Err(outcome) => return outcome,
            };
            let mut current = Arc::clone(&parent);
            if let Some(status) = status {
                match engine.writer.write_status(&permit, &current, status).await {
                    Ok(updated) => current = updated.unwrap_or(current),
                    Err(e) => return write_failed(e),
                }
            }
            if done {
                if let Some(f) = finalizer {
                    if let Err(e) = engine.writer.remove_finalizer(&permit, &current, f).await {
                        return write_failed(e);
                    }
                    engine.events.normal(
                        &engine.config.parent,
                        &parent,
                        "Finalized",
                        format!("finalizer {f} removed"),
                    );
                }
                return SyncOutcome::Idle;
            }
            SyncOutcome::Success {
                resync_after: response.retry_after,
                wrote: true,
            }
        }
    }
}

/// Permission for a batch of writes; refused, the sync ends as [`SyncOutcome::NotLeader`].
async fn write_permit(engine: &Engine) -> Result<WritePermit, SyncOutcome> {
    engine.gate.acquire().await.map_err(|e| {
        tracing::debug!(error = %e, "not writing");
        SyncOutcome::NotLeader
    })
}

fn report_changes(engine: &Engine, parent: &Object, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let all: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}", c.verb, c.description))
        .collect();
    tracing::info!(changes = changes.len(), "{}", all.join("; "));
    // One Event per kind of change, so `kubectl describe` shows at a glance what was created
    // and what was deleted, and a long list in one kind cannot push the others out of its note.
    for (verb, reason) in [
        ("created", "ChildCreated"),
        ("replaced", "ChildReplaced"),
        ("recreating", "ChildRecreating"),
        ("deleted", "ChildDeleted"),
    ] {
        let these: Vec<&str> = changes
            .iter()
            .filter(|c| c.verb == verb)
            .map(|c| c.description.as_str())
            .collect();
        if these.is_empty() {
            continue;
        }
        engine
            .events
            .normal(&engine.config.parent, parent, reason, listing(verb, &these));
    }
}

/// `"created ConfigMap ns/a, Secret ns/b"`, shortened to `"…, and 12 more"` where an Event's
/// note (1 kB at most) cannot hold them all.
fn listing(verb: &str, items: &[&str]) -> String {
    const ROOM: usize = 900;
    let mut note = verb.to_string();
    for (i, item) in items.iter().enumerate() {
        if note.len() + item.len() > ROOM {
            note.push_str(&format!(", and {} more", items.len() - i));
            break;
        }
        note.push_str(if i == 0 { " " } else { ", " });
        note.push_str(item);
    }
    note
}

/// The status to write, or `None` when the parent already shows it: the handler's status (the
/// current one when the handler gives none) plus `observedGeneration`.
fn desired_status(parent: &Object, handler_status: Option<Value>) -> Result<Option<Value>, String> {
    let mut status: Map<String, Value> = match handler_status {
        Some(Value::Object(map)) => map,
        None | Some(Value::Null) => match parent.status() {
            Some(Value::Object(map)) => {
                let mut map = map.clone();
                map.remove(SYNC_ERROR_FIELD);
                map
            }
            _ => Map::new(),
        },
        Some(other) => {
            return Err(format!(
                "invalid sync response: status must be a JSON object, got {}",
                json_type(&other)
            ));
        }
    };
    if let Some(generation) = parent.generation {
        status.insert("observedGeneration".into(), json!(generation));
    }
    let status = Value::Object(status);
    let current = parent.status().cloned().unwrap_or_else(|| json!({}));
    if is_subset(&status, &current) && is_subset(&current, &status) {
        Ok(None)
    } else {
        Ok(Some(status))
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

/// Calls the handler with the timeout. A blocking handler that times out keeps running on its
/// thread; the parent stays out of the queue until it returns, so it is never called twice at
/// once for one parent.
async fn call_handler(
    engine: &Arc<Engine>,
    key: &ObjectKey,
    request: SyncRequest,
    finalizing: bool,
) -> Result<HandlerOutcome, SyncOutcome> {
    let timeout = engine.config.sync_timeout;
    let mut call = Arc::clone(&engine.handler).call(request, finalizing);
    let what = if finalizing { "finalize" } else { "sync" };
    let result = match tokio::time::timeout(timeout, &mut call).await {
        Ok(result) => result,
        Err(_) => {
            let message = format!("the {what} handler did not return within {timeout:?}");
            if !engine.handler.is_blocking() {
                // The async call was dropped: an ordinary failure (Event, status, backoff).
                return Err(failed("timeout", "HandlerTimeout", message));
            }
            // The blocking call runs on, and its parent stays out of the queue until it
            // returns; say so now, as no sync will end meanwhile.
            if let Some((parent, _)) = engine.cache.snapshot(key) {
                engine.events.warning(
                    &engine.config.parent,
                    &parent,
                    "HandlerTimeout",
                    message.clone(),
                );
            }
            show_error(engine, key, &message).await;
            tracing::warn!("{message}");
            // A thread cannot be stopped from outside: the call runs on, and this parent waits
            // for it, so that one parent's handler never runs twice at once. Other parents go
            // on (the call no longer holds a concurrency slot); the gauge shows the stuck ones.
            {
                let mut retry = engine.retry();
                let state = retry.entry(key.clone()).or_default();
                state.failures = state.failures.saturating_add(1);
            }
            engine.metrics.handlers_overrunning.inc();
            let engine = Arc::clone(engine);
            let key = key.clone();
            tokio::spawn(async move {
                let _ = call.await;
                engine.metrics.handlers_overrunning.dec();
                tracing::info!("the {what} handler of {key} returned after its timeout");
                finish(&engine, &key, SyncOutcome::HandlerReturnedLate);
            });
            return Err(SyncOutcome::HandlerStillRunning);
        }
    };
    result.map_err(|failure| match failure {
        HandlerFailure::Error(message) => failed(
            "error",
            if finalizing {
                "FinalizeFailed"
            } else {
                "SyncFailed"
            },
            format!("the {what} handler failed: {message}"),
        ),
        HandlerFailure::Panic(message) => failed(
            "panic",
            "HandlerPanicked",
            format!("the {what} handler panicked: {message}"),
        ),
    })
}
