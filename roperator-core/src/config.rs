//! What an operator manages and how: [`OperatorConfig`] and [`ChildConfig`].

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Error;
use crate::k8s_type::K8sType;

/// How a child whose desired content changed is brought up to date; chosen per child type
/// with [`ChildConfig`].
///
/// ```
/// use roperator_core::prelude::*;
/// use roperator_core::UpdateStrategy;
///
/// assert_eq!(ChildConfig::recreate().update, UpdateStrategy::Recreate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateStrategy {
    /// Updated in place (a `PUT` with a `resourceVersion` precondition) to exactly what the
    /// handler returned: fields the handler stopped returning are removed, fields that others
    /// (the API server, other controllers) set and the handler never returned are kept.
    Replace,
    /// Deleted (with a UID precondition) and created again once the deletion is observed. For
    /// objects whose spec is immutable, such as Jobs or Pods.
    Recreate,
    /// Never updated: created when missing, deleted when no longer desired, otherwise left as is.
    OnDelete,
}

/// The update policy for one child type.
///
/// ```
/// use roperator_core::prelude::*;
///
/// let config = OperatorConfig::new("demo", &k8s_types::core::v1::Namespace)
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
///     .with_child(k8s_types::batch::v1::Job, ChildConfig::recreate())
///     .with_child(k8s_types::core::v1::Secret, ChildConfig::on_delete());
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildConfig {
    /// What happens when the desired content of an existing child changes.
    pub update: UpdateStrategy,
}

impl ChildConfig {
    /// Update changed children in place ([`UpdateStrategy::Replace`]).
    pub fn replace() -> Self {
        Self {
            update: UpdateStrategy::Replace,
        }
    }

    /// Delete changed children and create them again ([`UpdateStrategy::Recreate`]).
    pub fn recreate() -> Self {
        Self {
            update: UpdateStrategy::Recreate,
        }
    }

    /// Never update existing children ([`UpdateStrategy::OnDelete`]).
    pub fn on_delete() -> Self {
        Self {
            update: UpdateStrategy::OnDelete,
        }
    }
}

/// Which namespaces the operator watches; set with
/// [`OperatorConfig::within_namespaces`].
///
/// ```
/// use roperator_core::prelude::*;
/// use roperator_core::NamespaceScope;
///
/// static ECHO: K8sType = K8sType {
///     api_version: "examples.roperator.io/v1alpha1", kind: "EchoServer",
///     plural: "echoservers", namespaced: true,
/// };
/// let config = OperatorConfig::new("echo", &ECHO).within_namespaces(["team-a", "team-b"]);
/// assert!(matches!(config.namespace_scope(), NamespaceScope::Only(set) if set.len() == 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// Every namespace (needs cluster-wide list/watch permissions).
    All,
    /// Only these namespaces (one watch per namespace and type).
    Only(BTreeSet<String>),
}

/// Default for [`OperatorConfig::with_resync_period`].
pub const DEFAULT_RESYNC_PERIOD: Duration = Duration::from_secs(5 * 60);
/// Default for [`OperatorConfig::with_max_concurrent_syncs`].
pub const DEFAULT_MAX_CONCURRENT_SYNCS: usize = 16;
/// Default first delay of [`OperatorConfig::with_error_backoff`].
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// Default longest delay of [`OperatorConfig::with_error_backoff`].
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// Default for [`OperatorConfig::with_sync_timeout`].
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`OperatorConfig::with_shutdown_grace_period`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Default for [`OperatorConfig::with_server_address`]: port 8080 on every interface.
pub const DEFAULT_SERVER_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8080);

/// Everything the engine needs to know about an operator, built with chained calls.
///
/// Every setting has a documented default; only the name and the parent type are required.
///
/// ```
/// use std::time::Duration;
/// use roperator_core::prelude::*;
///
/// pub static ECHO: K8sType = K8sType {
///     api_version: "examples.roperator.io/v1alpha1",
///     kind: "EchoServer",
///     plural: "echoservers",
///     namespaced: true,
/// };
///
/// let config = OperatorConfig::new("echo-server", &ECHO)
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
///     .with_child(k8s_types::core::v1::Service, ChildConfig::replace())
///     .within_namespaces(["team-a", "team-b"])
///     .with_parent_selector("tier=web")
///     .with_resync_period(Duration::from_secs(600))
///     .with_max_concurrent_syncs(8)
///     .with_error_backoff(Duration::from_secs(1), Duration::from_secs(120))
///     .with_sync_timeout(Duration::from_secs(10))
///     .with_finalizer("echo.examples.roperator.io/cleanup")
///     .without_server();
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    pub(crate) name: String,
    pub(crate) parent: K8sType,
    pub(crate) children: Vec<(K8sType, ChildConfig)>,
    pub(crate) namespaces: NamespaceScope,
    pub(crate) parent_selector: Option<String>,
    pub(crate) resync_period: Duration,
    pub(crate) max_concurrent_syncs: usize,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) sync_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) finalizer: Option<String>,
    pub(crate) server_address: Option<SocketAddr>,
    pub(crate) version: String,
}

