//! Kubernetes name rules, and the labels and annotations the engine puts on what it manages.

/// Label on every child: the operator that manages it. Children are watched through it.
pub const MANAGED_BY_LABEL: &str = "roperator.io/managed-by";
/// Label on every child: the UID of its parent.
pub const PARENT_UID_LABEL: &str = "roperator.io/parent-uid";
/// Annotation on every child: the engine's record of its last write, small whatever the
/// child's size. It holds a digest of the handler's answer (to tell that the answer changed)
/// and the field paths the answer set, without their values (so that a field the handler
/// stops returning can be removed, and told apart from a field someone else set).
pub const RECORD_ANNOTATION: &str = "roperator.io/record";
/// Annotation that earlier versions of the engine put on children: the whole desired object as
/// last applied. Still read, so that such children stay converged; replaced by
/// [`RECORD_ANNOTATION`] on the next write the child needs anyway.
pub const LAST_APPLIED_ANNOTATION: &str = "roperator.io/last-applied";
/// Annotation stamped on written children: the leader term of the replica that wrote them.
pub const LEADER_TERM_ANNOTATION: &str = "roperator.io/leader-term";

/// RFC 1123 label: 1-63 lowercase alphanumerics or '-', alphanumeric at both ends. The rule
/// for the names of Namespaces (and the engine's check of `with_namespaces`).
///
/// ```
/// use roperator_core::is_dns_label;
///
/// assert!(is_dns_label("team-a"));
/// assert!(!is_dns_label("Team_A"));
/// ```
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters. Most object names follow
/// this rule.
///
/// ```
/// assert!(roperator_core::is_dns_subdomain("settings.v2"));
/// ```
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        for ok in ["a", "a-b", "0abc", "x".repeat(63).as_str()] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "x".repeat(64).as_str()] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        for ok in ["a.b", "web-1.example.com", "a"] {
            assert!(is_dns_subdomain(ok), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a..b",
            "a.",
            "Web",
            "a/b",
            "x".repeat(254).as_str(),
        ] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }
}
