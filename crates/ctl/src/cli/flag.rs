//! Flags as spf13/pflag defines and parses them: long and shorthand forms, `--flag=value`,
//! `--flag value`, optional values for booleans, `--` ending flags, interspersed positional
//! arguments, and pflag's error messages.

use oxcd_etcd_compat::gotext::duration as go_duration;
use oxcd_etcd_compat::gotext::quote::quote;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

/// A flag's value type, which decides parsing and how its default is shown in usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `--x`, `--x=true|false`.
    Bool,
    /// Free text.
    String,
    /// A signed integer (Go `strconv.ParseInt` with base 0).
    Int64,
    /// A Go duration (`5s`).
    Duration,
    /// Comma-separated strings; repeating the flag appends.
    StringSlice,
}

/// A flag definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSpec {
    /// Long name, without dashes.
    pub name: &'static str,
    /// One-letter shorthand.
    pub shorthand: Option<char>,
    /// Value type.
    pub kind: FlagKind,
    /// Default value as text (pflag's `DefValue`).
    pub default: &'static str,
    /// Help text.
    pub usage: Cow<'static, str>,
}

impl FlagSpec {
    /// A flag without shorthand.
    pub fn new(
        name: &'static str,
        kind: FlagKind,
        default: &'static str,
        usage: impl Into<Cow<'static, str>>,
    ) -> FlagSpec {
        FlagSpec {
            name,
            shorthand: None,
            kind,
            default,
            usage: usage.into(),
        }
    }

    /// The same flag with a shorthand letter.
    pub fn short(mut self, letter: char) -> FlagSpec {
        self.shorthand = Some(letter);
        self
    }

    /// How pflag names the flag in errors: `--name` or `-s, --name`.
    fn error_name(&self) -> String {
        match self.shorthand {
            Some(s) => format!("-{s}, --{}", self.name),
            None => format!("--{}", self.name),
        }
    }

    /// Default shown in usage (`DefValue`).
    pub fn default_display(&self) -> String {
        match self.kind {
            FlagKind::String => quote(self.default.as_bytes()),
            FlagKind::StringSlice => format!("[{}]", self.default),
            _ => self.default.to_string(),
        }
    }
}

/// A parsed flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagValue {
    /// Boolean.
    Bool(bool),
    /// Text.
    Str(String),
    /// Integer.
    Int(i64),
    /// Duration.
    Dur(Duration),
    /// String list.
    List(Vec<String>),
}

/// The flags of one command invocation and their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSet {
    specs: Vec<FlagSpec>,
    values: BTreeMap<&'static str, FlagValue>,
    changed: BTreeMap<&'static str, bool>,
}

impl FlagSet {
    /// A set with every flag at its default.
    pub fn new(specs: Vec<FlagSpec>) -> FlagSet {
        let mut values = BTreeMap::new();
        for spec in &specs {
            // Defaults are compile-time constants known to parse.
            let value = parse_value(spec, spec.default, None).unwrap_or(FlagValue::Bool(false));
            values.insert(spec.name, value);
        }
        FlagSet {
            specs,
            values,
            changed: BTreeMap::new(),
        }
    }

    /// The definitions.
    pub fn specs(&self) -> &[FlagSpec] {
        &self.specs
    }

    /// Looks a flag up by long name.
    pub fn spec(&self, name: &str) -> Option<&FlagSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    fn by_short(&self, letter: char) -> Option<&FlagSpec> {
        self.specs.iter().find(|s| s.shorthand == Some(letter))
    }

    /// True when the flag was given on the command line (or from the environment).
    pub fn changed(&self, name: &str) -> bool {
        self.changed.get(name).copied().unwrap_or(false)
    }

    /// Sets a flag from text, as `pflag.FlagSet.Set` does (errors are pflag's).
    pub fn set(&mut self, name: &str, text: &str) -> Result<(), String> {
        let spec = self
            .spec(name)
            .cloned()
            .ok_or_else(|| format!("no such flag -{name}"))?;
        let previous = self.values.get(spec.name).cloned();
        let appending = self.changed(spec.name);
        let value = parse_value(&spec, text, previous.filter(|_| appending)).map_err(|e| {
            format!(
                "invalid argument {} for {} flag: {e}",
                quote(text.as_bytes()),
                quote(spec.error_name().as_bytes())
            )
        })?;
        self.values.insert(spec.name, value);
        self.changed.insert(spec.name, true);
        Ok(())
    }

