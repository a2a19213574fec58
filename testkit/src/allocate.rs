//! Service cluster IPs and node ports, handed out the way a real server's Service storage does
//! (`pkg/registry/core/service/storage/alloc.go`, v1.32): on create and on the updates that need
//! them, kept when an update leaves them out, refused when taken or out of range, and free again
//! once the Service is gone.
//!
//! Which addresses and ports are taken is an index over the stored Services (updated by the
//! store on every write and delete), so a Service removed by any path (delete, a namespace
//! going, garbage collection) releases what it held, and a dry run reserves nothing. The
//! cluster is single-stack IPv4: dual-stack requests are refused as a single-stack cluster
//! refuses them.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::schema::FieldCause;
use crate::store::ObjRef;
use crate::validate::{go_strings, invalid, quote};

/// The default `--service-cluster-ip-range` of kube-apiserver (and kind, minikube, kubeadm).
pub(crate) const DEFAULT_SERVICE_RANGE: &str = "10.96.0.0/12";
/// The default `--service-node-port-range`.
pub(crate) const DEFAULT_NODE_PORTS: RangeInclusive<u16> = 30000..=32767;

/// An IPv4 service range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: u32,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` (the host bits are dropped, as the server does).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (ip, prefix) = text.split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        // A range needs room for at least one address besides the network and broadcast ones.
        if !(1..=30).contains(&prefix) {
            return None;
        }
        let mask = u32::MAX << (32 - prefix);
        Some(Self {
            network: u32::from(ip) & mask,
            prefix,
        })
    }

    fn size(self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    /// Allocatable addresses: all but the network and broadcast addresses.
    fn max(self) -> u32 {
        (self.size() - 2) as u32
    }

    /// The offset of `ip` among the allocatable addresses.
    fn offset(self, ip: Ipv4Addr) -> Option<u32> {
        let ip = u32::from(ip);
        let first = self.network + 1;
        (ip >= first && ip - first < self.max()).then(|| ip - first)
    }

    fn address(self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1 + offset)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// What is taken, and by which Service.
#[derive(Debug)]
pub(crate) struct Allocator {
    range: Cidr,
    ports: RangeInclusive<u16>,
    ips: HashMap<u32, ObjRef>,
    node_ports: HashMap<u16, ObjRef>,
}

/// Upstream `calculateRangeOffset`: dynamic allocations prefer the addresses above the first
/// sixteenth of the range (at least 16, at most 256), which is left for addresses users pick.
fn range_offset(size: u64) -> u32 {
    if size < 16 {
        return 0;
    }
    (size / 16).clamp(16, 256) as u32
}

/// A free slot in `0..max`, tried from a random place in the upper band, then the lower one.
fn pick(rng: &mut impl Rng, max: u32, taken: impl Fn(u32) -> bool) -> Option<u32> {
    let offset = range_offset(u64::from(max)).min(max);
    let upper = max - offset;
    if upper > 0 {
        let start = rng.random_range(0..upper);
        if let Some(at) = (0..upper)
            .map(|i| offset + (start + i) % upper)
            .find(|at| !taken(*at))
        {
            return Some(at);
        }
    }
    (0..offset).find(|at| !taken(*at))
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

fn strings(map: &Map<String, Value>, key: &str) -> Vec<String> {
    map.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn needs_cluster_ip(spec: &Map<String, Value>) -> bool {
    text(spec, "type") != "ExternalName"
}

fn needs_node_ports(spec: &Map<String, Value>) -> bool {
    matches!(text(spec, "type"), "NodePort" | "LoadBalancer")
}

/// Whether ports without a node port get one (a LoadBalancer may opt out).
fn allocates_node_ports(spec: &Map<String, Value>) -> bool {
    match text(spec, "type") {
        "NodePort" => true,
        "LoadBalancer" => spec.get("allocateLoadBalancerNodePorts") != Some(&Value::Bool(false)),
        _ => false,
    }
}

/// `NeedsHealthCheck`: a LoadBalancer that keeps traffic on the node gets a health check port.
fn needs_health_check(spec: &Map<String, Value>) -> bool {
    text(spec, "type") == "LoadBalancer" && text(spec, "externalTrafficPolicy") == "Local"
}

fn node_port_of(port: &Value) -> u16 {
    port.get("nodePort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(0)
}

fn ports_of(spec: &Map<String, Value>) -> Vec<Value> {
    spec.get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn used_node_ports(spec: &Map<String, Value>) -> Vec<u16> {
    let mut used: Vec<u16> = ports_of(spec).iter().map(node_port_of).collect();
    if let Some(port) = spec.get("healthCheckNodePort").and_then(Value::as_u64) {
        used.push(port as u16);
    }
    used.retain(|p| *p != 0);
    used
}

fn refused(name: &str, causes: Vec<FieldCause>) -> ApiError {
    ApiError::invalid("Service", "", name, &causes)
}

fn spec_of(service: &mut Value) -> Option<&mut Map<String, Value>> {
    service.get_mut("spec").and_then(Value::as_object_mut)
}

impl Default for Allocator {
    fn default() -> Self {
        Self::new(Self::default_range(), DEFAULT_NODE_PORTS)
    }
}

impl Allocator {
    /// [`DEFAULT_SERVICE_RANGE`], parsed.
    pub(crate) fn default_range() -> Cidr {
        Cidr::parse(DEFAULT_SERVICE_RANGE).unwrap_or(Cidr {
            network: 0x0a60_0000,
            prefix: 12,
        })
    }

    pub(crate) fn new(range: Cidr, ports: RangeInclusive<u16>) -> Self {
        Self {
            range,
            ports,
            ips: HashMap::new(),
            node_ports: HashMap::new(),
        }
    }

    /// Keeps the index in step with a stored Service (`new` is `None` once it is deleted).
    pub(crate) fn index(&mut self, r: &ObjRef, new: Option<&Value>) {
        // Whatever the Service held before is dropped first, so a write that changed its
        // allocations (or a delete) leaves nothing stale.
        self.ips.retain(|_, owner| owner != r);
        self.node_ports.retain(|_, owner| owner != r);
        let Some(spec) = new.and_then(|n| n.get("spec")).and_then(Value::as_object) else {
            return;
        };
        for ip in strings(spec, "clusterIPs") {
            if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                self.ips.insert(u32::from(ip), r.clone());
            }
        }
        for port in used_node_ports(spec) {
            self.node_ports.insert(port, r.clone());
        }
    }

    /// The range's first address, which belongs to the `kubernetes` Service.
    pub(crate) fn first_address(&self) -> Ipv4Addr {
        self.range.address(0)
    }

    fn ip_taken(&self, r: &ObjRef, ip: u32) -> bool {
        let kubernetes = r.ns == "default" && r.name == "kubernetes";
        (ip == self.range.network + 1 && !kubernetes)
            || self.ips.get(&ip).is_some_and(|owner| owner != r)
    }

    fn port_taken(&self, r: &ObjRef, port: u16, chosen: &[u16]) -> bool {
        chosen.contains(&port) || self.node_ports.get(&port).is_some_and(|owner| owner != r)
    }

    /// Cluster IPs, IP families and node ports for a new Service (upstream `allocateCreate`).
    pub(crate) fn on_create(
        &self,
        rng: &mut impl Rng,
        r: &ObjRef,
        service: &mut Value,
    ) -> Result<(), ApiError> {
        let Some(spec) = spec_of(service) else {
            return Ok(());
        };
        if !needs_cluster_ip(spec) {
            return Ok(());
        }
        // NormalizeClusterIPs: an old client sets only the singular field.
        let ip = text(spec, "clusterIP").to_string();
        if !ip.is_empty() && strings(spec, "clusterIPs").is_empty() {
            spec.insert("clusterIPs".into(), json!([ip]));
        }
        self.ip_families(&r.name, spec, None)?;
        self.cluster_ips(rng, r, spec)?;
        let mut chosen = Vec::new();
        if needs_node_ports(spec) {
            self.node_ports(rng, r, spec, &[], &mut chosen)?;
        }
        if needs_health_check(spec) {
            self.health_check_port(rng, r, spec, &mut chosen)?;
        }
        Ok(())
    }

    /// What an update keeps, gains and drops (upstream `beginUpdate` and the strategy's
    /// `dropTypeDependentFields`). Changing an allocated IP is left to validation.
    pub(crate) fn on_update(
        &self,
        rng: &mut impl Rng,
        r: &ObjRef,
        service: &mut Value,
        old: &Value,
    ) -> Result<(), ApiError> {
        let empty = Map::new();
        let old_spec = old.get("spec").and_then(Value::as_object).unwrap_or(&empty);
        let Some(spec) = spec_of(service) else {
            return Ok(());
        };
        patch_allocated(spec, old_spec);
        normalize_cluster_ips(spec, old_spec);
        let mut chosen = Vec::new();
        if needs_cluster_ip(spec) {
            self.ip_families(&r.name, spec, Some(old_spec))?;
            if !needs_cluster_ip(old_spec) {
                self.cluster_ips(rng, r, spec)?;
            }
        }
        if needs_node_ports(spec) {
            let kept = used_node_ports(old_spec);
            self.node_ports(rng, r, spec, &kept, &mut chosen)?;
        }
        if needs_health_check(spec) && spec.get("healthCheckNodePort").is_none_or(|p| p == 0) {
            self.health_check_port(rng, r, spec, &mut chosen)?;
        }
        drop_type_dependent_fields(spec, old_spec);
        Ok(())
    }

    /// `initIPFamilyFields` for a single-stack IPv4 cluster.
    fn ip_families(
        &self,
        name: &str,
        spec: &mut Map<String, Value>,
        old: Option<&Map<String, Value>>,
    ) -> Result<(), ApiError> {
        let headless_selectorless = text(spec, "clusterIP") == "None"
            && spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty);
        if spec.get("ipFamilyPolicy").is_none_or(Value::is_null) {
            let inherited = old
                .and_then(|o| o.get("ipFamilyPolicy"))
                .filter(|p| !p.is_null())
                .cloned();
            let policy = inherited.unwrap_or_else(|| {
                json!(if headless_selectorless {
                    "RequireDualStack"
                } else {
                    "SingleStack"
                })
            });
            spec.insert("ipFamilyPolicy".into(), policy);
        }
        let causes = crate::validate::service_ip_fields(spec);
        if !causes.is_empty() {
            return Err(refused(name, causes));
        }
        let ips = strings(spec, "clusterIPs");
        let mut families = strings(spec, "ipFamilies");
        let mut causes = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            if ip == "None" {
                break;
            }
            if i >= families.len() {
                if ip.contains(':') {
                    causes.push(invalid(
                        &format!("spec.clusterIPs[{i}]"),
                        &go_strings(ips.iter().map(String::as_str)),
                        "IPv6 is not configured on this cluster",
                    ));
                } else {
                    families.push("IPv4".into());
                }
            }
        }
        if !causes.is_empty() {
            return Err(refused(name, causes));
        }
        if headless_selectorless {
            if families.is_empty() {
                families.push("IPv4".into());
            }
            if families.len() < 2 && text(spec, "ipFamilyPolicy") != "SingleStack" {
                families.push("IPv6".into());
            }
            spec.insert("ipFamilies".into(), json!(families));
            return Ok(());
        }
        let policy = text(spec, "ipFamilyPolicy").to_string();
        if policy == "RequireDualStack" {
            causes.push(invalid(
                "spec.ipFamilyPolicy",
                &quote(&policy),
                "this cluster is not configured for dual-stack services",
            ));
        }
        for (i, family) in families.iter().enumerate() {
            if family != "IPv4" {
                causes.push(invalid(
                    &format!("spec.ipFamilies[{i}]"),
                    &quote(family),
                    "not configured on this cluster",
                ));
            }
        }
        if !causes.is_empty() {
            return Err(refused(name, causes));
        }
        if families.is_empty() {
            families.push("IPv4".into());
        }
        spec.insert("ipFamilies".into(), json!(families));
        Ok(())
    }

    /// `allocClusterIPs`: the requested address, or the next free one; nothing for headless.
    fn cluster_ips(
        &self,
        rng: &mut impl Rng,
        r: &ObjRef,
        spec: &mut Map<String, Value>,
    ) -> Result<(), ApiError> {
        let ips = strings(spec, "clusterIPs");
        if ips.first().is_some_and(|ip| ip == "None") {
            return Ok(());
        }
        let ip = match ips.first() {
            None => {
                let range = self.range;
                let Some(at) = pick(rng, range.max(), |at| {
                    self.ip_taken(r, u32::from(range.address(at)))
                }) else {
                    return Err(ApiError::new(
                        500,
                        "InternalError",
                        "Internal error occurred: failed to allocate a serviceIP: range is full",
                    ));
                };
                range.address(at).to_string()
            }
            Some(requested) => {
                let problem = match requested.parse::<Ipv4Addr>() {
                    Ok(ip) if self.range.offset(ip).is_none() => {
                        Some(format!("provided IP {ip} is not in the valid range"))
                    }
                    Ok(ip) if self.ip_taken(r, u32::from(ip)) => {
                        Some("provided IP is already allocated".to_string())
                    }
                    Ok(_) => None,
                    Err(_) => Some(format!("provided IP {requested} is not in the valid range")),
                };
                if let Some(problem) = problem {
                    return Err(refused(
                        &r.name,
                        vec![invalid(
                            "spec.clusterIPs",
                            &go_strings(ips.iter().map(String::as_str)),
                            &format!("failed to allocate IP {requested}: {problem}"),
                        )],
                    ));
                }
                requested.clone()
            }
        };
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
        Ok(())
    }

    /// `initNodePorts` / `updateNodePorts`: a port asks for its node port or gets the next free
    /// one; ports sharing a port number (TCP and UDP) share one. `kept` are the node ports the
    /// Service already holds.
    fn node_ports(
        &self,
        rng: &mut impl Rng,
        r: &ObjRef,
        spec: &mut Map<String, Value>,
        kept: &[u16],
        chosen: &mut Vec<u16>,
    ) -> Result<(), ApiError> {
        let allocate = allocates_node_ports(spec);
        let mut ports = ports_of(spec);
        let mut by_port: HashMap<i64, u16> = HashMap::new();
        for i in 0..ports.len() {
            let number = ports[i].get("port").and_then(Value::as_i64).unwrap_or(0);
            let mut node_port = node_port_of(&ports[i]);
            if node_port == 0 && !allocate {
                continue;
            }
            if node_port == 0 {
                node_port = match by_port.get(&number).copied().or_else(|| {
                    ports[i..]
                        .iter()
                        .filter(|p| p.get("port").and_then(Value::as_i64) == Some(number))
                        .map(node_port_of)
                        .find(|p| *p != 0)
                }) {
                    Some(requested) => requested,
                    None => self.next_port(rng, r, chosen)?,
                };
            }
            if !kept.contains(&node_port) && !chosen.contains(&node_port) {
                self.claim_port(r, node_port, chosen).map_err(|problem| {
                    refused(
                        &r.name,
                        vec![invalid(
                            &format!("spec.ports[{i}].nodePort"),
                            &node_port.to_string(),
                            &problem,
                        )],
                    )
                })?;
            }
            by_port.insert(number, node_port);
            if let Some(port) = ports[i].as_object_mut() {
                port.insert("nodePort".into(), json!(node_port));
            }
        }
        spec.insert("ports".into(), Value::Array(ports));
        Ok(())
    }

    fn claim_port(&self, r: &ObjRef, port: u16, chosen: &mut Vec<u16>) -> Result<(), String> {
        if !self.ports.contains(&port) {
            return Err(format!(
                "provided port is not in the valid range. The range of valid ports is {}-{}",
                self.ports.start(),
                self.ports.end()
            ));
        }
        if self.port_taken(r, port, chosen) {
            return Err("provided port is already allocated".to_string());
        }
        chosen.push(port);
        Ok(())
    }

    fn next_port(&self, rng: &mut impl Rng, r: &ObjRef, chosen: &[u16]) -> Result<u16, ApiError> {
        let base = *self.ports.start();
        let size = u32::from(*self.ports.end() - base) + 1;
        pick(rng, size, |at| self.port_taken(r, base + at as u16, chosen))
            .map(|at| base + at as u16)
            .ok_or_else(|| {
                ApiError::new(
                    500,
                    "InternalError",
                    "Internal error occurred: failed to allocate a nodePort: range is full",
                )
            })
    }

    /// `allocHealthCheckNodePort`: refusals are internal errors upstream, not validation ones.
    fn health_check_port(
        &self,
        rng: &mut impl Rng,
        r: &ObjRef,
        spec: &mut Map<String, Value>,
        chosen: &mut Vec<u16>,
    ) -> Result<(), ApiError> {
        let requested = spec
            .get("healthCheckNodePort")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u16;
        if requested == 0 {
            let port = self.next_port(rng, r, chosen)?;
            chosen.push(port);
            spec.insert("healthCheckNodePort".into(), json!(port));
            return Ok(());
        }
        self.claim_port(r, requested, chosen).map_err(|problem| {
            ApiError::new(
                500,
                "InternalError",
                format!(
                    "Internal error occurred: failed to allocate requested HealthCheck NodePort {requested}: {problem}"
                ),
            )
        })
    }
}

/// `patchAllocatedValues`: what the client left out of an update keeps its allocated value.
fn patch_allocated(spec: &mut Map<String, Value>, old: &Map<String, Value>) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if text(spec, "clusterIP").is_empty()
            && let Some(ip) = old.get("clusterIP")
        {
            spec.insert("clusterIP".into(), ip.clone());
        }
        let old_ips = strings(old, "clusterIPs");
        if strings(spec, "clusterIPs").is_empty() && !old_ips.is_empty() {
            spec.insert("clusterIPs".into(), json!(old_ips));
        }
    }
    if needs_node_ports(old) && needs_node_ports(spec) {
        let old_ports = ports_of(old);
        let mut ports = ports_of(spec);
        let new_used: Vec<u16> = ports.iter().map(node_port_of).filter(|p| *p != 0).collect();
        let by_name: HashMap<String, u16> = old_ports
            .iter()
            .map(|p| {
                (
                    p.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    node_port_of(p),
                )
            })
            .collect();
        for port in ports.iter_mut() {
            if node_port_of(port) != 0 {
                continue;
            }
            let name = port.get("name").and_then(Value::as_str).unwrap_or("");
            let previous = by_name.get(name).copied().unwrap_or(0);
            // A node port the new ports already use elsewhere is not given back to this one.
            if previous != 0
                && !new_used.contains(&previous)
                && let Some(port) = port.as_object_mut()
            {
                port.insert("nodePort".into(), json!(previous));
            }
        }
        spec.insert("ports".into(), Value::Array(ports));
    }
    if needs_health_check(old)
        && needs_health_check(spec)
        && spec
            .get("healthCheckNodePort")
            .is_none_or(|p| p.is_null() || p == 0)
        && let Some(port) = old.get("healthCheckNodePort")
    {
        spec.insert("healthCheckNodePort".into(), port.clone());
    }
}

