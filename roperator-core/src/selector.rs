//! Label selectors in the API server's string syntax (`tier=web,env!=dev,app in (a,b),!legacy`):
//! checked when a configuration or a related-object selection names one, and matched in memory
//! where the API server cannot filter (annotations, selections over a cache).

use std::collections::{BTreeMap, BTreeSet};

use kube::core::{Expression, Selector, SelectorExt};

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    selector: Selector,
}

impl LabelSelector {
    /// Parses and checks `text`; the error says which requirement is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut expressions = Vec::new();
        // As on the API server, an empty selector selects everything.
        if text.trim().is_empty() {
            return Ok(Self {
                selector: expressions.into_iter().collect(),
            });
        }
        for part in split_requirements(text)? {
            expressions.push(parse_requirement(part.trim())?);
        }
        Ok(Self {
            selector: expressions.into_iter().collect(),
        })
    }

    /// `true` when `labels` (as pairs) satisfy every requirement.
    pub fn matches<'a>(&self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let map: BTreeMap<String, String> = labels
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.selector.matches(&map)
    }

    /// `true` when the labels (or annotations) of a JSON map satisfy every requirement.
    pub fn matches_json(&self, map: Option<&serde_json::Value>) -> bool {
        let pairs = map
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)));
        self.matches(pairs)
    }
}

/// Splits at top-level commas (not those inside `in (...)`).
fn split_requirements(selector: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err("unbalanced parentheses".to_string());
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".to_string());
    }
    parts.push(&selector[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Expression, String> {
    if part.is_empty() {
        return Err("empty requirement".to_string());
    }
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Expression::DoesNotExist(check_key(key.trim())?));
    }
    if let Some((key, negated, values)) = split_set(part) {
        let key = check_key(key)?;
        let values = values
            .split(',')
            .map(|v| check_value(v.trim()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        return Ok(if negated {
            Expression::NotIn(key, values)
        } else {
            Expression::In(key, values)
        });
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Expression::NotEqual(
            check_key(k.trim())?,
            check_value(v.trim())?,
        ));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Expression::Equal(
            check_key(k.trim())?,
            check_value(v.trim())?,
        ));
    }
    Ok(Expression::Exists(check_key(part)?))
}

/// `key in (a,b)` / `key notin (a,b)` as (key, negated, "a,b").
fn split_set(part: &str) -> Option<(&str, bool, &str)> {
    let open = part.find('(')?;
    let inner = part[open + 1..].strip_suffix(')')?;
    let head = part[..open].trim_end();
    if let Some(key) = head.strip_suffix(" notin") {
        return Some((key.trim(), true, inner));
    }
    head.strip_suffix(" in")
        .map(|key| (key.trim(), false, inner))
}

fn check_key(key: &str) -> Result<String, String> {
    if is_qualified_name(key) {
        Ok(key.to_string())
    } else {
        Err(format!(
            "label key {key:?} is not a valid key (an optional DNS-subdomain prefix and '/', then up to 63 letters, digits, '-', '_' or '.')"
        ))
    }
}

fn check_value(value: &str) -> Result<String, String> {
    if value.is_empty() || is_label_name(value) {
        Ok(value.to_string())
    } else {
        Err(format!("label value {value:?} is not valid"))
    }
}

/// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain.
pub(crate) fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    prefix.is_none_or(crate::names::is_dns_subdomain) && !name.is_empty() && is_label_name(name)
}

/// Up to 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends.
pub(crate) fn is_label_name(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_selector_selects_everything() {
        let s = LabelSelector::parse("").unwrap();
        assert!(s.matches(Vec::<(&str, &str)>::new()));
        assert!(s.matches(vec![("a", "b")]));
        assert!(
            LabelSelector::parse("a=b,").is_err(),
            "an empty requirement after a comma"
        );
    }

    #[test]
    fn parses_every_requirement_form_and_matches_like_the_api_server() {
        let s = LabelSelector::parse("tier=web,env!=dev,app in (a, b),!legacy,team").unwrap();
        let labels = |pairs: &[(&'static str, &'static str)]| pairs.to_vec();
        assert!(s.matches(labels(&[("tier", "web"), ("app", "a"), ("team", "x")])));
        assert!(!s.matches(labels(&[("tier", "web"), ("app", "c"), ("team", "x")])));
        assert!(!s.matches(labels(&[
            ("tier", "web"),
            ("app", "a"),
            ("team", "x"),
            ("legacy", "")
        ])));
        assert!(!s.matches(labels(&[
            ("tier", "web"),
            ("app", "a"),
            ("team", "x"),
            ("env", "dev")
        ])));
        assert!(
            LabelSelector::parse("x notin (c)")
                .unwrap()
                .matches(labels(&[]))
        );
        assert!(
            LabelSelector::parse("example.com/team==a")
                .unwrap()
                .matches(labels(&[("example.com/team", "a")]))
        );
    }

    #[test]
    fn rejects_malformed_selectors_naming_the_fault() {
        for (bad, says) in [
            ("a in (", "parentheses"),
            ("a=b,,c", "empty"),
            ("bad key=x", "bad key"),
            ("a=b c", "b c"),
            ("Example.com//x", "key"),
        ] {
            let err = LabelSelector::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
