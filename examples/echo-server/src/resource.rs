//! The `EchoServer` custom resource: its spec, its status, and its CustomResourceDefinition.
//!
//! The doc comments on the types below become the descriptions in the CRD's schema (what
//! `kubectl explain echoservers.spec` shows), so they are written for cluster users.
//!
//! ```
//! use echo_server::{EchoServer, EchoServerSpec};
//!
//! let echo = EchoServer::new("hello", EchoServerSpec::new("hello, world"));
//! assert_eq!((echo.spec.replicas, echo.spec.port), (1, 8080));
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of [`EchoServer`].
pub const GROUP: &str = "examples.roperator.io";

/// An HTTP server that answers every request with `message` (or the text `messageFrom` names).
// clippy reads the repeated `type_ = ...` of several printcolumns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "examples.roperator.io",
    version = "v1alpha1",
    kind = "EchoServer",
    plural = "echoservers",
    shortname = "echo",
    namespaced,
    status = "EchoServerStatus",
    derive = "PartialEq",
    doc = "An HTTP server that answers every request with a fixed message.",
    printcolumn(name = "Message", type_ = "string", json_path = ".spec.message"),
    printcolumn(
        name = "Message-From",
        type_ = "string",
        json_path = ".spec.messageFrom.configMapKeyRef.name"
    ),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase")
)]
#[x_kube(validation = Rule::new("has(self.message) != has(self.messageFrom)")
    .message("set exactly one of spec.message and spec.messageFrom"))]
#[serde(rename_all = "camelCase")]
pub struct EchoServerSpec {
    /// The text every HTTP response carries. Set either this or `messageFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub message: Option<String>,
    /// Where to read the text from instead of `message`: a key of a ConfigMap in the
    /// EchoServer's namespace. When the value changes, the pods are rolled to serve the new
    /// text; while the ConfigMap or the key is missing, the EchoServer reports the error and
    /// its pods keep serving the text they have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_from: Option<MessageSource>,
    /// How many pods serve it.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// The port the pods and the Service listen on.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
}

/// Where an EchoServer's text comes from, when it is not in `spec.message`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageSource {
    /// A key of a ConfigMap in the EchoServer's namespace.
    pub config_map_key_ref: ConfigMapKeyRef,
}

/// A key of a ConfigMap in the EchoServer's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ConfigMapKeyRef {
    /// The ConfigMap's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The key in its `data` whose value is the text.
    #[schemars(length(min = 1))]
    pub key: String,
}

fn default_replicas() -> i32 {
    1
}

fn default_port() -> i32 {
    8080
}

impl EchoServerSpec {
    /// A spec with `message` and the defaults: one replica on port 8080.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            message_from: None,
            replicas: default_replicas(),
            port: default_port(),
        }
    }

    /// A spec serving the value of `key` in the ConfigMap `config_map` (in the EchoServer's
    /// namespace), with the defaults: one replica on port 8080.
    ///
    /// ```
    /// use echo_server::EchoServerSpec;
    ///
    /// let spec = EchoServerSpec::from_config_map("greetings", "message");
    /// let source = spec.message_from.unwrap().config_map_key_ref;
    /// assert_eq!((source.name.as_str(), source.key.as_str()), ("greetings", "message"));
    /// assert_eq!(spec.message, None);
    /// ```
    pub fn from_config_map(config_map: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            message: None,
            message_from: Some(MessageSource {
                config_map_key_ref: ConfigMapKeyRef {
                    name: config_map.into(),
                    key: key.into(),
                },
            }),
            replicas: default_replicas(),
            port: default_port(),
        }
    }
}

/// What the operator reports back, derived from the Deployment it manages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EchoServerStatus {
    /// `Ready` once every requested replica is ready, `Pending` until then.
    #[serde(default)]
    pub phase: Phase,
    /// Pods of the Deployment that are ready to serve.
    #[serde(default)]
    pub ready_replicas: i32,
    /// A sentence for humans saying what is going on.
    #[serde(default)]
    pub message: String,
    /// The standard `Ready` condition, for tools that wait on conditions
    /// (`kubectl wait --for=condition=Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes (written by the engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Why the last sync failed; absent once a sync succeeds (written by the engine).
    // Declared so that the API server, which prunes status fields the schema does not list,
    // keeps what the engine writes. The sync function leaves it `None`: the status it returns
    // replaces the whole status, which is how a successful sync clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_error: Option<String>,
}

/// The life-cycle phase shown in `kubectl get echoservers`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Not every requested replica is ready yet.
    #[default]
    Pending,
    /// Every requested replica is ready.
    Ready,
}

/// The CustomResourceDefinition of [`EchoServer`], with the status fields the engine writes
/// and a `Synced` printer column, so that `kubectl get echoservers` shows an EchoServer whose
/// syncs fail even while its last good `Phase` still reads `Ready`.
///
/// ```
/// let crd = echo_server::crd();
/// let columns = crd.spec.versions[0].additional_printer_columns.as_ref().unwrap();
/// assert!(columns.iter().any(|c| c.name == "Synced"));
/// ```
pub fn crd() -> CustomResourceDefinition {
    use kube::CustomResourceExt;
    let mut crd = EchoServer::crd();
    roperator_core::status::add_to_crd(&mut crd);
    crd
}

/// The CustomResourceDefinition of [`EchoServer`] as YAML, exactly as `echo-server crd` prints it
/// and `deploy/crd.yaml` holds it.
///
/// ```
/// let yaml = echo_server::crd_yaml().unwrap();
/// assert!(yaml.contains("name: echoservers.examples.roperator.io"));
/// ```
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&crd())
}
