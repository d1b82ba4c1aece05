//! JSON text as Go's `encoding/json` writes it (etcdctl's `-w json`): HTML-safe string
//! escaping, base64 for byte slices, numbers as numbers, `omitempty` objects. zap log lines
//! escape differently; see [`super::zap`].

use std::fmt::Write as _;

/// Appends `text` as a JSON string the way Go escapes it (`<`, `>`, `&`, U+2028 and U+2029
/// escaped; invalid UTF-8 replaced by U+FFFD).
pub fn push_string(out: &mut String, text: &[u8]) {
    push_escaped(out, &String::from_utf8_lossy(text), true);
}

/// Appends `text` as a JSON string: `"` and `\` escaped, `\n` `\r` `\t` by name, other
/// control characters as `\u00xx`. With `html`, `<`, `>`, `&`, U+2028 and U+2029 are escaped
/// too, as Go's `encoding/json` does and zap's encoder does not.
pub(crate) fn push_escaped(out: &mut String, text: &str, html: bool) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `bytes` as Go encodes a `[]byte`: a standard base64 string.
pub fn push_bytes(out: &mut String, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.push('"');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.push('"');
}

/// A JSON object being written field by field, skipping what Go's `omitempty` skips.
pub struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, first: true }
    }

    /// Writes a key and returns the buffer for its value.
    pub fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_string(self.out, key.as_bytes());
        self.out.push(':');
        self.out
    }

    /// A number, omitted when zero.
    pub fn num<N: std::fmt::Display + Default + PartialEq>(&mut self, key: &str, value: N) {
        if value != N::default() {
            let text = value.to_string();
            self.key(key).push_str(&text);
        }
    }

    /// A boolean, omitted when false.
    pub fn flag(&mut self, key: &str, value: bool) {
        if value {
            self.key(key).push_str("true");
        }
    }

    /// A string, omitted when empty.
    pub fn text(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            push_string(self.key(key), value.as_bytes());
        }
    }

    /// A byte slice as base64, omitted when empty.
    pub fn bytes(&mut self, key: &str, value: &[u8]) {
        if !value.is_empty() {
            push_bytes(self.key(key), value);
        }
    }

    /// A list of strings, omitted when empty.
    pub fn texts(&mut self, key: &str, values: &[String]) {
        if !values.is_empty() {
            let out = self.key(key);
            out.push('[');
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(out, v.as_bytes());
            }
            out.push(']');
        }
    }

    /// Closes the object.
    pub fn close(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_go() {
        let mut out = String::new();
        push_string(&mut out, b"a<b>&\"\\\n\x01\xff");
        assert_eq!(out, "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\u{fffd}\"");
    }

    #[test]
    fn bytes_are_base64() {
        for (input, expected) in [
            (&b""[..], "\"\""),
            (b"f", "\"Zg==\""),
            (b"fo", "\"Zm8=\""),
            (b"foo", "\"Zm9v\""),
            (b"foo2", "\"Zm9vMg==\""),
        ] {
            let mut out = String::new();
            push_bytes(&mut out, input);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn objects_omit_empty_fields() {
        let mut out = String::new();
        let mut o = Object::new(&mut out);
        o.num("a", 0i64);
        o.num("b", 7u64);
        o.flag("c", false);
        o.text("d", "");
        o.texts("e", &["x".to_string()]);
        o.close();
        assert_eq!(out, "{\"b\":7,\"e\":[\"x\"]}");
    }
}
