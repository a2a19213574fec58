//! Resource quantities compared by value, for the fields of built-in types that are
//! quantities.
//!
//! The API server stores a quantity in its canonical form (`"0.5"` as `"500m"`, `"1024Mi"` as
//! `"1Gi"`). The memory of [`written`](super::written) makes that a non-issue while the
//! operator runs; this module lets a freshly started operator (or a new leader), which has no
//! such memory, recognize the same value in another form and not write the child again.
//!
//! Only fields known to be quantities are compared this way, so that a string field that merely
//! looks like a number keeps its exact meaning: in the built-in API groups (`v1`, `apps/v1`,
//! `batch/v1`), every `resources.requests` / `resources.limits` map (containers, pod-level
//! resources, PersistentVolumeClaims and volume claim templates), a pod's `overhead`, an
//! `emptyDir.sizeLimit`, and a ResourceQuota's `hard`.

use serde_json::Value;

/// API groups whose types are known well enough to say which fields are quantities.
const BUILT_IN: [&str; 3] = ["v1", "apps/v1", "batch/v1"];

/// `desired` with each quantity the live object holds in another form of the same value
/// replaced by the live form; `None` when there is no such quantity (or the type is not
/// built in), so the caller's plain comparison stands.
pub(crate) fn aligned_with_live(api_version: &str, desired: &Value, live: &Value) -> Option<Value> {
    if !BUILT_IN.contains(&api_version) {
        return None;
    }
    let mut out = desired.clone();
    align(&mut out, live, None).then_some(out)
}

/// Walks `desired` along `live`; `parent_key` is the member name `desired` was found under.
/// Returns whether anything was replaced.
fn align(desired: &mut Value, live: &Value, parent_key: Option<&str>) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            let quantities_here = matches!(parent_key, Some("overhead" | "hard"));
            let resources_here = parent_key == Some("resources");
            let mut changed = false;
            for (k, dv) in d.iter_mut() {
                let Some(lv) = l.get(k) else { continue };
                let is_quantity = quantities_here || k == "sizeLimit";
                if is_quantity {
                    changed |= take_if_same(dv, lv);
                } else if resources_here && (k == "requests" || k == "limits") {
                    if let (Value::Object(dq), Value::Object(lq)) = (&mut *dv, lv) {
                        for (name, q) in dq.iter_mut() {
                            if let Some(lq) = lq.get(name) {
                                changed |= take_if_same(q, lq);
                            }
                        }
                    }
                } else {
                    changed |= align(dv, lv, Some(k));
                }
            }
            changed
        }
        (Value::Array(d), Value::Array(l)) if d.len() == l.len() => {
            d.iter_mut().zip(l).fold(false, |changed, (dv, lv)| {
                align(dv, lv, parent_key) | changed
            })
        }
        _ => false,
    }
}

fn take_if_same(desired: &mut Value, live: &Value) -> bool {
    match (desired.as_str(), live.as_str()) {
        (Some(d), Some(l)) if d != l && same_value(d, l) => {
            *desired = live.clone();
            true
        }
        _ => false,
    }
}

