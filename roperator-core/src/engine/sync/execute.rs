//! Carrying out a plan: wave after wave (see `plan::waves`), the writes of one wave
//! concurrently, a few at a time.

use futures::StreamExt;

use crate::engine::controller::Controller;
use crate::engine::writer::{Change, WriteError};
use crate::leader::WritePermit;
use crate::object::Observed;
use crate::plan::{self, Action};

/// Writes of one wave in flight at once: enough to hide the API server's latency for a parent
/// with many children, few enough that one parent cannot flood it.
const CONCURRENT_WRITES: usize = 8;

/// The changes made, and the first failure (after which no later wave starts; the writes of
/// the failing wave that were already sent complete).
pub(super) async fn plan(
    ctl: &Controller,
    permit: &WritePermit,
    parent: &Observed,
    actions: Vec<Action>,
) -> (Vec<Change>, Option<WriteError>) {
    let mut changes = Vec::new();
    for wave in plan::waves(actions) {
        let results: Vec<Result<Change, WriteError>> = futures::stream::iter(wave)
            .map(|action| ctl.writer.apply(permit, parent, action))
            .buffered(CONCURRENT_WRITES)
            .collect()
            .await;
        let mut failure = None;
        for result in results {
            match result {
                Ok(change) => changes.push(change),
                Err(e) => {
                    failure.get_or_insert(adopting(ctl, e));
                }
            }
        }
        if failure.is_some() {
            return (changes, failure);
        }
    }
    (changes, None)
}

/// An orphan found in a create's way is no collision for a type that adopts: the cache had not
/// shown it yet (it was orphaned a moment ago), and the next sync adopts it.
fn adopting(ctl: &Controller, e: WriteError) -> WriteError {
    match e {
        WriteError::Orphan {
            child_type,
            message,
        } if ctl.config.adopts(child_type) => WriteError::Conflict(format!(
            "{message} [the controller adopts it on its next sync]"
        )),
        other => other,
    }
}