impl OperatorConfig {
    /// An operator called `name` (used in the managed-by label, the user agent and Events)
    /// whose parent custom resource is `parent`.
    ///
    /// Defaults: all namespaces, no parent selector, resync every 5 minutes, 16 concurrent
    /// syncs, error backoff from 500 ms up to 5 minutes, 30 s sync timeout, 20 s shutdown grace
    /// period, no finalizer, metrics and health on `0.0.0.0:8080`.
    pub fn new(name: impl Into<String>, parent: &K8sType) -> Self {
        Self {
            name: name.into(),
            parent: *parent,
            children: Vec::new(),
            namespaces: NamespaceScope::All,
            parent_selector: None,
            resync_period: DEFAULT_RESYNC_PERIOD,
            max_concurrent_syncs: DEFAULT_MAX_CONCURRENT_SYNCS,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            sync_timeout: DEFAULT_SYNC_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            finalizer: None,
            server_address: Some(DEFAULT_SERVER_ADDRESS),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Declares a type of child the handler may return, and how changed children of that type
    /// are updated. Every type the handler returns must be declared; children of declared types
    /// that the handler no longer returns are deleted.
    pub fn with_child(mut self, child: impl Into<K8sType>, config: ChildConfig) -> Self {
        self.children.push((child.into(), config));
        self
    }

    /// Watches only `namespace` (instead of every namespace).
    pub fn within_namespace(self, namespace: impl Into<String>) -> Self {
        self.within_namespaces([namespace])
    }

    /// Watches only these namespaces (instead of every namespace). Calling it again adds to the
    /// set.
    pub fn within_namespaces<I, S>(mut self, namespaces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = match self.namespaces {
            NamespaceScope::All => BTreeSet::new(),
            NamespaceScope::Only(set) => set,
        };
        set.extend(namespaces.into_iter().map(Into::into));
        self.namespaces = NamespaceScope::Only(set);
        self
    }

    /// Only parents matching this label selector (e.g. `"tier=web,env!=dev"`) are synced.
    pub fn with_parent_selector(mut self, selector: impl Into<String>) -> Self {
        self.parent_selector = Some(selector.into());
        self
    }

    /// Every parent is synced at least this often, even when nothing changed (default 5
    /// minutes). A handler can ask for an earlier one with
    /// [`SyncResponse::resync_after`](crate::SyncResponse::resync_after).
    pub fn with_resync_period(mut self, period: Duration) -> Self {
        self.resync_period = period;
        self
    }

    /// At most this many parents are synced at once (default 16). A parent is never synced
    /// twice at the same time.
    pub fn with_max_concurrent_syncs(mut self, max: usize) -> Self {
        self.max_concurrent_syncs = max;
        self
    }

    /// After a failed sync the parent is retried after `initial`, then twice as long each time
    /// up to `max`, with jitter; a successful sync resets it (defaults 500 ms and 5 minutes).
    pub fn with_error_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }

    /// A handler call that takes longer fails the sync (default 30 s). A blocking handler that
    /// never returns keeps its parent out of the queue until it does, so it is never called
    /// twice at once for one parent.
    pub fn with_sync_timeout(mut self, timeout: Duration) -> Self {
        self.sync_timeout = timeout;
        self
    }

    /// How long in-flight syncs may run after a shutdown signal before they are cancelled
    /// (default 20 s; keep it below the pod's `terminationGracePeriodSeconds`).
    pub fn with_shutdown_grace_period(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Adds this finalizer to every parent so that [`Handler::finalize`](crate::Handler::finalize)
    /// runs before a parent goes away. The name must be domain-qualified, e.g.
    /// `"echo.examples.roperator.io/cleanup"`. Without a finalizer (the default), deleted
    /// parents simply go, and their children are removed by Kubernetes garbage collection.
    pub fn with_finalizer(mut self, finalizer: impl Into<String>) -> Self {
        self.finalizer = Some(finalizer.into());
        self
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on this address (default `0.0.0.0:8080`).
    /// Port 0 picks a free port; see [`Monitor::server_address`](crate::Monitor::server_address).
    pub fn with_server_address(mut self, address: impl Into<SocketAddr>) -> Self {
        self.server_address = Some(address.into());
        self
    }

    /// The operator's version, sent in the user agent of every request as
    /// `<name>/<version>` so that its writes can be told apart in an audit log (default: this
    /// crate's version). Pass your crate's: `.with_version(env!("CARGO_PKG_VERSION"))`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Serves no metrics or health endpoints.
    pub fn without_server(mut self) -> Self {
        self.server_address = None;
        self
    }

    /// The operator's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parent type.
    pub fn parent_type(&self) -> K8sType {
        self.parent
    }

    /// The declared child types with their policies, in declaration order.
    pub fn child_types(&self) -> &[(K8sType, ChildConfig)] {
        &self.children
    }

    /// The namespaces watched.
    pub fn namespace_scope(&self) -> &NamespaceScope {
        &self.namespaces
    }

    /// The configured finalizer, if any.
    pub fn finalizer(&self) -> Option<&str> {
        self.finalizer.as_deref()
    }

    /// Checks the configuration; [`Operator::run`](crate::Operator::run) does so too and fails
    /// with the same error.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let err = OperatorConfig::new("demo", &k8s_types::core::v1::ConfigMap)
    ///     .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
    ///     .with_finalizer("cleanup")
    ///     .validate()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("domain-qualified"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |msg: String| Err(Error::Config(msg));
        if !is_dns_label_like(&self.name) {
            return fail(format!(
                "operator name {:?} must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit (it is used as a label value)",
                self.name
            ));
        }
        check_type("parent type", &self.parent)?;
        if self.children.is_empty() {
            return fail("no child types: add at least one with `with_child`".to_string());
        }
        let mut seen = BTreeSet::new();
        for (child, _) in &self.children {
            check_type("child type", child)?;
            if !seen.insert((child.api_version, child.kind)) {
                return fail(format!("child type {child} is declared twice"));
            }
            if child.matches(self.parent.api_version, self.parent.kind) {
                return fail(format!(
                    "child type {child} is the parent type; a parent cannot own objects of its own type"
                ));
            }
            if self.parent.namespaced && !child.namespaced {
                return fail(format!(
                    "child type {child} is cluster-scoped but the parent type {} is namespaced; Kubernetes does not allow a namespaced owner for a cluster-scoped object",
                    self.parent
                ));
            }
        }
        if let NamespaceScope::Only(set) = &self.namespaces {
            if set.is_empty() {
                return fail("`within_namespaces` was given no namespace".to_string());
            }
            for ns in set {
                if !is_dns_label_like(ns) {
                    return fail(format!("namespace {ns:?} is not a valid namespace name"));
                }
            }
        }
        if let Some(selector) = &self.parent_selector
            && let Err(e) = check_selector(selector)
        {
            return fail(format!("parent selector {selector:?} is invalid: {e}"));
        }
        if self.max_concurrent_syncs == 0 {
            return fail("max concurrent syncs must be at least 1".to_string());
        }
        if self.backoff_initial.is_zero() || self.backoff_max < self.backoff_initial {
            return fail(format!(
                "error backoff must have 0 < initial ({:?}) <= max ({:?})",
                self.backoff_initial, self.backoff_max
            ));
        }
        if self.sync_timeout.is_zero() {
            return fail("sync timeout must be longer than zero".to_string());
        }
        if self.resync_period.is_zero() {
            return fail("resync period must be longer than zero".to_string());
        }
        if let Some(finalizer) = &self.finalizer {
            check_finalizer(finalizer)?;
        }
        Ok(())
    }
}

fn check_type(what: &str, t: &K8sType) -> Result<(), Error> {
    let parts_ok = !t.version().is_empty()
        && !t.kind.is_empty()
        && !t.plural.is_empty()
        && t.api_version.matches('/').count() <= 1
        && !t.api_version.starts_with('/');
    if !parts_ok {
        return Err(Error::Config(format!(
            "{what} {{ api_version: {:?}, kind: {:?}, plural: {:?} }} needs a non-empty `group/version` (or `version`), kind and plural",
            t.api_version, t.kind, t.plural
        )));
    }
    if t.plural.chars().any(|c| c.is_ascii_uppercase() || c == '/') {
        return Err(Error::Config(format!(
            "{what} {t}: plural {:?} must be the lowercase URL name, e.g. \"deployments\"",
            t.plural
        )));
    }
    Ok(())
}

fn check_finalizer(finalizer: &str) -> Result<(), Error> {
    let Some((domain, name)) = finalizer.split_once('/') else {
        return Err(Error::Config(format!(
            "finalizer {finalizer:?} must be domain-qualified, e.g. \"example.com/cleanup\""
        )));
    };
    let domain_ok = domain.contains('.') && crate::names::is_dns_subdomain(domain);
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && !name.contains('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !domain_ok || !name_ok {
        return Err(Error::Config(format!(
            "finalizer {finalizer:?} must be domain-qualified as <dns domain>/<name>, e.g. \"example.com/cleanup\""
        )));
    }
    Ok(())
}

/// Checks a label selector in the API server's string syntax: comma-separated `key`, `!key`,
/// `key=value`, `key==value`, `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`.
fn check_selector(selector: &str) -> Result<(), String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err("unbalanced parentheses".to_string());
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".to_string());
    }
    parts.push(&selector[start..]);
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            return Err("empty requirement".to_string());
        }
        if let Some(key) = part.strip_prefix('!') {
            check_label_key(key.trim())?;
            continue;
        }
        if let Some((key, values)) = split_set(part) {
            check_label_key(key)?;
            for v in values.split(',') {
                check_label_value(v.trim())?;
            }
            continue;
        }
        let (key, value) = if let Some((k, v)) = part.split_once("!=") {
            (k, Some(v))
        } else if let Some((k, v)) = part.split_once("==") {
            (k, Some(v))
        } else if let Some((k, v)) = part.split_once('=') {
            (k, Some(v))
        } else {
            (part, None)
        };
        check_label_key(key.trim())?;
        if let Some(v) = value {
            check_label_value(v.trim())?;
        }
    }
    Ok(())
}

