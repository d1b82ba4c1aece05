//! URLs exactly as etcd reads them: Go's `net/url` parsing and printing rules, plus etcd's
//! `types.NewURLs` checks (scheme, `host:port`, no path) and `net.SplitHostPort`.
//!
//! The generic `url` crate normalises differently (it adds a `/` path to `http://h:1`), which
//! would change member IDs (they hash the URL text) and the error messages operators see, so
//! oxcd carries its own small type.

use std::fmt;
use std::net::IpAddr;

use crate::gotext::quote::quote;

/// A URL parsed with Go's `net/url` rules. Its `Display` is Go's `URL.String()`, which is
/// the text etcd hashes into member IDs and shows in `member list`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: String,
    opaque: String,
    userinfo: Option<String>,
    host: String,
    path: String,
    raw_query: String,
    force_query: bool,
    fragment: String,
}

impl Url {
    /// Parses `raw` like Go's `url.Parse`; the error is Go's text
    /// (`parse "127.0.0.1:2380": first path segment in URL cannot contain colon`).
    pub fn parse(raw: &str) -> Result<Url, String> {
        let (rest, fragment) = match raw.split_once('#') {
            Some((before, after)) => (before, Some(after)),
            None => (raw, None),
        };
        let mut url =
            parse_without_fragment(rest).map_err(|e| format!("parse {}: {e}", quote(rest)))?;
        if let Some(fragment) = fragment {
            unescape(fragment, Encoding::Fragment)
                .map_err(|e| format!("parse {}: {e}", quote(raw)))?;
            url.fragment = fragment.to_string();
        }
        Ok(url)
    }

    /// Parses one URL as etcd's `types.NewURLs` does for each list element: trimmed, then
    /// required to be `http`, `https`, `unix` or `unixs`, to have a `host:port` and no path.
    pub fn parse_etcd(input: &str) -> Result<Url, String> {
        let input = input.trim();
        let url = Url::parse(input)?;
        if !matches!(url.scheme.as_str(), "http" | "https" | "unix" | "unixs") {
            return Err(format!(
                "URL scheme must be http, https, unix, or unixs: {input}"
            ));
        }
        if split_host_port(&url.host).is_err() {
            return Err(format!(
                "URL address does not have the form \"host:port\": {input}"
            ));
        }
        if !url.path.is_empty() {
            return Err(format!("URL must not contain a path: {input}"));
        }
        Ok(url)
    }

    /// The lower-cased scheme (`http`, `https`, `unix`, `unixs`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The `host:port` part (brackets kept for IPv6), as Go's `URL.Host`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host without port or IPv6 brackets, as Go's `URL.Hostname()`.
    pub fn hostname(&self) -> &str {
        match split_host_port(&self.host) {
            Ok((host, _)) => host,
            Err(_) => self.host.trim_start_matches('[').trim_end_matches(']'),
        }
    }

    /// The port text (may be empty, as in `http://h:`), as Go's `URL.Port()`.
    pub fn port(&self) -> &str {
        match split_host_port(&self.host) {
            Ok((_, port)) => port,
            Err(_) => "",
        }
    }

    /// Whether this URL names a Unix socket (`unix` or `unixs`).
    pub fn is_unix(&self) -> bool {
        matches!(self.scheme.as_str(), "unix" | "unixs")
    }

    /// Whether traffic on this URL is TLS (`https` or `unixs`).
    pub fn is_tls(&self) -> bool {
        matches!(self.scheme.as_str(), "https" | "unixs")
    }

