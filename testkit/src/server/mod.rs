//! The API server value users hold: construction, the in-process service, and test helpers.

mod admission;
mod controllers;
pub(crate) mod convert;
mod crd;
mod delete;
mod discovery;
mod gc;
mod handler;
mod list;
mod listen;
mod objects;
mod partial;
mod query;
mod scale;
mod strategy;
mod table;
mod watch;
mod workloads;
mod write_options;

use std::convert::Infallible;
use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use serde_json::Value;

pub use listen::Listening;

use crate::allocate::{Allocator, Cidr, DEFAULT_NODE_PORTS};
use crate::faults::Faults;
use crate::log::RequestLog;
use crate::registry::{ResourceType, builtin_types};
use crate::store::{ObjRef, State};

/// The body of every response the server sends (whole JSON documents, or a watch stream).
pub type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// Errors from the helpers on [`ApiServer`] (loading fixtures, registering CRDs).
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A YAML or JSON document could not be parsed.
    #[error("cannot parse document {index} of {source_name}: {message}")]
    Parse {
        /// File name or `<yaml>`.
        source_name: String,
        /// Zero-based document index.
        index: usize,
        /// The parser's message.
        message: String,
    },
    /// The server refused an object, with its `Status` message.
    #[error("the server refused {kind} {name:?}: {code} {reason}: {message}")]
    Refused {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// HTTP status.
        code: u16,
        /// Kubernetes reason, e.g. `Invalid`.
        reason: String,
        /// Kubernetes message.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The listener could not be started.
    #[error("cannot listen: {0}")]
    Listen(String),
}

/// Server-wide settings and state.
pub(crate) struct Inner {
    pub state: Mutex<State>,
    pub log: RequestLog,
    pub faults: Faults,
    pub bookmark_interval: Duration,
    pub watch_buffer: usize,
    pub record_requests: bool,
}

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the store half-written in a way later
        // requests would trip over (every write is a single map insert), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Builds an [`ApiServer`] with non-default settings.
///
/// ```
/// let server = roperator_testkit::ApiServer::builder().history_window(100).seed(7).build();
/// # let _ = server;
/// ```
#[derive(Debug, Clone)]
pub struct ApiServerBuilder {
    history_window: usize,
    seed: u64,
    bookmark_interval: Duration,
    watch_buffer: usize,
    record_requests: bool,
    service_range: Cidr,
    node_ports: RangeInclusive<u16>,
}

impl Default for ApiServerBuilder {
    fn default() -> Self {
        Self {
            history_window: 10_000,
            seed: 0,
            bookmark_interval: Duration::from_secs(1),
            watch_buffer: 1024,
            record_requests: true,
            service_range: Allocator::default_range(),
            node_ports: DEFAULT_NODE_PORTS,
        }
    }
}

impl ApiServerBuilder {
    /// How many events the watch history keeps; resuming from an older resourceVersion gets
    /// `410 Gone`.
    pub fn history_window(mut self, events: usize) -> Self {
        self.history_window = events;
        self
    }

    /// Seed for everything random: fault probabilities, `generateName` suffixes.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How often watches that asked for bookmarks get one (the real server: about a minute).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// How many events a watcher may have in flight before it is cut off as too slow.
    pub fn watch_buffer(mut self, events: usize) -> Self {
        self.watch_buffer = events.max(1);
        self
    }

    /// Whether to keep the request log (on by default; benchmarks turn it off).
    pub fn record_requests(mut self, on: bool) -> Self {
        self.record_requests = on;
        self
    }

    /// The range Services get their cluster IPs from, as kube-apiserver's
    /// `--service-cluster-ip-range` (IPv4 only; `10.96.0.0/12` by default). Its first address
    /// is held for the `kubernetes` Service of a real cluster and is never handed out.
    ///
    /// ```
    /// let server = roperator_testkit::ApiServer::builder()
    ///     .service_cluster_ip_range("172.20.0.0/16")
    ///     .build();
    /// # let _ = server;
    /// ```
    ///
    /// # Panics
    ///
    /// When `cidr` is not an IPv4 range of at least four addresses (`a.b.c.d/n`, `n` at most 30):
    /// a test set up with an impossible cluster should stop there.
    pub fn service_cluster_ip_range(mut self, cidr: &str) -> Self {
        self.service_range = Cidr::parse(cidr).unwrap_or_else(|| {
            panic!("service cluster IP range {cidr:?} is not an IPv4 CIDR of /30 or wider")
        });
        self
    }

