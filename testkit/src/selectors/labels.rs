//! Label selectors as `k8s.io/apimachinery/pkg/labels` reads them: its lexer (keywords, the
//! special symbols `= == != ! ( ) , < >`, whitespace) and recursive-descent parser, with its
//! error messages, so that a selector the real server refuses is refused here in the same words
//! and one it accepts (`a>1`, `a in ()`, `!b`) selects the same objects.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::validate::names::{label_value, qualified_name};
use crate::validate::quote;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The whole input as tokens, ending with [`Token::End`] (upstream scans everything first).
fn lex(input: &str) -> Vec<(Token, String)> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        // Go's lexer reads a NUL byte as the end of the input.
        let Some(&c) = bytes.get(pos).filter(|c| **c != 0) else {
            out.push((Token::End, String::new()));
            return out;
        };
        if is_special(c) {
            // The longest run of symbols that is still a token (`!=`, `==`), as upstream's
            // `scanSpecialSymbol`.
            let start = pos;
            let mut last: Option<(Token, usize)> = None;
            while pos < bytes.len() && is_special(bytes[pos]) {
                pos += 1;
                match keyword(&input[start..pos]) {
                    Some(token) => last = Some((token, pos)),
                    None if last.is_some() => {
                        pos -= 1;
                        break;
                    }
                    None => {}
                }
            }
            match last {
                Some((token, end)) => {
                    pos = end;
                    out.push((token, input[start..end].to_string()));
                }
                // Every special symbol is a token on its own, so this is as unreachable as
                // upstream's same branch; kept so no input can go unanswered.
                None => out.push((
                    Token::Error,
                    format!("error expected: keyword found '{}'", &input[start..pos]),
                )),
            }
        } else {
            let start = pos;
            while pos < bytes.len()
                && bytes[pos] != 0
                && !is_special(bytes[pos])
                && !is_space(bytes[pos])
            {
                pos += 1;
            }
            let text = &input[start..pos];
            out.push((keyword(text).unwrap_or(Token::Identifier), text.to_string()));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Exists,
    DoesNotExist,
    Equals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

/// A parsed `labelSelector`; an empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

/// Where the parser reads: in values `in` and `notin` are plain identifiers.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

/// `field.Invalid(path, value, detail).Error()`.
fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {}: {detail}", quote(value))
}

impl Parser {
    fn at(&self, index: usize, context: Context) -> (Token, String) {
        let (token, text) = self.items[index.min(self.items.len() - 1)].clone();
        let token = match token {
            Token::In | Token::NotIn if context == Context::Values => Token::Identifier,
            other => other,
        };
        (token, text)
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        self.at(self.position, context)
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        self.position += 1;
        self.at(self.position - 1, context)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, text) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(requirement);
                    let (token, text) = self.consume(Context::Values);
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, text) = self.lookahead(Context::Values);
                            if !matches!(next, Token::Identifier | Token::DoesNotExist) {
                                return Err(format!(
                                    "found '{text}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{text}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{text}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.key_and_inferred_operator()?;
        let (operator, values) = match inferred {
            Some(operator) => (operator, BTreeSet::new()),
            None => {
                let operator = self.operator()?;
                let values = match operator {
                    Operator::In | Operator::NotIn => self.values()?,
                    _ => self.exact_value()?,
                };
                (operator, values)
            }
        };
        check_requirement(&key, operator, &values)?;
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    fn key_and_inferred_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let (mut token, mut text) = self.consume(Context::Values);
        let mut operator = None;
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, text) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{text}', expected: identifier"));
        }
        // The parser's own path is nil, which Go prints as `<nil>`.
        let errors = qualified_name(&text);
        if !errors.is_empty() {
            return Err(invalid("<nil>", &text, &errors.join("; ")));
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::End | Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((text, operator))
    }

    fn operator(&mut self) -> Result<Operator, String> {
        let (token, text) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{text}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    fn values(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, text) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{text}' expected: '('"));
        }
        let (token, text) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let set = self.identifiers()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(format!("found '{text}', expected: ')'"));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{text}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<BTreeSet<String>, String> {
        let mut set = BTreeSet::new();
        loop {
            let (token, text) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    set.insert(text);
                    let (next, text) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{text}', expected: ',' or ')'")),
                    }
                }
                // `(,`, `,)` and `,,` stand for empty values.
                Token::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            set.insert(String::new());
                            return Ok(set);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            set.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{text}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::End | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, text) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([text]))
        } else {
            Err(format!("found '{text}', expected: identifier"))
        }
    }
}

