//! Same requests, same bodies: every create recorded from a real kube-apiserver v1.32
//! (`tests/data/create-responses.json`) is sent to the testkit through `kube::Client`, and the
//! whole response body must equal the recorded one, apart from what differs between any two
//! servers (uids, resource versions, timestamps, managed fields, allocated IPs and ports, random
//! name suffixes), each of which is checked for its shape instead.

use std::net::Ipv4Addr;

use http::Request;
use roperator_testkit::ApiServer;
use serde_json::Value;

const RECORDED: &str = include_str!("data/create-responses.json");

/// The namespace the recording created its objects in.
const NAMESPACE: &str = "defaults-rec";

fn placeholder(name: &str) -> Value {
    Value::String(format!("<{name}>"))
}

/// Replaces, in `actual`, the server-chosen values the recording shows as placeholders (after
/// checking they are there), and the allocated ones in both bodies (after checking the
/// testkit's are valid allocations).
fn normalize(actual: &mut Value, expected: &mut Value) -> Result<(), String> {
    let uid = actual
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "managedFields",
    ] {
        let recorded = expected.pointer(&format!("/metadata/{field}")).cloned();
        if recorded == Some(placeholder(field))
            && let Some(meta) = actual.get_mut("metadata").and_then(Value::as_object_mut)
            && meta.contains_key(field)
        {
            meta.insert(field.to_string(), placeholder(field));
        }
    }
    // A Job's generated labels and selector hold its uid.
    let recorded_uid = expected
        .pointer("/metadata/labels/controller-uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(recorded_uid) = recorded_uid {
        replace_strings(expected, &recorded_uid, "<uid>");
        replace_strings(actual, &uid, "<uid>");
    }
    for body in [&mut *actual, &mut *expected] {
        allocated(body)?;
    }
    Ok(())
}

/// Where two bodies differ, one line per path.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys().filter(|k| !e.contains_key(*k))) {
                let child = format!("{path}.{key}");
                match (e.get(key), a.get(key)) {
                    (Some(x), Some(y)) => diff(&child, x, y, out),
                    (Some(x), None) => out.push(format!("{child}: recorded {x}, testkit has none")),
                    (None, Some(y)) => out.push(format!("{child}: testkit {y}, recorded has none")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if expected != actual => {
            out.push(format!("{path}: recorded {expected}, testkit {actual}"))
        }
        _ => {}
    }
}

fn replace_strings(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(s) if s == from => *s = to.to_string(),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, from, to)),
        _ => {}
    }
}

/// Cluster IPs in 10.96.0.0/12, node ports in 30000-32767 and the token volume's five random
/// characters become placeholders.
fn allocated(body: &mut Value) -> Result<(), String> {
    if let Some(spec) = body.get_mut("spec").and_then(Value::as_object_mut)
        && body_is_service(spec)
    {
        let mut ips: Vec<&mut Value> = Vec::new();
        for (key, value) in spec.iter_mut() {
            match (key.as_str(), value) {
                ("clusterIP", ip) => ips.push(ip),
                ("clusterIPs", Value::Array(list)) => ips.extend(list.iter_mut()),
                _ => {}
            }
        }
        for ip in ips {
            if *ip == "None" {
                continue;
            }
            let parsed: Ipv4Addr = ip
                .as_str()
                .unwrap_or("")
                .parse()
                .map_err(|_| format!("bad cluster IP {ip}"))?;
            let [a, b, ..] = parsed.octets();
            if a != 10 || !(96..112).contains(&b) {
                return Err(format!("cluster IP {parsed} is outside 10.96.0.0/12"));
            }
            *ip = placeholder("clusterIP");
        }
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(node_port) = port.get_mut("nodePort") {
                if !node_port
                    .as_u64()
                    .is_some_and(|p| (30000..=32767).contains(&p))
                {
                    return Err(format!("node port {node_port} is outside 30000-32767"));
                }
                *node_port = placeholder("nodePort");
            }
        }
    }
    token_volume(body);
    Ok(())
}

fn body_is_service(spec: &serde_json::Map<String, Value>) -> bool {
    spec.contains_key("sessionAffinity")
}

fn token_volume(value: &mut Value) {
    match value {
        Value::String(s) if s.starts_with("kube-api-access-") && s.len() == 21 => {
            *s = "kube-api-access-<suffix>".to_string();
        }
        Value::Array(items) => items.iter_mut().for_each(token_volume),
        Value::Object(map) => map.values_mut().for_each(token_volume),
        _ => {}
    }
}

#[tokio::test]
async fn every_recorded_create_gets_the_recorded_body() {
    let server = ApiServer::new();
    server
        .load_yaml(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"
        ))
        .expect("namespace");
    let client = server.client();
    let cases: Vec<Value> = serde_json::from_str(RECORDED).expect("recording parses");
    assert_eq!(cases.len(), 32);
    let mut failures = Vec::new();
    for case in cases {
        let request = &case["request"];
        let body = serde_json::to_vec(&request["body"]).expect("body");
        let http = Request::builder()
            .method(request["method"].as_str().expect("method"))
            .uri(request["path"].as_str().expect("path"))
            .header("content-type", "application/json")
            .body(kube::client::Body::from(body))
            .expect("request");
        let response = client.send(http).await.expect("the server answers");
        let code = response.status().as_u16();
        let bytes = response.into_body().collect_bytes().await.expect("body");
        let mut actual: Value = serde_json::from_slice(&bytes).expect("JSON body");
        let mut expected = case["response"]["body"].clone();
        let what = format!(
            "{} {}",
            request["body"]["kind"].as_str().unwrap_or("?"),
            request["body"]["metadata"]["name"].as_str().unwrap_or("?")
        );
        if code != case["response"]["code"] {
            failures.push(format!(
                "{what}: code {code}, recorded {}\n{actual:#}",
                case["response"]["code"]
            ));
            continue;
        }
        if let Err(e) = normalize(&mut actual, &mut expected) {
            failures.push(format!("{what}: {e}"));
            continue;
        }
        if actual != expected {
            let mut differences = Vec::new();
            diff("", &expected, &actual, &mut differences);
            failures.push(format!("{what}:\n  {}", differences.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 32 differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
