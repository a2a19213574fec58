//! Rolling updates: [`Rollout`], how many children of one type may be changed at a time and
//! what "ready again" means for them.

use serde_json::Value;

use crate::object::Observed;
use crate::readiness::Readiness;
use crate::status::find_condition;

/// How changes to existing children of one type roll out; set with
/// [`ChildConfig::with_rollout`](super::ChildConfig::with_rollout).
///
/// When the handler's answer changes several children of the type, the engine updates them in
/// the order the handler returned them, as long as fewer than [`at_most`](Self::at_most)
/// children of the type are not ready; the others keep their current content until it is their
/// turn. A child that is not ready yet is therefore a stop: the rollout waits for it, the
/// parent's `Updated` condition is `False` and names it with the reason, and the rollout goes on
/// when that child becomes ready (its status change syncs the parent again) or when the
/// handler's answer changes again (a child that is not ready is updated at once: it cannot be
/// made less available).
///
/// Creating a missing child and deleting an unwanted one are never held back.
///
/// ```
/// use roperator_core::prelude::*;
///
/// // Metacontroller's RollingInPlace with a statusCheck on the Ready condition:
/// let one_by_one = ChildConfig::replace()
///     .with_rollout(Rollout::one_at_a_time().ready_when_condition("Ready", "True"));
/// // Two shards at a time, ready by the readiness view (`Observed::readiness`):
/// let two = ChildConfig::apply().with_rollout(Rollout::at_most(2));
/// # let _ = (one_by_one, two);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rollout {
    max_unready: usize,
    ready: Vec<ConditionCheck>,
}

/// A condition a child's status must show to be ready: `status.conditions[type == type_]` with
/// this status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConditionCheck {
    type_: String,
    status: String,
}

impl Rollout {
    /// One child at a time, ready by the readiness view ([`Observed::readiness`]).
    pub fn one_at_a_time() -> Self {
        Self::at_most(1)
    }

    /// At most `n` children of the type not ready at a time (at least 1), ready by the
    /// readiness view ([`Observed::readiness`]).
    pub fn at_most(n: usize) -> Self {
        Self {
            max_unready: n.max(1),
            ready: Vec::new(),
        }
    }

    /// A child is ready when its status has the condition `type_` with `status` (`"True"`,
    /// say), instead of by the readiness view. Calling it again adds a condition that must hold
    /// too. Either way, a child whose controller has not yet observed its latest spec
    /// (`status.observedGeneration` below `metadata.generation`) is not ready.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let rollout = Rollout::one_at_a_time()
    ///     .ready_when_condition("Available", "True")
    ///     .ready_when_condition("Degraded", "False");
    /// # let _ = rollout;
    /// ```
    pub fn ready_when_condition(
        mut self,
        type_: impl Into<String>,
        status: impl Into<String>,
    ) -> Self {
        self.ready.push(ConditionCheck {
            type_: type_.into(),
            status: status.into(),
        });
        self
    }

    /// How many children of the type may be not ready while the rollout goes on.
    pub fn max_unready(&self) -> usize {
        self.max_unready
    }

    /// `Ok` when `child` is ready for this rollout, otherwise why not.
    pub(crate) fn check(&self, child: &Observed) -> Result<(), String> {
        if self.ready.is_empty() {
            return match child.readiness() {
                Readiness::Ready => Ok(()),
                other => Err(other.to_string()),
            };
        }
        if child.deleting {
            return Err("it is being deleted".into());
        }
        if let Some(not_observed) = child.not_observed() {
            return Err(not_observed.to_string());
        }
        let status = child.json.get("status").unwrap_or(&Value::Null);
        for check in &self.ready {
            let actual = find_condition(status, &check.type_).and_then(|c| c["status"].as_str());
            if actual != Some(check.status.as_str()) {
                return Err(format!(
                    "its {} condition is {} (waiting for {})",
                    check.type_,
                    actual.unwrap_or("absent"),
                    check.status
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn child(status: Value, generation: i64) -> Observed {
        Observed::from_json(json!({
            "apiVersion": "example.com/v1", "kind": "Shard",
            "metadata": {"name": "s", "generation": generation},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn conditions_must_all_hold_and_the_latest_generation_be_observed() {
        let rollout = Rollout::one_at_a_time()
            .ready_when_condition("Available", "True")
            .ready_when_condition("Degraded", "False");
        let ok = json!({"observedGeneration": 2, "conditions": [
            {"type": "Available", "status": "True"}, {"type": "Degraded", "status": "False"}]});
        assert_eq!(rollout.check(&child(ok.clone(), 2)), Ok(()));
        assert!(
            rollout
                .check(&child(ok, 3))
                .unwrap_err()
                .contains("generation 3")
        );
        let degraded = json!({"conditions": [
            {"type": "Available", "status": "True"}, {"type": "Degraded", "status": "True"}]});
        assert_eq!(
            rollout.check(&child(degraded, 1)),
            Err("its Degraded condition is True (waiting for False)".into())
        );
        let none = json!({});
        assert_eq!(
            rollout.check(&child(none, 1)),
            Err("its Available condition is absent (waiting for True)".into())
        );
    }

    #[test]
    fn by_default_the_readiness_view_decides() {
        let rollout = Rollout::at_most(0);
        assert_eq!(rollout.max_unready(), 1);
        let ready = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        assert_eq!(rollout.check(&child(ready, 1)), Ok(()));
        let not = json!({"conditions": [{"type": "Ready", "status": "False"}]});
        assert_eq!(
            rollout.check(&child(not, 1)),
            Err("not ready: its Ready condition is False".into())
        );
    }
}