    /// The ports NodePort and LoadBalancer Services get their node ports from, as
    /// kube-apiserver's `--service-node-port-range` (`30000..=32767` by default).
    ///
    /// ```
    /// let server = roperator_testkit::ApiServer::builder()
    ///     .service_node_port_range(31000..=31999)
    ///     .build();
    /// # let _ = server;
    /// ```
    ///
    /// # Panics
    ///
    /// When the range is empty or starts at port 0.
    pub fn service_node_port_range(mut self, ports: RangeInclusive<u16>) -> Self {
        assert!(
            !ports.is_empty() && *ports.start() > 0,
            "node port range {ports:?} is empty or includes port 0"
        );
        self.node_ports = ports;
        self
    }

    /// The server, with built-in types and default namespaces.
    pub fn build(self) -> ApiServer {
        let mut state = State::new(self.history_window, self.seed);
        state.allocator = Allocator::new(self.service_range, self.node_ports);
        for ty in builtin_types() {
            state.register(ty, false);
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            log: RequestLog::default(),
            faults: Faults::new(self.seed),
            bookmark_interval: self.bookmark_interval,
            watch_buffer: self.watch_buffer,
            record_requests: self.record_requests,
        });
        let server = ApiServer { inner };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            // Built-in namespaces are valid by construction; a failure here is a bug we want loud.
            if let Err(e) = server.apply_value(body) {
                tracing::error!("cannot create namespace {ns}: {e}");
            }
        }
        {
            let mut st = server.inner.lock();
            let mut work = gc::Queue::new();
            controllers::kubernetes_service(&mut st, &mut work);
            gc::drain(&mut st, &mut work);
        }
        // The scheduling post-start hook's classes (`scheduling/bootstrap-system-priority-classes`).
        let descriptions = [
            "Used for system critical pods that must not be moved from their current node.",
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ];
        for ((name, value), description) in crate::validate::SYSTEM_PRIORITY_CLASSES
            .into_iter()
            .zip(descriptions)
        {
            let body = serde_json::json!({"apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass", "metadata": {"name": name}, "value": value,
                "description": description});
            if let Err(e) = server.apply_value(body) {
                tracing::error!("cannot create priority class {name}: {e}");
            }
        }
        // A real server's watch cache starts at the state it found: resuming from before the
        // bootstrap objects is `410 Gone`, as from any compacted revision.
        server.inner.lock().compact();
        server
    }
}

/// An in-memory Kubernetes API server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use k8s_openapi::api::core::v1::Namespace;
/// use kube::Api;
/// let server = roperator_testkit::ApiServer::new();
/// let namespaces: Api<Namespace> = Api::all(server.client());
/// assert!(namespaces.get("default").await.is_ok());
/// # }
/// ```
#[derive(Clone)]
pub struct ApiServer {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").finish_non_exhaustive()
    }
}

impl Default for ApiServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiServer {
    /// A server with default settings.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for non-default settings.
    pub fn builder() -> ApiServerBuilder {
        ApiServerBuilder::default()
    }

    /// The server as a tower `Service`, for `kube::Client::new` (what [`ApiServer::client`]
    /// does, with a default namespace of your choice).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = roperator_testkit::ApiServer::new();
    /// let client = kube::Client::new(server.service(), "kube-system");
    /// assert_eq!(client.default_namespace(), "kube-system");
    /// # }
    /// ```
    pub fn service(&self) -> ApiService {
        ApiService {
            inner: self.inner.clone(),
        }
    }

