//! Checking a [`ControllerConfig`] before anything runs.

use std::collections::BTreeSet;

use super::{ControllerConfig, NamespaceScope, ParentRole, UpdateStrategy};
use crate::error::Error;
use crate::k8s_type::K8sType;
use crate::names::{is_dns_label, is_dns_subdomain};
use crate::selector::LabelSelector;

impl ControllerConfig {
    /// Checks the configuration; [`Operator::run`](crate::Operator::run) does so too and fails
    /// with the same error.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let err = ControllerConfig::new("demo", k8s_types::core::v1::ConfigMap)
    ///     .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
    ///     .with_finalizer("cleanup")
    ///     .validate()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("domain-qualified"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |msg: String| {
            Err(Error::Config {
                controller: self.name.clone(),
                message: msg,
            })
        };
        if !is_dns_label(&self.name) {
            return fail(format!(
                "controller name {:?} must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit (it is used as a label value)",
                self.name
            ));
        }
        if let Err(m) = check_type("parent type", &self.parent) {
            return fail(m);
        }
        if self.children.is_empty() && self.role == ParentRole::Owned {
            return fail("no child types: add at least one with `with_child`".to_string());
        }
        if let Err(m) = self.check_children() {
            return fail(m);
        }
        if let Err(m) = self.check_related() {
            return fail(m);
        }
        if let NamespaceScope::Only(set) = &self.namespaces {
            if set.is_empty() {
                return fail("`with_namespaces` was given no namespace".to_string());
            }
            if let Some(ns) = set.iter().find(|ns| !is_dns_label(ns)) {
                return fail(format!("namespace {ns:?} is not a valid namespace name"));
            }
        }
        for (what, selector) in [
            ("parent selector", &self.parent_selector),
            (
                "parent annotation selector",
                &self.parent_annotation_selector,
            ),
        ] {
            if let Some(s) = selector
                && let Err(e) = LabelSelector::parse(s)
            {
                return fail(format!("{what} {s:?} is invalid: {e}"));
            }
        }
        if let Err(m) = self.check_timings() {
            return fail(m);
        }
        if let Some(finalizer) = &self.finalizer
            && let Err(m) = check_finalizer(finalizer)
        {
            return fail(m);
        }
        Ok(())
    }

    fn check_children(&self) -> Result<(), String> {
        let mut seen = BTreeSet::new();
        for (child, config) in &self.children {
            if config.rollout.is_some() && config.update == UpdateStrategy::OnDelete {
                return Err(format!(
                    "child type {child} rolls out changes, but on_delete never updates a child: use rolling_replace(), rolling_recreate() or apply().with_rollout(...), or drop the rollout"
                ));
            }
            check_type("child type", child)?;
            if !seen.insert((child.api_version, child.kind)) {
                return Err(format!("child type {child} is declared twice"));
            }
            if child.matches(self.parent.api_version, self.parent.kind) {
                return Err(format!(
                    "child type {child} is the parent type; a parent cannot own objects of its own type"
                ));
            }
            if self.parent.namespaced && !child.namespaced {
                return Err(format!(
                    "child type {child} is cluster-scoped but the parent type {} is namespaced; Kubernetes does not allow a namespaced owner for a cluster-scoped object",
                    self.parent
                ));
            }
        }
        Ok(())
    }

    fn check_related(&self) -> Result<(), String> {
        let mut seen = BTreeSet::new();
        for (related, config) in &self.related {
            check_type("related type", related)?;
            if !seen.insert((related.api_version, related.kind)) {
                return Err(format!(
                    "related type {related} is declared twice; one declaration selects any number of objects"
                ));
            }
            if let Some(ns) = &config.namespace {
                if !related.namespaced {
                    return Err(format!(
                        "related type {related} is cluster-scoped; it cannot be watched in namespace {ns:?}"
                    ));
                }
                if !is_dns_label(ns) {
                    return Err(format!(
                        "related type {related}: namespace {ns:?} is not a valid namespace name"
                    ));
                }
            }
            // The name goes into the watch's field selector: one that is no object name would
            // make a watch that fails for good.
            if let Some(name) = &config.name
                && !is_dns_subdomain(name)
            {
                return Err(format!(
                    "related type {related}: name {name:?} is not a valid object name (RelatedConfig::with_name)"
                ));
            }
            if let Some(s) = &config.label_selector
                && let Err(e) = LabelSelector::parse(s)
            {
                return Err(format!(
                    "related type {related}: label selector {s:?} is invalid: {e}"
                ));
            }
        }
        Ok(())
    }

    fn check_timings(&self) -> Result<(), String> {
        if self.max_concurrent_syncs == 0 {
            return Err("max concurrent syncs must be at least 1".to_string());
        }
        if self.backoff_initial.is_zero() || self.backoff_max < self.backoff_initial {
            return Err(format!(
                "error backoff must have 0 < initial ({:?}) <= max ({:?})",
                self.backoff_initial, self.backoff_max
            ));
        }
        if self.sync_timeout.is_zero() {
            return Err("sync timeout must be longer than zero".to_string());
        }
        if self.resync_period.is_zero() {
            return Err("resync period must be longer than zero".to_string());
        }
        Ok(())
    }
}

fn check_type(what: &str, t: &K8sType) -> Result<(), String> {
    let parts_ok = !t.version().is_empty()
        && !t.kind.is_empty()
        && !t.plural.is_empty()
        && t.api_version.matches('/').count() <= 1
        && !t.api_version.starts_with('/');
    if !parts_ok {
        return Err(format!(
            "{what} {{ api_version: {:?}, kind: {:?}, plural: {:?} }} needs a non-empty `group/version` (or `version`), kind and plural",
            t.api_version, t.kind, t.plural
        ));
    }
    if t.plural.chars().any(|c| c.is_ascii_uppercase() || c == '/') {
        return Err(format!(
            "{what} {t}: plural {:?} must be the lowercase URL name, e.g. \"deployments\"",
            t.plural
        ));
    }
    Ok(())
}

