//! Resource quantities compared by value, for the fields of built-in types that are
//! quantities.
//!
//! The API server stores a quantity in its canonical form (`"0.5"` as `"500m"`, `"1024Mi"` as
//! `"1Gi"`). Field ownership already tells such a rewrite from someone else's change (see
//! [`compare`](super::compare)); comparing by value settles the common case without it.
//!
//! Only fields known to be quantities are compared this way, so that a string field that merely
//! looks like a number keeps its exact meaning: every `resources.requests` / `resources.limits`
//! map (containers, pod-level resources, PersistentVolumeClaims and volume claim templates), a
//! pod's `overhead`, an `emptyDir.sizeLimit`, and a ResourceQuota's `hard`.

/// `true` when the field reached through these member names (list items left out) is a
/// quantity of a built-in type.
pub(crate) fn is_quantity_field(names: &[&str]) -> bool {
    matches!(
        names,
        [.., "sizeLimit"]
            | [.., "overhead" | "hard", _]
            | [.., "resources", "requests" | "limits", _]
    )
}

/// `true` when both strings are quantities with exactly the same value.
pub(crate) fn same_value(a: &str, b: &str) -> bool {
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
    fn only_quantity_fields_are_quantities() {
        for yes in [
            &["spec", "template", "spec", "overhead", "cpu"][..],
            &["spec", "volumes", "emptyDir", "sizeLimit"],
            &["spec", "containers", "resources", "requests", "memory"],
            &["spec", "resources", "limits", "cpu"],
            &["spec", "hard", "requests.cpu"],
        ] {
            assert!(is_quantity_field(yes), "{yes:?}");
        }
        for no in [
            &["spec", "containers", "env", "value"][..],
            &["spec", "resources", "requests"],
            &["spec", "resources", "claims", "name"],
            &["data", "cpu"],
        ] {
            assert!(!is_quantity_field(no), "{no:?}");
        }
    }
}
