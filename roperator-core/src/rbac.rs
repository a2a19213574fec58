//! The Kubernetes permissions an operator needs, derived from what the engine actually does.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::config::{ControllerConfig, Prune, UpdateStrategy};
use crate::operator::Operator;

type Verbs = BTreeMap<(String, String), Vec<&'static str>>;

impl ControllerConfig {
    /// The RBAC rules this controller needs: exactly the verbs the engine issues on each type.
    ///
    /// - parent: `get` (confirming it still exists before creating children), `list`,
    ///   `watch`; `patch` when a finalizer is configured (it is added and removed with JSON
    ///   patches) and for a decorator (it applies labels and annotations); `update` on the
    ///   `status` subresource unless it is a decorator that writes no status.
    /// - each child type: `get` (telling a name collision from a not-yet-seen child of ours),
    ///   `list`, `watch`, `create`; `delete` unless children of the type are released rather
    ///   than deleted (and not recreated); `update` when its policy is
    ///   [`replace`](crate::ChildConfig::replace); `patch` when it is
    ///   [`apply`](crate::ChildConfig::apply) (server-side apply is a patch, and creating an
    ///   object by applying it also needs `create`), when it adopts orphans or releases
    ///   children (JSON patches).
    /// - each related type: `get`, `list`, `watch`, and nothing more.
    /// - `events.k8s.io` events: `create`, `patch`.
    /// - `update` on the parent's `finalizers` subresource: never requested, but clusters that
    ///   enforce owner-reference permissions (the `OwnerReferencesPermissionEnforcement`
    ///   admission plugin, on by default in OpenShift) require it of whoever sets
    ///   `blockOwnerDeletion` on a child, which the engine does on every child.
    ///
    /// `tests/rbac.rs` runs an engine through every kind of write and checks that it made no
    /// request these rules do not allow and that it used every verb they grant.
    ///
    /// Put them in a ClusterRole (or a Role per namespace when the controller is limited to
    /// namespaces); [`Operator::rbac_rules`] merges those of all its controllers:
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
    ///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
    /// let rules = config.rbac_rules();
    /// let configmaps = rules
    ///     .iter()
    ///     .find(|r| r.resources.as_deref() == Some(&["configmaps".to_string()][..]))
    ///     .unwrap();
    /// assert_eq!(configmaps.verbs, ["create", "delete", "get", "list", "update", "watch"]);
    /// ```
    pub fn rbac_rules(&self) -> Vec<PolicyRule> {
        let mut verbs = Verbs::new();
        self.add_verbs(&mut verbs);
        rules(verbs)
    }

    fn add_verbs(&self, verbs: &mut Verbs) {
        let mut add = |group: &str, resource: String, v: &[&'static str]| {
            verbs
                .entry((group.to_string(), resource))
                .or_default()
                .extend_from_slice(v);
        };
        let parent = &self.parent;
        add(
            parent.group(),
            parent.plural.to_string(),
            &["get", "list", "watch"],
        );
        if self.finalizer.is_some() || self.is_decorator() {
            add(parent.group(), parent.plural.to_string(), &["patch"]);
        }
        if self.writes_status() {
            add(
                parent.group(),
                format!("{}/status", parent.plural),
                &["update"],
            );
        }
        for (child, config) in &self.children {
            add(
                child.group(),
                child.plural.to_string(),
                &["get", "list", "watch", "create"],
            );
            if config.prune == Prune::Delete || config.update == UpdateStrategy::Recreate {
                add(child.group(), child.plural.to_string(), &["delete"]);
            }
            if config.adoption || config.prune == Prune::Release {
                add(child.group(), child.plural.to_string(), &["patch"]);
            }
            match config.update {
                UpdateStrategy::Replace => {
                    add(child.group(), child.plural.to_string(), &["update"]);
                }
                UpdateStrategy::Apply { .. } => {
                    add(child.group(), child.plural.to_string(), &["patch"]);
                }
                UpdateStrategy::Recreate | UpdateStrategy::OnDelete => {}
            }
        }
        for related in self.related_types() {
            add(
                related.group(),
                related.plural.to_string(),
                &["get", "list", "watch"],
            );
        }
        add("events.k8s.io", "events".to_string(), &["create", "patch"]);
        if !self.children.is_empty() {
            add(
                parent.group(),
                format!("{}/finalizers", parent.plural),
                &["update"],
            );
        }
    }
}