/// `NormalizeClusterIPs` on update: guess what a client meant by the singular and plural
/// fields it sent.
fn normalize_cluster_ips(spec: &mut Map<String, Value>, old: &Map<String, Value>) {
    let old_ips = strings(old, "clusterIPs");
    let (old_ip, ip) = (
        text(old, "clusterIP").to_string(),
        text(spec, "clusterIP").to_string(),
    );
    if !old_ips.is_empty() && strings(spec, "clusterIPs").is_empty() && old_ip == ip {
        spec.insert("clusterIPs".into(), json!(old_ips));
    }
    if old_ip != ip {
        let same = strings(spec, "clusterIPs") == old_ips;
        if !old_ip.is_empty() && ip.is_empty() {
            if same {
                spec.remove("clusterIPs");
            }
        } else if same {
            spec.insert("clusterIPs".into(), json!([ip]));
        }
    }
}

/// `dropTypeDependentFields`: a Service changing type loses what only its old type needed,
/// when the client did not change those values itself.
fn drop_type_dependent_fields(spec: &mut Map<String, Value>, old: &Map<String, Value>) {
    let same = |spec: &Map<String, Value>, key: &str| spec.get(key) == old.get(key);
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if same(spec, "clusterIPs") {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        if same(spec, "ipFamilies") {
            spec.remove("ipFamilies");
        }
        if same(spec, "ipFamilyPolicy") {
            spec.remove("ipFamilyPolicy");
        }
    }
    let old_node_ports: Vec<u16> = ports_of(old).iter().map(node_port_of).collect();
    let node_ports: Vec<u16> = ports_of(spec).iter().map(node_port_of).collect();
    if needs_node_ports(old)
        && !needs_node_ports(spec)
        && old_node_ports == node_ports
        && let Some(Value::Array(ports)) = spec.get_mut("ports")
    {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.remove("nodePort");
        }
    }
    if needs_health_check(old) && !needs_health_check(spec) && same(spec, "healthCheckNodePort") {
        spec.remove("healthCheckNodePort");
    }
    let was_lb = text(old, "type") == "LoadBalancer";
    if was_lb && text(spec, "type") != "LoadBalancer" {
        if same(spec, "allocateLoadBalancerNodePorts") {
            spec.remove("allocateLoadBalancerNodePorts");
        }
        if same(spec, "loadBalancerClass") {
            spec.remove("loadBalancerClass");
        }
    }
    let accessible = |s: &Map<String, Value>| {
        matches!(text(s, "type"), "LoadBalancer" | "NodePort")
            || (text(s, "type") == "ClusterIP"
                && s.get("externalIPs")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty()))
    };
    if accessible(old) && !accessible(spec) && same(spec, "externalTrafficPolicy") {
        spec.remove("externalTrafficPolicy");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn svc(name: &str) -> ObjRef {
        ObjRef {
            bucket: 0,
            ns: "default".into(),
            name: name.into(),
        }
    }

    #[test]
    fn ranges_parse_like_the_flag() {
        let range = Cidr::parse("10.96.0.0/12").expect("valid");
        assert_eq!(range.to_string(), "10.96.0.0/12");
        assert_eq!(range.max(), (1 << 20) - 2);
        assert_eq!(Cidr::parse("10.96.1.2/12"), Some(range));
        assert!(Cidr::parse("10.96.0.0/31").is_none());
        assert!(Cidr::parse("nonsense").is_none());
        assert_eq!(range.offset("10.96.0.1".parse().unwrap()), Some(0));
        assert_eq!(range.offset("10.96.0.0".parse().unwrap()), None);
        assert_eq!(range.offset("10.111.255.255".parse().unwrap()), None);
    }

    #[test]
    fn a_full_range_is_an_internal_error_and_released_addresses_come_back() {
        let mut alloc = Allocator::new(Cidr::parse("10.0.0.0/29").unwrap(), 30000..=30001);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        // A /29 has six usable addresses, the first held for the `kubernetes` Service.
        for i in 0..5 {
            let r = svc(&format!("s{i}"));
            let mut v = json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}});
            alloc.on_create(&mut rng, &r, &mut v).expect("room left");
            alloc.index(&r, Some(&v));
        }
        let mut v = json!({"spec": {"type": "ClusterIP"}});
        let err = alloc
            .on_create(&mut rng, &svc("full"), &mut v)
            .expect_err("full");
        assert_eq!((err.code, err.reason), (500, "InternalError"));
        alloc.index(&svc("s0"), None);
        alloc
            .on_create(&mut rng, &svc("full"), &mut v)
            .expect("freed");
    }
}
