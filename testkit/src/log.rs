//! The request log: what clients asked and what they got, for assertions such as
//! "this sync made exactly 3 writes".

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::patch::PatchType;

/// One request, as the API server's audit log would name it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Audit verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection` (or the HTTP method, lowercased, for non-resource paths).
    pub verb: String,
    /// The request path, without the query.
    pub path: String,
    /// The resource plural, e.g. `configmaps` (empty for non-resource paths such as `/api`).
    pub resource: String,
    /// The namespace in the path, if any.
    pub namespace: Option<String>,
    /// The object name in the path, if any.
    pub name: Option<String>,
    /// The subresource, e.g. `status`.
    pub subresource: Option<String>,
    /// The HTTP status code of the response.
    pub status: u16,
    /// The client's `User-Agent` header.
    pub user_agent: String,
    /// When the request arrived.
    pub time: SystemTime,
    /// For patches, which flavour.
    pub patch_type: Option<PatchType>,
}

impl RequestRecord {
    /// Whether the request changes state (create, update, patch, delete, deletecollection).
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }
}

/// A handle on the server's request log.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::api::{Api, PostParams};
/// let server = roperator_testkit::ApiServer::new();
/// let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
/// cms.create(&PostParams::default(), &roperator_testkit::fixtures::configmap("a", [("k", "v")]))
///     .await
///     .unwrap();
/// assert_eq!(server.requests().count(|r| r.verb == "create" && r.resource == "configmaps"), 1);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pub(crate) records: Arc<Mutex<Vec<RequestRecord>>>,
}

impl RequestLog {
    /// Every request so far, oldest first.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Only the writes (create, update, patch, delete, deletecollection).
    pub fn writes(&self) -> Vec<RequestRecord> {
        self.records()
            .into_iter()
            .filter(RequestRecord::is_write)
            .collect()
    }

    /// How many requests match `predicate`.
    pub fn count(&self, predicate: impl Fn(&RequestRecord) -> bool) -> usize {
        self.records
            .lock()
            .map(|r| r.iter().filter(|x| predicate(x)).count())
            .unwrap_or(0)
    }

    /// Forgets every request recorded so far.
    pub fn clear(&self) {
        if let Ok(mut r) = self.records.lock() {
            r.clear();
        }
    }

    pub(crate) fn push(&self, record: RequestRecord) {
        if let Ok(mut r) = self.records.lock() {
            r.push(record);
        }
    }
}