    /// Returns a copy whose host is replaced (used when a host name is resolved).
    pub fn with_host(&self, host: &str) -> Url {
        Url {
            host: host.to_string(),
            ..self.clone()
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.scheme.is_empty() {
            write!(f, "{}:", self.scheme)?;
        }
        if !self.opaque.is_empty() {
            f.write_str(&self.opaque)?;
        } else {
            if (!self.scheme.is_empty() || !self.host.is_empty() || self.userinfo.is_some())
                && (!self.host.is_empty() || !self.path.is_empty() || self.userinfo.is_some())
            {
                f.write_str("//")?;
            }
            if let Some(userinfo) = &self.userinfo {
                write!(f, "{userinfo}@")?;
            }
            f.write_str(&escape_host(&self.host))?;
            if !self.path.is_empty() && !self.path.starts_with('/') && !self.host.is_empty() {
                f.write_str("/")?;
            }
            f.write_str(&self.path)?;
        }
        if self.force_query || !self.raw_query.is_empty() {
            write!(f, "?{}", self.raw_query)?;
        }
        if !self.fragment.is_empty() {
            write!(f, "#{}", self.fragment)?;
        }
        Ok(())
    }
}

/// Parses a comma-separated list the way etcd's URL flags do (`types.NewURLs` over
/// `strings.Split(s, ",")`): every element must be valid and the result is sorted by text.
pub(super) fn parse_url_list(s: &str) -> Result<Vec<Url>, String> {
    let mut urls = s
        .split(',')
        .map(Url::parse_etcd)
        .collect::<Result<Vec<_>, _>>()?;
    sort_urls(&mut urls);
    Ok(urls)
}

/// Sorts URLs by their text, as etcd's `types.URLs.Sort` does.
pub(super) fn sort_urls(urls: &mut [Url]) {
    urls.sort_by_cached_key(Url::to_string);
}

/// Joins URLs with commas, as etcd's `types.URLs.String` does.
pub(super) fn join_urls(urls: &[Url]) -> String {
    urls.iter()
        .map(Url::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits `host:port` like Go's `net.SplitHostPort`; the error is Go's reason text.
pub(super) fn split_host_port(hostport: &str) -> Result<(&str, &str), &'static str> {
    let colon = hostport.rfind(':').ok_or("missing port in address")?;
    let (host, after_host) = if hostport.starts_with('[') {
        let end = hostport.find(']').ok_or("missing ']' in address")?;
        if end + 1 == hostport.len() {
            return Err("missing port in address");
        }
        if end + 1 != colon {
            return Err(if hostport.as_bytes()[end + 1] == b':' {
                "too many colons in address"
            } else {
                "missing port in address"
            });
        }
        (&hostport[1..end], end + 1)
    } else {
        let host = &hostport[..colon];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        (host, 0)
    };
    let open_from = if hostport.starts_with('[') { 1 } else { 0 };
    if hostport[open_from..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hostport[after_host..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host, &hostport[colon + 1..]))
}

/// Whether `host` is an IP literal by Go's `net.ParseIP` rules.
pub(super) fn is_ip(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

fn parse_without_fragment(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    let mut url = Url {
        scheme: String::new(),
        opaque: String::new(),
        userinfo: None,
        host: String::new(),
        path: String::new(),
        raw_query: String::new(),
        force_query: false,
        fragment: String::new(),
    };
    if raw == "*" {
        url.path = "*".to_string();
        return Ok(url);
    }
    let (scheme, mut rest) = split_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some((before, query)) = rest.split_once('?') {
        url.raw_query = query.to_string();
        rest = before;
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_string();
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or(rest);
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let authority_and_path = &rest[2..];
        let (authority, path) = match authority_and_path.find('/') {
            Some(i) => (&authority_and_path[..i], &authority_and_path[i..]),
            None => (authority_and_path, ""),
        };
        let (userinfo, host) = parse_authority(authority)?;
        url.userinfo = userinfo;
        url.host = host;
        rest = path;
    }
    unescape(rest, Encoding::Path)?;
    url.path = rest.to_string();
    Ok(url)
}

/// Go's `getScheme`: a scheme is letters then letters, digits, `+`, `-` or `.` before `:`.
fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".to_string()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_authority(authority: &str) -> Result<(Option<String>, String), String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = parse_host(host)?;
    if let Some(userinfo) = userinfo {
        if !userinfo.bytes().all(valid_userinfo_byte) {
            return Err("net/url: invalid userinfo".to_string());
        }
        unescape(userinfo, Encoding::UserPassword)?;
    }
    Ok((userinfo.map(str::to_string), host))
}

fn valid_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b':'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
                | b'@'
        )
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let close = host.rfind(']').ok_or("missing ']' in host")?;
        let port = &host[close + 1..];
        if !valid_optional_port(port) {
            return Err(format!("invalid port {} after host", quote(port)));
        }
    } else if let Some(colon) = host.rfind(':') {
        let port = &host[colon..];
        if !valid_optional_port(port) {
            return Err(format!("invalid port {} after host", quote(port)));
        }
    }
    unescape(host, Encoding::Host)
}

fn valid_optional_port(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Path,
    Host,
    UserPassword,
    Fragment,
}

/// Go's `unescape`: validates `%XX` sequences (and, in hosts, the allowed characters) and
/// returns the decoded text.
fn unescape(s: &str, mode: Encoding) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let escape = s.get(i..(i + 3).min(s.len())).unwrap_or(&s[i..]);
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|c| hex_value(*c)),
                bytes.get(i + 2).and_then(|c| hex_value(*c)),
            ) else {
                return Err(format!("invalid URL escape {}", quote(escape)));
            };
            // Go only lets hosts percent-encode non-ASCII bytes (and "%25" in zones).
            if mode == Encoding::Host && hi < 8 && escape != "%25" {
                return Err(format!("invalid URL escape {}", quote(escape)));
            }
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        if mode == Encoding::Host && b < 0x80 && host_byte_needs_escape(b) {
            return Err(format!(
                "invalid character {} in host name",
                quote((b as char).to_string())
            ));
        }
        out.push(b);
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Go's `shouldEscape(c, encodeHost)` for ASCII bytes.
fn host_byte_needs_escape(b: u8) -> bool {
    !(b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        ))
}