fn check_finalizer(finalizer: &str) -> Result<(), String> {
    let qualified = finalizer.split_once('/').is_some_and(|(domain, name)| {
        domain.contains('.')
            && is_dns_subdomain(domain)
            && !name.is_empty()
            && name.len() <= 63
            && !name.contains('/')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    if qualified {
        Ok(())
    } else {
        Err(format!(
            "finalizer {finalizer:?} must be domain-qualified as <dns domain>/<name>, e.g. \"example.com/cleanup\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{ChildConfig, ControllerConfig, NamespaceScope, RelatedConfig};
    use crate::k8s_type::{K8sType, k8s_types};

    fn base() -> ControllerConfig {
        ControllerConfig::new("demo", k8s_types::core::v1::ConfigMap)
            .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
    }

    fn err(config: ControllerConfig) -> String {
        match config.validate() {
            Err(e) => e.to_string(),
            Ok(()) => panic!("expected an invalid configuration"),
        }
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = base();
        assert_eq!(c.namespaces, NamespaceScope::All);
        assert_eq!(c.resync_period, crate::config::DEFAULT_RESYNC_PERIOD);
        assert_eq!(c.max_concurrent_syncs, 64);
        assert!(c.finalizer.is_none());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn namespaces_accumulate() {
        let c = base().with_namespace("a").with_namespaces(["b", "c"]);
        let NamespaceScope::Only(set) = c.namespaces else {
            panic!("expected a namespace set")
        };
        assert_eq!(set.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn rejects_bad_settings_with_a_message_naming_the_controller_and_the_setting() {
        let e = err(ControllerConfig::new(
            "Demo",
            k8s_types::core::v1::ConfigMap,
        ));
        assert!(
            e.contains("\"Demo\"") && e.contains("controller Demo"),
            "{e}"
        );
        assert!(
            err(ControllerConfig::new(
                "demo",
                k8s_types::core::v1::ConfigMap
            ))
            .contains("no child types")
        );
        assert!(
            err(base().with_child(k8s_types::core::v1::Secret, ChildConfig::recreate()))
                .contains("declared twice")
        );
        assert!(
            err(base().with_child(
                k8s_types::apps::v1::Deployment,
                ChildConfig::on_delete().with_rollout(crate::Rollout::one_at_a_time())
            ))
            .contains("on_delete never updates a child")
        );
        assert!(
            err(base().with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace()))
                .contains("its own type")
        );
        assert!(
            err(base().with_child(k8s_types::core::v1::Namespace, ChildConfig::replace()))
                .contains("cluster-scoped")
        );
        assert!(err(base().with_parent_selector("a in (")).contains("parent selector"));
        assert!(
            err(base().with_parent_annotation_selector("bad key=x"))
                .contains("parent annotation selector")
        );
        for ok in [
            "tier=web",
            "tier==web,env!=dev",
            "!legacy",
            "example.com/team",
        ] {
            assert!(base().with_parent_selector(ok).validate().is_ok(), "{ok}");
        }
        assert!(err(base().with_max_concurrent_syncs(0)).contains("at least 1"));
        assert!(
            err(base().with_error_backoff(Duration::from_secs(2), Duration::from_secs(1)))
                .contains("backoff")
        );
        assert!(err(base().with_sync_timeout(Duration::ZERO)).contains("timeout"));
        assert!(err(base().with_namespace("Not_A_Namespace")).contains("Not_A_Namespace"));
        for bad in ["cleanup", "example/cleanup", "example.com/", "a.b/c/d"] {
            assert!(
                err(base().with_finalizer(bad)).contains("domain-qualified"),
                "{bad}"
            );
        }
        let weird = K8sType {
            api_version: "",
            kind: "X",
            plural: "xs",
            namespaced: true,
        };
        assert!(err(ControllerConfig::new("demo", weird)).contains("parent type"));
        let upper = K8sType {
            api_version: "x.io/v1",
            kind: "X",
            plural: "Xs",
            namespaced: true,
        };
        assert!(err(base().with_child(upper, ChildConfig::replace())).contains("lowercase"));
    }

    #[test]
    fn related_types_are_checked() {
        let any = || RelatedConfig::new(|_| Vec::new());
        let twice = base()
            .with_related(k8s_types::core::v1::ConfigMap, any())
            .with_related(k8s_types::core::v1::ConfigMap, any());
        assert!(err(twice).contains("declared twice"));
        let cluster_in_ns = base().with_related(
            k8s_types::core::v1::Namespace,
            any().with_namespace("default"),
        );
        assert!(err(cluster_in_ns).contains("cluster-scoped"));
        let bad_selector = base().with_related(
            k8s_types::core::v1::ConfigMap,
            any().with_label_selector("a in ("),
        );
        assert!(err(bad_selector).contains("label selector"));
        let bad_name = base().with_related(k8s_types::core::v1::ConfigMap, any().with_name("a,b"));
        assert!(err(bad_name).contains("not a valid object name"));
    }

    #[test]
    fn a_decorator_needs_no_child_type_and_accepts_cluster_scoped_targets() {
        let c = ControllerConfig::decorator("deco", k8s_types::core::v1::Namespace)
            .with_parent_selector("example.com/isolate=true")
            .with_child(
                k8s_types::networking::v1::NetworkPolicy,
                ChildConfig::replace(),
            )
            .with_finalizer("deco.example.com/cleanup");
        assert!(c.validate().is_ok());
        assert!(c.is_decorator());
        assert!(!c.writes_status());
        assert!(c.with_status_writes().writes_status());
    }
}
