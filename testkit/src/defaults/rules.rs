//! Which upstream defaulting function applies to which struct.
//!
//! Each row is an upstream `SetDefaults_<Type>` (or, for Secrets, the `stringData` conversion the
//! decoder applies) and the OpenAPI definition of the struct it takes. Rows for the same
//! definition run in order, after the definition's OpenAPI defaults.

use super::Rule;
use super::{cluster, core, others, workloads};

pub(super) const RULES: &[(&str, Rule)] = &[
    // pkg/apis/core/v1/defaults.go
    ("io.k8s.api.core.v1.Pod", core::pod),
    ("io.k8s.api.core.v1.PodSpec", core::pod_spec),
    ("io.k8s.api.core.v1.Container", core::container),
    ("io.k8s.api.core.v1.EphemeralContainer", core::container),
    ("io.k8s.api.core.v1.Volume", core::volume),
    ("io.k8s.api.core.v1.Probe", core::probe),
    ("io.k8s.api.core.v1.HTTPGetAction", core::http_get_action),
    ("io.k8s.api.core.v1.SecretVolumeSource", core::file_mode),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", core::file_mode),
    (
        "io.k8s.api.core.v1.DownwardAPIVolumeSource",
        core::file_mode,
    ),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", core::file_mode),
    (
        "io.k8s.api.core.v1.ServiceAccountTokenProjection",
        core::token_projection,
    ),
    ("io.k8s.api.core.v1.HostPathVolumeSource", core::host_path),
    (
        "io.k8s.api.core.v1.ObjectFieldSelector",
        core::field_selector,
    ),
    (
        "io.k8s.api.core.v1.ResourceFieldSelector",
        core::resource_field_selector,
    ),
    ("io.k8s.api.core.v1.Service", core::service),
    ("io.k8s.api.core.v1.Secret", core::secret),
    ("io.k8s.api.core.v1.Namespace", core::namespace),
    ("io.k8s.api.core.v1.NamespaceStatus", core::namespace_status),
    ("io.k8s.api.core.v1.PersistentVolumeClaim", core::claim),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
        core::claim_spec,
    ),
    ("io.k8s.api.core.v1.Endpoints", core::endpoints),
    ("io.k8s.api.core.v1.LimitRangeItem", core::limit_range_item),
    (
        "io.k8s.api.core.v1.PersistentVolume",
        cluster::persistent_volume,
    ),
    // Go's encoder writes an unset metav1.Time as null (`omitempty` does not apply to structs):
    // an embedded template's metadata shows `creationTimestamp: null`.
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        core::embedded_meta,
    ),
    // pkg/apis/apps/v1/defaults.go
    ("io.k8s.api.apps.v1.Deployment", workloads::deployment),
    ("io.k8s.api.apps.v1.StatefulSet", workloads::stateful_set),
    ("io.k8s.api.apps.v1.DaemonSet", workloads::daemon_set),
    ("io.k8s.api.apps.v1.ReplicaSet", workloads::replica_set),
    // pkg/apis/batch/v1/defaults.go
    ("io.k8s.api.batch.v1.Job", workloads::job),
    ("io.k8s.api.batch.v1.CronJob", workloads::cron_job),
    // pkg/apis/networking/v1/defaults.go
    (
        "io.k8s.api.networking.v1.NetworkPolicyPort",
        others::network_policy_port,
    ),
    (
        "io.k8s.api.networking.v1.NetworkPolicy",
        others::network_policy,
    ),
    // pkg/apis/rbac/v1/defaults.go
    ("io.k8s.api.rbac.v1.RoleBinding", others::role_binding),
    (
        "io.k8s.api.rbac.v1.ClusterRoleBinding",
        others::role_binding,
    ),
    ("io.k8s.api.rbac.v1.Subject", others::subject),
    // Not defaulting: Go's encoder writes a role without rules as `rules: null`.
    ("io.k8s.api.rbac.v1.Role", others::role),
    ("io.k8s.api.rbac.v1.ClusterRole", others::role),
    // pkg/apis/autoscaling/v2/defaults.go
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        others::horizontal_pod_autoscaler,
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        others::horizontal_pod_autoscaler_status,
    ),
    ("io.k8s.api.core.v1.NodeStatus", cluster::node_status),
    (
        "io.k8s.api.networking.v1.IngressClass",
        cluster::ingress_class,
    ),
    // pkg/apis/scheduling/v1/defaults.go
    (
        "io.k8s.api.scheduling.v1.PriorityClass",
        cluster::priority_class,
    ),
    // pkg/apis/storage/v1/defaults.go
    ("io.k8s.api.storage.v1.StorageClass", cluster::storage_class),
    // pkg/apis/discovery/v1/defaults.go
    (
        "io.k8s.api.discovery.v1.EndpointPort",
        cluster::endpoint_port,
    ),
    // pkg/apis/admissionregistration/v1/defaults.go
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhook",
        cluster::validating_webhook,
    ),
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhook",
        cluster::mutating_webhook,
    ),
    (
        "io.k8s.api.admissionregistration.v1.RuleWithOperations",
        cluster::webhook_rule,
    ),
    (
        "io.k8s.api.admissionregistration.v1.ServiceReference",
        others::webhook_service,
    ),
    // apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
        others::crd_spec,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ServiceReference",
        others::webhook_service,
    ),
];
