//! The status an [`EchoServer`] should show, derived from the Deployment the operator observes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use roperator_core::{Observed, Readiness};

use crate::{EchoServer, EchoServerStatus, Phase};

/// The type of the condition this operator maintains.
pub const READY: &str = "Ready";

/// The status of `echo` given its observed Deployment (`None` while it does not exist yet).
///
/// Whether the Deployment is ready comes from roperator's readiness view
/// ([`Observed::readiness`]): every replica updated and available, no old one left, and its
/// controller caught up with its latest spec. The Deployment must also ask for the replica
/// count the EchoServer wants (a scale the engine has not written yet is still a rollout).
///
/// `now` is only used as the `lastTransitionTime` of a `Ready` condition that changes; an
/// unchanged condition keeps the time it already has, so that a converged parent's status does
/// not change and the engine writes nothing.
///
/// ```
/// use echo_server::{EchoServer, EchoServerSpec, Phase, status};
/// use k8s_openapi::jiff::Timestamp;
///
/// let echo = EchoServer::new("web", EchoServerSpec::new("hello"));
/// let s = status::status(&echo, None, Timestamp::UNIX_EPOCH);
/// assert_eq!(s.phase, Phase::Pending);
/// assert_eq!(s.conditions[0].status, "False");
/// ```
pub fn status(
    echo: &EchoServer,
    deployment: Option<&Observed>,
    now: Timestamp,
) -> EchoServerStatus {
    let wanted = echo.spec.replicas;
    let (ready_replicas, reason, message) = match deployment {
        None => (
            0,
            "DeploymentMissing",
            format!("waiting for Deployment {} to be created", echo.name_any()),
        ),
        Some(deployment) => {
            let ready = int(deployment, "/status/readyReplicas").unwrap_or(0);
            let asked = int(deployment, "/spec/replicas").unwrap_or(1);
            match deployment.readiness() {
                Readiness::NotObserved { .. } => rolling_out(ready, wanted),
                _ if asked != wanted => rolling_out(ready, wanted),
                Readiness::NotReady(why) => (
                    ready,
                    "ReplicasNotReady",
                    format!("{ready}/{wanted} replicas ready ({why})"),
                ),
                Readiness::Ready => (
                    ready,
                    "ReplicasReady",
                    format!(
                        "{wanted}/{wanted} replicas ready, serving on {}:{}",
                        service_host(echo),
                        echo.spec.port
                    ),
                ),
            }
        }
    };
    let is_ready = reason == "ReplicasReady";
    let condition = Condition {
        type_: READY.to_string(),
        status: if is_ready { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.clone(),
        observed_generation: echo.metadata.generation,
        last_transition_time: transition_time(echo, is_ready, now),
    };
    EchoServerStatus {
        phase: if is_ready {
            Phase::Ready
        } else {
            Phase::Pending
        },
        ready_replicas,
        message,
        conditions: vec![condition],
        observed_generation: None,
        sync_error: None,
    }
}

fn rolling_out(ready: i32, wanted: i32) -> (i32, &'static str, String) {
    (
        ready,
        "RollingOut",
        format!("{ready}/{wanted} replicas ready, rollout in progress"),
    )
}

fn int(object: &Observed, pointer: &str) -> Option<i32> {
    object
        .json()
        .pointer(pointer)
        .and_then(serde_json::Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
}

/// The time the `Ready` condition last changed: kept from the current status when the condition
/// keeps its value, `now` otherwise.
fn transition_time(echo: &EchoServer, is_ready: bool, now: Timestamp) -> Time {
    let wanted = if is_ready { "True" } else { "False" };
    echo.status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == READY && c.status == wanted)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now))
}

