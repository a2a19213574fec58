//! A client whose every request names the operator (and the replica) in its user agent, so that
//! writes can be attributed in the API server's audit log.

use http::HeaderValue;
use http::header::USER_AGENT;

pub(crate) fn with_user_agent(client: kube::Client, agent: &str) -> kube::Client {
    let value =
        HeaderValue::from_str(agent).unwrap_or_else(|_| HeaderValue::from_static("roperator"));
    let namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |mut request: http::Request<kube::client::Body>| {
        let client = client.clone();
        let value = value.clone();
        async move {
            request.headers_mut().insert(USER_AGENT, value);
            client.send(request).await
        }
    });
    kube::Client::new(service, namespace)
}

/// `<operator>/<version> roperator/<crate version>`, plus the replica when there is one.
pub(crate) fn user_agent(operator: &str, version: &str, replica: Option<&str>) -> String {
    let mut agent = format!(
        "{operator}/{version} roperator/{}",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(replica) = replica {
        agent.push_str(&format!(" (replica {replica})"));
    }
    agent.retain(|c| c.is_ascii() && !c.is_ascii_control());
    agent
}
