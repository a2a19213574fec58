//! Fault injection: make matching requests fail or slow down, deterministically from a seed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::errors::ApiError;

/// Which requests a fault applies to and what happens to them.
///
/// ```
/// use roperator_testkit::FaultRule;
/// // Every second create of a ConfigMap named `a-*` in namespace `x` fails with 409.
/// let rule = FaultRule::new().verb("create").resource("configmaps").namespace("x").name_glob("a-*").status(409).every(2);
/// # let _ = rule;
/// ```
#[derive(Debug, Clone, Default)]
pub struct FaultRule {
    verb: Option<String>,
    resource: Option<String>,
    namespace: Option<String>,
    name_glob: Option<String>,
    status: Option<u16>,
    every: Option<u64>,
    probability: Option<f64>,
    retry_after: Option<u64>,
    latency: Option<Duration>,
}

impl FaultRule {
    /// A rule matching every request and doing nothing until given a status or latency.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only requests with this audit verb (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`).
    pub fn verb(mut self, verb: &str) -> Self {
        self.verb = Some(verb.to_string());
        self
    }

    /// Only requests for this resource plural, e.g. `configmaps`.
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_string());
        self
    }

    /// Only requests in this namespace.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// Only objects whose name matches this glob (`*` any run of characters, `?` one).
    pub fn name_glob(mut self, glob: &str) -> Self {
        self.name_glob = Some(glob.to_string());
        self
    }

    /// Fail with this HTTP status (409, 429, 500, 503 get their Kubernetes reasons).
    pub fn status(mut self, code: u16) -> Self {
        self.status = Some(code);
        self
    }

    /// Fire on every `n`th matching request (the `n`th, `2n`th...).
    pub fn every(mut self, n: u64) -> Self {
        self.every = Some(n.max(1));
        self
    }

    /// Fire with probability `p` (drawn from the server's seeded generator).
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p.clamp(0.0, 1.0));
        self
    }

    /// Send `Retry-After: secs` (and `details.retryAfterSeconds`) with the failure.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Delay matching requests by this long before handling them.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    fn matches(&self, req: &FaultTarget<'_>) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        eq(&self.verb, Some(req.verb))
            && eq(&self.resource, Some(req.resource))
            && eq(&self.namespace, req.namespace)
            && self
                .name_glob
                .as_deref()
                .is_none_or(|g| req.name.is_some_and(|n| glob_match(g, n)))
    }
}

/// `*` and `?` globbing.
fn glob_match(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut gi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ti;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

pub(crate) struct FaultTarget<'a> {
    pub verb: &'a str,
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// What the matching rules decided for one request.
#[derive(Debug, Default)]
pub(crate) struct FaultOutcome {
    pub latency: Option<Duration>,
    pub error: Option<ApiError>,
}

#[derive(Debug)]
struct Rules {
    rules: Vec<(FaultRule, u64)>,
    rng: StdRng,
}

/// The server's fault rules. Obtained with [`crate::ApiServer::faults`].
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<Rules>>,
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Rules {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(seed ^ 0x5eed_fa17),
            })),
        }
    }

    /// Adds a rule; rules are checked in the order added and the first failing one wins.
    pub fn add(&self, rule: FaultRule) -> &Self {
        if let Ok(mut r) = self.inner.lock() {
            r.rules.push((rule, 0));
        }
        self
    }

    /// Removes every rule.
    pub fn clear(&self) {
        if let Ok(mut r) = self.inner.lock() {
            r.rules.clear();
        }
    }

    pub(crate) fn check(&self, req: &FaultTarget<'_>) -> FaultOutcome {
        let mut out = FaultOutcome::default();
        let Ok(mut guard) = self.inner.lock() else {
            return out;
        };
        let Rules { rules, rng } = &mut *guard;
        for (rule, seen) in rules.iter_mut() {
            if !rule.matches(req) {
                continue;
            }
            *seen += 1;
            let fires = match (rule.every, rule.probability) {
                (Some(n), _) => *seen % n == 0,
                (None, Some(p)) => rng.random_bool(p),
                (None, None) => true,
            };
            if !fires {
                continue;
            }
            if let Some(l) = rule.latency {
                out.latency = Some(out.latency.unwrap_or_default() + l);
            }
            if out.error.is_none()
                && let Some(code) = rule.status
            {
                let mut err = match code {
                    409 => ApiError::new(
                        409,
                        "Conflict",
                        format!(
                            "injected fault: conflict on {} {}",
                            req.resource,
                            req.name.unwrap_or("")
                        ),
                    ),
                    429 => ApiError::new(
                        429,
                        "TooManyRequests",
                        "injected fault: too many requests, please try again later",
                    ),
                    500 => ApiError::new(500, "InternalError", "injected fault: internal error"),
                    503 => ApiError::new(
                        503,
                        "ServiceUnavailable",
                        "injected fault: the server is currently unable to handle the request",
                    ),
                    404 => ApiError::new(404, "NotFound", "injected fault: not found"),
                    other => {
                        ApiError::new(other, "Unknown", format!("injected fault: status {other}"))
                    }
                };
                err.retry_after = rule.retry_after;
                out.error = Some(err);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("a-*", "a-1"));
        assert!(glob_match("*x?", "abxy"));
        assert!(!glob_match("a-*", "b-1"));
    }
}
