//! The controller's finalizer: added before the first handler call, removed once `finalize`
//! reports done.

use std::sync::Arc;

use super::outcome::{Failure, FailureKind, SyncOutcome, write_failed};
use super::{permit, status};
use crate::engine::controller::Controller;
use crate::object::Observed;
use crate::response::FinalizeResponse;

/// The parent once [`ensure`] is done with it.
pub(super) struct Ensured {
    pub parent: Arc<Observed>,
    /// `true` when the API server just accepted our finalizer on this very version of the
    /// parent: it existed and was not being deleted (a finalizer cannot be added then), so the
    /// sync need not read it again before creating children. Should its deletion start while
    /// the handler runs, our finalizer keeps it until the finalize hook ran, and children
    /// created meanwhile go with it.
    pub confirmed_live: bool,
}

/// Adds the finalizer when the controller has one and the parent lacks it. Before the handler
/// runs, not after it succeeds: a parent whose syncs fail still gets its finalize call when it
/// is deleted, and whatever the handler set up outside the cluster on an earlier partial
/// success is cleaned up.
pub(super) async fn ensure(
    ctl: &Controller,
    parent: Arc<Observed>,
) -> Result<Ensured, SyncOutcome> {
    let unchanged = |parent| Ensured {
        parent,
        confirmed_live: false,
    };
    let Some(finalizer) = ctl.config.finalizer.as_deref() else {
        return Ok(unchanged(parent));
    };
    if ctl.finalizer_on(&parent) {
        return Ok(unchanged(parent));
    }
    let permit = permit(ctl).await?;
    let parent = ctl
        .writer
        .add_finalizer(&permit, &parent, finalizer)
        .await
        .map_err(write_failed)?;
    Ok(Ensured {
        confirmed_live: !parent.deleting,
        parent,
    })
}

fn invalid(message: String) -> SyncOutcome {
    Failure::new(FailureKind::InvalidFinalizeResponse, message).into()
}

/// Applies `response`: the status, then (when done) the finalizer's removal.
pub(super) async fn finalize_response(
    ctl: &Controller,
    parent: &mut Arc<Observed>,
    response: FinalizeResponse,
) -> Result<SyncOutcome, SyncOutcome> {
    if let Some(first) = response.serialize_errors.first() {
        return Err(invalid(format!("invalid finalize response: {first}")));
    }
    let status = status::desired(
        ctl,
        parent,
        response.status,
        None,
        FailureKind::InvalidFinalizeResponse,
    )
    .map_err(|f| invalid(format!("invalid finalize response: {}", f.message)))?;
    let pending = response.retry_after;
    if let (None, Some(retry_after)) = (&status, pending) {
        return Ok(SyncOutcome::FinalizePending { retry_after });
    }
    let permit = permit(ctl).await?;
    *parent = status::write(ctl, &permit, parent, status).await?;
    if let Some(retry_after) = pending {
        return Ok(SyncOutcome::FinalizePending { retry_after });
    }
    remove(ctl, &permit, parent).await?;
    Ok(SyncOutcome::Idle)
}

/// Removes the controller's finalizer (if it is there) and says so in an Event.
pub(super) async fn remove(
    ctl: &Controller,
    permit: &crate::leader::WritePermit,
    parent: &mut Arc<Observed>,
) -> Result<(), SyncOutcome> {
    let Some(finalizer) = ctl.config.finalizer.as_deref() else {
        return Ok(());
    };
    if !ctl.finalizer_on(parent) {
        return Ok(());
    }
    *parent = ctl
        .writer
        .remove_finalizer(permit, parent, finalizer)
        .await
        .map_err(write_failed)?;
    ctl.events.normal(
        parent,
        "Finalized",
        format!("finalizer {finalizer} removed"),
    );
    Ok(())
}
