//! The parts of `ValidateService` and `ValidateServiceUpdate` an operator's Services run into:
//! ports, cluster IPs and their immutability, ExternalName and node port rules.

use serde_json::Value;

use super::{forbidden, go_strings, invalid, quote, required, strings};
use crate::schema::FieldCause;

fn spec_text<'a>(service: &'a Value, key: &str) -> &'a str {
    service
        .pointer(&format!("/spec/{key}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn cluster_ips(service: &Value) -> Vec<&str> {
    strings(service.pointer("/spec/clusterIPs"))
}

fn is_headless(service: &Value) -> bool {
    cluster_ips(service) == ["None"]
}

/// `ValidateService` (the subset modelled) and `ValidateServiceClusterIPsRelatedFields`.
pub(super) fn service(service: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let kind = spec_text(service, "type");
    let ports = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if kind == "ExternalName" {
        if !cluster_ips(service).is_empty() {
            causes.push(forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services",
            ));
        }
        if spec_text(service, "externalName").is_empty() {
            causes.push(required("spec.externalName", ""));
        }
        return causes;
    }
    if ports.is_empty() && !is_headless(service) {
        causes.push(required("spec.ports", ""));
    }
    for (i, port) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        if ports.len() > 1
            && port
                .get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            causes.push(required(&format!("{path}.name"), ""));
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&number) {
            causes.push(invalid(
                &format!("{path}.port"),
                &number.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        let node_port = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        if kind == "ClusterIP" && node_port != 0 {
            causes.push(forbidden(
                &format!("{path}.nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
    }
    causes.extend(ip_fields(service));
    causes
}

/// `ValidateServiceClusterIPsRelatedFields`: `clusterIP` and `clusterIPs` agree, and hold IPs
/// (or a lone `None`).
pub(super) fn ip_fields(service: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let ip = spec_text(service, "clusterIP");
    let ips = cluster_ips(service);
    if !ip.is_empty() {
        if ips.is_empty() {
            causes.push(required("spec.clusterIPs", ""));
        } else if ips[0] != ip {
            causes.push(invalid(
                "spec.clusterIPs",
                &go_strings(ips.iter().copied()),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        causes.push(invalid(
            "spec.clusterIPs",
            &go_strings(ips.iter().copied()),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    for (i, value) in ips.iter().enumerate() {
        if i == 0 && *value == "None" {
            if ips.len() > 1 {
                causes.push(invalid(
                    "spec.clusterIPs",
                    &go_strings(ips.iter().copied()),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        if value.parse::<std::net::IpAddr>().is_err() {
            causes.push(invalid(
                &format!("spec.clusterIPs[{i}]"),
                &quote(value),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    if ips.len() > 2 {
        causes.push(invalid(
            "spec.clusterIPs",
            &go_strings(ips.iter().copied()),
            "may only hold up to 2 values",
        ));
    }
    causes
}

/// `validateUpgradeDowngradeClusterIPs`: an allocated cluster IP stays (changes to or from
/// ExternalName and between headless forms aside).
pub(super) fn cluster_ips_kept(new: &Value, old: &Value) -> Vec<FieldCause> {
    if spec_text(new, "type") == "ExternalName" || spec_text(old, "type") == "ExternalName" {
        return Vec::new();
    }
    if is_headless(new) && is_headless(old) {
        return Vec::new();
    }
    let (new_ips, old_ips) = (cluster_ips(new), cluster_ips(old));
    let shown = go_strings(new_ips.iter().copied());
    let mut causes = Vec::new();
    if new_ips.len() == old_ips.len() {
        for (i, (n, o)) in new_ips.iter().zip(&old_ips).enumerate() {
            if n != o {
                causes.push(invalid(
                    &format!("spec.clusterIPs[{i}]"),
                    &shown,
                    "may not change once set",
                ));
            }
        }
    } else if new_ips.is_empty() {
        causes.push(invalid(
            "spec.clusterIPs[0]",
            &shown,
            "primary clusterIP can not be unset",
        ));
    } else if new_ips[0] != old_ips.first().copied().unwrap_or(new_ips[0]) {
        causes.push(invalid(
            "spec.clusterIPs[0]",
            &shown,
            "may not change once set",
        ));
    }
    causes
}
