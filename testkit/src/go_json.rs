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
            Ok(serde_json::Value::Object(_) | serde_json::Value::Null) => return None,
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
        // `string(c)` of a byte is the code point of the same number (Latin-1); those below
        // U+00A0 and the soft hyphen are not printable.
        c if (0x80..0xa0).contains(&c) || c == 0xad => format!(r"'\u{c:04x}'"),
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

    /// The start of a value: scalars are read whole, containers are opened.
    fn begin_value(&mut self, context: &str) -> Scan {
        self.skip_space();
        match self.next_byte()? {
            b'{' => {
                self.skip_space();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
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
                self.nesting.push(Container::Object);
                self.begin_value("looking for beginning of value")
            }
            b'[' => {
                self.skip_space();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                self.nesting.push(Container::Array);
                self.begin_value("looking for beginning of value")
            }
            b'"' => self.string(),
            b'-' => match self.next_byte()? {
                c @ b'0'..=b'9' => self.number(c),
                c => Err(invalid(c, "in numeric literal")),
            },
            c @ b'0'..=b'9' => self.number(c),
            b't' => self.literal(b"rue", "true"),
            b'f' => self.literal(b"alse", "false"),
            b'n' => self.literal(b"ull", "null"),
            c => Err(invalid(c, context)),
        }
    }

    fn literal(&mut self, rest: &[u8], word: &str) -> Scan {
        for &expected in rest {
            let c = self.next_byte()?;
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
                b'\\' => match self.next_byte()? {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                    b'u' => {
                        for _ in 0..4 {
                            let c = self.next_byte()?;
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
            match self.next_byte()? {
                b'0'..=b'9' => self.digits(),
                c => return Err(invalid(c, "after decimal point in numeric literal")),
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            let mut c = self.next_byte()?;
            if c == b'+' || c == b'-' {
                c = self.next_byte()?;
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
            ("{\"a\":nul", "unexpected end of JSON input"),
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
