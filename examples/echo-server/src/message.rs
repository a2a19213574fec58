//! The text an EchoServer serves: its `spec.message`, or the value of the ConfigMap key its
//! `spec.messageFrom` names.
//!
//! The ConfigMap is a *related object*: the operator reads it but never writes it. The engine
//! watches ConfigMaps, hands the one each EchoServer names to its sync (see
//! [`message_source`]), and syncs that EchoServer again whenever the ConfigMap is created,
//! changed or deleted, so the Deployment follows the ConfigMap within seconds.

use kube::ResourceExt;
use roperator_core::prelude::*;

use crate::EchoServer;
use crate::children::display_name;

/// The related type.
pub const CONFIG_MAP: K8sType = k8s_types::core::v1::ConfigMap;

// ANCHOR: related
/// Which objects an EchoServer reads besides its children: the ConfigMap its
/// `spec.messageFrom.configMapKeyRef.name` names, in its own namespace (none without
/// `messageFrom`). The engine calls this on every change of an EchoServer and keeps the answer
/// as an index from each ConfigMap to the EchoServers that read it.
///
/// ```
/// use roperator_core::prelude::*;
///
/// let config = ControllerConfig::new("echo-server", echo_server::ECHO_TYPE)
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
///     .with_related(k8s_types::core::v1::ConfigMap, echo_server::message::message_source());
/// assert!(config.validate().is_ok());
/// ```
pub fn message_source() -> RelatedConfig {
    RelatedConfig::new(|echo: &Observed| {
        // The raw JSON rather than the typed EchoServer: this runs on every change of every
        // EchoServer, and must not fail on one whose spec does not deserialize.
        echo.json()["spec"]["messageFrom"]["configMapKeyRef"]["name"]
            .as_str()
            .map(Select::name)
            .into_iter()
            .collect()
    })
}
// ANCHOR_END: related

/// Why the text named by `spec.messageFrom` cannot be read. The sync fails with it: the
/// EchoServer shows it in `status.syncError` and a Warning Event, and its Deployment keeps
/// serving the text it has until the ConfigMap is fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The ConfigMap does not exist (yet, or any more).
    #[error(
        "EchoServer {parent}: ConfigMap {config_map} does not exist \
         (spec.messageFrom.configMapKeyRef.name)"
    )]
    ConfigMapMissing {
        /// The EchoServer, as `namespace/name`.
        parent: String,
        /// The ConfigMap, as `namespace/name`.
        config_map: String,
    },
    /// The ConfigMap exists but has no such key in its `data`.
    #[error(
        "EchoServer {parent}: ConfigMap {config_map} has no key {key:?} in its data \
         (spec.messageFrom.configMapKeyRef.key); its keys are: {keys}"
    )]
    KeyMissing {
        /// The EchoServer, as `namespace/name`.
        parent: String,
        /// The ConfigMap, as `namespace/name`.
        config_map: String,
        /// The key asked for.
        key: String,
        /// The keys it has, comma-separated (`(none)` when it has none).
        keys: String,
    },
    /// The key's value is empty: there would be nothing to serve.
    #[error(
        "EchoServer {parent}: key {key:?} of ConfigMap {config_map} is empty; the message \
         must not be empty"
    )]
    Empty {
        /// The EchoServer, as `namespace/name`.
        parent: String,
        /// The ConfigMap, as `namespace/name`.
        config_map: String,
        /// The key.
        key: String,
    },
}

