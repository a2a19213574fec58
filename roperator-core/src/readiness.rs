//! Is a child ready? [`Readiness`], read from the status of the common built-in types the way
//! `kubectl rollout status` and their controllers mean it.

use std::fmt;

use serde_json::Value;

use crate::object::Observed;
use crate::status::find_condition;

/// What an object's status says about its readiness; see [`Observed::readiness`].
///
/// An object whose controller has not yet seen its latest spec (`status.observedGeneration`
/// below `metadata.generation`) is [`NotObserved`](Readiness::NotObserved): what its status says
/// describes an older spec, so it is not ready whatever it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready for what its spec asks.
    Ready,
    /// Not ready; the reason is a short sentence (`"1/3 replicas available"`).
    NotReady(String),
    /// Its controller has not yet observed its latest spec.
    NotObserved {
        /// `metadata.generation`.
        generation: i64,
        /// `status.observedGeneration` (0 when absent).
        observed: i64,
    },
}

impl Readiness {
    /// `true` for [`Readiness::Ready`].
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::Ready => f.write_str("ready"),
            Readiness::NotReady(reason) => write!(f, "not ready: {reason}"),
            Readiness::NotObserved {
                generation,
                observed,
            } => write!(
                f,
                "generation {generation} not observed yet by its controller (observed: {observed})"
            ),
        }
    }
}

impl Observed {
    /// How ready this object is, from its status:
    ///
    /// | Type | Ready when |
    /// |---|---|
    /// | `apps/v1` Deployment | every replica updated and available, no old one left, progress deadline not exceeded |
    /// | `apps/v1` StatefulSet | every replica ready and on the update revision (from the partition on, for a partitioned rolling update) |
    /// | `apps/v1` DaemonSet | every scheduled pod updated and available |
    /// | `batch/v1` Job | its `Complete` condition is `True` (`Failed` is not ready, for good) |
    /// | `v1` Pod | its `Ready` condition is `True`, or it succeeded |
    /// | `v1` Service | always, but a `LoadBalancer` only once it has an ingress address |
    /// | `v1` PersistentVolumeClaim | `Bound` |
    /// | any other type | its `Ready` condition is `True` if it has one, otherwise it exists |
    ///
    /// Types with `observedGeneration` (workloads, and any type whose status has it) are
    /// [`Readiness::NotObserved`] until their controller caught up with the latest spec. An
    /// object being deleted (a Namespace terminating, say) is never ready.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    /// use roperator_core::Readiness;
    /// use serde_json::json;
    ///
    /// # fn main() -> Result<(), Error> {
    /// let request = SyncRequest::new(&json!({"metadata": {"name": "p"}}))?.with_child(&json!({
    ///     "apiVersion": "apps/v1", "kind": "Deployment",
    ///     "metadata": {"name": "web", "generation": 2},
    ///     "spec": {"replicas": 3},
    ///     "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}
    /// }))?;
    /// let web = request.child(k8s_types::apps::v1::Deployment, "web").unwrap();
    /// assert_eq!(web.readiness(), Readiness::NotReady("1/3 replicas available".into()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn readiness(&self) -> Readiness {
        if self.deleting {
            return Readiness::NotReady("it is being deleted".into());
        }
        let status = self.json.get("status").unwrap_or(&Value::Null);
        if let Some(observed) = self.generation_not_observed(status) {
            return observed;
        }
        let spec = self.json.get("spec").unwrap_or(&Value::Null);
        match (self.api_version.as_str(), self.kind.as_str()) {
            ("apps/v1", "Deployment") => deployment(spec, status),
            ("apps/v1", "StatefulSet") => stateful_set(spec, status),
            ("apps/v1", "DaemonSet") => daemon_set(status),
            ("batch/v1", "Job") => job(status),
            ("v1", "Pod") => pod(status),
            ("v1", "Service") => service(spec, status),
            ("v1", "PersistentVolumeClaim") => claim(status),
            _ => condition(status, "Ready").map_or(Readiness::Ready, |c| {
                if c == "True" {
                    Readiness::Ready
                } else {
                    Readiness::NotReady(format!("its Ready condition is {c}"))
                }
            }),
        }
    }

    /// [`Readiness::NotObserved`] when the object's controller has not yet observed its latest
    /// spec.
    pub(crate) fn not_observed(&self) -> Option<Readiness> {
        self.generation_not_observed(self.json.get("status").unwrap_or(&Value::Null))
    }

    fn generation_not_observed(&self, status: &Value) -> Option<Readiness> {
        let generation = self.generation?;
        let observed = status.get("observedGeneration");
        let is_workload = matches!(
            (self.api_version.as_str(), self.kind.as_str()),
            ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet")
        );
        if observed.is_none() && !is_workload {
            return None;
        }
        let observed = observed.and_then(Value::as_i64).unwrap_or(0);
        (observed < generation).then_some(Readiness::NotObserved {
            generation,
            observed,
        })
    }
}

