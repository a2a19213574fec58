//! Telling people what a sync did: a log line and one Normal Event per kind of change, a
//! Warning Event per failure.

use super::outcome::Failure;
use crate::engine::controller::Controller;
use crate::engine::writer::Change;
use crate::object::Observed;
use crate::plan::ChangeKind;

pub(super) fn changes(ctl: &Controller, parent: &Observed, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let all: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}", c.kind.past_tense(), c.description))
        .collect();
    tracing::info!(changes = changes.len(), "{}", all.join("; "));
    // One Event per kind of change, so `kubectl describe` shows at a glance what was created
    // and what was deleted, and a long list in one kind cannot push the others out of its note.
    for kind in ChangeKind::ALL {
        let these: Vec<&str> = changes
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.description.as_str())
            .collect();
        if !these.is_empty() {
            ctl.events.normal(
                parent,
                kind.event_reason(),
                listing(kind.past_tense(), &these),
            );
        }
    }
}

pub(super) fn failure(ctl: &Controller, parent: &Observed, failure: &Failure) {
    ctl.events
        .warning(parent, failure.kind.event_reason(), failure.message.clone());
}

/// `"created ConfigMap ns/a, Secret ns/b"`, shortened to `"…, and 12 more"` where an Event's
/// note (1 kB at most) cannot hold them all.
fn listing(verb: &str, items: &[&str]) -> String {
    const ROOM: usize = 900;
    let mut note = verb.to_string();
    for (i, item) in items.iter().enumerate() {
        if note.len() + item.len() > ROOM {
            note.push_str(&format!(", and {} more", items.len() - i));
            break;
        }
        note.push_str(if i == 0 { " " } else { ", " });
        note.push_str(item);
    }
    note
}
