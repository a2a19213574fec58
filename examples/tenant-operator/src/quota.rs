//! The limits a tenant's namespaces get: the tenant's own `spec.quota`, with every value it
//! leaves out taken from the shared ConfigMap `tenant-defaults` (keys `cpu`, `memory`, `pods`).
//!
//! Values are checked here, before anything is written, so that a bad one fails the sync with a
//! message naming the tenant and where the value came from, instead of an API server refusal
//! halfway through the tenant's namespaces.

use std::fmt;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::Quota;

/// The name of the ConfigMap holding the default limits.
pub const DEFAULTS_NAME: &str = "tenant-defaults";

/// One limit of a [`Quota`]; its name is the key in `spec.quota`, in `tenant-defaults` and in
/// the ResourceQuota's `spec.hard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `cpu`: the sum of CPU requests.
    Cpu,
    /// `memory`: the sum of memory requests.
    Memory,
    /// `pods`: the number of pods.
    Pods,
}

impl Limit {
    /// Every limit, in the order they are shown.
    pub const ALL: [Limit; 3] = [Limit::Cpu, Limit::Memory, Limit::Pods];

    /// The key: `cpu`, `memory` or `pods`.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Cpu => "cpu",
            Limit::Memory => "memory",
            Limit::Pods => "pods",
        }
    }

    /// This limit's value in `quota`.
    pub fn of(self, quota: &Quota) -> Option<&Quantity> {
        match self {
            Limit::Cpu => quota.cpu.as_ref(),
            Limit::Memory => quota.memory.as_ref(),
            Limit::Pods => quota.pods.as_ref(),
        }
    }

    fn set(self, quota: &mut Quota, value: Quantity) {
        match self {
            Limit::Cpu => quota.cpu = Some(value),
            Limit::Memory => quota.memory = Some(value),
            Limit::Pods => quota.pods = Some(value),
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A limit that cannot be used. The message names the tenant, where the value came from and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Tenant {tenant}: {source_field} is {value:?}, which {problem}")]
pub struct InvalidLimit {
    /// The tenant's name.
    pub tenant: String,
    /// Where the value is: `spec.quota.cpu`, or `key cpu of ConfigMap default/tenant-defaults`.
    pub source_field: String,
    /// The value as written.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// The quota of `tenant`'s namespaces: `own` (its `spec.quota`), completed with the values of
/// `defaults` (the ConfigMap `tenant-defaults` in `defaults_namespace`, when it exists). A
/// limit neither gives is left out: the namespaces are not limited in it.
///
/// ```
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
/// use tenant_operator::{Quota, quota};
///
/// let own = Quota { cpu: Some(Quantity("4".into())), ..Quota::default() };
/// let mut defaults = ConfigMap::default();
/// defaults.data = Some([("cpu".into(), "1".into()), ("pods".into(), "20".into())].into());
///
/// let quota = quota::effective("acme", &own, Some(&defaults), "default")?;
/// assert_eq!(quota.cpu, Some(Quantity("4".into())));   // the tenant's own
/// assert_eq!(quota.pods, Some(Quantity("20".into())));  // from tenant-defaults
/// assert_eq!(quota.memory, None);                       // from neither: not limited
/// # Ok::<(), quota::InvalidLimit>(())
/// ```
pub fn effective(
    tenant: &str,
    own: &Quota,
    defaults: Option<&ConfigMap>,
    defaults_namespace: &str,
) -> Result<Quota, InvalidLimit> {
    let mut quota = Quota::default();
    for limit in Limit::ALL {
        let (value, source_field) = match limit.of(own) {
            Some(value) => (value.0.clone(), format!("spec.quota.{limit}")),
            None => {
                let default = defaults
                    .and_then(|cm| cm.data.as_ref())
                    .and_then(|data| data.get(limit.key()));
                match default {
                    Some(value) => (
                        value.clone(),
                        format!("key {limit} of ConfigMap {defaults_namespace}/{DEFAULTS_NAME}"),
                    ),
                    None => continue,
                }
            }
        };
        if let Err(problem) = check(limit, &value) {
            return Err(InvalidLimit {
                tenant: tenant.to_string(),
                source_field,
                value,
                problem,
            });
        }
        limit.set(&mut quota, Quantity(value.trim().to_string()));
    }
    Ok(quota)
}

/// Checks what the API server checks of a ResourceQuota's limit: a quantity, not negative, and
/// a whole number of pods (this operator asks for plain digits there, `20` rather than `0.02k`).
fn check(limit: Limit, value: &str) -> Result<(), String> {
    // The testkit's parser follows apimachinery's rules exactly; it is the same code the
    // embedded API server uses to store quantities.
    let stored = roperator_testkit::quantity::canonical(value)
        .map_err(|e| format!("is not a Kubernetes quantity such as 500m, 2 or 4Gi ({e})"))?;
    if stored.starts_with('-') {
        return Err("must not be negative".to_string());
    }
    let value = value.trim();
    if limit == Limit::Pods && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit())) {
        return Err("must be a whole number of pods, such as 20".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Option<Quantity> {
        Some(Quantity(s.to_string()))
    }

    fn defaults(pairs: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn the_tenants_own_values_win_and_defaults_fill_the_rest() {
        let own = Quota {
            cpu: q("500m"),
            memory: None,
            pods: None,
        };
        let cm = defaults(&[("cpu", "1"), ("memory", "2Gi"), ("pods", "10")]);
        let quota = effective("acme", &own, Some(&cm), "ops").expect("valid");
        assert_eq!(
            quota,
            Quota {
                cpu: q("500m"),
                memory: q("2Gi"),
                pods: q("10")
            }
        );
    }

    #[test]
    fn without_defaults_only_the_tenants_values_apply() {
        let own = Quota {
            pods: q("5"),
            ..Quota::default()
        };
        let quota = effective("acme", &own, None, "ops").expect("valid");
        assert_eq!(
            quota,
            Quota {
                pods: q("5"),
                ..Quota::default()
            }
        );
        assert_eq!(
            effective(
                "acme",
                &Quota::default(),
                Some(&ConfigMap::default()),
                "ops"
            ),
            Ok(Quota::default())
        );
    }

    #[test]
    fn a_bad_value_is_refused_naming_the_tenant_and_where_it_came_from() {
        let own = Quota {
            cpu: q("lots"),
            ..Quota::default()
        };
        let err = effective("acme", &own, None, "ops").unwrap_err();
        assert_eq!(err.source_field, "spec.quota.cpu");
        assert!(
            err.to_string().starts_with(
                "Tenant acme: spec.quota.cpu is \"lots\", which is not a Kubernetes quantity"
            ),
            "{err}"
        );

        let cm = defaults(&[("memory", "-1Gi")]);
        let err = effective("acme", &Quota::default(), Some(&cm), "ops").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Tenant acme: key memory of ConfigMap ops/tenant-defaults is \"-1Gi\", which must \
             not be negative"
        );

        for pods in ["1.5", "2k", "1e3", ""] {
            let own = Quota {
                pods: q(pods),
                ..Quota::default()
            };
            let err = effective("acme", &own, None, "ops").expect_err(pods);
            assert_eq!(err.source_field, "spec.quota.pods", "{pods}");
        }
    }

    #[test]
    fn a_bad_default_the_tenant_overrides_does_not_matter() {
        let own = Quota {
            cpu: q("2"),
            ..Quota::default()
        };
        let cm = defaults(&[("cpu", "lots")]);
        let quota = effective("acme", &own, Some(&cm), "ops").expect("the default is unused");
        assert_eq!(quota.cpu, q("2"));
    }
}
