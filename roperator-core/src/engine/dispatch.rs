//! Handing parent keys to sync tasks while this replica leads: one sync per parent at a time,
//! at most `max_concurrent_syncs` per controller at once, so that a controller with a flood of
//! work (or stuck handlers) does not hold up the others.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::controller::Controller;
use crate::engine::metrics::Metrics;
use crate::engine::monitor::Monitor;
use crate::engine::sync;
use crate::leader::LeaderState;

/// The dispatcher of one controller; returns when `stop` fires.
pub(crate) async fn run(ctl: Arc<Controller>, stop: CancellationToken) {
    // A sync before every watch of this controller has listed could see a parent without its
    // children (an operator restarting next to existing children) and try to create them
    // again. Other controllers' watches are not waited for.
    tokio::select! {
        _ = stop.cancelled() => return,
        _ = ctl.caches_listed() => {}
    }
    ctl.queue_departures_missed();
    let mut leadership = ctl.gate.subscribe();
    loop {
        if !leadership.borrow_and_update().is_leader {
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = leadership.changed() => {
                    if changed.is_err() { return; }
                    continue;
                }
            }
        }
        let slot = tokio::select! {
            _ = stop.cancelled() => return,
            slot = Arc::clone(&ctl.slots).acquire_owned() => match slot { Ok(s) => s, Err(_) => return },
        };
        let key = tokio::select! {
            _ = stop.cancelled() => return,
            changed = leadership.changed() => {
                if changed.is_err() { return; }
                continue;
            }
            key = ctl.queue.next() => key,
        };
        let epoch = ctl.epoch();
        let ctl = Arc::clone(&ctl);
        tokio::spawn(async move {
            // Handler panics are caught where the handler is called; this catches a bug in
            // the engine itself, which must not leave the parent marked running for ever.
            let task =
                std::panic::AssertUnwindSafe(sync::run(Arc::clone(&ctl), key.clone(), epoch));
            if let Err(panic) = futures::FutureExt::catch_unwind(task).await {
                let message = crate::handler::panic_message(panic.as_ref());
                tracing::error!("the sync of {key} panicked inside the engine: {message}");
                sync::finish(&ctl, &key, None, sync::engine_panicked(message));
            }
            ctl.overrun_returned(&key).await;
            drop(slot);
        });
    }
}

/// Follows leadership for every controller: a new leader syncs every parent (its view may
/// differ from what the previous leader acted on); losing leadership cancels in-flight syncs.
pub(crate) async fn follow_leadership(
    controllers: Vec<Arc<Controller>>,
    mut leadership: watch::Receiver<LeaderState>,
    metrics: Metrics,
    monitor: Monitor,
    stop: CancellationToken,
) {
    let mut was_leader = false;
    loop {
        let state = leadership.borrow_and_update().clone();
        metrics.leader.set(i64::from(state.is_leader));
        metrics
            .leader_term
            .set(i64::try_from(state.term).unwrap_or(i64::MAX));
        monitor.set_leader(state.is_leader);
        if state.is_leader && !was_leader {
            for ctl in &controllers {
                ctl.renew_epoch();
                for key in ctl.index.parent_keys() {
                    ctl.queue.add(key);
                }
            }
        } else if !state.is_leader && was_leader {
            for ctl in &controllers {
                ctl.epoch().cancel();
            }
        }
        was_leader = state.is_leader;
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = leadership.changed() => if changed.is_err() { return },
        }
    }
}