/// `echo` with `spec.message` set to the text it serves: its own, or the value of the
/// ConfigMap key `spec.messageFrom` names, read from the related objects of `request`.
/// The children are then built from it as from any EchoServer with an inline message.
///
/// ```
/// use echo_server::{EchoServer, EchoServerSpec, message};
/// use roperator_core::SyncRequest;
/// use serde_json::json;
///
/// let mut echo = EchoServer::new("web", EchoServerSpec::from_config_map("greetings", "text"));
/// echo.metadata.namespace = Some("default".into());
/// let greetings = json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "greetings", "namespace": "default"}, "data": {"text": "bonjour"}});
/// let request = SyncRequest::new(&echo)?.with_related(&greetings)?;
/// let resolved = message::resolve(echo.clone(), &request)?;
/// assert_eq!(resolved.spec.message.as_deref(), Some("bonjour"));
///
/// // Without the ConfigMap, an error naming it.
/// let err = message::resolve(echo.clone(), &SyncRequest::new(&echo)?).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "EchoServer default/web: ConfigMap default/greetings does not exist \
///      (spec.messageFrom.configMapKeyRef.name)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve(mut echo: EchoServer, request: &SyncRequest) -> Result<EchoServer, MessageError> {
    let Some(source) = &echo.spec.message_from else {
        return Ok(echo);
    };
    let source = &source.config_map_key_ref;
    let namespace = echo.namespace().unwrap_or_default();
    let config_map = format!("{namespace}/{}", source.name);
    let Some(found) = request.related(CONFIG_MAP, &source.name) else {
        return Err(MessageError::ConfigMapMissing {
            parent: display_name(&echo),
            config_map,
        });
    };
    let data = &found.json()["data"];
    let text = match data.get(&source.key).and_then(|v| v.as_str()) {
        Some("") => {
            return Err(MessageError::Empty {
                parent: display_name(&echo),
                config_map,
                key: source.key.clone(),
            });
        }
        Some(text) => text.to_string(),
        None => {
            let keys: Vec<&str> = data
                .as_object()
                .map(|d| d.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(MessageError::KeyMissing {
                parent: display_name(&echo),
                config_map,
                key: source.key.clone(),
                keys: if keys.is_empty() {
                    "(none)".to_string()
                } else {
                    keys.join(", ")
                },
            });
        }
    };
    echo.spec.message = Some(text);
    Ok(echo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EchoServerSpec;
    use serde_json::{Value, json};

    fn echo() -> EchoServer {
        let mut echo = EchoServer::new("web", EchoServerSpec::from_config_map("greetings", "text"));
        echo.metadata.namespace = Some("team-a".into());
        echo
    }

    fn greetings(namespace: &str, data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "greetings", "namespace": namespace}, "data": data})
    }

    fn resolved(related: &[Value]) -> Result<Option<String>, MessageError> {
        let request = related
            .iter()
            .try_fold(SyncRequest::new(&echo()).expect("a request"), |r, o| {
                r.with_related(o)
            })
            .expect("a request");
        resolve(echo(), &request).map(|e| e.spec.message)
    }

    #[test]
    fn the_text_comes_from_the_named_key() {
        let cm = greetings("team-a", json!({"text": "hello", "other": "x"}));
        assert_eq!(resolved(&[cm]), Ok(Some("hello".to_string())));
    }

    #[test]
    fn an_inline_message_needs_no_related_object() {
        let inline = EchoServer::new("web", EchoServerSpec::new("hi"));
        let request = SyncRequest::new(&inline).expect("a request");
        let out = resolve(inline.clone(), &request).expect("resolves");
        assert_eq!(out, inline);
    }

    #[test]
    fn a_missing_config_map_key_or_value_is_an_error_naming_them() {
        assert_eq!(
            resolved(&[]),
            Err(MessageError::ConfigMapMissing {
                parent: "team-a/web".into(),
                config_map: "team-a/greetings".into()
            })
        );
        let err = resolved(&[greetings("team-a", json!({"b": "1", "a": "2"}))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "EchoServer team-a/web: ConfigMap team-a/greetings has no key \"text\" in its data \
             (spec.messageFrom.configMapKeyRef.key); its keys are: a, b"
        );
        let err = resolved(&[greetings("team-a", Value::Null)]).unwrap_err();
        assert!(err.to_string().ends_with("its keys are: (none)"), "{err}");
        let err = resolved(&[greetings("team-a", json!({"text": ""}))]).unwrap_err();
        assert!(matches!(err, MessageError::Empty { .. }), "{err}");
    }
}
