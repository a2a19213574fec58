//! How a sync ends, and why one failed: enums that carry their metric label and Event reason.

use std::time::Duration;

use crate::engine::writer::WriteError;

/// How a sync ended.
#[derive(Debug)]
pub(crate) enum SyncOutcome {
    /// The parent is not in the cache any more.
    Gone,
    /// Nothing to do until something changes (a parent being deleted without our finalizer, a
    /// finalized parent, a released decorated object).
    Idle,
    /// Done; `wrote` says what was written.
    Done {
        resync_after: Option<Duration>,
        wrote: Wrote,
    },
    /// A finalize that is not finished: it is called again after `retry_after`, and not before
    /// because a child changed (a change of the parent itself does bring it forward).
    FinalizePending { retry_after: Duration },
    /// Failed; retried with backoff.
    Failed(Failure),
    /// Leadership was lost: the new leader takes over.
    NotLeader,
    /// A blocking handler timed out and still runs: the key is released when it returns.
    HandlerStillRunning,
    /// That handler returned at last (its answer is discarded): the key is released, and the
    /// parent retried with backoff.
    HandlerReturnedLate,
}

/// What a successful sync wrote, as the hot-loop guard counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrote {
    Nothing,
    Something,
    /// A rollout moved on to its next children: progress paced by the children becoming ready
    /// (events from their controllers), not a loop, however many steps the rollout has.
    RolloutStep,
}

impl SyncOutcome {
    /// The `result` label of `roperator_syncs_total`.
    pub fn metric_label(&self) -> Option<&'static str> {
        match self {
            SyncOutcome::Gone => Some("gone"),
            SyncOutcome::Idle | SyncOutcome::Done { .. } | SyncOutcome::FinalizePending { .. } => {
                Some("success")
            }
            SyncOutcome::Failed(f) => Some(f.kind.metric_label()),
            SyncOutcome::NotLeader => Some("not_leader"),
            SyncOutcome::HandlerStillRunning => Some("timeout"),
            // Counted as a timeout when it overran.
            SyncOutcome::HandlerReturnedLate => None,
        }
    }
}

/// Why a sync failed, with the message for the log, the Event and `status.syncError`.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<Failure> for SyncOutcome {
    fn from(f: Failure) -> Self {
        SyncOutcome::Failed(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// The sync handler returned an error.
    SyncError,
    /// The finalize handler returned an error.
    FinalizeError,
    HandlerPanic,
    HandlerTimeout,
    InvalidSyncResponse,
    InvalidFinalizeResponse,
    /// A related-object selection of the parent cannot be served.
    InvalidRelatedSelection,
    /// A write found the object changed meanwhile (409): retried without a Warning.
    Conflict,
    NameCollision,
    WriteFailed,
    /// A bug in the engine itself.
    EnginePanic,
}

impl FailureKind {
    /// The `result` label of `roperator_syncs_total`.
    pub fn metric_label(self) -> &'static str {
        match self {
            FailureKind::SyncError | FailureKind::FinalizeError => "error",
            FailureKind::HandlerPanic | FailureKind::EnginePanic => "panic",
            FailureKind::HandlerTimeout => "timeout",
            FailureKind::InvalidSyncResponse
            | FailureKind::InvalidFinalizeResponse
            | FailureKind::InvalidRelatedSelection => "invalid",
            FailureKind::Conflict => "conflict",
            FailureKind::NameCollision | FailureKind::WriteFailed => "write_error",
        }
    }

    /// The reason of the Warning Event and of the `Synced=False` condition.
    pub fn event_reason(self) -> &'static str {
        match self {
            FailureKind::SyncError => "SyncFailed",
            FailureKind::FinalizeError => "FinalizeFailed",
            FailureKind::HandlerPanic => "HandlerPanicked",
            FailureKind::HandlerTimeout => "HandlerTimeout",
            FailureKind::InvalidSyncResponse => "InvalidSyncResponse",
            FailureKind::InvalidFinalizeResponse => "InvalidFinalizeResponse",
            FailureKind::InvalidRelatedSelection => "InvalidRelatedSelection",
            FailureKind::Conflict => "Conflict",
            FailureKind::NameCollision => "NameCollision",
            FailureKind::WriteFailed => "WriteFailed",
            FailureKind::EnginePanic => "EnginePanicked",
        }
    }

    /// `false` for failures that are part of normal operation (a lost race): no Warning, no
    /// status, and the event of the write we lost to may bring the retry sooner.
    pub fn is_warning(self) -> bool {
        self != FailureKind::Conflict
    }
}

/// The outcome of a failed write.
pub(crate) fn write_failed(e: WriteError) -> SyncOutcome {
    let kind = match &e {
        WriteError::NotLeader(_) => return SyncOutcome::NotLeader,
        WriteError::Conflict(_) => FailureKind::Conflict,
        WriteError::Collision(_) | WriteError::Orphan { .. } => FailureKind::NameCollision,
        WriteError::Api { .. } => FailureKind::WriteFailed,
    };
    let message = match e {
        WriteError::Conflict(what)
        | WriteError::Collision(what)
        | WriteError::Orphan { message: what, .. } => what,
        other => other.to_string(),
    };
    Failure::new(kind, message).into()
}

/// The outcome of a sync that panicked inside the engine (a bug): retried with backoff like
/// any failure.
pub(crate) fn engine_panicked(message: String) -> SyncOutcome {
    Failure::new(
        FailureKind::EnginePanic,
        format!(
            "the engine panicked while syncing (a bug in roperator; please report it): {message}"
        ),
    )
    .into()
}