fn service_host(echo: &EchoServer) -> String {
    match echo.namespace() {
        Some(ns) => format!("{}.{ns}.svc", echo.name_any()),
        None => echo.name_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EchoServerSpec;

    fn echo(replicas: i32) -> EchoServer {
        let mut echo = EchoServer::new("web", EchoServerSpec::new("hi"));
        echo.metadata.namespace = Some("ns".to_string());
        echo.metadata.generation = Some(4);
        echo.spec.replicas = replicas;
        echo
    }

    /// The Deployment as observed: `ready` of `spec_replicas` replicas ready (and as many
    /// updated and available), its controller at `observed_generation`.
    fn observed(
        spec_replicas: i32,
        ready: i32,
        generation: i64,
        observed_generation: i64,
    ) -> Observed {
        let mut d = crate::children::deployment(&echo(spec_replicas));
        d.metadata.generation = Some(generation);
        let mut json = serde_json::to_value(&d).unwrap();
        json["status"] = serde_json::json!({
            "replicas": spec_replicas, "updatedReplicas": spec_replicas,
            "readyReplicas": ready, "availableReplicas": ready,
            "observedGeneration": observed_generation,
        });
        let parent = serde_json::json!({"metadata": {"name": "web", "namespace": "ns"}});
        let request = roperator_core::SyncRequest::new(&parent)
            .unwrap()
            .with_child(&json)
            .unwrap();
        request
            .child(roperator_core::k8s_types::apps::v1::Deployment, "web")
            .unwrap()
            .clone()
    }

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("a valid timestamp")
    }

    #[test]
    fn pending_until_the_deployment_exists() {
        let s = status(&echo(2), None, t(10));
        assert_eq!((s.phase, s.ready_replicas), (Phase::Pending, 0));
        assert!(s.message.contains("Deployment web"), "{}", s.message);
        let c = &s.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("Ready", "False", "DeploymentMissing")
        );
        assert_eq!(c.observed_generation, Some(4));
    }

    #[test]
    fn ready_when_every_requested_replica_is_ready() {
        let s = status(&echo(2), Some(&observed(2, 1, 3, 3)), t(10));
        assert_eq!((s.phase, s.ready_replicas), (Phase::Pending, 1));
        assert_eq!(s.message, "1/2 replicas ready (1/2 replicas available)");

        let s = status(&echo(2), Some(&observed(2, 2, 3, 3)), t(10));
        assert_eq!((s.phase, s.ready_replicas), (Phase::Ready, 2));
        assert_eq!(s.message, "2/2 replicas ready, serving on web.ns.svc:8080");
        assert_eq!(s.conditions[0].status, "True");
    }

    #[test]
    fn not_ready_while_the_deployment_has_not_caught_up() {
        // Scaled from 2 to 3: the observed Deployment still asks for 2.
        let s = status(&echo(3), Some(&observed(2, 2, 3, 3)), t(10));
        assert_eq!(s.phase, Phase::Pending);
        assert_eq!(s.conditions[0].reason, "RollingOut");
        // Message changed: the Deployment controller has not seen generation 4 yet.
        let s = status(&echo(2), Some(&observed(2, 2, 4, 3)), t(10));
        assert_eq!(s.phase, Phase::Pending);
        assert_eq!(s.conditions[0].reason, "RollingOut");
    }

    #[test]
    fn scaled_to_zero_is_ready() {
        let s = status(&echo(0), Some(&observed(0, 0, 1, 1)), t(10));
        assert_eq!(s.phase, Phase::Ready);
    }

    #[test]
    fn the_transition_time_changes_only_when_the_condition_does() {
        let mut parent = echo(1);
        let first = status(&parent, Some(&observed(1, 0, 1, 1)), t(100));
        assert_eq!(first.conditions[0].last_transition_time, Time(t(100)));

        parent.status = Some(first.clone());
        let again = status(&parent, Some(&observed(1, 0, 1, 1)), t(200));
        assert_eq!(
            again, first,
            "an unchanged situation must give an identical status"
        );

        let ready = status(&parent, Some(&observed(1, 1, 1, 1)), t(300));
        assert_eq!(ready.conditions[0].last_transition_time, Time(t(300)));
    }
}
