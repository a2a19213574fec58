//! Which related objects each parent reads, and the reverse: which parents read an object.

use std::collections::{BTreeSet, HashMap};

use crate::config::{NamespaceScope, Select};
use crate::engine::watch::ObjectKey;
use crate::k8s_type::K8sType;
use crate::object::Observed;
use crate::selector::LabelSelector;

/// One selection of a parent, resolved against the parent (its namespace filled in) and the
/// watch of the related type.
#[derive(Debug, Clone)]
pub(crate) enum Query {
    Name {
        type_index: usize,
        key: ObjectKey,
    },
    Labels {
        type_index: usize,
        /// `None`: every namespace the watch covers.
        namespace: Option<String>,
        selector: LabelSelector,
    },
    /// A selection that cannot be served; the parent's sync fails with this message.
    Invalid {
        message: String,
    },
}

/// A related type as the index needs it: the type, the namespaces its watch covers, and the
/// one name it is narrowed to, if any.
pub(crate) struct RelatedWatch {
    pub t: K8sType,
    pub scope: NamespaceScope,
    pub name: Option<String>,
}

/// Resolves `select` (returned by the related type's selection function for `parent`).
pub(crate) fn resolve(
    parent: &Observed,
    type_index: usize,
    watch: &RelatedWatch,
    select: Select,
) -> Query {
    let described = format!("the selection of related {} objects {select}", watch.t.kind);
    let invalid = |why: String| Query::Invalid {
        message: format!("{described}: {why}"),
    };
    let (namespace, everywhere) = match &select {
        Select::Name { namespace, .. } => (namespace.clone(), false),
        Select::Labels {
            namespace,
            everywhere,
            ..
        } => (namespace.clone(), *everywhere),
    };
    let namespace = match (watch.t.namespaced, namespace, everywhere) {
        (false, Some(ns), _) => {
            return invalid(format!(
                "names namespace {ns:?}, but {} is cluster-scoped",
                watch.t
            ));
        }
        (false, None, _) | (true, None, true) => None,
        (true, Some(ns), _) => Some(ns),
        (true, None, false) => match &parent.namespace {
            Some(ns) => Some(ns.clone()),
            None => {
                return invalid(
                    "names no namespace, and the parent is cluster-scoped: use Select::name_in or Select::labels_in".to_string(),
                );
            }
        },
    };
    if let Some(ns) = &namespace
        && !watch.scope.contains(ns)
    {
        return invalid(format!(
            "namespace {ns:?} is not watched for this type (declare it with RelatedConfig::with_namespace or the controller's namespaces)"
        ));
    }
    if let Some(only) = &watch.name {
        let selects_it = matches!(&select, Select::Name { name, .. } if name == only);
        if !selects_it {
            return invalid(format!(
                "the type's watch is narrowed to objects called {only:?} (RelatedConfig::with_name)"
            ));
        }
    }
    match select {
        Select::Name { name, .. } => Query::Name {
            type_index,
            key: ObjectKey { namespace, name },
        },
        Select::Labels { selector, .. } => match LabelSelector::parse(&selector) {
            Ok(selector) => Query::Labels {
                type_index,
                namespace,
                selector,
            },
            Err(e) => invalid(format!("invalid label selector: {e}")),
        },
    }
}

/// The index of selections: by parent, and by selected name.
#[derive(Default)]
pub(crate) struct Interests {
    of_parent: HashMap<ObjectKey, Vec<Query>>,
    by_name: HashMap<(usize, ObjectKey), BTreeSet<ObjectKey>>,
    /// Parents with at least one selection by labels (matched by scanning them).
    by_labels: BTreeSet<ObjectKey>,
}

impl Interests {
    /// Replaces the selections of `parent`.
    pub fn set(&mut self, parent: &ObjectKey, queries: Vec<Query>) {
        self.remove(parent);
        for q in &queries {
            match q {
                Query::Name { type_index, key } => {
                    self.by_name
                        .entry((*type_index, key.clone()))
                        .or_default()
                        .insert(parent.clone());
                }
                Query::Labels { .. } => {
                    self.by_labels.insert(parent.clone());
                }
                Query::Invalid { .. } => {}
            }
        }
        if !queries.is_empty() {
            self.of_parent.insert(parent.clone(), queries);
        }
    }

    pub fn remove(&mut self, parent: &ObjectKey) {
        let Some(old) = self.of_parent.remove(parent) else {
            return;
        };
        self.by_labels.remove(parent);
        for q in old {
            if let Query::Name { type_index, key } = q {
                let slot = (type_index, key);
                if let Some(set) = self.by_name.get_mut(&slot) {
                    set.remove(parent);
                    if set.is_empty() {
                        self.by_name.remove(&slot);
                    }
                }
            }
        }
    }