impl Operator {
    /// The RBAC rules of every controller of this operator, merged (see
    /// [`ControllerConfig::rbac_rules`]).
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// # fn demo(client: kube::Client) {
    /// let a = ControllerConfig::new("a", k8s_types::core::v1::Namespace)
    ///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
    /// let b = ControllerConfig::new("b", k8s_types::core::v1::Namespace)
    ///     .with_child(k8s_types::core::v1::Secret, ChildConfig::on_delete());
    /// let ok = |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new());
    /// let operator = Operator::new("both", client).with_controller(a, ok).with_controller(b, ok);
    /// let rules = operator.rbac_rules();
    /// assert!(rules.iter().any(|r| r.resources.as_deref() == Some(&["secrets".to_string()][..])));
    /// # }
    /// ```
    pub fn rbac_rules(&self) -> Vec<PolicyRule> {
        let mut verbs = Verbs::new();
        for config in self.controller_configs() {
            config.add_verbs(&mut verbs);
        }
        rules(verbs)
    }
}

fn rules(verbs: Verbs) -> Vec<PolicyRule> {
    verbs
        .into_iter()
        .map(|((group, resource), mut v)| {
            v.sort_unstable();
            v.dedup();
            PolicyRule {
                api_groups: Some(vec![group]),
                resources: Some(vec![resource]),
                verbs: v.into_iter().map(str::to_string).collect(),
                ..PolicyRule::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    fn rules_of(config: &ControllerConfig) -> Vec<(String, String, Vec<String>)> {
        config
            .rbac_rules()
            .into_iter()
            .map(|r| {
                (
                    r.api_groups.unwrap_or_default().join(","),
                    r.resources.unwrap_or_default().join(","),
                    r.verbs,
                )
            })
            .collect()
    }

    #[test]
    fn verbs_follow_policies_and_finalizer() {
        static P: K8sType = K8sType {
            api_version: "x.io/v1",
            kind: "P",
            plural: "ps",
            namespaced: true,
        };
        let config = ControllerConfig::new("demo", P)
            .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
            .with_child(k8s_types::batch::v1::Job, ChildConfig::recreate())
            .with_finalizer("x.io/cleanup");
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rules_of(&config),
            vec![
                (
                    "apps".into(),
                    "deployments".into(),
                    v(&["create", "delete", "get", "list", "update", "watch"])
                ),
                (
                    "batch".into(),
                    "jobs".into(),
                    v(&["create", "delete", "get", "list", "watch"])
                ),
                (
                    "events.k8s.io".into(),
                    "events".into(),
                    v(&["create", "patch"])
                ),
                (
                    "x.io".into(),
                    "ps".into(),
                    v(&["get", "list", "patch", "watch"])
                ),
                ("x.io".into(), "ps/finalizers".into(), v(&["update"])),
                ("x.io".into(), "ps/status".into(), v(&["update"])),
            ]
        );
        let applied = ControllerConfig::new("demo", P)
            .with_child(k8s_types::apps::v1::Deployment, ChildConfig::apply());
        assert!(rules_of(&applied).contains(&(
            "apps".into(),
            "deployments".into(),
            v(&["create", "delete", "get", "list", "patch", "watch"])
        )));
        let no_finalizer = ControllerConfig::new("demo", P)
            .with_child(k8s_types::apps::v1::Deployment, ChildConfig::on_delete());
        let rules = rules_of(&no_finalizer);
        assert!(rules.contains(&("x.io".into(), "ps".into(), v(&["get", "list", "watch"]))));
        assert!(rules.contains(&(
            "apps".into(),
            "deployments".into(),
            v(&["create", "delete", "get", "list", "watch"])
        )));
    }

    #[test]
    fn adoption_and_release_patch_and_release_alone_never_deletes() {
        static P: K8sType = K8sType {
            api_version: "x.io/v1",
            kind: "P",
            plural: "ps",
            namespaced: true,
        };
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let config = ControllerConfig::new("demo", P)
            .with_child(
                k8s_types::core::v1::PersistentVolumeClaim,
                ChildConfig::on_delete().with_prune(Prune::Release),
            )
            .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::on_delete())
            .with_adoption();
        let rules = rules_of(&config);
        assert!(rules.contains(&(
            String::new(),
            "persistentvolumeclaims".into(),
            v(&["create", "get", "list", "patch", "watch"])
        )));
        assert!(rules.contains(&(
            String::new(),
            "configmaps".into(),
            v(&["create", "delete", "get", "list", "patch", "watch"])
        )));
    }
}
