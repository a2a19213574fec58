//! The children an [`EchoServer`] should have: a Deployment running the echo container, and a
//! Service in front of it.
//!
//! These are plain functions from the parent to the desired objects. They do not look at what
//! exists in the cluster; the engine compares their output with the live objects and makes only
//! the writes needed.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, HTTPGetAction, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SecurityContext, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use crate::EchoServer;

/// The container image serving the message.
pub const IMAGE: &str = "hashicorp/http-echo:1.0";

/// The name of the container port, which the Service targets.
const PORT_NAME: &str = "http";

/// A parent the operator cannot turn into children. The message names the parent and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("EchoServer {parent}: {field} {problem}")]
pub struct InvalidSpec {
    /// The parent, as `namespace/name`.
    pub parent: String,
    /// The offending field, e.g. `spec.port`.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Checks what the CRD's schema also checks, because an API server without schema validation (or
/// an object written before the schema tightened) must not make the operator build broken
/// children; and checks the name, which no schema can: the children are named after the parent,
/// and a Service name is stricter than an EchoServer's (no dots, no leading digit).
///
/// ```
/// use echo_server::{EchoServer, EchoServerSpec, children};
///
/// let mut echo = EchoServer::new("web", EchoServerSpec::new("hi"));
/// echo.spec.port = 0;
/// let err = children::validate(&echo).unwrap_err();
/// assert_eq!(err.field, "spec.port");
///
/// let echo = EchoServer::new("web.v2", EchoServerSpec::new("hi"));
/// let err = children::validate(&echo).unwrap_err();
/// assert_eq!(err.field, "metadata.name");
/// ```
pub fn validate(echo: &EchoServer) -> Result<(), InvalidSpec> {
    let fail = |field, problem: String| {
        Err(InvalidSpec {
            parent: display_name(echo),
            field,
            problem,
        })
    };
    // Checked before writing anything: otherwise the Deployment would be created and only the
    // Service refused, leaving half the children behind.
    let name = echo.name_any();
    if !is_dns1035_label(&name) {
        return fail(
            "metadata.name",
            format!(
                "{name:?} cannot name the Service: use at most 63 lower-case letters, digits \
                 and '-', starting with a letter and ending with a letter or digit"
            ),
        );
    }
    match (&echo.spec.message, &echo.spec.message_from) {
        (Some(_), Some(_)) => {
            return fail(
                "spec.messageFrom",
                "is set together with spec.message: set exactly one of them".to_string(),
            );
        }
        (None, None) => {
            return fail(
                "spec.message",
                "is missing: set spec.message or spec.messageFrom".to_string(),
            );
        }
        (Some(message), None) if message.is_empty() => {
            return fail("spec.message", "must not be empty".to_string());
        }
        (None, Some(from)) if from.config_map_key_ref.name.is_empty() => {
            return fail(
                "spec.messageFrom.configMapKeyRef.name",
                "must not be empty".to_string(),
            );
        }
        (None, Some(from)) if from.config_map_key_ref.key.is_empty() => {
            return fail(
                "spec.messageFrom.configMapKeyRef.key",
                "must not be empty".to_string(),
            );
        }
        _ => {}
    }
    if echo.spec.replicas < 0 {
        return fail(
            "spec.replicas",
            format!("is {}, it must be 0 or more", echo.spec.replicas),
        );
    }
    if !(1..=65535).contains(&echo.spec.port) {
        return fail(
            "spec.port",
            format!("is {}, it must be between 1 and 65535", echo.spec.port),
        );
    }
    Ok(())
}

/// `true` for a valid Service name: a DNS-1035 label, as kube-apiserver checks it.
fn is_dns1035_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let inner = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(inner)
        && bytes[bytes.len() - 1] != b'-'
}

/// The labels on the pods of `echo`, which the Deployment and the Service select on.
pub fn pod_labels(echo: &EchoServer) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "echo-server".to_string(),
        ),
        ("app.kubernetes.io/instance".to_string(), echo.name_any()),
    ])
}

