//! The last stage, and the one place for retry policy: record the outcome, decide when the
//! parent is synced next (resync period, the handler's wish, error backoff, hot-loop spacing),
//! release the key.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::outcome::{SyncOutcome, Wrote};
use crate::engine::controller::Controller;
use crate::engine::watch::ObjectKey;
use crate::object::Observed;

/// A parent that writes on this many syncs in a row is in a hot loop (usually a status that
/// changes on every call, like a timestamp): its syncs are then spaced by the error backoff.
const HOT_LOOP_STREAK: u32 = 10;

/// Records the outcome and schedules the parent's next sync; releases the key. `parent` is the
/// parent as the sync last saw it, for Events.
pub(crate) fn finish(
    ctl: &Controller,
    key: &ObjectKey,
    parent: Option<&Observed>,
    outcome: SyncOutcome,
) {
    if let Some(label) = outcome.metric_label() {
        ctl.metrics.sync_result(label);
    }
    let now = Instant::now();
    match outcome {
        SyncOutcome::Gone | SyncOutcome::Idle => {
            ctl.queue.forget(key);
            ctl.retries.forget(key);
            ctl.note_rollout(key, false);
        }
        SyncOutcome::Done {
            resync_after,
            wrote,
        } => succeeded(ctl, key, parent, resync_after, wrote),
        SyncOutcome::FinalizePending { retry_after } => {
            ctl.retries.forget(key);
            ctl.queue.back_off(key, now + retry_after);
        }
        SyncOutcome::Failed(failure) => {
            let failures = ctl.retries.update(key, |s| s.failures += 1).failures;
            let delay = backoff(ctl, failures);
            let kind = ctl.config.parent.kind;
            if failure.kind.is_warning() {
                tracing::warn!(reason = failure.kind.event_reason(), retry_in = ?delay, "sync of {kind} {key} failed: {}", failure.message);
                // Until then, changes of its children (a Deployment's status, say) do not
                // bring the sync back: a failing parent is retried at the backoff's pace, not
                // the event rate. A change of the parent itself does.
                ctl.queue.back_off(key, now + delay);
            } else {
                tracing::debug!(reason = failure.kind.event_reason(), retry_in = ?delay, "sync of {kind} {key} must be retried: {}", failure.message);
                // A lost race: the event of the write we lost to may bring the retry sooner.
                ctl.queue.add_at(key.clone(), now + delay);
            }
        }
        SyncOutcome::NotLeader => {
            // The gate may refuse a permit while this replica still counts as leader (a quorum
            // round that timed out under load): no leadership change will re-enqueue the
            // parent then, so keep it queued. A follower never dequeues it anyway.
            ctl.queue
                .add_at(key.clone(), now + ctl.config.backoff_initial);
        }
        // The key is released when the handler returns.
        SyncOutcome::HandlerStillRunning => return,
        SyncOutcome::HandlerReturnedLate => {
            let failures = ctl.retries.get(key).failures.max(1);
            ctl.queue.back_off(key, now + backoff(ctl, failures));
        }
    }
    ctl.queue.done(key);
}

/// A blocking handler call overran its timeout: it counts as a failure for the backoff.
pub(crate) fn handler_overran(ctl: &Controller, key: &ObjectKey) {
    ctl.retries.update(key, |s| s.failures += 1);
}

fn succeeded(
    ctl: &Controller,
    key: &ObjectKey,
    parent: Option<&Observed>,
    resync_after: Option<Duration>,
    wrote: Wrote,
) {
    let now = Instant::now();
    ctl.queue.succeeded(key);
    let streak = ctl
        .retries
        .update(key, |s| {
            s.failures = 0;
            s.writing_streak = match wrote {
                Wrote::Something => s.writing_streak + 1,
                Wrote::Nothing | Wrote::RolloutStep => 0,
            };
        })
        .writing_streak;
    let period = jittered(ctl.config.resync_period, 0.1);
    let next = resync_after.map_or(period, |d| d.min(period));
    if streak >= HOT_LOOP_STREAK {
        let hold = backoff(ctl, streak - HOT_LOOP_STREAK + 1);
        if streak == HOT_LOOP_STREAK {
            tracing::warn!(
                "parent {key} wrote on {streak} syncs in a row; spacing its syncs by {hold:?}"
            );
            if let Some(parent) = parent {
                ctl.events.warning(parent, "HotLoop", format!(
                    "every sync changes something ({streak} in a row); syncs are now spaced by up to {:?}. A status that changes on every call (a timestamp, a counter) causes this.",
                    ctl.config.backoff_max
                ));
            }
        }
        ctl.queue.hold(key, now + hold);
    }
    ctl.queue.add_at(key.clone(), now + next);
}

/// `initial * 2^(attempt-1)`, at most `max`, scaled by a random factor in [0.75, 1.25].
fn backoff(ctl: &Controller, attempt: u32) -> Duration {
    let (initial, max) = (ctl.config.backoff_initial, ctl.config.backoff_max);
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    jittered(exp.min(max), 0.25).min(max)
}

fn jittered(d: Duration, spread: f64) -> Duration {
    let factor = 1.0 + rand::rng().random_range(-spread..=spread);
    d.mul_f64(factor)
}
