//! Go's `encoding/json` words for a body that is not JSON, which every decode error of the real
//! server quotes (`invalid character '}' looking for beginning of object key string`,
//! `unexpected end of JSON input`): the scanner's state machine (`scanner.go`), followed only
//! as far as its first error, since clients and tests compare these messages.

/// The first syntax error Go's `checkValid` reports for `data`, or `None` when it is valid JSON.
pub(crate) fn syntax_error(data: &[u8]) -> Option<String> {
    let mut scanner = Scanner {
        data,
        pos: 0,
        nesting: Vec::new(),
    };
    scanner.document().err()
}

/// Why the serializer could not even read a body's `apiVersion` and `kind` (`Interpret`
/// decodes them into a small struct first): not JSON, or JSON that is not an object (`null`
/// reads as an empty one).
pub(crate) fn kind_finding_error(data: &[u8]) -> Option<String> {
    let why = match syntax_error(data) {
        Some(why) => why,
        None => match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(serde_json::Value::Object(object)) => {
                // The anonymous struct's fields are strings; null leaves one empty.
                let wrong = ["apiVersion", "kind"].into_iter().find_map(|field| {
                    object
                        .get(field)
                        .filter(|v| !v.is_string() && !v.is_null())
                        .map(|v| (field, kind_name(v)))
                });
                let (field, kind) = wrong?;
                format!(
                    "json: cannot unmarshal {kind} into Go struct field .{field} of type string"
                )
            }
            Ok(serde_json::Value::Null) => return None,
            Ok(other) => format!(
                "json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                kind_name(&other)
            ),
            Err(e) => e.to_string(),
        },
    };
    Some(format!(
        "couldn't get version/kind; json parse error: {why}"
    ))
}

/// What the API server shows of a body it could not decode (`summarizeData`): objects as text,
/// anything else in hex, both cut at 30 bytes.
pub(crate) fn summarize(data: &[u8]) -> String {
    const MAX: usize = 30;
    let (head, cut) = if data.len() > MAX {
        (&data[..MAX], " ...")
    } else {
        (data, "")
    };
    match data.first() {
        None => "<empty>".into(),
        Some(b'{') => format!("{}{cut}", String::from_utf8_lossy(head)),
        Some(_) => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}{cut}")
        }
    }
}

/// The JSON kind Go's decoder names when a value does not fit (`cannot unmarshal array into`).
pub(crate) fn kind_name(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[derive(Clone, Copy)]
enum Container {
    Object,
    Array,
}

struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
    nesting: Vec<Container>,
}

type Scan = Result<(), String>;

const END: &str = "unexpected end of JSON input";

/// Go's `maxNestingDepth`: deeper documents are refused rather than scanned.
const MAX_DEPTH: usize = 10_000;

/// Go's `quoteChar`: the byte as a one-character Go string literal in single quotes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".into(),
        b'"' => "'\"'".into(),
        b'\x07' => r"'\a'".into(),
        b'\x08' => r"'\b'".into(),
        b'\x0c' => r"'\f'".into(),
        b'\n' => r"'\n'".into(),
        b'\r' => r"'\r'".into(),
        b'\t' => r"'\t'".into(),
        b'\x0b' => r"'\v'".into(),
        b'\\' => r"'\\'".into(),
        c if c < 0x20 || c == 0x7f => format!(r"'\x{c:02x}'"),
        // `string(c)` of a byte is the code point of the same number (Latin-1); those up to
        // U+00A0 (a space, but not the ASCII one) and the soft hyphen are not printable.
        c if (0x80..=0xa0).contains(&c) || c == 0xad => format!(r"'\u{c:04x}'"),
        c => format!("'{}'", char::from(c)),
    }
}

fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(c))
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    fn next_byte(&mut self) -> Result<u8, String> {
        let c = self.peek().ok_or(END)?;
        self.pos += 1;
        Ok(c)
    }

    /// The next byte inside a literal, number or escape. At the end of the input Go's scanner
    /// steps once more with a space (`eof`), so a token cut short is an invalid `' '`.
    fn in_token(&mut self) -> u8 {
        let c = self.peek().unwrap_or(b' ');
        self.pos += 1;
        c
    }

    fn open(&mut self, c: u8, container: Container) -> Scan {
        self.nesting.push(container);
        if self.nesting.len() > MAX_DEPTH {
            return Err(invalid(c, "exceeded max depth"));
        }
        Ok(())
    }

    fn document(&mut self) -> Scan {
        self.skip_space();
        self.value()?;
        self.skip_space();
        match self.peek() {
            None => Ok(()),
            Some(c) => Err(invalid(c, "after top-level value")),
        }
    }

    /// A value, then what may follow it inside the enclosing containers, iteratively so that
    /// deep nesting cannot overflow the stack.
    fn value(&mut self) -> Scan {
        let depth = self.nesting.len();
        self.begin_value("looking for beginning of value")?;
        while self.nesting.len() > depth {
            self.skip_space();
            let c = self.next_byte()?;
            match (self.nesting.last().copied(), c) {
                (Some(Container::Object), b',') => {
                    self.object_key()?;
                    self.begin_value("looking for beginning of value")?;
                }
                (Some(Container::Object), b'}') | (Some(Container::Array), b']') => {
                    self.nesting.pop();
                }
                (Some(Container::Object), c) => {
                    return Err(invalid(c, "after object key:value pair"));
                }
                (Some(Container::Array), b',') => {
                    self.begin_value("looking for beginning of value")?;
                }
                (_, c) => return Err(invalid(c, "after array element")),
            }
        }
        Ok(())
    }

    /// A key and its colon (the scanner's `stateBeginString` and `stateEndValue` for keys).
    fn object_key(&mut self) -> Scan {
        self.skip_space();
        match self.next_byte()? {
            b'"' => self.string()?,
            c => return Err(invalid(c, "looking for beginning of object key string")),
        }
        self.skip_space();
        match self.next_byte()? {
            b':' => Ok(()),
            c => Err(invalid(c, "after object key")),
        }
    }

    /// The start of a value: scalars are read whole, containers are opened (and the first
    /// value inside read in the same loop, so deep nesting cannot overflow the stack).
    fn begin_value(&mut self, context: &str) -> Scan {
        loop {
            self.skip_space();
            match self.next_byte()? {
                b'{' => {
                    self.open(b'{', Container::Object)?;
                    self.skip_space();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        self.nesting.pop();
                        return Ok(());
                    }
                    match self.next_byte()? {
                        b'"' => self.string()?,
                        c => return Err(invalid(c, "looking for beginning of object key string")),
                    }
                    self.skip_space();
                    match self.next_byte()? {
                        b':' => {}
                        c => return Err(invalid(c, "after object key")),
                    }
                }
                b'[' => {
                    self.open(b'[', Container::Array)?;
                    self.skip_space();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.nesting.pop();
                        return Ok(());
                    }
                }
                b'"' => return self.string(),
                b'-' => {
                    return match self.in_token() {
                        c @ b'0'..=b'9' => self.number(c),
                        c => Err(invalid(c, "in numeric literal")),
                    };
                }
                c @ b'0'..=b'9' => return self.number(c),
                b't' => return self.literal(b"rue", "true"),
                b'f' => return self.literal(b"alse", "false"),
                b'n' => return self.literal(b"ull", "null"),
                c => return Err(invalid(c, context)),
            }
        }
    }

    fn literal(&mut self, rest: &[u8], word: &str) -> Scan {
        for &expected in rest {
            let c = self.in_token();
            if c != expected {
                return Err(invalid(
                    c,
                    &format!("in literal {word} (expecting {})", quote_char(expected)),
                ));
            }
        }
        Ok(())
    }

    fn string(&mut self) -> Scan {
        loop {
            match self.next_byte()? {
                b'"' => return Ok(()),
                b'\\' => match self.in_token() {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                    b'u' => {
                        for _ in 0..4 {
                            let c = self.in_token();
                            if !c.is_ascii_hexdigit() {
                                return Err(invalid(c, "in \\u hexadecimal character escape"));
                            }
                        }
                    }
                    c => return Err(invalid(c, "in string escape code")),
                },
                c if c < 0x20 => return Err(invalid(c, "in string literal")),
                _ => {}
            }
        }
    }

    /// The rest of a number whose first digit was `first`; what ends it is left for the caller.
    fn number(&mut self, first: u8) -> Scan {
        if first != b'0' {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            match self.in_token() {
                b'0'..=b'9' => self.digits(),
                c => return Err(invalid(c, "after decimal point in numeric literal")),
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            let mut c = self.in_token();
            if c == b'+' || c == b'-' {
                c = self.in_token();
            }
            if !c.is_ascii_digit() {
                return Err(invalid(c, "in exponent of numeric literal"));
            }
            self.digits();
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> Option<String> {
        syntax_error(text.as_bytes())
    }

    #[test]
    fn valid_documents_pass() {
        for ok in [
            r#"{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"],"b":{}}"#,
            " [ ] ",
            "0",
            r#""\"""#,
            "{\"deep\":[[[[{\"a\":[]}]]]]}",
        ] {
            assert_eq!(error(ok), None, "{ok}");
        }
    }

    #[test]
    fn errors_read_as_go_encoding_json_writes_them() {
        for (text, want) in [
            ("", "unexpected end of JSON input"),
            ("{\"a\":1", "unexpected end of JSON input"),
            ("x", "invalid character 'x' looking for beginning of value"),
            (
                "{\"a\":1,}",
                "invalid character '}' looking for beginning of object key string",
            ),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "{\"a\":1 \"b\":2}",
                "invalid character '\"' after object key:value pair",
            ),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            ("{} x", "invalid character 'x' after top-level value"),
            (
                "{'a':1}",
                "invalid character '\\'' looking for beginning of object key string",
            ),
            (
                "{\"a\":tru}",
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (
                "{\"a\":nul",
                "invalid character ' ' in literal null (expecting 'l')",
            ),
            ("-", "invalid character ' ' in numeric literal"),
            (
                "1.",
                "invalid character ' ' after decimal point in numeric literal",
            ),
            (
                "[1e+",
                "invalid character ' ' in exponent of numeric literal",
            ),
            ("\"\\", "invalid character ' ' in string escape code"),
            (
                "\"\\u12",
                "invalid character ' ' in \\u hexadecimal character escape",
            ),
            ("\"abc", "unexpected end of JSON input"),
            ("[12", "unexpected end of JSON input"),
            (
                "{\"a\":\"x\ny\"}",
                "invalid character '\\n' in string literal",
            ),
            (
                "{\"a\":\"\\q\"}",
                "invalid character 'q' in string escape code",
            ),
            ("{\"a\":-x}", "invalid character 'x' in numeric literal"),
            (
                "{\"a\":1.}",
                "invalid character '}' after decimal point in numeric literal",
            ),
            (
                "{\"a\":1e}",
                "invalid character '}' in exponent of numeric literal",
            ),
            (
                "{\"a\":01}",
                "invalid character '1' after object key:value pair",
            ),
        ] {
            assert_eq!(error(text).as_deref(), Some(want), "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_at_go_s_depth_without_exhausting_the_stack() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(error(&deep(10_000)), None);
        assert_eq!(
            error(&deep(10_001)).as_deref(),
            Some("invalid character '[' exceeded max depth")
        );
        assert_eq!(
            error(&"{\"a\":".repeat(100_000)).as_deref(),
            Some("invalid character '{' exceeded max depth")
        );
    }

    #[test]
    fn a_kind_that_is_not_a_string_is_named_as_go_s_decoder_names_it() {
        assert_eq!(
            kind_finding_error(br#"{"kind":1,"apiVersion":"v1"}"#).as_deref(),
            Some(
                "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string"
            )
        );
        assert_eq!(kind_finding_error(br#"{"kind":null}"#), None);
        // Go quotes the byte as the code point of the same number: U+00A0 is not printable.
        assert_eq!(
            syntax_error(&[0xa0]).as_deref(),
            Some("invalid character '\\u00a0' looking for beginning of value")
        );
    }

    #[test]
    fn bodies_are_summarized_as_the_server_quotes_them() {
        assert_eq!(summarize(b""), "<empty>");
        assert_eq!(summarize(b"{\"a\":"), "{\"a\":");
        assert_eq!(
            summarize(b"{\"metadata\":{\"name\":\"abcdefghijklmnop\"}}"),
            "{\"metadata\":{\"name\":\"abcdefghi ..."
        );
        assert_eq!(summarize(b"[]"), "5b5d");
    }
}
