//! `resource.Quantity` values as kube-apiserver stores them.
//!
//! A real server decodes every Quantity field (container `resources`, PVC `requests`...) into
//! apimachinery's `resource.Quantity` and encodes it back, so what an operator reads is not
//! always what it wrote: `"0.5"` comes back as `"500m"`, `"1024Mi"` as `"1Gi"`, `"1000m"` as
//! `"1"`. An operator that compares its desired object with the stored one must not take that
//! for drift; [`canonical`] gives the stored form so tests (and the in-memory server) see
//! exactly what a real cluster would return.
//!
//! The rules are apimachinery's: the suffix family of the input (binary SI `Ki`..`Ei`,
//! decimal SI `n`..`E`, or a decimal exponent `e3`) is kept; the value is rounded up to
//! nano units; binary values below 1024 or not whole are shown in decimal SI; decimal values
//! use the largest suffix that keeps the number whole. Like the real parser, a value already
//! in a short canonical-looking form is kept verbatim (`"+1"`, `"1E3"`, `"1.100"` are stored
//! as written).

use serde_json::Value;

/// Why a string is not a Kubernetes quantity; the messages are the real API server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape of a number followed by a suffix.
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    /// The suffix is none of `n u m k M G T P E Ki Mi Gi Ti Pi Ei e<N>`.
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// The number is too long to be represented.
    #[error("unable to parse quantity's numeric value")]
    Numeric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// The stored (canonical) form of a quantity, as kube-apiserver returns it after a write.
///
/// ```
/// use roperator_testkit::quantity::canonical;
/// assert_eq!(canonical("0.5").unwrap(), "500m");
/// assert_eq!(canonical("1000m").unwrap(), "1");
/// assert_eq!(canonical("1024Mi").unwrap(), "1Gi");
/// assert_eq!(canonical("0.1Gi").unwrap(), "107374182400m");
/// assert!(canonical("abc").is_err());
/// ```
pub fn canonical(input: &str) -> Result<String, QuantityError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    let parts = split(s)?;
    let (format, exponent) = interpret(parts.suffix).ok_or(QuantityError::Suffix)?;
    if keeps_input(&parts, format, exponent) {
        return Ok(s.to_string());
    }
    let digits = format!("{}{}", parts.num, parts.denom);
    let mut mantissa: u128 = digits.parse().map_err(|_| QuantityError::Numeric)?;
    let mut exp10: i64 = -(parts.denom.len() as i64);
    let mut format = format;
    match format {
        Format::BinarySi => {
            // 2^exponent times the number; anything above int64 is capped, as upstream does.
            let factor = 1u128 << exponent;
            mantissa = mantissa.saturating_mul(factor);
        }
        Format::DecimalSi | Format::DecimalExponent => exp10 += i64::from(exponent),
    }
    // Round up to nano units: asking for some resources always gets some.
    if exp10 < -9 {
        let shift = u32::try_from(-9 - exp10).map_err(|_| QuantityError::Numeric)?;
        mantissa = match 10u128.checked_pow(shift) {
            Some(d) => mantissa.div_ceil(d),
            None => u128::from(mantissa != 0),
        };
        exp10 = -9;
    }
    if format == Format::BinarySi {
        let max = i64::MAX as u128;
        if exceeds(mantissa, exp10, max) {
            mantissa = max;
            exp10 = 0;
        }
        if exp10 < 0 && below_one(mantissa, exp10) {
            format = Format::DecimalSi;
        }
    }
    if mantissa == 0 {
        return Ok("0".to_string());
    }
    let sign = if parts.negative { "-" } else { "" };
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exp10 += 1;
    }
    if format == Format::BinarySi && exp10 >= 0 {
        let whole = mantissa * 10u128.pow(exp10 as u32);
        if whole >= 1024 {
            let (mut n, mut power) = (whole, 0usize);
            while n.is_multiple_of(1024) && power < 6 {
                n /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return Ok(format!("{sign}{n}{suffix}"));
        }
    }
    let format = if format == Format::BinarySi {
        Format::DecimalSi
    } else {
        format
    };
    while exp10.rem_euclid(3) != 0 {
        mantissa = mantissa.checked_mul(10).ok_or(QuantityError::Numeric)?;
        exp10 -= 1;
    }
    let suffix = match (format, exp10) {
        (Format::DecimalExponent, 0) => String::new(),
        (Format::DecimalExponent, e) => format!("e{e}"),
        (_, -9) => "n".into(),
        (_, -6) => "u".into(),
        (_, -3) => "m".into(),
        (_, 0) => String::new(),
        (_, 3) => "k".into(),
        (_, 6) => "M".into(),
        (_, 9) => "G".into(),
        (_, 12) => "T".into(),
        (_, 15) => "P".into(),
        (_, 18) => "E".into(),
        (_, e) => format!("e{e}"),
    };
    Ok(format!("{sign}{mantissa}{suffix}"))
}

