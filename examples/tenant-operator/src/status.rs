//! The status a Tenant should show, from the state of each of its namespaces as observed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::{Quota, Tenant, TenantStatus};

/// The type of the condition this operator maintains.
pub const READY: &str = "Ready";

/// How far one namespace of a tenant is, as the sync function observes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceState {
    /// The Namespace does not exist yet.
    Missing,
    /// The Namespace is being deleted (by someone, or by a previous removal from the tenant):
    /// nothing can be created in it until it is gone, then it is created again.
    Terminating,
    /// The Namespace exists, its ResourceQuota or NetworkPolicy does not yet.
    Incomplete,
    /// The Namespace is active with its ResourceQuota and NetworkPolicy.
    Ready,
}

/// The status of `tenant` given the state of each of its namespaces and the quota they get.
///
/// `now` is only used as the `lastTransitionTime` of a `Ready` condition that changes status; an
/// unchanged one keeps its time, so that a converged tenant's status does not change and the
/// engine writes nothing.
///
/// ```
/// use k8s_openapi::jiff::Timestamp;
/// use tenant_operator::status::{self, NamespaceState};
/// use tenant_operator::{Quota, Tenant, TenantSpec};
///
/// let tenant = Tenant::new("acme", TenantSpec::new(["a", "b"]));
/// let states = [("a", NamespaceState::Ready), ("b", NamespaceState::Missing)];
/// let s = status::status(&tenant, &states, Quota::default(), Timestamp::UNIX_EPOCH);
/// assert_eq!(s.ready_namespaces, 1);
/// assert_eq!(s.conditions[0].status, "False");
/// assert_eq!(s.conditions[0].message, "1/2 namespaces ready; waiting for b");
/// ```
pub fn status(
    tenant: &Tenant,
    states: &[(&str, NamespaceState)],
    quota: Quota,
    now: Timestamp,
) -> TenantStatus {
    let named = |wanted: NamespaceState| -> Vec<&str> {
        states
            .iter()
            .filter(|(_, s)| *s == wanted)
            .map(|(n, _)| *n)
            .collect()
    };
    let ready = named(NamespaceState::Ready).len();
    let total = states.len();
    let terminating = named(NamespaceState::Terminating);
    let (reason, message) = if total == 0 {
        ("NoNamespaces", "the tenant lists no namespaces".to_string())
    } else if !terminating.is_empty() {
        (
            "NamespaceTerminating",
            format!(
                "{ready}/{total} namespaces ready; being deleted, to be created again once \
                 gone: {}",
                terminating.join(", ")
            ),
        )
    } else if ready < total {
        let waiting: Vec<&str> = states
            .iter()
            .filter(|(_, s)| *s != NamespaceState::Ready)
            .map(|(n, _)| *n)
            .collect();
        (
            "NamespacesPending",
            format!(
                "{ready}/{total} namespaces ready; waiting for {}",
                waiting.join(", ")
            ),
        )
    } else {
        (
            "NamespacesReady",
            format!("{ready}/{total} namespaces ready"),
        )
    };
    let is_ready = ready == total;
    TenantStatus {
        ready_namespaces: i32::try_from(ready).unwrap_or(i32::MAX),
        quota,
        conditions: vec![Condition {
            type_: READY.to_string(),
            status: if is_ready { "True" } else { "False" }.to_string(),
            reason: reason.to_string(),
            message,
            observed_generation: tenant.metadata.generation,
            last_transition_time: transition_time(tenant, is_ready, now),
        }],
    }
}

/// The time the `Ready` condition last changed: kept from the current status when the condition
/// keeps its value, `now` otherwise.
fn transition_time(tenant: &Tenant, is_ready: bool, now: Timestamp) -> Time {
    let wanted = if is_ready { "True" } else { "False" };
    tenant
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == READY && c.status == wanted)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantSpec;
    use NamespaceState::*;

    fn tenant() -> Tenant {
        let mut tenant = Tenant::new("acme", TenantSpec::new(["a", "b"]));
        tenant.metadata.generation = Some(3);
        tenant
    }

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("a valid timestamp")
    }

    fn condition(states: &[(&str, NamespaceState)]) -> Condition {
        status(&tenant(), states, Quota::default(), t(1)).conditions[0].clone()
    }

    #[test]
    fn ready_once_every_namespace_is() {
        let c = condition(&[("a", Ready), ("b", Ready)]);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str(), c.message.as_str()),
            ("True", "NamespacesReady", "2/2 namespaces ready")
        );
        assert_eq!(c.observed_generation, Some(3));
        let c = condition(&[("a", Ready), ("b", Incomplete)]);
        assert_eq!(c.status, "False");
        assert_eq!(c.message, "1/2 namespaces ready; waiting for b");
        assert_eq!(condition(&[]).reason, "NoNamespaces");
        assert_eq!(condition(&[]).status, "True");
    }

    #[test]
    fn a_namespace_being_deleted_is_named() {
        let c = condition(&[("a", Terminating), ("b", Ready)]);
        assert_eq!(c.reason, "NamespaceTerminating");
        assert!(c.message.ends_with("gone: a"), "{}", c.message);
    }

    #[test]
    fn the_transition_time_changes_only_when_the_condition_does() {
        let mut tenant = tenant();
        let pending = [("a", Ready), ("b", Missing)];
        let first = status(&tenant, &pending, Quota::default(), t(100));
        tenant.status = Some(first.clone());
        let again = status(
            &tenant,
            &[("a", Ready), ("b", Incomplete)],
            Quota::default(),
            t(200),
        );
        assert_eq!(
            again.conditions[0].last_transition_time,
            Time(t(100)),
            "still not ready: the time stays"
        );
        let same = status(&tenant, &pending, Quota::default(), t(300));
        assert_eq!(
            same, first,
            "an unchanged situation gives an identical status"
        );
        let ready = status(
            &tenant,
            &[("a", Ready), ("b", Ready)],
            Quota::default(),
            t(400),
        );
        assert_eq!(ready.conditions[0].last_transition_time, Time(t(400)));
    }
}
