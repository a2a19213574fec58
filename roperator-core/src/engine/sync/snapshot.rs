//! The first stage: one consistent look at the caches for a parent, taken once per sync.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::outcome::{Failure, FailureKind};
use crate::engine::controller::{Controller, ParentState, Query};
use crate::engine::watch::ObjectKey;
use crate::object::{Observed, controller_uid};
use crate::plan::Desired;
use crate::request::SyncRequest;

/// What the caches say about a parent key.
pub(crate) enum Snapshot {
    /// Not a parent of this controller (any more).
    Gone,
    /// A decorated object that stopped matching: what the decorator left on it.
    Departed(Departed),
    /// A parent, its children and the related objects it reads.
    Present(Present),
}

pub(crate) struct Departed {
    pub uid: String,
    pub children: Vec<Arc<Observed>>,
}

pub(crate) struct Present {
    pub parent: Arc<Observed>,
    pub children: Vec<Arc<Observed>>,
    pub related: Vec<Arc<Observed>>,
    /// A selection of related objects that cannot be served (the sync fails with it).
    pub invalid_selection: Option<Failure>,
}

impl Present {
    /// The handler's request, for `parent` (the snapshot's, or the one a write returned since).
    pub fn request(&self, parent: Arc<Observed>, finalizing: bool) -> SyncRequest {
        SyncRequest::from_snapshot(
            parent,
            self.children.clone(),
            self.related.clone(),
            finalizing,
        )
    }
}

pub(crate) fn take(ctl: &Controller, key: &ObjectKey) -> Snapshot {
    match ctl.index.parent(key) {
        ParentState::Unknown => Snapshot::Gone,
        ParentState::Departed(uid) => Snapshot::Departed(Departed {
            children: children_of(ctl, &uid),
            uid,
        }),
        ParentState::Present(uid) => {
            let Some(parent) = ctl.parents.store.get(key).filter(|p| p.uid == uid) else {
                // The store moved on (a new incarnation); its event queues the key again.
                return Snapshot::Gone;
            };
            let (related, invalid_selection) = related_of(ctl, key);
            Snapshot::Present(Present {
                children: children_of(ctl, &uid),
                parent,
                related,
                invalid_selection,
            })
        }
    }
}

/// The children indexed under `uid`, ordered by type, namespace and name (so the handler sees
/// the same order every time), and only those still owned by it.
fn children_of(ctl: &Controller, uid: &str) -> Vec<Arc<Observed>> {
    let mut children: Vec<Arc<Observed>> = ctl
        .index
        .children_of(uid)
        .into_iter()
        .filter_map(|c| ctl.children.get(c.type_index)?.store.get(&c.key))
        .filter(|c| c.parent_uid.as_deref() == Some(uid))
        .collect();
    children.sort_by(|a, b| {
        (&a.api_version, &a.kind, &a.namespace, &a.name).cmp(&(
            &b.api_version,
            &b.kind,
            &b.namespace,
            &b.name,
        ))
    });
    children
}

/// The related objects the parent selected, each once, ordered by type, namespace and name.
fn related_of(ctl: &Controller, key: &ObjectKey) -> (Vec<Arc<Observed>>, Option<Failure>) {
    let mut found: BTreeMap<(usize, ObjectKey), Arc<Observed>> = BTreeMap::new();
    let mut invalid = None;
    for query in ctl.index.queries(key) {
        match query {
            Query::Name { type_index, key } => {
                if let Some(o) = ctl.related.get(type_index).and_then(|i| i.store.get(&key)) {
                    found.insert((type_index, key), o);
                }
            }
            Query::Labels {
                type_index,
                namespace,
                selector,
            } => {
                let Some(informer) = ctl.related.get(type_index) else {
                    continue;
                };
                let scope = ctl.index.related_scope(type_index);
                for o in informer.store.select(namespace.as_deref(), &selector) {
                    let in_scope = match (&o.namespace, scope) {
                        (Some(ns), Some(scope)) => scope.contains(ns),
                        _ => true,
                    };
                    if in_scope {
                        found.insert((type_index, ObjectKey::of(&o)), o);
                    }
                }
            }
            Query::Invalid { message } => {
                invalid.get_or_insert(Failure::new(FailureKind::InvalidRelatedSelection, message));
            }
        }
    }
    (found.into_values().collect(), invalid)
}

/// The objects `desired` names that are not among `children` but carry this controller's
/// managed-by label (the child informers select by it) and have no controller: orphans, for
/// the child types that adopt them. Costs nothing for types that do not adopt.
pub(super) fn orphans(
    ctl: &Controller,
    desired: &[Desired],
    children: &[Arc<Observed>],
) -> Vec<Arc<Observed>> {
    if !ctl
        .config
        .children
        .iter()
        .any(|(_, config)| config.adoption)
    {
        return Vec::new();
    }
    desired
        .iter()
        .filter(|d| ctl.config.adopts(d.child_type))
        .filter_map(|d| {
            let index = ctl
                .config
                .children
                .iter()
                .position(|(t, _)| *t == d.child_type)?;
            let exists = children.iter().any(|c| {
                d.child_type.matches(&c.api_version, &c.kind)
                    && c.name == d.name
                    && c.namespace == d.namespace
            });
            if exists {
                return None;
            }
            let key = ObjectKey {
                namespace: d.namespace.clone(),
                name: d.name.clone(),
            };
            let found = ctl.children.get(index)?.store.get(&key)?;
            controller_uid(&found.json).is_none().then_some(found)
        })
        .collect()
}