struct Parts<'a> {
    negative: bool,
    /// Integer digits without leading zeros ("0" when there are none).
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// The number and suffix, following apimachinery's `parseQuantityString` (which, like the
/// real server, accepts `1.G` and a bare `.`).
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    match b.first() {
        Some(b'-') => {
            negative = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    while pos < b.len() && b[pos] == b'0' {
        pos += 1;
    }
    let num_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = if pos == num_start {
        "0"
    } else {
        &s[num_start..pos]
    };
    let mut denom = "";
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[start..pos];
    }
    let suffix_start = pos;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos != b.len() {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Parts {
        negative,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// The format and exponent (base 10, or base 2 for binary SI) a suffix stands for.
fn interpret(suffix: &str) -> Option<(Format, i32)> {
    let decimal = |e| Some((Format::DecimalSi, e));
    let binary = |e| Some((Format::BinarySi, e));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            s[1..].parse().ok().map(|e| (Format::DecimalExponent, e))
        }
        _ => None,
    }
}

/// apimachinery's parser keeps the input string when it parsed on its int64 fast path and the
/// digits already look canonical; that string is what the server then stores.
fn keeps_input(p: &Parts<'_>, format: Format, exponent: i32) -> bool {
    let shifted = format!("{}{}", p.num, p.denom);
    match format {
        Format::BinarySi => {
            if !p.denom.is_empty() {
                return false;
            }
            let precision = 15 - p.num.len() as i64 - ((exponent as f32) * 3.0 / 10.0) as i64 - 1;
            if precision < 0 {
                return false;
            }
            match shifted.parse::<i64>() {
                Ok(v) => v.checked_mul(1i64 << exponent).is_some() && v & 0x07 != 0,
                Err(_) => false,
            }
        }
        Format::DecimalSi | Format::DecimalExponent => {
            let precision = 18 - (p.num.len() + p.denom.len()) as i64;
            let scale = i64::from(exponent) - p.denom.len() as i64;
            precision >= 0
                && scale >= -9
                && scale % 3 == 0
                && !shifted.ends_with("000")
                && !shifted.starts_with('0')
        }
    }
}

fn exceeds(mantissa: u128, exp10: i64, max: u128) -> bool {
    if exp10 >= 0 {
        match 10u128.checked_pow(exp10 as u32) {
            Some(p) => mantissa.checked_mul(p).is_none_or(|v| v > max),
            None => mantissa != 0,
        }
    } else {
        match 10u128.checked_pow((-exp10) as u32) {
            Some(p) => mantissa / p > max || (mantissa / p == max && !mantissa.is_multiple_of(p)),
            None => false,
        }
    }
}

fn below_one(mantissa: u128, exp10: i64) -> bool {
    match 10u128.checked_pow((-exp10) as u32) {
        Some(p) => mantissa < p,
        None => true,
    }
}

/// Where the Quantity-typed fields are in objects of a built-in kind, as paths whose `*`
/// steps into every element of a list and whose last step is a map of quantities (or, for
/// `sizeLimit`, one quantity).
fn quantity_paths(group: &str, kind: &str) -> Vec<Vec<&'static str>> {
    const POD_SPEC: [&[&str]; 7] = [
        &["containers", "*", "resources", "requests"],
        &["containers", "*", "resources", "limits"],
        &["initContainers", "*", "resources", "requests"],
        &["initContainers", "*", "resources", "limits"],
        &["ephemeralContainers", "*", "resources", "requests"],
        &["ephemeralContainers", "*", "resources", "limits"],
        &["overhead"],
    ];
    const POD_SPEC_MORE: [&[&str]; 5] = [
        &["resources", "requests"],
        &["resources", "limits"],
        &["volumes", "*", "emptyDir", "sizeLimit"],
        &[
            "volumes",
            "*",
            "ephemeral",
            "volumeClaimTemplate",
            "spec",
            "resources",
            "requests",
        ],
        &[
            "volumes",
            "*",
            "ephemeral",
            "volumeClaimTemplate",
            "spec",
            "resources",
            "limits",
        ],
    ];
    let pod_spec_at = |prefix: &[&'static str]| -> Vec<Vec<&'static str>> {
        POD_SPEC
            .iter()
            .chain(POD_SPEC_MORE.iter())
            .map(|tail| prefix.iter().chain(tail.iter()).copied().collect())
            .collect()
    };
    let fixed = |paths: &[&[&'static str]]| -> Vec<Vec<&'static str>> {
        paths.iter().map(|p| p.to_vec()).collect()
    };
    match (group, kind) {
        ("", "Pod") => pod_spec_at(&["spec"]),
        ("", "PodTemplate") => pod_spec_at(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("batch", "Job") => pod_spec_at(&["spec", "template", "spec"]),
        ("apps", "StatefulSet") => {
            let mut paths = pod_spec_at(&["spec", "template", "spec"]);
            paths.extend(fixed(&[
                &[
                    "spec",
                    "volumeClaimTemplates",
                    "*",
                    "spec",
                    "resources",
                    "requests",
                ],
                &[
                    "spec",
                    "volumeClaimTemplates",
                    "*",
                    "spec",
                    "resources",
                    "limits",
                ],
            ]));
            paths
        }
        ("batch", "CronJob") => pod_spec_at(&["spec", "jobTemplate", "spec", "template", "spec"]),
        ("", "PersistentVolumeClaim") => fixed(&[
            &["spec", "resources", "requests"],
            &["spec", "resources", "limits"],
            &["status", "capacity"],
            &["status", "allocatedResources"],
        ]),
        ("", "PersistentVolume") => fixed(&[&["spec", "capacity"]]),
        ("", "ResourceQuota") => {
            fixed(&[&["spec", "hard"], &["status", "hard"], &["status", "used"]])
        }
        ("", "LimitRange") => fixed(&[
            &["spec", "limits", "*", "max"],
            &["spec", "limits", "*", "min"],
            &["spec", "limits", "*", "default"],
            &["spec", "limits", "*", "defaultRequest"],
            &["spec", "limits", "*", "maxLimitRequestRatio"],
        ]),
        _ => Vec::new(),
    }
}

/// A Quantity field of an object that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadQuantity {
    /// Where, as `spec.containers[0].resources.requests[cpu]`.
    pub field: String,
    pub error: QuantityError,
}

/// Rewrites every Quantity field of a built-in object into its stored form, as decoding into
/// the Go type and encoding again does on a real server.
pub(crate) fn canonicalize_object(
    group: &str,
    kind: &str,
    object: &mut Value,
) -> Result<(), BadQuantity> {
    for path in quantity_paths(group, kind) {
        visit(object, &path, String::new())?;
    }
    Ok(())
}

fn visit(value: &mut Value, path: &[&str], at: String) -> Result<(), BadQuantity> {
    let Some((step, rest)) = path.split_first() else {
        return match value {
            Value::Object(map) => {
                for (key, q) in map.iter_mut() {
                    rewrite(q, format!("{at}[{key}]"))?;
                }
                Ok(())
            }
            other => rewrite(other, at),
        };
    };
    if *step == "*" {
        if let Value::Array(items) = value {
            for (i, item) in items.iter_mut().enumerate() {
                visit(item, rest, format!("{at}[{i}]"))?;
            }
        }
        return Ok(());
    }
    match value.get_mut(*step) {
        Some(child) => {
            let at = if at.is_empty() {
                (*step).to_string()
            } else {
                format!("{at}.{step}")
            };
            visit(child, rest, at)
        }
        None => Ok(()),
    }
}

fn rewrite(q: &mut Value, field: String) -> Result<(), BadQuantity> {
    // JSON numbers are quantities too (`cpu: 1` in YAML), as the Go decoder accepts them.
    let text = match q {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Ok(()),
    };
    let stored = canonical(&text).map_err(|error| BadQuantity { field, error })?;
    *q = Value::String(stored);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> String {
        match canonical(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn decimal_si_is_rescaled_to_the_largest_whole_suffix() {
        for (input, stored) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1.5", "1500m"),
            ("1.0", "1"),
            ("0.0001", "100u"),
            ("1000k", "1M"),
            ("100m", "100m"),
            ("0", "0"),
            ("-0", "0"),
            ("0Mi", "0"),
            ("000", "0"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("12345", "12345"),
            ("1000000000", "1G"),
            ("0.000000001", "1n"),
            ("-1.5", "-1500m"),
            ("1.000", "1"),
            ("20000m", "20"),
        ] {
            assert_eq!(c(input), stored, "{input}");
        }
    }

    #[test]
    fn values_below_a_nano_are_rounded_up() {
        assert_eq!(c("0.1n"), "1n");
        assert_eq!(c("1.5n"), "2n");
        assert_eq!(c("0.0000000001"), "1n");
        assert_eq!(c("-0.1n"), "-1n");
    }

    #[test]
    fn binary_si_keeps_binary_suffixes_when_exact() {
        for (input, stored) in [
            ("1024Mi", "1Gi"),
            ("1Gi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("0.1Gi", "107374182400m"),
            ("1Ki", "1Ki"),
            ("1024Ki", "1Mi"),
            ("2048Ki", "2Mi"),
            ("8Ki", "8Ki"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("0.001Ki", "1024m"),
            ("-1024Mi", "-1Gi"),
            ("10Ei", "9223372036854775807"),
        ] {
            assert_eq!(c(input), stored, "{input}");
        }
    }

    #[test]
    fn decimal_exponents_stay_exponents() {
        assert_eq!(c("1e3"), "1e3");
        assert_eq!(c("1E3"), "1E3");
        assert_eq!(c("1000e0"), "1e3");
        assert_eq!(c("1e100"), "10e99");
        assert_eq!(c("12e-3"), "12e-3");
        assert_eq!(c("1.5e3"), "1500");
    }

    #[test]
    fn short_inputs_the_parser_keeps_are_stored_verbatim() {
        assert_eq!(c("+1"), "+1");
        assert_eq!(c("+1Gi"), "+1Gi");
        assert_eq!(c("1.100"), "1.100");
        assert_eq!(c("1.G"), "1.G");
        assert_eq!(c(" 2Gi "), "2Gi");
    }

    #[test]
    fn malformed_quantities_are_refused_with_the_real_messages() {
        for bad in ["abc", "", "1.2.3", "--1", "1Gib", "1 Gi", "1e"] {
            assert!(canonical(bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(canonical("abc"), Err(QuantityError::FormatWrong));
        assert_eq!(canonical("192i"), Err(QuantityError::Suffix));
        assert_eq!(canonical("1e"), Err(QuantityError::Suffix));
        assert!(
            QuantityError::FormatWrong
                .to_string()
                .contains("^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
        );
    }
}