    pub fn queries(&self, parent: &ObjectKey) -> Vec<Query> {
        self.of_parent.get(parent).cloned().unwrap_or_default()
    }

    /// The parents that read the related object at `key` (of related type `type_index`):
    /// those that select it by name, and those whose label selections match any of `labels`
    /// (its labels now and before; when unknown, as for an object that is gone, every label
    /// selection in its namespace, to be safe).
    pub fn readers(
        &self,
        type_index: usize,
        key: &ObjectKey,
        labels: Option<&[&[(String, String)]]>,
    ) -> Vec<ObjectKey> {
        let mut out: BTreeSet<ObjectKey> = self
            .by_name
            .get(&(type_index, key.clone()))
            .cloned()
            .unwrap_or_default();
        for parent in &self.by_labels {
            let selects = self.of_parent.get(parent).into_iter().flatten().any(|q| {
                let Query::Labels {
                    type_index: t,
                    namespace,
                    selector,
                } = q
                else {
                    return false;
                };
                *t == type_index
                    && (namespace.is_none() || *namespace == key.namespace)
                    && labels.is_none_or(|sets| {
                        sets.iter().any(|set| {
                            selector.matches(set.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        })
                    })
            });
            if selects {
                out.insert(parent.clone());
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s_types;
    use serde_json::json;

    fn obj(ns: Option<&str>, name: &str, labels: serde_json::Value) -> Observed {
        let mut meta = json!({"name": name, "labels": labels});
        if let Some(ns) = ns {
            meta["namespace"] = json!(ns);
        }
        Observed::from_json(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}))
            .unwrap()
    }

    fn watch(scope: NamespaceScope) -> RelatedWatch {
        RelatedWatch {
            t: k8s_types::core::v1::ConfigMap,
            scope,
            name: None,
        }
    }

    #[test]
    fn selections_resolve_against_the_parent_and_the_watch() {
        let parent = obj(Some("team"), "p", json!({}));
        let all = watch(NamespaceScope::All);
        assert!(matches!(
            resolve(&parent, 0, &all, Select::name("x")),
            Query::Name { key, .. } if key.namespace.as_deref() == Some("team")
        ));
        assert!(matches!(
            resolve(&parent, 0, &all, Select::labels_everywhere("a=b")),
            Query::Labels {
                namespace: None,
                ..
            }
        ));
        let only_default = watch(NamespaceScope::Only(["default".to_string()].into()));
        let Query::Invalid { message } = resolve(&parent, 0, &only_default, Select::name("x"))
        else {
            panic!("a namespace outside the watch is refused")
        };
        assert!(
            message.contains("\"team\"") && message.contains("not watched"),
            "{message}"
        );
        let cluster_parent = obj(None, "p", json!({}));
        assert!(matches!(
            resolve(&cluster_parent, 0, &all, Select::name("x")),
            Query::Invalid { .. }
        ));
        assert!(matches!(
            resolve(&parent, 0, &all, Select::labels("a in (")),
            Query::Invalid { message } if message.contains("invalid label selector")
        ));
    }

    #[test]
    fn readers_are_found_by_name_and_by_labels() {
        let all = watch(NamespaceScope::All);
        let parent = obj(Some("ns"), "p", json!({}));
        let p = ObjectKey::of(&parent);
        let q = ObjectKey {
            namespace: Some("ns".into()),
            name: "q".into(),
        };
        let mut interests = Interests::default();
        interests.set(
            &p,
            vec![resolve(&parent, 0, &all, Select::name("settings"))],
        );
        interests.set(
            &q,
            vec![resolve(&parent, 0, &all, Select::labels("app=web"))],
        );
        let settings = obj(Some("ns"), "settings", json!({}));
        let web = obj(Some("ns"), "w", json!({"app": "web"}));
        let settings_labels = crate::engine::watch::labels_of(&settings);
        let web_labels = crate::engine::watch::labels_of(&web);
        let readers = |i: &Interests, t, o: &Observed, sets: &[&[(String, String)]]| {
            i.readers(t, &ObjectKey::of(o), Some(sets))
        };
        assert_eq!(
            readers(&interests, 0, &settings, &[&settings_labels]),
            vec![p.clone()]
        );
        assert_eq!(
            readers(&interests, 0, &web, &[&web_labels]),
            vec![q.clone()]
        );
        // No longer labelled app=web, but it was: its reader must see it go.
        assert_eq!(
            readers(&interests, 0, &web, &[&settings_labels, &web_labels]),
            vec![q.clone()]
        );
        assert!(readers(&interests, 1, &web, &[&web_labels]).is_empty());
        interests.set(&p, Vec::new());
        assert!(readers(&interests, 0, &settings, &[&settings_labels]).is_empty());
        // A deleted object: every label selection in its namespace reads it, to be safe.
        assert_eq!(
            interests.readers(0, &ObjectKey::of(&settings), None),
            vec![q]
        );
    }
}
