//! Reading a transaction from standard input as etcdctl does: compare lines
//! (`mod("k") > "5"`, `value("k") = "v"`, `version(..)`, `create(..)`, `lease(..)`), then
//! request lines (`put`, `get`, `del` with their flags), each section ended by an empty line.

use super::kv_ops::{del_op, get_op, put_op};
use crate::cli::command::Command;
use crate::cli::command_path::find;
use crate::cli::command_tree::tree;
use crate::cli::exit::{CtlError, EXIT_INVALID_INPUT, Stop};
use oxcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_api::etcdserverpb::{Compare, RequestOp, request_op};
use oxcd_etcd_compat::gotext::quote::quote;
use std::io::Read;

/// Size of the chunks Go's `bufio.Reader` pulls from its source.
const GO_BUFIO_SIZE: usize = 4096;

/// Standard input as etcdctl reads a transaction: through a Go `bufio.Reader` (4 KiB
/// chunks), while a `put` line without a value reads the rest of the *unbuffered* source,
/// which is empty when the whole input already sits in the buffer.
pub struct TxnReader<R: Read> {
    source: R,
    buffer: Vec<u8>,
    position: usize,
}

impl<R: Read> TxnReader<R> {
    /// Wraps a source.
    pub fn new(source: R) -> TxnReader<R> {
        TxnReader {
            source,
            buffer: Vec::new(),
            position: 0,
        }
    }