fn split_set(part: &str) -> Option<(&str, &str)> {
    let open = part.find('(')?;
    let inner = part[open + 1..].strip_suffix(')')?;
    let head = part[..open].trim_end();
    let key = head
        .strip_suffix(" notin")
        .or_else(|| head.strip_suffix(" in"))?;
    Some((key.trim(), inner))
}

fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !crate::names::is_dns_subdomain(prefix)
    {
        return Err(format!("label key {key:?} has an invalid prefix"));
    }
    if !is_label_name(name) || name.is_empty() {
        return Err(format!("label key {key:?} is not a valid label name"));
    }
    Ok(())
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_name(value) {
        Ok(())
    } else {
        Err(format!("label value {value:?} is not valid"))
    }
}

/// Up to 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends.
fn is_label_name(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

fn is_dns_label_like(s: &str) -> bool {
    crate::names::is_dns_label(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s_types;

    fn base() -> OperatorConfig {
        OperatorConfig::new("demo", &k8s_types::core::v1::ConfigMap)
            .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
    }

    fn err(config: OperatorConfig) -> String {
        match config.validate() {
            Err(e) => e.to_string(),
            Ok(()) => panic!("expected an invalid configuration"),
        }
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = base();
        assert_eq!(c.namespaces, NamespaceScope::All);
        assert_eq!(c.resync_period, DEFAULT_RESYNC_PERIOD);
        assert_eq!(c.max_concurrent_syncs, 16);
        assert_eq!(c.server_address, Some(DEFAULT_SERVER_ADDRESS));
        assert!(c.finalizer.is_none());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn namespaces_accumulate() {
        let c = base().within_namespace("a").within_namespaces(["b", "c"]);
        let NamespaceScope::Only(set) = c.namespaces else {
            panic!("expected a namespace set")
        };
        assert_eq!(set.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn rejects_bad_settings_with_a_message_naming_them() {
        assert!(
            err(OperatorConfig::new("Demo", &k8s_types::core::v1::ConfigMap)).contains("\"Demo\"")
        );
        assert!(
            err(OperatorConfig::new("demo", &k8s_types::core::v1::ConfigMap))
                .contains("no child types")
        );
        assert!(
            err(base().with_child(k8s_types::core::v1::Secret, ChildConfig::recreate()))
                .contains("declared twice")
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
        assert!(err(base().with_parent_selector("a=b,,c")).contains("parent selector"));
        assert!(err(base().with_parent_selector("bad key=x")).contains("parent selector"));
        for ok in [
            "tier=web",
            "tier==web,env!=dev",
            "!legacy",
            "app in (a, b),x notin (c)",
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
        assert!(err(base().within_namespace("Not_A_Namespace")).contains("Not_A_Namespace"));
        for bad in [
            "cleanup",
            "example/cleanup",
            "example.com/",
            "Example.com/x",
            "a.b/c/d",
        ] {
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
        assert!(err(OperatorConfig::new("demo", &weird)).contains("parent type"));
        let upper = K8sType {
            api_version: "x.io/v1",
            kind: "X",
            plural: "Xs",
            namespaced: true,
        };
        assert!(err(base().with_child(upper, ChildConfig::replace())).contains("lowercase"));
    }

    #[test]
    fn accepts_a_cluster_scoped_parent_with_cluster_scoped_children() {
        let c = OperatorConfig::new("demo", &k8s_types::core::v1::Namespace)
            .with_child(k8s_types::rbac::v1::ClusterRole, ChildConfig::replace())
            .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::on_delete())
            .with_finalizer("demo.example.com/cleanup");
        assert!(c.validate().is_ok());
    }
}
