//! Calling the handler: off the async runtime (or on its own task), with the timeout, panics
//! caught.

use std::sync::Arc;

use super::outcome::{Failure, FailureKind, SyncOutcome};
use super::{report, schedule, status};
use crate::engine::controller::Controller;
use crate::engine::watch::ObjectKey;
use crate::handler::{HandlerFailure, Outcome};
use crate::object::Observed;
use crate::request::SyncRequest;

/// Calls the handler. A blocking handler that times out keeps running on its thread; the
/// parent stays out of the queue until it returns, so it is never called twice at once for one
/// parent.
pub(super) async fn handler(
    ctl: &Arc<Controller>,
    key: &ObjectKey,
    parent: &Observed,
    request: SyncRequest,
) -> Result<Outcome, SyncOutcome> {
    let finalizing = request.is_finalizing();
    let timeout = ctl.config.sync_timeout;
    let mut call = Arc::clone(&ctl.handler).call(request, finalizing);
    let what = if finalizing { "finalize" } else { "sync" };
    let Ok(result) = tokio::time::timeout(timeout, &mut call).await else {
        let failure = Failure::new(
            FailureKind::HandlerTimeout,
            format!("the {what} handler did not return within {timeout:?}"),
        );
        if !ctl.handler.is_blocking() {
            // The async call was dropped: an ordinary failure (Event, status, backoff).
            return Err(failure.into());
        }
        // The blocking call runs on, and its parent stays out of the queue until it returns;
        // say so now, as no sync will end meanwhile.
        report::failure(ctl, parent, &failure);
        status::show_failure(ctl, parent, &failure).await;
        schedule::handler_overran(ctl, key);
        let ctl = Arc::clone(ctl);
        let key = key.clone();
        let overrunning = ctl.metrics.handlers_overrunning();
        overrunning.inc();
        // The call keeps its thread, so this sync's slot stays taken until it returns (the
        // dispatcher waits for `returned`): a handler that hangs on every parent holds at most
        // the controller's slots in threads, not the runtime's whole blocking pool.
        let (returned, wait) = tokio::sync::oneshot::channel();
        ctl.overrun_started(&key, wait);
        tokio::spawn(async move {
            let _ = call.await;
            let _ = returned.send(());
            overrunning.dec();
            tracing::info!("the {what} handler of {key} returned after its timeout");
            schedule::finish(&ctl, &key, None, SyncOutcome::HandlerReturnedLate);
        });
        return Err(SyncOutcome::HandlerStillRunning);
    };
    result.map_err(|failure| {
        let (kind, message) = match failure {
            HandlerFailure::Error(message) if finalizing => (
                FailureKind::FinalizeError,
                format!("the finalize handler failed: {message}"),
            ),
            HandlerFailure::Error(message) => (
                FailureKind::SyncError,
                format!("the sync handler failed: {message}"),
            ),
            HandlerFailure::Panic(message) => (
                FailureKind::HandlerPanic,
                format!("the {what} handler panicked: {message}"),
            ),
        };
        Failure::new(kind, message).into()
    })
}