    /// Go's `ReadString('\n')`: input that ends without a newline is an `EOF` error even if
    /// some text was read.
    pub fn read_line(&mut self) -> Result<String, Stop> {
        let mut line = Vec::new();
        loop {
            if let Some(offset) = self.buffer[self.position..]
                .iter()
                .position(|&b| b == b'\n')
            {
                let end = self.position + offset + 1;
                line.extend_from_slice(&self.buffer[self.position..end]);
                self.position = end;
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            line.extend_from_slice(&self.buffer[self.position..]);
            self.buffer.clear();
            self.position = 0;
            let mut chunk = [0u8; GO_BUFIO_SIZE];
            let read = self
                .source
                .read(&mut chunk)
                .map_err(|e| CtlError::new(EXIT_INVALID_INPUT, e.to_string()))?;
            if read == 0 {
                return Err(CtlError::new(EXIT_INVALID_INPUT, "EOF").into());
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

/// Reads compare lines up to an empty line.
pub fn read_compares<R: Read>(input: &mut TxnReader<R>) -> Result<Vec<Compare>, Stop> {
    let mut compares = Vec::new();
    loop {
        let line = input.read_line()?;
        let line = line.trim();
        if line.is_empty() {
            return Ok(compares);
        }
        compares.push(parse_compare(line)?);
    }
}

/// Reads request lines up to an empty line.
pub fn read_ops<R: Read>(input: &mut TxnReader<R>) -> Result<Vec<RequestOp>, Stop> {
    let mut ops = Vec::new();
    loop {
        let line = input.read_line()?;
        let line = line.trim().to_string();
        if line.is_empty() {
            return Ok(ops);
        }
        ops.push(parse_request(&line, &mut input.source)?);
    }
}

fn invalid(message: String) -> Stop {
    CtlError::new(EXIT_INVALID_INPUT, message).into()
}

/// A Go runtime panic: message on stderr, exit status 2.
fn panic(message: &str) -> Stop {
    eprintln!("panic: {message}");
    Stop::Exit(2)
}

/// Parses `target("key") op "value"` (etcdctl's `parseCompare`).
pub fn parse_compare(line: &str) -> Result<Compare, Stop> {
    let Some((target, rest)) = line.split_once('(') else {
        return Err(invalid(format!("malformed comparison: {line}")));
    };
    let scanned = scan_compare(rest);
    if scanned.count != 3 {
        return Err(invalid(format!(
            "malformed comparison: {line}; got {target}({}) {} {}",
            quote(scanned.key.as_bytes()),
            scanned.op,
            quote(scanned.value.as_bytes())
        )));
    }
    let (key, op, value) = (scanned.key, scanned.op, scanned.value);
    let target_kind = match target {
        "ver" | "version" => CompareTarget::Version,
        "c" | "create" => CompareTarget::Create,
        "m" | "mod" => CompareTarget::Mod,
        "val" | "value" => CompareTarget::Value,
        "lease" => CompareTarget::Lease,
        _ => {
            return Err(invalid(format!(
                "malformed comparison: {line} (unknown target {target})"
            )));
        }
    };
    let number = || {
        super::compaction::parse_decimal(&value)
            .map_err(|_| invalid(format!("invalid txn compare request: {line}")))
    };
    let union = match target_kind {
        CompareTarget::Version => TargetUnion::Version(number()?),
        CompareTarget::Create => TargetUnion::CreateRevision(number()?),
        CompareTarget::Mod => TargetUnion::ModRevision(number()?),
        CompareTarget::Value => TargetUnion::Value(value.clone().into_bytes()),
        // etcdctl 3.5 panics on lease compares; oxctl compares the key's lease ID (decimal).
        CompareTarget::Lease => TargetUnion::Lease(number()?),
    };
    let result = match op.as_str() {
        "=" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        ">" => CompareResult::Greater,
        "<" => CompareResult::Less,
        _ => return Err(panic("Unknown result op")),
    };
    Ok(Compare {
        result: result as i32,
        target: target_kind as i32,
        key: key.into_bytes(),
        range_end: Vec::new(),
        target_union: Some(union),
    })
}

/// What Go's `fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)` filled in.
#[derive(Debug, Default)]
struct ScannedCompare {
    count: usize,
    key: String,
    op: String,
    value: String,
}

fn scan_compare(rest: &str) -> ScannedCompare {
    let mut scanned = ScannedCompare::default();
    let mut input = rest;
    let Some(key) = scan_quoted(&mut input) else {
        return scanned;
    };
    scanned.key = key;
    scanned.count = 1;
    match input.strip_prefix(')') {
        Some(after) => input = after,
        None => return scanned,
    }
    // A space in a Go scan format needs at least one space in the input.
    if !input.starts_with(' ') {
        return scanned;
    }
    input = input.trim_start_matches(' ');
    let token_len = input.find(char::is_whitespace).unwrap_or(input.len());
    if token_len == 0 {
        return scanned;
    }
    scanned.op = input[..token_len].to_string();
    scanned.count = 2;
    input = &input[token_len..];
    if !input.starts_with(' ') {
        return scanned;
    }
    input = input.trim_start_matches(' ');
    if let Some(value) = scan_quoted(&mut input) {
        scanned.value = value;
        scanned.count = 3;
    }
    scanned
}

/// Scans a Go quoted string (`"..."` with escapes, or `` `...` ``) after optional spaces.
fn scan_quoted(input: &mut &str) -> Option<String> {
    let text = input.trim_start_matches([' ', '\t', '\r']);
    let mut chars = text.char_indices();
    let (_, quote_char) = chars.next()?;
    let end = match quote_char {
        '`' => text[1..].find('`')? + 1,
        '"' => {
            let mut escaped = false;
            let mut end = None;
            for (i, c) in chars {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(i);
                    break;
                }
            }
            end?
        }
        _ => return None,
    };
    let literal = &text[..=end];
    let value = unquote(literal)?;
    *input = &text[end + 1..];
    Some(value)
}

/// Go's `strconv.Unquote` for double-quoted and back-quoted literals.
pub fn unquote(literal: &str) -> Option<String> {
    if let Some(raw) = literal.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        return Some(raw.replace('\r', ""));
    }
    let body = literal.strip_prefix('"')?.strip_suffix('"')?;
    if body.contains('\n') {
        return None;
    }
    let mut out: Vec<u8> = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            return None;
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let escape = chars.next()?;
        let simple = match escape {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let take =
            |n: usize, chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<String> {
                let s: String = chars.take(n).collect();
                (s.chars().count() == n).then_some(s)
            };
        match escape {
            'x' => {
                let hex = take(2, &mut chars)?;
                out.push(u8::from_str_radix(&hex, 16).ok()?);
            }
            'u' | 'U' => {
                let hex = take(if escape == 'u' { 4 } else { 8 }, &mut chars)?;
                let code = u32::from_str_radix(&hex, 16).ok()?;
                let c = char::from_u32(code)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            '0'..='7' => {
                let rest = take(2, &mut chars)?;
                let octal = format!("{escape}{rest}");
                let value = u32::from_str_radix(&octal, 8).ok()?;
                out.push(u8::try_from(value).ok()?);
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// etcdctl's `argify`: splits a request line into words, honouring quotes.
pub fn argify(line: &str) -> Result<Vec<String>, Stop> {
    let chars: Vec<char> = line.chars().collect();
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}');
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            // A double-quoted string with backslash escapes.
            let mut j = i + 1;
            let mut closed = None;
            while j < chars.len() {
                if chars[j] == '\\' && j + 1 < chars.len() {
                    j += 2;
                    continue;
                }
                if chars[j] == '"' {
                    closed = Some(j);
                    break;
                }
                j += 1;
            }
            if let Some(end) = closed {
                tokens.push(chars[i..=end].iter().collect::<String>());
                i = end + 1;
                continue;
            }
            i += 1;
            continue;
        }
        if c == '\'' {
            if let Some(offset) = chars[i + 1..].iter().position(|&c| c == '\'') {
                let end = i + 1 + offset;
                tokens.push(chars[i..=end].iter().collect::<String>());
                i = end + 1;
                continue;
            }
            i += 1;
            continue;
        }
        if is_space(c) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && !is_space(chars[j]) {
            j += 1;
        }
        tokens.push(chars[i..j].iter().collect::<String>());
        i = j;
    }
    let count = tokens.len();
    let mut args = Vec::with_capacity(count);
    for token in tokens {
        if let Some(stripped) = token.strip_prefix('\'') {
            // etcdctl slices a single-quoted word by the number of words, not its length.
            let end = count.saturating_sub(1);
            let inner: Vec<char> = stripped.chars().collect();
            if end < 1 || end - 1 > inner.len() {
                return Err(panic("runtime error: slice bounds out of range"));
            }
            args.push(token.chars().skip(1).take(end - 1).collect());
        } else if token.starts_with('"') {
            let value = unquote(&token)
                .ok_or_else(|| CtlError::new(EXIT_INVALID_INPUT, "invalid syntax"))?;
            args.push(value);
        } else {
            args.push(token);
        }
    }
    Ok(args)
}

/// The `put`, `get` and `del` commands as a txn request line sees them.
fn request_commands() -> Command {
    let mut root = tree();
    root.children
        .retain(|c| matches!(c.name, "put" | "get" | "del"));
    root.flags.clear();
    root.persistent.clear();
    root
}

/// Parses one request line (etcdctl's `parseRequestUnion`).
pub fn parse_request(line: &str, stdin: &mut dyn Read) -> Result<RequestOp, Stop> {
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(invalid(format!("invalid txn compare request: {line}")));
    }
    let invalid_request = || invalid(format!("invalid txn request: {line}"));
    let root = request_commands();
    let (path, rest) = find(&root, &args);
    if path.is_root() {
        return Err(invalid_request());
    }
    let mut flags = path.flag_set();
    let positional = match flags.parse(&rest) {
        Ok(positional) => positional,
        Err(_) => {
            // The bare cobra command etcdctl uses here prints its default usage on stderr.
            eprintln!("{}", crate::cli::default_usage::render(&path));
            return Err(invalid_request());
        }
    };
    if flags.bool("help") {
        return Err(invalid_request());
    }
    let request = match path.command().name {
        "put" => request_op::Request::RequestPut(put_op(&flags, &positional, stdin)?),
        "get" => request_op::Request::RequestRange(get_op(&flags, &positional)?),
        _ => request_op::Request::RequestDeleteRange(del_op(&flags, &positional)?),
    };
    Ok(RequestOp {
        request: Some(request),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_parse_like_etcdctl() {
        let c = parse_compare("mod(\"foo\") > \"5\"").unwrap();
        assert_eq!(c.key, b"foo");
        assert_eq!(c.target, CompareTarget::Mod as i32);
        assert_eq!(c.result, CompareResult::Greater as i32);
        assert_eq!(c.target_union, Some(TargetUnion::ModRevision(5)));

        let c = parse_compare("value(\"k\") != \"a b\"").unwrap();
        assert_eq!(c.target_union, Some(TargetUnion::Value(b"a b".to_vec())));
        assert_eq!(c.result, CompareResult::NotEqual as i32);

        let c = parse_compare("c(`raw`) = \"0\"").unwrap();
        assert_eq!(c.key, b"raw");
    }

    #[test]
    fn malformed_compares_report_what_was_scanned() {
        let Err(Stop::Fail(e)) = parse_compare("mod(foo) > 5") else {
            panic!("expected failure");
        };
        assert_eq!(e.code, EXIT_INVALID_INPUT);
        assert_eq!(
            e.message,
            "malformed comparison: mod(foo) > 5; got mod(\"\")  \"\""
        );
        let Err(Stop::Fail(e)) = parse_compare("mod(\"foo\")>\"5\"") else {
            panic!("expected failure");
        };
        assert_eq!(
            e.message,
            "malformed comparison: mod(\"foo\")>\"5\"; got mod(\"foo\")  \"\""
        );
        let Err(Stop::Fail(e)) = parse_compare("nope") else {
            panic!("expected failure");
        };
        assert_eq!(e.message, "malformed comparison: nope");
        let Err(Stop::Fail(e)) = parse_compare("mod(\"a\") = \"x\"") else {
            panic!("expected failure");
        };
        assert_eq!(e.message, "invalid txn compare request: mod(\"a\") = \"x\"");
        let Err(Stop::Fail(e)) = parse_compare("foo(\"a\") = \"x\"") else {
            panic!("expected failure");
        };
        assert_eq!(
            e.message,
            "malformed comparison: foo(\"a\") = \"x\" (unknown target foo)"
        );
    }

    #[test]
    fn argify_splits_and_unquotes() {
        assert_eq!(
            argify("put k \"hello world\"").unwrap(),
            vec!["put", "k", "hello world"]
        );
        assert_eq!(argify("get  a\tb").unwrap(), vec!["get", "a", "b"]);
        assert_eq!(argify("put k \"a\\nb\"").unwrap(), vec!["put", "k", "a\nb"]);
    }

    #[test]
    fn request_lines_become_ops() {
        let mut empty: &[u8] = b"";
        let op = parse_request("put a b --prev-kv", &mut empty).unwrap();
        let Some(request_op::Request::RequestPut(put)) = op.request else {
            panic!("expected put");
        };
        assert_eq!(put.key, b"a");
        assert!(put.prev_kv);
        let op = parse_request("g p --prefix", &mut empty).unwrap();
        let Some(request_op::Request::RequestRange(range)) = op.request else {
            panic!("expected get");
        };
        assert_eq!(range.range_end, b"q");
        let Err(Stop::Fail(e)) = parse_request("nope a", &mut empty) else {
            panic!("expected failure");
        };
        assert_eq!(e.message, "invalid txn request: nope a");
    }

    #[test]
    fn lines_need_their_newline() {
        let mut input = TxnReader::new(&b"a\nb"[..]);
        assert_eq!(input.read_line().unwrap(), "a\n");
        assert!(matches!(input.read_line(), Err(Stop::Fail(e)) if e.message == "EOF"));
    }

    #[test]
    fn a_put_without_value_reads_only_what_is_not_buffered() {
        let mut input = TxnReader::new(&b"\nput a\n\n"[..]);
        assert!(read_compares(&mut input).unwrap().is_empty());
        let Err(Stop::Fail(e)) = read_ops(&mut input) else {
            panic!("expected failure");
        };
        assert_eq!(e.code, crate::cli::exit::EXIT_BAD_ARGS);
    }
}
