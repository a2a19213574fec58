//! Releasing an object a decorator no longer decorates (it stopped matching the selectors):
//! its finalize call first (with a finalizer), then its attachments deleted, the labels and
//! annotations the decorator applied removed, the finalizer removed.

use std::sync::Arc;

use super::outcome::{SyncOutcome, write_failed};
use super::snapshot::Departed;
use super::{apply, call, finalize, metadata, permit};
use crate::engine::controller::Controller;
use crate::engine::watch::ObjectKey;
use crate::handler::Outcome;
use crate::object::Observed;
use crate::plan;
use crate::request::SyncRequest;
use crate::response::ParentMetadata;

pub(super) async fn run(
    ctl: &Arc<Controller>,
    key: &ObjectKey,
    departed: Departed,
) -> (Option<Arc<Observed>>, SyncOutcome) {
    let live = match ctl.writer.read_parent(key).await {
        Ok(live) => live.filter(|o| o.uid == departed.uid).map(Arc::new),
        Err(e) => return (None, write_failed(e)),
    };
    // Gone: garbage collection removes its attachments.
    let Some(mut parent) = live else {
        ctl.index.forget_departed(key);
        return (None, SyncOutcome::Gone);
    };
    // Selected again since it departed (a label removed and put back): nothing to release; the
    // watch's news of it brings the usual sync.
    if ctl.index.matches(&parent) {
        return (Some(parent), SyncOutcome::Idle);
    }
    let outcome = release(ctl, key, &mut parent, departed.children).await;
    let outcome = outcome.unwrap_or_else(|o| o);
    if matches!(outcome, SyncOutcome::Idle) {
        ctl.index.forget_departed(key);
    }
    (Some(parent), outcome)
}

async fn release(
    ctl: &Arc<Controller>,
    key: &ObjectKey,
    parent: &mut Arc<Observed>,
    children: Vec<Arc<Observed>>,
) -> Result<SyncOutcome, SyncOutcome> {
    if ctl.finalizer_on(parent) {
        let request =
            SyncRequest::from_snapshot(Arc::clone(parent), children.clone(), Vec::new(), true);
        if let Outcome::Finalize(response) = call::handler(ctl, key, parent, request).await?
            && let Some(retry_after) = response.retry_after
        {
            return Ok(SyncOutcome::FinalizePending { retry_after });
        }
    }
    let nothing = ParentMetadata::default();
    let strip_metadata = metadata::needs_apply(parent, &ctl.config.name, &nothing);
    if children.is_empty() && !strip_metadata && !ctl.finalizer_on(parent) {
        return Ok(SyncOutcome::Idle);
    }
    let permit = permit(ctl).await?;
    let ctx = ctl.plan_context(parent);
    let prune = plan::plan(&ctx, &children, &[], &[]);
    // Prunes and releases only: no create needs the parent confirmed live.
    apply::write_children(ctl, &permit, parent, prune.actions, true).await?;
    if strip_metadata {
        *parent = ctl
            .writer
            .apply_parent_metadata(&permit, parent, &nothing.labels, &nothing.annotations)
            .await
            .map_err(write_failed)?;
    }
    finalize::remove(ctl, &permit, parent).await?;
    Ok(SyncOutcome::Idle)
}
