//! Go's `strconv` number and boolean syntax, which etcd's flags accept.
//!
//! etcd is a Go program, so operators' scripts pass values in Go's syntax (`0x10`, `1_000`,
//! `T`); reproducing the rules keeps them working.

/// Why Go's `strconv` rejected a number; the flag package reports these two words verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    /// Not a number in Go syntax ("parse error").
    Syntax,
    /// A number that does not fit the target type ("value out of range").
    Range,
}

impl NumError {
    /// The text Go's flag package prints for this error.
    pub(crate) fn flag_text(self) -> &'static str {
        match self {
            NumError::Syntax => "parse error",
            NumError::Range => "value out of range",
        }
    }
}

/// Parses a boolean the way Go's `strconv.ParseBool` does.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses an unsigned integer like Go's `strconv.ParseUint(s, 0, bits)`: decimal, `0x`, `0o`,
/// `0b` or a leading-`0` octal, with `_` digit separators.
pub(crate) fn parse_uint(s: &str, bits: u32) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let bytes = s.as_bytes();
    let (base, digits): (u64, &[u8]) = if bytes[0] == b'0' {
        match bytes.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut value: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let digit = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            c if c.is_ascii_alphabetic() => u64::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return Err(NumError::Syntax),
        };
        if digit >= base {
            return Err(NumError::Syntax);
        }
        // Go reports overflow as soon as it happens, before looking at later characters.
        value = value
            .checked_mul(base)
            .and_then(|v| v.checked_add(digit))
            .filter(|&v| v <= max)
            .ok_or(NumError::Range)?;
    }
    if underscores && !underscores_ok(s) {
        return Err(NumError::Syntax);
    }
    Ok(value)
}

/// Parses a signed integer like Go's `strconv.ParseInt(s, 0, bits)`.
pub(crate) fn parse_int(s: &str, bits: u32) -> Result<i64, NumError> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint(rest, 64)?;
    let limit = 1u64 << (bits.clamp(1, 64) - 1);
    if negative {
        if magnitude > limit {
            return Err(NumError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        if magnitude >= limit {
            return Err(NumError::Range);
        }
        Ok(magnitude as i64)
    }
}

/// Go's rule for `_` separators: each must follow a digit (or the base prefix) and be
/// followed by a digit.
fn underscores_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    // The last character class seen: '^' start, '0' digit or prefix, '_' underscore, '!' other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_strconv() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "2", " true"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn unsigned_integers_accept_go_prefixes() {
        assert_eq!(parse_uint("100", 64), Ok(100));
        assert_eq!(parse_uint("0x10", 64), Ok(16));
        assert_eq!(parse_uint("0X1f", 64), Ok(31));
        assert_eq!(parse_uint("017", 64), Ok(15));
        assert_eq!(parse_uint("0o17", 64), Ok(15));
        assert_eq!(parse_uint("0b101", 64), Ok(5));
        assert_eq!(parse_uint("0", 64), Ok(0));
        assert_eq!(parse_uint("0x_10", 64), Ok(16));
        assert_eq!(parse_uint("0_17", 64), Ok(15));
        assert_eq!(parse_uint("1_000", 64), Ok(1000));
        assert_eq!(parse_uint("1__000", 64), Err(NumError::Syntax));
        assert_eq!(parse_uint("1000_", 64), Err(NumError::Syntax));
        assert_eq!(parse_uint("0x", 64), Err(NumError::Syntax));
        assert_eq!(parse_uint("", 64), Err(NumError::Syntax));
        assert_eq!(parse_uint("-1", 64), Err(NumError::Syntax));
        assert_eq!(parse_uint("+1", 64), Err(NumError::Syntax));
        assert_eq!(parse_uint("abc", 64), Err(NumError::Syntax));
        assert_eq!(parse_uint("08", 64), Err(NumError::Syntax));
        assert_eq!(
            parse_uint("18446744073709551615", 64),
            Ok(u64::MAX),
            "max fits"
        );
        assert_eq!(parse_uint("18446744073709551616", 64), Err(NumError::Range));
        assert_eq!(parse_uint("4294967296", 32), Err(NumError::Range));
    }

    #[test]
    fn signed_integers_take_a_sign() {
        assert_eq!(parse_int("-5", 64), Ok(-5));
        assert_eq!(parse_int("+5", 64), Ok(5));
        assert_eq!(parse_int("-0x10", 64), Ok(-16));
        assert_eq!(parse_int("9223372036854775807", 64), Ok(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808", 64), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775808", 64), Err(NumError::Range));
        assert_eq!(parse_int("--1", 64), Err(NumError::Syntax));
    }
}
