//! The handler's answer to a sync, applied: validate and plan (pure), then the writes, the
//! parent's labels and annotations, the status.

use std::sync::Arc;
use std::time::Duration;

use super::outcome::{Failure, FailureKind, SyncOutcome, Wrote, write_failed};
use super::snapshot::{self, Present};
use super::{execute, metadata, permit, report, status};
use crate::engine::controller::Controller;
use crate::engine::watch::ObjectKey;
use crate::object::Observed;
use crate::plan::{self, Action, ChangeKind};
use crate::response::SyncResponse;

/// After deleting a child to recreate it, the next sync comes this soon (the deletion may still
/// be in progress; then the sync waits and the child's deletion event brings the next one).
const RECREATE_FOLLOW_UP: Duration = Duration::from_millis(50);

/// While a desired child waits for an orphan of its name to be deleted, the parent is synced
/// again this soon.
const AWAIT_DELETION: Duration = Duration::from_secs(1);

fn invalid(message: String) -> SyncOutcome {
    Failure::new(FailureKind::InvalidSyncResponse, message).into()
}

/// Applies `response`; `parent` becomes the parent as the last write returned it.
/// `confirmed_live`: this sync already saw the API server accept a write to the parent (see
/// `finalize::Ensured`).
pub(super) async fn sync_response(
    ctl: &Controller,
    parent: &mut Arc<Observed>,
    snapshot: &Present,
    response: SyncResponse,
    confirmed_live: bool,
) -> Result<SyncOutcome, SyncOutcome> {
    if let Some(first) = response.serialize_errors.first() {
        return Err(invalid(format!("invalid sync response: {first}")));
    }
    let ctx = ctl.plan_context(parent);
    let desired = plan::validate(&ctx, &response.children).map_err(|e| invalid(e.to_string()))?;
    let orphans = snapshot::orphans(ctl, &desired, &snapshot.children);
    let plan::Plan {
        actions,
        rollouts,
        awaits_deletion,
    } = plan::plan(&ctx, &snapshot.children, &orphans, &desired);
    ctl.note_rollout(&ObjectKey::of(parent), rollouts.iter().any(|p| p.held > 0));
    let resync_after = match (awaits_deletion, response.resync_after) {
        (true, wish) => Some(wish.map_or(AWAIT_DELETION, |d| d.min(AWAIT_DELETION))),
        (false, wish) => wish,
    };
    let status = status::desired(
        ctl,
        parent,
        response.status,
        Some(&rollouts),
        FailureKind::InvalidSyncResponse,
    )
    .map_err(|f| invalid(format!("invalid sync response: {}", f.message)))?;
    let apply_metadata = metadata::needs_apply(parent, &ctl.config.name, &response.parent_metadata);
    if actions.is_empty() && status.is_none() && !apply_metadata {
        return Ok(SyncOutcome::Done {
            resync_after,
            wrote: Wrote::Nothing,
        });
    }
    let permit = permit(ctl).await?;
    let changes = write_children(ctl, &permit, parent, actions, confirmed_live).await?;
    if apply_metadata {
        let meta = &response.parent_metadata;
        *parent = ctl
            .writer
            .apply_parent_metadata(&permit, parent, &meta.labels, &meta.annotations)
            .await
            .map_err(write_failed)?;
    }
    *parent = status::write(ctl, &permit, parent, status).await?;
    // The handler computed its status from the children as they were before these writes, and
    // the watch echo of our own writes queues nothing; one follow-up sync lets the status
    // reflect what the writes produced (it writes nothing if it agrees). A recreated child is
    // created on that sync, once its deletion is seen.
    let follow_up = if changes.contains(&ChangeKind::Recreating) {
        Some(RECREATE_FOLLOW_UP)
    } else if !changes.is_empty() {
        Some(Duration::ZERO)
    } else {
        resync_after
    };
    Ok(SyncOutcome::Done {
        resync_after: follow_up,
        wrote: what_was_written(&rollouts),
    })
}

/// A step of a rollout that holds more children back is progress; the last step, or a fight
/// over one child's content with another writer, counts as any write.
fn what_was_written(rollouts: &[plan::Progress]) -> Wrote {
    if rollouts
        .iter()
        .any(|p| !p.updating.is_empty() && p.held > 0)
    {
        Wrote::RolloutStep
    } else {
        Wrote::Something
    }
}

/// The planned writes, reported; returns the kinds of change made. Before creating or adopting
/// children of a parent the cache may show stale, the parent is read: when a parent is
/// deleted, garbage collection deletes its children (or orphans them), and that may be seen
/// before the parent's deletion. An orphan adopted by a parent that is gone would be deleted by
/// garbage collection, as Kubernetes deletes whatever names a missing owner.
pub(super) async fn write_children(
    ctl: &Controller,
    permit: &crate::leader::WritePermit,
    parent: &Observed,
    actions: Vec<Action>,
    confirmed_live: bool,
) -> Result<Vec<ChangeKind>, SyncOutcome> {
    if actions.is_empty() {
        return Ok(Vec::new());
    }
    let needs_live_parent = |a: &Action| matches!(a, Action::Create { .. } | Action::Adopt { .. });
    if !confirmed_live && actions.iter().any(needs_live_parent) {
        match ctl.writer.parent_is_live(parent).await {
            Ok(true) => {}
            Ok(false) => return Err(SyncOutcome::Idle),
            Err(e) => return Err(write_failed(e)),
        }
    }
    let (changes, failure) = execute::plan(ctl, permit, parent, actions).await;
    report::changes(ctl, parent, &changes);
    match failure {
        Some(e) => Err(write_failed(e)),
        None => Ok(changes.iter().map(|c| c.kind).collect()),
    }
}