    /// A `kube::Client` talking to this server in-process (default namespace `default`).
    /// Must be called inside a tokio runtime.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.service(), "default")
    }

    /// Registers a CustomResourceDefinition (typed, or as JSON) and serves its kinds at once.
    pub fn register_crd<T: serde::Serialize>(&self, crd: &T) -> Result<(), TestkitError> {
        let value = serde_json::to_value(crd).map_err(|e| TestkitError::Parse {
            source_name: "<crd>".into(),
            index: 0,
            message: e.to_string(),
        })?;
        let mut value = value;
        if value.get("apiVersion").is_none() {
            value["apiVersion"] = "apiextensions.k8s.io/v1".into();
            value["kind"] = "CustomResourceDefinition".into();
        }
        self.apply_value(value)
    }

    /// Creates (or replaces) an object given as JSON, as `kubectl apply` of a whole object would.
    pub(crate) fn apply_value(&self, value: Value) -> Result<(), TestkitError> {
        objects::upsert(&self.inner, value)
    }

    /// Loads every document of a multi-document YAML (or JSON) string into the server.
    pub fn load_yaml(&self, text: &str) -> Result<usize, TestkitError> {
        crate::fixtures::load_documents(self, text, "<yaml>")
    }

    /// Loads every document of a YAML or JSON file into the server.
    pub fn load_file(&self, path: impl AsRef<std::path::Path>) -> Result<usize, TestkitError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TestkitError::Io {
            path: path.display().to_string(),
            source,
        })?;
        crate::fixtures::load_documents(self, &text, &path.display().to_string())
    }

    /// One object, as JSON; `None` when absent or the type is not served.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let st = self.inner.lock();
        let bucket = st.bucket_by_kind(api_version, kind)?;
        let mut v = st.get_value(&ObjRef {
            bucket,
            ns: ns.unwrap_or("").to_string(),
            name: name.to_string(),
        })?;
        // In the shape of the version asked for (Events are stored once for two versions).
        if let Some(ty) = served_at(&st, bucket, api_version) {
            convert::from_storage(ty, &mut v);
        }
        Some(v)
    }

    /// All objects of a kind (in one namespace, or everywhere when `ns` is `None`).
    pub fn objects(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        let st = self.inner.lock();
        let Some(bucket) = st.bucket_by_kind(api_version, kind) else {
            return Vec::new();
        };
        let ty = served_at(&st, bucket, api_version);
        st.buckets[bucket]
            .objects
            .iter()
            .filter(|((o_ns, _), _)| ns.is_none_or(|n| n == o_ns))
            .filter_map(|(_, s)| serde_json::from_slice(&s.json).ok())
            .map(|mut v| {
                if let Some(ty) = ty {
                    convert::from_storage(ty, &mut v);
                }
                v
            })
            .collect()
    }

    /// The fault rules.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Ends every open watch stream (clients see the connection end and re-watch).
    pub fn cut_watches(&self) {
        self.inner.lock().watchers.clear();
    }

    /// Drops the whole watch history: resuming from any earlier resourceVersion gets `410 Gone`.
    pub fn compact_history(&self) {
        self.inner.lock().compact();
    }

    /// The request log.
    pub fn requests(&self) -> RequestLog {
        self.inner.log.clone()
    }

    /// Forgets every request recorded so far.
    pub fn clear_requests(&self) {
        self.inner.log.clear();
    }

    /// When on, Deployments and StatefulSets are reported available as soon as they are written
    /// (`status.replicas`, `readyReplicas`, `availableReplicas`, `updatedReplicas` =
    /// `spec.replicas`, `observedGeneration`, an `Available` condition), standing in for the
    /// controllers and kubelets a real cluster has.
    pub fn simulate_workloads(&self, on: bool) {
        self.inner.lock().simulate_workloads = on;
    }

    /// The served types, for the OpenAPI documents and discovery.
    pub fn types(&self) -> Vec<ResourceType> {
        let st = self.inner.lock();
        served_types(&st)
    }
}

/// The type of `bucket` served at `api_version`, when the bucket serves several.
fn served_at<'a>(st: &'a State, bucket: usize, api_version: &str) -> Option<&'a ResourceType> {
    let b = &st.buckets[bucket];
    if b.types.len() < 2 {
        return None;
    }
    b.types
        .iter()
        .find(|t| t.api_version() == api_version)
        .map(|t| &**t)
}

pub(crate) fn served_types(st: &State) -> Vec<ResourceType> {
    let mut out = Vec::new();
    for (id, b) in st.buckets.iter().enumerate() {
        for t in &b.types {
            if st.lookup(&t.group, &t.version, &t.plural) == Some(id) {
                out.push((**t).clone());
            }
        }
    }
    out
}

/// The server as a tower `Service` (see [`ApiServer::service`]).
#[derive(Clone)]
pub struct ApiService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ApiService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiService").finish_non_exhaustive()
    }
}

impl<B> tower::Service<Request<B>> for ApiService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = match body.collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => {
                    let err = crate::errors::ApiError::bad_request(format!(
                        "cannot read request body: {e}"
                    ));
                    return Ok(handler::error_response(&err));
                }
            };
            Ok(handler::handle(inner, parts, body).await)
        })
    }
}
