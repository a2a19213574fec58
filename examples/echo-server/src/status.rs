//! The status an [`EchoServer`] should show, derived from the Deployment the operator observes.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::{EchoServer, EchoServerStatus, Phase};

/// The type of the condition this operator maintains.
pub const READY: &str = "Ready";

/// The status of `echo` given its observed Deployment (`None` while it does not exist yet).
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
    deployment: Option<&Deployment>,
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
            let ready = ready_replicas(deployment);
            if !rolled_out(deployment, wanted) {
                (
                    ready,
                    "RollingOut",
                    format!("{ready}/{wanted} replicas ready, rollout in progress"),
                )
            } else if ready < wanted {
                (
                    ready,
                    "ReplicasNotReady",
                    format!("{ready}/{wanted} replicas ready"),
                )
            } else {
                (
                    ready,
                    "ReplicasReady",
                    format!(
                        "{wanted}/{wanted} replicas ready, serving on {}:{}",
                        service_host(echo),
                        echo.spec.port
                    ),
                )
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

fn ready_replicas(deployment: &Deployment) -> i32 {
    deployment
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// `true` when the Deployment already has the replica count we want and its controller has
/// acted on its latest spec, so that its ready count describes the current message and port.
fn rolled_out(deployment: &Deployment, wanted: i32) -> bool {
    let spec_replicas = deployment.spec.replicas.unwrap_or(1);
    let observed = deployment
        .status
        .as_ref()
        .and_then(|s| s.observed_generation);
    let generation = deployment.metadata.generation;
    let caught_up = match (observed, generation) {
        (Some(observed), Some(generation)) => observed >= generation,
        // Without generations (a hand-built object) there is nothing to compare.
        (_, None) => true,
        (None, Some(_)) => false,
    };
    spec_replicas == wanted && caught_up
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
    use k8s_openapi::api::apps::v1::DeploymentStatus;

    fn echo(replicas: i32) -> EchoServer {
        let mut echo = EchoServer::new("web", EchoServerSpec::new("hi"));
        echo.metadata.namespace = Some("ns".to_string());
        echo.metadata.generation = Some(4);
        echo.spec.replicas = replicas;
        echo
    }

    fn observed(
        spec_replicas: i32,
        ready: i32,
        generation: i64,
        observed_generation: i64,
    ) -> Deployment {
        let mut d = crate::children::deployment(&echo(spec_replicas));
        d.metadata.generation = Some(generation);
        d.status = Some(DeploymentStatus {
            ready_replicas: Some(ready),
            observed_generation: Some(observed_generation),
            ..DeploymentStatus::default()
        });
        d
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
        assert_eq!(s.message, "1/2 replicas ready");

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