/// The Deployment running `echo.spec.replicas` echo pods serving `echo.spec.message`, named
/// like the parent. For an EchoServer with `spec.messageFrom`, the sync function first puts the
/// text in `spec.message` with [`message::resolve`](crate::message::resolve).
///
/// ```
/// use echo_server::{EchoServer, EchoServerSpec, children};
///
/// let echo = EchoServer::new("web", EchoServerSpec::new("hello"));
/// let deployment = children::deployment(&echo);
/// let container = &deployment.spec.template.spec.unwrap().containers[0];
/// assert_eq!(container.args.as_deref().unwrap(), ["-text=hello", "-listen=:8080"]);
/// ```
pub fn deployment(echo: &EchoServer) -> Deployment {
    let labels = pod_labels(echo);
    let container = Container {
        name: "echo".to_string(),
        image: Some(IMAGE.to_string()),
        args: Some(vec![
            format!("-text={}", echo.spec.message.as_deref().unwrap_or_default()),
            format!("-listen=:{}", echo.spec.port),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_string()),
            container_port: echo.spec.port,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/".to_string()),
                port: IntOrString::String(PORT_NAME.to_string()),
                ..HTTPGetAction::default()
            }),
            period_seconds: Some(5),
            ..Probe::default()
        }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity("10m".to_string())),
                ("memory".to_string(), Quantity("16Mi".to_string())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_string(),
                Quantity("32Mi".to_string()),
            )])),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    Deployment {
        metadata: child_metadata(echo),
        spec: DeploymentSpec {
            replicas: Some(echo.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    security_context: Some(PodSecurityContext {
                        // The image has no user database, so name the user by number.
                        run_as_non_root: Some(true),
                        run_as_user: Some(65534),
                        ..PodSecurityContext::default()
                    }),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    }
}

/// The ClusterIP Service in front of the echo pods, named like the parent, on `spec.port`.
///
/// ```
/// use echo_server::{EchoServer, EchoServerSpec, children};
///
/// let mut echo = EchoServer::new("web", EchoServerSpec::new("hello"));
/// echo.spec.port = 9000;
/// let port = &children::service(&echo).spec.unwrap().ports.unwrap()[0];
/// assert_eq!(port.port, 9000);
/// ```
pub fn service(echo: &EchoServer) -> Service {
    Service {
        metadata: child_metadata(echo),
        spec: Some(ServiceSpec {
            selector: Some(pod_labels(echo)),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_string()),
                port: echo.spec.port,
                target_port: Some(IntOrString::String(PORT_NAME.to_string())),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn child_metadata(echo: &EchoServer) -> ObjectMeta {
    ObjectMeta {
        name: Some(echo.name_any()),
        namespace: echo.namespace(),
        labels: Some(pod_labels(echo)),
        ..ObjectMeta::default()
    }
}

/// `namespace/name` of a parent, for messages.
pub(crate) fn display_name(echo: &EchoServer) -> String {
    match echo.namespace() {
        Some(ns) => format!("{ns}/{}", echo.name_any()),
        None => echo.name_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EchoServerSpec;

    fn echo(message: &str, replicas: i32, port: i32) -> EchoServer {
        let mut echo = EchoServer::new("web", EchoServerSpec::new(message));
        echo.metadata.namespace = Some("team-a".to_string());
        echo.spec.replicas = replicas;
        echo.spec.port = port;
        echo
    }

    fn container(d: &Deployment) -> &Container {
        &d.spec.template.spec.as_ref().expect("pod spec").containers[0]
    }

    #[test]
    fn the_deployment_serves_the_message_on_the_port_with_the_replicas() {
        let d = deployment(&echo("bonjour", 3, 9090));
        assert_eq!(d.metadata.name.as_deref(), Some("web"));
        assert_eq!(d.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(d.spec.replicas, Some(3));
        let c = container(&d);
        assert_eq!(c.image.as_deref(), Some(IMAGE));
        assert_eq!(
            c.args.as_deref().expect("args"),
            ["-text=bonjour", "-listen=:9090"]
        );
        assert_eq!(c.ports.as_ref().expect("ports")[0].container_port, 9090);
        let selector = d.spec.selector.match_labels.as_ref().expect("selector");
        let template_labels = d
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref());
        assert_eq!(
            Some(selector),
            template_labels,
            "the selector must match the pods"
        );
    }

    #[test]
    fn changing_the_message_changes_only_the_container_args() {
        let before = deployment(&echo("one", 1, 8080));
        let after = deployment(&echo("two", 1, 8080));
        assert_ne!(container(&before).args, container(&after).args);
        let mut after_with_old_args = after.clone();
        after_with_old_args
            .spec
            .template
            .spec
            .as_mut()
            .expect("pod spec")
            .containers[0]
            .args = container(&before).args.clone();
        assert_eq!(before, after_with_old_args);
    }

    #[test]
    fn the_service_selects_the_pods_of_its_parent_only() {
        let a = echo("hi", 1, 8081);
        let mut b = a.clone();
        b.metadata.name = Some("other".to_string());
        let svc = service(&a);
        let spec = svc.spec.as_ref().expect("service spec");
        assert_eq!(spec.selector.as_ref(), Some(&pod_labels(&a)));
        assert_ne!(spec.selector.as_ref(), Some(&pod_labels(&b)));
        let port = &spec.ports.as_ref().expect("ports")[0];
        assert_eq!(port.port, 8081);
        assert_eq!(
            port.target_port,
            Some(IntOrString::String("http".to_string()))
        );
    }

    #[test]
    fn invalid_specs_are_rejected_naming_parent_and_field() {
        let mut neither = echo("hi", 1, 8080);
        neither.spec.message = None;
        let mut both = echo("hi", 1, 8080);
        both.spec.message_from = EchoServerSpec::from_config_map("c", "k").message_from;
        let mut no_key = echo("hi", 1, 8080);
        no_key.spec = EchoServerSpec::from_config_map("c", "");
        let cases = [
            (echo("", 1, 8080), "spec.message"),
            (neither, "spec.message"),
            (both, "spec.messageFrom"),
            (no_key, "spec.messageFrom.configMapKeyRef.key"),
            (echo("hi", -1, 8080), "spec.replicas"),
            (echo("hi", 1, 0), "spec.port"),
            (echo("hi", 1, 70000), "spec.port"),
        ];
        for (bad, field) in cases {
            let err = validate(&bad).expect_err(field);
            assert_eq!(err.field, field);
            let text = err.to_string();
            assert!(text.starts_with("EchoServer team-a/web: "), "{text}");
            assert!(text.contains(field), "{text}");
        }
        assert!(validate(&echo("hi", 0, 1)).is_ok());
        assert!(validate(&echo("hi", 5, 65535)).is_ok());
    }

    #[test]
    fn names_that_cannot_name_a_service_are_rejected() {
        let named = |name: &str| {
            let mut e = echo("hi", 1, 8080);
            e.metadata.name = Some(name.to_string());
            validate(&e).err().map(|err| err.field)
        };
        for good in ["web", "a", "web-2", &"a".repeat(63)] {
            assert_eq!(named(good), None, "{good}");
        }
        // Valid EchoServer names (DNS subdomains) that kube-apiserver refuses for a Service.
        for bad in ["web.v2", "2web", "web-", &"a".repeat(64)] {
            assert_eq!(named(bad), Some("metadata.name"), "{bad}");
        }
    }
}