    /// A boolean flag's value (false if absent).
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(FlagValue::Bool(true)))
    }

    /// A string flag's value (empty if absent).
    pub fn string(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(FlagValue::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    /// An integer flag's value (0 if absent).
    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(FlagValue::Int(v)) => *v,
            _ => 0,
        }
    }

    /// A duration flag's value (zero if absent).
    pub fn duration(&self, name: &str) -> Duration {
        match self.values.get(name) {
            Some(FlagValue::Dur(d)) => *d,
            _ => Duration::ZERO,
        }
    }

    /// A string-slice flag's value (empty if absent).
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(FlagValue::List(v)) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// The value as pflag's `Value.String()` shows it (`--debug` listing).
    pub fn display(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(FlagValue::Bool(b)) => b.to_string(),
            Some(FlagValue::Str(s)) => s.clone(),
            Some(FlagValue::Int(i)) => i.to_string(),
            Some(FlagValue::Dur(d)) => go_duration::format(*d),
            Some(FlagValue::List(items)) => format!("[{}]", items.join(",")),
            None => String::new(),
        }
    }

    /// Parses `args` like pflag with interspersed arguments; returns the positional ones.
    pub fn parse(&mut self, args: &[String]) -> Result<Vec<String>, String> {
        let mut positional = Vec::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg.len() < 2 || !arg.starts_with('-') {
                positional.push(arg.clone());
                continue;
            }
            if arg == "--" {
                positional.extend(rest.by_ref().cloned());
                break;
            }
            if let Some(long) = arg.strip_prefix("--") {
                self.parse_long(arg, long, &mut rest)?;
            } else {
                self.parse_shorts(&arg[1..], &mut rest)?;
            }
        }
        Ok(positional)
    }

    fn parse_long(
        &mut self,
        arg: &str,
        body: &str,
        rest: &mut std::slice::Iter<'_, String>,
    ) -> Result<(), String> {
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(format!("bad flag syntax: {arg}"));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(spec) = self.spec(name).cloned() else {
            return Err(format!("unknown flag: --{name}"));
        };
        let value = match inline {
            Some(v) => v.to_string(),
            None if spec.kind == FlagKind::Bool => "true".to_string(),
            None => match rest.next() {
                Some(v) => v.clone(),
                None => return Err(format!("flag needs an argument: {arg}")),
            },
        };
        self.set(spec.name, &value)
    }

    fn parse_shorts(
        &mut self,
        shorthands: &str,
        rest: &mut std::slice::Iter<'_, String>,
    ) -> Result<(), String> {
        let mut remaining = shorthands;
        while let Some(letter) = remaining.chars().next() {
            let after = &remaining[letter.len_utf8()..];
            let Some(spec) = self.by_short(letter).cloned() else {
                return Err(format!(
                    "unknown shorthand flag: '{letter}' in -{remaining}"
                ));
            };
            let value;
            if let Some(v) = after.strip_prefix('=').filter(|_| !after.is_empty()) {
                value = v.to_string();
                remaining = "";
            } else if spec.kind == FlagKind::Bool {
                value = "true".to_string();
                remaining = after;
            } else if !after.is_empty() {
                value = after.to_string();
                remaining = "";
            } else if let Some(v) = rest.next() {
                value = v.clone();
                remaining = "";
            } else {
                return Err(format!(
                    "flag needs an argument: '{letter}' in -{remaining}"
                ));
            }
            self.set(spec.name, &value)?;
        }
        Ok(())
    }
}