fn int(v: &Value, field: &str) -> i64 {
    v.get(field).and_then(Value::as_i64).unwrap_or(0)
}

/// The status of condition `kind`, if the object has it.
fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a str> {
    find_condition(status, kind)?.get("status")?.as_str()
}

fn not_ready(reason: String) -> Readiness {
    Readiness::NotReady(reason)
}

fn deployment(spec: &Value, status: &Value) -> Readiness {
    let wanted = spec.get("replicas").and_then(Value::as_i64).unwrap_or(1);
    let progressing = find_condition(status, "Progressing");
    if progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
        return not_ready("its progress deadline was exceeded".into());
    }
    let (updated, total, available) = (
        int(status, "updatedReplicas"),
        int(status, "replicas"),
        int(status, "availableReplicas"),
    );
    if updated < wanted {
        return not_ready(format!("{updated}/{wanted} replicas updated"));
    }
    if total > updated {
        return not_ready(format!(
            "{} old replicas pending termination",
            total - updated
        ));
    }
    if available < updated {
        return not_ready(format!("{available}/{updated} replicas available"));
    }
    Readiness::Ready
}

fn stateful_set(spec: &Value, status: &Value) -> Readiness {
    let wanted = spec.get("replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = int(status, "readyReplicas");
    if ready < wanted {
        return not_ready(format!("{ready}/{wanted} replicas ready"));
    }
    let strategy = &spec["updateStrategy"];
    if strategy["type"] == "OnDelete" {
        return Readiness::Ready;
    }
    let partition = strategy["rollingUpdate"]["partition"].as_i64().unwrap_or(0);
    let updated = int(status, "updatedReplicas");
    if partition > 0 {
        let expected = (wanted - partition).max(0);
        return if updated < expected {
            not_ready(format!(
                "{updated}/{expected} replicas updated (partition {partition})"
            ))
        } else {
            Readiness::Ready
        };
    }
    if status["updateRevision"] != status["currentRevision"] {
        return not_ready(format!(
            "{updated}/{wanted} replicas on the update revision"
        ));
    }
    Readiness::Ready
}

fn daemon_set(status: &Value) -> Readiness {
    let desired = int(status, "desiredNumberScheduled");
    let updated = int(status, "updatedNumberScheduled");
    let available = int(status, "numberAvailable");
    if updated < desired {
        return not_ready(format!("{updated}/{desired} pods updated"));
    }
    if available < desired {
        return not_ready(format!("{available}/{desired} pods available"));
    }
    Readiness::Ready
}

fn job(status: &Value) -> Readiness {
    if condition(status, "Complete") == Some("True") {
        return Readiness::Ready;
    }
    if condition(status, "Failed") == Some("True") {
        return not_ready("it failed".into());
    }
    not_ready(format!(
        "{} succeeded, {} active",
        int(status, "succeeded"),
        int(status, "active")
    ))
}

fn pod(status: &Value) -> Readiness {
    if status["phase"] == "Succeeded" || condition(status, "Ready") == Some("True") {
        return Readiness::Ready;
    }
    let phase = status["phase"].as_str().unwrap_or("Pending");
    not_ready(format!("phase {phase}, not Ready"))
}

fn service(spec: &Value, status: &Value) -> Readiness {
    if spec["type"] != "LoadBalancer" {
        return Readiness::Ready;
    }
    let has_ingress = status["loadBalancer"]["ingress"]
        .as_array()
        .is_some_and(|i| !i.is_empty());
    if has_ingress {
        Readiness::Ready
    } else {
        not_ready("no load balancer address yet".into())
    }
}

fn claim(status: &Value) -> Readiness {
    match status["phase"].as_str() {
        Some("Bound") => Readiness::Ready,
        phase => not_ready(format!("phase {}", phase.unwrap_or("Pending"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(api_version: &str, kind: &str, generation: Option<i64>, rest: Value) -> Observed {
        let mut json = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
        if let Some(g) = generation {
            json["metadata"]["generation"] = json!(g);
        }
        for (k, v) in rest.as_object().unwrap() {
            json[k] = v.clone();
        }
        Observed::from_json(json).unwrap()
    }

    #[test]
    fn deployments_are_ready_when_every_replica_is_updated_and_available() {
        let d = |status: Value| {
            obj(
                "apps/v1",
                "Deployment",
                Some(3),
                json!({"spec": {"replicas": 2}, "status": status}),
            )
        };
        assert_eq!(
            d(json!({"observedGeneration": 2})).readiness(),
            Readiness::NotObserved {
                generation: 3,
                observed: 2
            }
        );
        let base = json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2});
        assert!(
            d(base.clone())
                .readiness()
                .to_string()
                .contains("old replicas")
        );
        let mut done = base.clone();
        done["replicas"] = json!(2);
        assert!(d(done.clone()).readiness().is_ready());
        done["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert!(!d(done).readiness().is_ready());
        // No status at all yet: the controller has not seen it.
        assert!(matches!(
            obj("apps/v1", "Deployment", Some(1), json!({})).readiness(),
            Readiness::NotObserved { .. }
        ));
    }

    #[test]
    fn stateful_sets_follow_the_revision_and_the_partition() {
        let s = |spec: Value, status: Value| {
            obj(
                "apps/v1",
                "StatefulSet",
                Some(1),
                json!({"spec": spec, "status": status}),
            )
        };
        let status = json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1,
                            "currentRevision": "a", "updateRevision": "b"});
        assert!(
            !s(json!({"replicas": 3}), status.clone())
                .readiness()
                .is_ready()
        );
        let partitioned = json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}});
        assert!(s(partitioned, status.clone()).readiness().is_ready());
        let mut same = status;
        same["updateRevision"] = json!("a");
        assert!(s(json!({"replicas": 3}), same).readiness().is_ready());
    }

    #[test]
    fn jobs_pods_services_claims_and_other_types() {
        let job = |c: Value| {
            obj(
                "batch/v1",
                "Job",
                Some(1),
                json!({"status": {"conditions": c}}),
            )
        };
        assert!(
            job(json!([{"type": "Complete", "status": "True"}]))
                .readiness()
                .is_ready()
        );
        assert_eq!(
            job(json!([{"type": "Failed", "status": "True"}])).readiness(),
            Readiness::NotReady("it failed".into())
        );
        let pod = obj(
            "v1",
            "Pod",
            None,
            json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}),
        );
        assert!(!pod.readiness().is_ready());
        let lb = |status: Value| {
            obj(
                "v1",
                "Service",
                None,
                json!({"spec": {"type": "LoadBalancer"}, "status": status}),
            )
        };
        assert!(!lb(json!({})).readiness().is_ready());
        assert!(
            lb(json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}))
                .readiness()
                .is_ready()
        );
        assert!(
            obj("v1", "Service", None, json!({"spec": {}}))
                .readiness()
                .is_ready()
        );
        let pvc = obj(
            "v1",
            "PersistentVolumeClaim",
            None,
            json!({"status": {"phase": "Pending"}}),
        );
        assert_eq!(pvc.readiness(), Readiness::NotReady("phase Pending".into()));
        assert!(
            obj("v1", "ConfigMap", None, json!({}))
                .readiness()
                .is_ready()
        );
        let custom = obj(
            "x.io/v1",
            "Db",
            Some(2),
            json!({"status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False"}]}}),
        );
        assert!(!custom.readiness().is_ready());
        let behind = obj(
            "x.io/v1",
            "Db",
            Some(2),
            json!({"status": {"observedGeneration": 1}}),
        );
        assert!(matches!(behind.readiness(), Readiness::NotObserved { .. }));
    }
}
