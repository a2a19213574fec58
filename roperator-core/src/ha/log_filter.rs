//! openraft's own log events are for debugging Raft, not for the people on call.
//!
//! openraft logs every failed RPC at WARN or ERROR ("timeout while confirming leadership",
//! "RPCError ... Unreachable node", "heartbeat error", "backoff mode: drain events"), several
//! lines per heartbeat while a peer is down, and every vote and election step at INFO. A filter
//! directive cannot fix that from here: the operator's own subscriber decides what is shown, and
//! its default level (`info`) shows all of it.
//!
//! But openraft runs its work in tasks it spawns through the [`AsyncRuntime`] of its type
//! configuration, which is ours (see `runtime`). Each of those tasks runs with [`dispatch`] as its
//! default dispatcher: a wrapper around the dispatcher that was current when the Raft node started
//! (normally the operator's global subscriber). It passes everything through, except openraft's
//! events at INFO, WARN and ERROR, which reach the operator's subscriber only when it enables the
//! `openraft` target at DEBUG (`RUST_LOG=info,openraft=debug`). What an operator needs to know
//! (a peer stops answering, leadership changes, the node fails) the gate and the transport log
//! themselves, once per change.

use tracing_core::callsite::Callsite;
use tracing_core::span::{Attributes, Current, Id, Record};
use tracing_core::subscriber::{Interest, Subscriber};
use tracing_core::{Dispatch, Event, Level, LevelFilter, Metadata};

/// The dispatcher for openraft's tasks: the current one if it already is the filter (a task
/// spawned by another openraft task), else the filter around the current one.
pub(crate) fn dispatch() -> Dispatch {
    tracing_core::dispatcher::get_default(|current| {
        if current.is::<OpenraftFilter>() {
            current.clone()
        } else {
            Dispatch::new(OpenraftFilter {
                inner: current.clone(),
                max_level: LevelFilter::current(),
            })
        }
    })
}

/// Asks the wrapped subscriber whether it wants openraft's DEBUG events.
struct Probe;

static PROBE_CALLSITE: Probe = Probe;

static PROBE: Metadata<'static> = tracing_core::metadata! {
    name: "openraft debug probe",
    target: "openraft",
    level: Level::DEBUG,
    fields: &[],
    callsite: &PROBE_CALLSITE,
    kind: tracing_core::metadata::Kind::EVENT,
};

impl Callsite for Probe {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        &PROBE
    }
}

struct OpenraftFilter {
    inner: Dispatch,
    /// The most verbose level any subscriber wanted when the filter was made; `Dispatch` does not
    /// expose the wrapped subscriber's own hint.
    max_level: LevelFilter,
}

/// openraft's events above DEBUG: shown only to a subscriber that wants openraft's DEBUG ones.
fn demoted(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    (target == "openraft" || target.starts_with("openraft::"))
        && meta.is_event()
        && *meta.level() <= Level::INFO
}

impl Subscriber for OpenraftFilter {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        let interest = self.inner.register_callsite(meta);
        if demoted(meta) && !interest.is_never() {
            // Decided per event in `enabled`, where the task's dispatcher is known.
            Interest::sometimes()
        } else {
            interest
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        if demoted(meta) && !self.inner.enabled(&PROBE) {
            return false;
        }
        self.inner.enabled(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.inner.new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.inner.record(span, values)
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.inner.record_follows_from(span, follows)
    }

    fn event(&self, event: &Event<'_>) {
        self.inner.event(event)
    }

    fn enter(&self, span: &Id) {
        self.inner.enter(span)
    }

    fn exit(&self, span: &Id) {
        self.inner.exit(span)
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.inner.clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.inner.try_close(id)
    }

    fn current_span(&self) -> Current {
        self.inner.current_span()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing::instrument::WithSubscriber;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a subscriber with `filter` prints of a few events, emitted inside the filter.
    async fn printed(filter: &str) -> String {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let outer = Dispatch::new(subscriber);
        let task = async {
            let filtered = dispatch();
            async {
                tracing::error!(target: "openraft::core::raft_core", "openraft error");
                tracing::warn!(target: "openraft::replication", "openraft warning");
                tracing::info!(target: "openraft::engine", "openraft info");
                tracing::debug!(target: "openraft::engine", "openraft debug");
                tracing::warn!(target: "roperator_core::ha", "our warning");
                tracing::info!(target: "openraftish", "another crate");
            }
            .with_subscriber(filtered)
            .await
        };
        task.with_subscriber(outer).await;
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test]
    async fn openraft_events_show_only_where_its_debug_events_are_wanted() {
        let default = printed("info").await;
        assert!(!default.contains("openraft error"), "{default}");
        assert!(!default.contains("openraft warning"), "{default}");
        assert!(!default.contains("openraft info"), "{default}");
        assert!(default.contains("our warning"), "{default}");
        assert!(default.contains("another crate"), "{default}");

        let debugging = printed("info,openraft=debug").await;
        for line in [
            "openraft error",
            "openraft warning",
            "openraft info",
            "openraft debug",
        ] {
            assert!(debugging.contains(line), "{line} missing: {debugging}");
        }

        let silenced = printed("info,openraft=off").await;
        for line in ["openraft error", "openraft warning", "openraft info"] {
            assert!(!silenced.contains(line), "{line} shown: {silenced}");
        }
    }
}