/// Go's `escape(host, encodeHost)`: non-ASCII bytes and unsafe characters become `%XX`.
fn escape_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for &b in host.as_bytes() {
        if b >= 0x80 || host_byte_needs_escape(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etcd(s: &str) -> Result<String, String> {
        Url::parse_etcd(s).map(|u| u.to_string())
    }

    #[test]
    fn plain_urls_print_back_unchanged() {
        for s in [
            "http://localhost:2379",
            "https://10.0.0.1:2380",
            "http://[::1]:2379",
            "unix://localhost:1234",
            "unixs://sock:0",
            "http://a:",
            "http://user:pw@h:1",
        ] {
            assert_eq!(etcd(s).as_deref(), Ok(s), "{s}");
        }
    }

    #[test]
    fn scheme_is_lowercased_and_input_trimmed() {
        assert_eq!(etcd(" HTTP://h:1 ").as_deref(), Ok("http://h:1"));
    }

    #[test]
    fn etcd_rejections_use_etcd_messages() {
        assert_eq!(
            etcd("127.0.0.1:2380"),
            Err(
                r#"parse "127.0.0.1:2380": first path segment in URL cannot contain colon"#
                    .to_string()
            )
        );
        assert_eq!(
            etcd("localhost:2380"),
            Err("URL scheme must be http, https, unix, or unixs: localhost:2380".to_string())
        );
        assert_eq!(
            etcd(""),
            Err("URL scheme must be http, https, unix, or unixs: ".to_string())
        );
        assert_eq!(
            etcd("ftp://h:1"),
            Err("URL scheme must be http, https, unix, or unixs: ftp://h:1".to_string())
        );
        assert_eq!(
            etcd("http://127.0.0.1"),
            Err(r#"URL address does not have the form "host:port": http://127.0.0.1"#.to_string())
        );
        assert_eq!(
            etcd("http://h:1/"),
            Err("URL must not contain a path: http://h:1/".to_string())
        );
        assert_eq!(
            etcd("http://h:1/x"),
            Err("URL must not contain a path: http://h:1/x".to_string())
        );
        assert_eq!(
            etcd("://h:1"),
            Err(r#"parse "://h:1": missing protocol scheme"#.to_string())
        );
        assert_eq!(
            etcd("http://a b:1"),
            Err(r#"parse "http://a b:1": invalid character " " in host name"#.to_string())
        );
        assert_eq!(
            etcd("http://h:x"),
            Err(r#"parse "http://h:x": invalid port ":x" after host"#.to_string())
        );
        assert_eq!(
            etcd("http://[::1:1"),
            Err(r#"parse "http://[::1:1": missing ']' in host"#.to_string())
        );
        assert_eq!(
            etcd("http://h:1/%zz"),
            Err(r#"parse "http://h:1/%zz": invalid URL escape "%zz""#.to_string())
        );
    }

    #[test]
    fn lists_are_split_validated_and_sorted() {
        let urls = parse_url_list("http://b:2,http://a:1").map(|u| join_urls(&u));
        assert_eq!(urls.as_deref(), Ok("http://a:1,http://b:2"));
        assert!(parse_url_list("http://a:1,").is_err());
    }

    #[test]
    fn host_and_port_accessors() {
        let u = Url::parse_etcd("http://[::1]:2379").expect("valid");
        assert_eq!(u.host(), "[::1]:2379");
        assert_eq!(u.hostname(), "::1");
        assert_eq!(u.port(), "2379");
        assert!(!u.is_tls());
        let u = Url::parse_etcd("unixs://s:1").expect("valid");
        assert!(u.is_unix() && u.is_tls());
    }

    #[test]
    fn split_host_port_matches_go() {
        assert_eq!(split_host_port("h:1"), Ok(("h", "1")));
        assert_eq!(split_host_port("[::1]:1"), Ok(("::1", "1")));
        assert_eq!(split_host_port(":1"), Ok(("", "1")));
        assert_eq!(split_host_port("h"), Err("missing port in address"));
        assert_eq!(split_host_port("::1:2"), Err("too many colons in address"));
        assert_eq!(split_host_port("[::1]"), Err("missing port in address"));
        assert_eq!(split_host_port("[::1]x:1"), Err("missing port in address"));
        assert_eq!(split_host_port("a]:1"), Err("unexpected ']' in address"));
        assert_eq!(split_host_port("a[:1"), Err("unexpected '[' in address"));
    }

    #[test]
    fn ip_detection() {
        assert!(is_ip("127.0.0.1"));
        assert!(is_ip("::1"));
        assert!(!is_ip("localhost"));
        assert!(!is_ip("example.com"));
    }
}