/// Parses text into a value of the flag's kind, with Go's error text.
fn parse_value(
    spec: &FlagSpec,
    text: &str,
    previous: Option<FlagValue>,
) -> Result<FlagValue, String> {
    Ok(match spec.kind {
        FlagKind::Bool => FlagValue::Bool(parse_bool(text)?),
        FlagKind::String => FlagValue::Str(text.to_string()),
        FlagKind::Int64 => FlagValue::Int(parse_int(text)?),
        FlagKind::Duration => FlagValue::Dur(go_duration::parse(text)?),
        FlagKind::StringSlice => {
            let mut items = match previous {
                Some(FlagValue::List(items)) => items,
                _ => Vec::new(),
            };
            items.extend(parse_csv(text)?);
            FlagValue::List(items)
        }
    })
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(text.as_bytes())
        )),
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)`: optional sign, then `0x`, `0o`, `0b`, `0` prefixes
/// and `_` separators after a prefix.
pub fn parse_int(text: &str) -> Result<i64, String> {
    let syntax = || {
        format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            quote(text.as_bytes())
        )
    };
    let range = || {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            quote(text.as_bytes())
        )
    };
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(syntax());
    }
    if !prefixed && digits.contains('_') {
        return Err(syntax());
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    if !cleaned.chars().all(|c| c.is_digit(radix)) {
        return Err(syntax());
    }
    let magnitude = u128::from_str_radix(&cleaned, radix).map_err(|_| range())?;
    let limit = if negative {
        1u128 << 63
    } else {
        (1u128 << 63) - 1
    };
    if magnitude > limit {
        return Err(range());
    }
    Ok(if negative {
        (magnitude as i128).wrapping_neg() as i64
    } else {
        magnitude as i64
    })
}

/// One line of CSV, as pflag reads string-slice values.
fn parse_csv(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if at_field_start && c == '"' {
            at_field_start = false;
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(other) => field.push(other),
                    None => return Err(
                        "parse error on line 1, column 0: extraneous or missing \" in quoted-field"
                            .to_string(),
                    ),
                }
            }
            continue;
        }
        at_field_start = false;
        if c == ',' {
            fields.push(std::mem::take(&mut field));
            at_field_start = true;
        } else {
            field.push(c);
        }
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        FlagSet::new(vec![
            FlagSpec::new("prefix", FlagKind::Bool, "false", ""),
            FlagSpec::new("limit", FlagKind::Int64, "0", ""),
            FlagSpec::new("write-out", FlagKind::String, "simple", "").short('w'),
            FlagSpec::new("dial-timeout", FlagKind::Duration, "2s", ""),
            FlagSpec::new("endpoints", FlagKind::StringSlice, "127.0.0.1:2379", ""),
            FlagSpec::new("hex", FlagKind::Bool, "false", ""),
        ])
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_interspersed_flags() {
        let mut flags = set();
        let rest = flags
            .parse(&strings(&[
                "k",
                "--prefix",
                "--limit",
                "5",
                "-wjson",
                "--endpoints=a,b",
                "--endpoints",
                "c",
                "--",
                "--hex",
            ]))
            .unwrap();
        assert_eq!(rest, strings(&["k", "--hex"]));
        assert!(flags.bool("prefix"));
        assert!(!flags.bool("hex"));
        assert_eq!(flags.int("limit"), 5);
        assert_eq!(flags.string("write-out"), "json");
        assert_eq!(flags.list("endpoints"), strings(&["a", "b", "c"]));
        assert_eq!(flags.duration("dial-timeout"), Duration::from_secs(2));
        assert!(flags.changed("limit"));
        assert!(!flags.changed("dial-timeout"));
    }

    #[test]
    fn reports_pflag_errors() {
        let cases = [
            (vec!["--foo"], "unknown flag: --foo"),
            (vec!["-x"], "unknown shorthand flag: 'x' in -x"),
            (vec!["--limit"], "flag needs an argument: --limit"),
            (vec!["-w"], "flag needs an argument: 'w' in -w"),
            (
                vec!["--limit", "abc"],
                "invalid argument \"abc\" for \"--limit\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax",
            ),
            (
                vec!["--prefix=maybe"],
                "invalid argument \"maybe\" for \"--prefix\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax",
            ),
            (
                vec!["--dial-timeout=5x"],
                "invalid argument \"5x\" for \"--dial-timeout\" flag: time: unknown unit \"x\" in duration \"5x\"",
            ),
            (vec!["---x"], "bad flag syntax: ---x"),
        ];
        for (args, expected) in cases {
            let err = set().parse(&strings(&args)).unwrap_err();
            assert_eq!(err, expected, "{args:?}");
        }
    }

    #[test]
    fn go_integers() {
        assert_eq!(parse_int("0x10"), Ok(16));
        assert_eq!(parse_int("010"), Ok(8));
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
        assert!(
            parse_int("9223372036854775808")
                .unwrap_err()
                .ends_with("value out of range")
        );
        assert!(parse_int("1_0").is_err());
        assert_eq!(parse_int("0x1_0"), Ok(16));
    }
}