/// `NewRequirement`'s checks of the values (the key was checked as it was read), joined as an
/// aggregate prints several errors.
fn check_requirement(
    key: &str,
    operator: Operator,
    values: &BTreeSet<String>,
) -> Result<(), String> {
    let mut errors = Vec::new();
    if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
        for (i, value) in values.iter().enumerate() {
            if value.parse::<i64>().is_err() {
                errors.push(invalid(
                    &format!("values[{i}]"),
                    value,
                    "for 'Gt', 'Lt' operators, the value must be an integer",
                ));
            }
        }
    }
    for (i, value) in values.iter().enumerate() {
        let problems = label_value(value);
        if !problems.is_empty() {
            errors.push(invalid(
                &format!("values[{i}][{key}]"),
                value,
                &problems.join("; "),
            ));
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(format!("[{}]", errors.join(", "))),
    }
}

impl LabelSelector {
    /// Parses a `labelSelector` query parameter; the error is the real server's message.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut parser = Parser {
            items: lex(input),
            position: 0,
        };
        parser.parse().map(Self)
    }

    /// Whether the selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object with these labels (`metadata.labels`, may be absent) matches.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| {
            let label = get(&r.key);
            match r.operator {
                Operator::Exists => label.is_some(),
                Operator::DoesNotExist => label.is_none(),
                Operator::Equals | Operator::In => label.is_some_and(|l| r.values.contains(l)),
                Operator::NotEquals | Operator::NotIn => {
                    label.is_none_or(|l| !r.values.contains(l))
                }
                Operator::GreaterThan | Operator::LessThan => {
                    let (Some(have), Some(want)) = (
                        label.and_then(|l| l.parse::<i64>().ok()),
                        r.values.first().and_then(|v| v.parse::<i64>().ok()),
                    ) else {
                        return false;
                    };
                    if r.operator == Operator::GreaterThan {
                        have > want
                    } else {
                        have < want
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn selects(selector: &str, object_labels: Value) -> bool {
        LabelSelector::parse(selector)
            .expect("parses")
            .matches(Some(&labels(object_labels)))
    }

    #[test]
    fn set_based_requirements_with_commas_inside_parentheses() {
        let sel = "app in (web, api),tier notin (db),!legacy,env";
        assert!(selects(
            sel,
            json!({"app": "api", "tier": "front", "env": "x"})
        ));
        assert!(!selects(
            sel,
            json!({"app": "api", "tier": "db", "env": "x"})
        ));
        assert!(!selects(
            sel,
            json!({"app": "api", "env": "x", "legacy": "1"})
        ));
        assert!(!selects(sel, json!({"app": "api"})));
    }

    #[test]
    fn inequality_and_notin_match_a_missing_label() {
        let sel = LabelSelector::parse("app!=web").expect("parses");
        assert!(sel.matches(None));
        assert!(!sel.matches(Some(&labels(json!({"app": "web"})))));
        assert!(selects("app notin (web)", json!({})));
    }

    #[test]
    fn numeric_comparisons_select_integer_labels_only() {
        assert!(selects("replicas>1", json!({"replicas": "2"})));
        assert!(!selects("replicas>1", json!({"replicas": "1"})));
        assert!(!selects("replicas>1", json!({"replicas": "many"})));
        assert!(!selects("replicas>1", json!({})));
        assert!(selects(
            "replicas<10,tier",
            json!({"replicas": "-3", "tier": "a"})
        ));
    }

    #[test]
    fn empty_values_are_values() {
        assert!(selects("a=", json!({"a": ""})));
        assert!(selects("a in ()", json!({"a": ""})));
        assert!(selects("a in (,x)", json!({"a": ""})));
        assert!(selects("a==b", json!({"a": "b"})));
        assert!(selects("", json!({})));
        assert!(selects("  ", json!({})));
    }

    #[test]
    fn refusals_read_as_the_real_parser_writes_them() {
        for (selector, message) in [
            ("a==b=c", "found '=', expected: ',' or 'end of string'"),
            ("a=b,", "found '', expected: identifier after ','"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "a in x",
                "unable to parse requirement: found 'x' expected: '('",
            ),
            (
                "a in (x",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "a in (=)",
                "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            ),
            (
                "a=(",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            (
                "a<>1",
                "unable to parse requirement: found '>', expected: identifier",
            ),
            (
                "a>x",
                "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
            (
                "a_=b",
                "unable to parse requirement: <nil>: Invalid value: \"a_\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                "a=-b",
                "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
        ] {
            assert_eq!(
                LabelSelector::parse(selector),
                Err(message.to_string()),
                "{selector:?}"
            );
        }
    }
}
