//! One sync of one parent, as a pipeline of named stages:
//!
//! 1. [`snapshot`]: take the parent, its children and its related objects from the caches, once;
//! 2. [`finalize::ensure`]: add the controller's finalizer before the first handler call;
//! 3. [`call`]: call the handler (timeout, panics caught);
//! 4. [`apply`] (or [`finalize`] while the parent is being deleted): validate and plan, write
//!    children, the parent's labels and annotations, the status ([`status`]), report changes
//!    ([`report`]);
//! 5. [`schedule`]: record the outcome and decide when the parent is synced next.
//!
//! A decorated object that stopped matching takes the [`release`] path instead of 2-4.
//! Every stage returns `Err(outcome)` to end the sync early; a failure writes and deletes
//! nothing more, and is shown on the parent (Event, `status.syncError`, `Synced=False`).

mod apply;
mod call;
mod execute;
mod finalize;
mod metadata;
mod outcome;
mod release;
mod report;
mod schedule;
mod snapshot;
mod status;

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::engine::controller::Controller;
use crate::engine::watch::ObjectKey;
use crate::handler::Outcome;
use crate::leader::WritePermit;
use crate::object::Observed;
use outcome::SyncOutcome;
use snapshot::Snapshot;

pub(crate) use outcome::engine_panicked;
pub(crate) use schedule::finish;

/// Syncs `key` and schedules its next sync. Cancelled (as lost leadership) with `epoch`.
pub(crate) async fn run(ctl: Arc<Controller>, key: ObjectKey, epoch: CancellationToken) {
    let span = tracing::info_span!(
        "sync",
        controller = %ctl.config.name,
        namespace = key.namespace.as_deref().unwrap_or(""),
        name = %key.name,
        parent = ctl.config.parent.kind,
    );
    let started = Instant::now();
    let (parent, outcome) = tokio::select! {
        ran = pipeline(&ctl, &key, &epoch).instrument(span.clone()) => ran,
        _ = epoch.cancelled() => (None, SyncOutcome::NotLeader),
    };
    if let (SyncOutcome::Failed(failure), Some(parent)) = (&outcome, &parent)
        && failure.kind.is_warning()
    {
        report::failure(&ctl, parent, failure);
        tokio::select! {
            _ = status::show_failure(&ctl, parent, failure).instrument(span.clone()) => {}
            _ = epoch.cancelled() => {}
        }
    }
    ctl.metrics.sync_duration(started.elapsed().as_secs_f64());
    let _entered = span.enter();
    schedule::finish(&ctl, &key, parent.as_deref(), outcome);
}

/// The stages; returns the parent as last seen (for reporting a failure) and the outcome.
async fn pipeline(
    ctl: &Arc<Controller>,
    key: &ObjectKey,
    epoch: &CancellationToken,
) -> (Option<Arc<Observed>>, SyncOutcome) {
    let present = match snapshot::take(ctl, key) {
        Snapshot::Gone => return (None, SyncOutcome::Gone),
        Snapshot::Departed(departed) => return release::run(ctl, key, departed).await,
        Snapshot::Present(present) => present,
    };
    let mut parent = Arc::clone(&present.parent);
    let outcome = async {
        let finalizing = parent.deleting;
        // A parent being deleted is finalized with the related objects that could be read: a
        // bad selection in its spec must not hold its deletion forever.
        if let Some(invalid) = &present.invalid_selection
            && !finalizing
        {
            return Err(invalid.clone().into());
        }
        if finalizing && !ctl.finalizer_on(&parent) {
            return Ok(SyncOutcome::Idle);
        }
        let ensured = finalize::ensure(ctl, Arc::clone(&parent)).await?;
        parent = ensured.parent;
        let request = present.request(Arc::clone(&parent), finalizing);
        let answer = call::handler(ctl, key, &parent, request).await?;
        if epoch.is_cancelled() {
            return Err(SyncOutcome::NotLeader);
        }
        match answer {
            Outcome::Sync(response) => {
                let live = ensured.confirmed_live;
                apply::sync_response(ctl, &mut parent, &present, response, live).await
            }
            Outcome::Finalize(response) => {
                finalize::finalize_response(ctl, &mut parent, response).await
            }
        }
    }
    .await;
    (Some(parent), outcome.unwrap_or_else(|o| o))
}

/// Permission for a batch of writes; refused, the sync ends as [`SyncOutcome::NotLeader`].
async fn permit(ctl: &Controller) -> Result<WritePermit, SyncOutcome> {
    ctl.gate.acquire().await.map_err(|e| {
        tracing::debug!(error = %e, "not writing");
        SyncOutcome::NotLeader
    })
}
