//! Kubernetes-shaped errors: every failure leaves the server as a `metav1.Status` body.

use serde_json::{Value, json};

use crate::schema::FieldCause;

/// A failed request, as the real API server would report it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, plural)),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, plural)
            ),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    pub fn stale(group: &str, plural: &str, name: &str) -> Self {
        Self::conflict(
            group,
            plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// What kube-apiserver's go-restful container answers when a web service claims the path's
    /// prefix but no route matches the path (`404`) or its method (`405`): the apiserver's
    /// `serviceErrorHandler` turns the router's error into `NewGenericServerResponse` with no
    /// resource and no cause, so the Status carries only the generic message and an empty
    /// `details`.
    pub fn no_route(code: u16) -> Self {
        let (reason, message) = match code {
            405 => (
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ),
            _ => (
                "NotFound",
                "the server could not find the requested resource",
            ),
        };
        Self::new(code, reason, message).with_details(json!({}))
    }

    /// `NewMethodNotSupported`: what apiextensions' handler answers for a verb a custom
    /// resource's subresource does not serve.
    pub fn method_not_supported(group: &str, plural: &str, verb: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "{verb} is not supported on resources of kind \"{}\"",
                qualified(group, plural)
            ),
        )
        .with_details(json!({"group": group, "kind": plural}))
    }

    /// A patch in a media type the resource does not take: go-restful's own refusal for
    /// built-in kinds (before any handler runs), the custom resource handler's list of what it
    /// takes (no strategic merge patch) for custom ones.
    pub fn unsupported_patch_type(custom: bool) -> Self {
        if custom {
            Self::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            )
        } else {
            Self::new(415, "UnsupportedMediaType", "415: Unsupported Media Type")
                .with_details(json!({}))
        }
    }

    /// `errors.NewRequestEntityTooLargeError`, as `limitedReadBody` answers a body over the
    /// server's limit: no details.
    pub fn request_entity_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// What the `NamespaceLifecycle` admission plugin answers for a create in a namespace that
    /// is being deleted: `admission.NewForbidden` (details name the object by resource) with
    /// the plugin's `NamespaceTerminating` cause on `metadata.namespace`.
    pub fn namespace_terminating(group: &str, plural: &str, name: &str, ns: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                qualified(group, plural)
            ),
        )
        .with_details(json!({
            "name": name,
            "group": group,
            "kind": plural,
            "causes": [{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {ns} is being terminated"),
                "field": "metadata.namespace",
            }],
        }))
    }

    /// A failed delete precondition. Upstream (`rest.BeforeDelete`) builds this Conflict from
    /// the object's kind, not its resource: `Operation cannot be fulfilled on ConfigMap "x"`,
    /// details `kind: ConfigMap`.
    pub fn precondition_failed(group: &str, kind: &str, name: &str, why: &str) -> Self {
        Self::conflict(group, kind, name, why)
    }

    /// `422 Invalid` with one cause per bad field.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: &[FieldCause]) -> Self {
        // `ErrorList.ToAggregate` drops repeated messages from the summary (not the causes).
        let mut summary: Vec<String> = Vec::new();
        for c in causes {
            let line = format!("{}: {}", c.field, c.message);
            if !summary.contains(&line) {
                summary.push(line);
            }
        }
        let causes_json: Vec<Value> = causes
            .iter()
            .map(|c| {
                let mut cause = json!({"reason": c.reason, "message": c.message});
                // `StatusCause.field` is `omitempty`: a cause on the whole object has none.
                if !c.field.is_empty() {
                    cause["field"] = json!(c.field);
                }
                cause
            })
            .collect();
        let what = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        // `errs.ToAggregate()`: one error prints bare, several print as `[a, b]`.
        let summary = if summary.len() == 1 {
            summary.join("")
        } else {
            format!("[{}]", summary.join(", "))
        };
        Self::new(
            422,
            "Invalid",
            format!("{what} \"{name}\" is invalid: {summary}"),
        )
        .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes_json}))
    }

    /// The `metav1.Status` body.
    pub fn body(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        // `StatusReasonUnknown` is the empty reason, left out (`omitempty`).
        if self.reason.is_empty()
            && let Some(o) = status.as_object_mut()
        {
            o.remove("reason");
        }
        if let Some(details) = &self.details {
            status["details"] = omit_empty(details.clone());
        }
        if let Some(secs) = self.retry_after {
            let details = status["details"]
                .as_object_mut()
                .map(|d| d.len())
                .unwrap_or(0);
            if details == 0 {
                status["details"] = json!({});
            }
            status["details"]["retryAfterSeconds"] = json!(secs);
        }
        status
    }
}

/// `StatusDetails` serializes `name`, `group` and `kind` with `omitempty`: the core group (and
/// an empty name) is absent, not `""`.
pub(crate) fn omit_empty(mut details: Value) -> Value {
    if let Some(o) = details.as_object_mut() {
        o.retain(|k, v| !(matches!(k.as_str(), "name" | "group" | "kind" | "uid") && v == ""));
    }
    details
}

/// A field-level cause for [`ApiError::invalid`].
pub(crate) fn cause(reason: &str, field: &str, message: impl Into<String>) -> FieldCause {
    FieldCause {
        reason: reason.to_string(),
        message: message.into(),
        field: field.to_string(),
    }
}

fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}