/// `true` when both strings are quantities with exactly the same value.
fn same_value(a: &str, b: &str) -> bool {
    match (Exact::parse(a), Exact::parse(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A quantity's exact value: `(-1)^negative * digits / 10^scale`, with no trailing zero in
/// `digits` while `scale > 0`, so that equal values compare equal.
#[derive(Debug, PartialEq, Eq)]
struct Exact {
    negative: bool,
    digits: u128,
    scale: u32,
}

impl Exact {
    fn parse(s: &str) -> Option<Self> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return None;
        }
        let mut digits: u128 = 0;
        for c in whole.chars().chain(fraction.chars()) {
            digits = digits
                .checked_mul(10)?
                .checked_add(u128::from(c.to_digit(10)?))?;
        }
        let mut scale = u32::try_from(fraction.len()).ok()?;
        let (binary_power, decimal_exponent): (u32, i32) = match suffix {
            "" => (0, 0),
            "Ki" => (1, 0),
            "Mi" => (2, 0),
            "Gi" => (3, 0),
            "Ti" => (4, 0),
            "Pi" => (5, 0),
            "Ei" => (6, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            exp => (0, exp.strip_prefix(['e', 'E'])?.parse().ok()?),
        };
        digits = digits.checked_mul(1024u128.checked_pow(binary_power)?)?;
        if decimal_exponent >= 0 {
            digits = digits.checked_mul(10u128.checked_pow(decimal_exponent.unsigned_abs())?)?;
        } else {
            scale = scale.checked_add(decimal_exponent.unsigned_abs())?;
        }
        while scale > 0 && digits.is_multiple_of(10) {
            digits /= 10;
            scale -= 1;
        }
        Some(Self {
            negative: negative && digits != 0,
            digits,
            scale: if digits == 0 { 0 } else { scale },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_of_the_same_value_are_equal_and_others_are_not() {
        for (a, b) in [
            ("0.5", "500m"),
            ("1024Mi", "1Gi"),
            ("1000m", "1"),
            ("1e3", "1k"),
            (".5", "0.50"),
            ("+2", "2"),
            ("-0", "0m"),
            ("1.5Gi", "1536Mi"),
            ("0.000000001", "1n"),
        ] {
            assert!(same_value(a, b), "{a} = {b}");
        }
        for (a, b) in [
            ("0.5", "5"),
            ("1Gi", "1G"),
            ("1", "-1"),
            ("1Mi", "abc"),
            ("1.2.3", "1.2.3"),
            ("", ""),
            ("1x", "1x"),
        ] {
            assert!(!same_value(a, b), "{a} != {b}");
        }
        assert_eq!(
            Exact::parse("99999999999999999999999999999999999999999Ei"),
            None
        );
    }

    #[test]
    fn every_canonical_form_the_server_stores_has_the_same_value() {
        for q in [
            "0.5", "1024Mi", "1000m", "0.1Gi", "1.5", "100k", "2e3", "12345678", "0.25Ki", "64G",
            "3.5Ti", "1E3", "7u", "1500000n",
        ] {
            let stored = roperator_testkit::quantity::canonical(q).unwrap();
            assert!(same_value(q, &stored), "{q} is stored as {stored}");
        }
    }

    #[test]
    fn only_quantity_fields_of_built_in_types_are_aligned() {
        let desired = json!({
            "spec": {"template": {"spec": {
                "overhead": {"cpu": "0.1"},
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1024Mi"}}],
                "containers": [{
                    "name": "app",
                    "env": [{"name": "RATIO", "value": "0.5"}],
                    "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}, "limits": {"cpu": "2"}}
                }]
            }}}
        });
        let live = json!({
            "spec": {"replicas": 1, "template": {"spec": {
                "overhead": {"cpu": "100m"},
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}],
                "containers": [{
                    "name": "app",
                    "env": [{"name": "RATIO", "value": "500m"}],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "3"}}
                }]
            }}}
        });
        let aligned = aligned_with_live("apps/v1", &desired, &live).unwrap();
        let pod = &aligned["spec"]["template"]["spec"];
        assert_eq!(pod["overhead"]["cpu"], "100m");
        assert_eq!(pod["volumes"][0]["emptyDir"]["sizeLimit"], "1Gi");
        assert_eq!(pod["containers"][0]["resources"]["requests"]["cpu"], "500m");
        // A different value stays as desired (drift), and so does a string that is no quantity.
        assert_eq!(pod["containers"][0]["resources"]["limits"]["cpu"], "2");
        assert_eq!(pod["containers"][0]["env"][0]["value"], "0.5");

        let quota = json!({"spec": {"hard": {"pods": "10", "requests.cpu": "0.5"}}});
        let live_quota = json!({"spec": {"hard": {"pods": "10", "requests.cpu": "500m"}}});
        let aligned = aligned_with_live("v1", &quota, &live_quota).unwrap();
        assert_eq!(aligned["spec"]["hard"]["requests.cpu"], "500m");

        assert_eq!(aligned_with_live("example.com/v1", &desired, &live), None);
        assert_eq!(aligned_with_live("v1", &quota, &quota), None);
    }
}
