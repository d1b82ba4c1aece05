//! Building KV requests from `get`, `put` and `del` flags and arguments, with etcdctl's
//! validation order and messages; shared by those commands and by `txn` request lines.

use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, EXIT_BAD_FEATURE};
use crate::cli::flag::FlagSet;
use oxcd_api::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_api::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};
use oxcd_api::key_range::prefix_end;
use oxcd_etcd_compat::gotext::quote::quote;
use std::io::Read;

/// Applies `--prefix`/`--from-key` to a key, as etcdctl does (an empty key means all keys).
fn apply_range_flags(key: &mut Vec<u8>, range_end: &mut Vec<u8>, prefix: bool, from_key: bool) {
    if prefix {
        if key.is_empty() {
            *key = vec![0];
            *range_end = vec![0];
        } else {
            *range_end = prefix_end(key);
        }
    }
    if from_key {
        if key.is_empty() {
            *key = vec![0];
        }
        *range_end = vec![0];
    }
}

/// `getGetOp`: the range request for `get` flags and arguments.
pub fn get_op(flags: &FlagSet, args: &[String]) -> Result<RangeRequest, CtlError> {
    let bad_args = |m: &str| CtlError::new(EXIT_BAD_ARGS, m);
    if args.is_empty() {
        return Err(bad_args(
            "get command needs one argument as key and an optional argument as range_end",
        ));
    }
    let prefix = flags.bool("prefix");
    let from_key = flags.bool("from-key");
    if prefix && from_key {
        return Err(bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    let keys_only = flags.bool("keys-only");
    let count_only = flags.bool("count-only");
    if keys_only && count_only {
        return Err(bad_args(
            "`--keys-only` and `--count-only` cannot be set at the same time, choose one",
        ));
    }
    let mut request = RangeRequest::default();
    match flags.string("consistency").as_str() {
        "s" => request.serializable = true,
        "l" => {}
        other => {
            return Err(CtlError::new(
                EXIT_BAD_FEATURE,
                format!("unknown consistency flag {}", quote(other.as_bytes())),
            ));
        }
    }
    request.key = args[0].as_bytes().to_vec();
    if args.len() > 1 {
        if prefix || from_key {
            return Err(bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        request.range_end = args[1].as_bytes().to_vec();
    }
    request.limit = flags.int("limit");
    if flags.int("rev") > 0 {
        request.revision = flags.int("rev");
    }
    let order_text = flags.string("order");
    let mut order = match order_text.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => {
            return Err(CtlError::new(
                EXIT_BAD_FEATURE,
                format!("bad sort order {order_text}"),
            ));
        }
    };
    let target_text = flags.string("sort-by");
    let target = match target_text.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => {
            return Err(CtlError::new(
                EXIT_BAD_FEATURE,
                format!("bad sort target {target_text}"),
            ));
        }
    };
    // Keys already come back in ascending key order; clientv3 drops that redundant sort.
    if target == SortTarget::Key && order == SortOrder::Ascend {
        order = SortOrder::None;
    }
    request.sort_order = order as i32;
    request.sort_target = target as i32;
    apply_range_flags(&mut request.key, &mut request.range_end, prefix, from_key);
    request.keys_only = keys_only;
    request.count_only = count_only;
    Ok(request)
}

/// `getPutOp`: the put request; the value comes from the second argument or from `stdin`.
pub fn put_op(
    flags: &FlagSet,
    args: &[String],
    stdin: &mut dyn Read,
) -> Result<PutRequest, CtlError> {
    let needs = "put command needs 1 argument and input from stdin or 2 arguments";
    if args.is_empty() {
        return Err(CtlError::new(EXIT_BAD_ARGS, needs));
    }
    let ignore_value = flags.bool("ignore-value");
    if ignore_value && args.len() > 1 {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "put command needs only 1 argument when 'ignore-value' is set",
        ));
    }
    let mut value = Vec::new();
    if !ignore_value {
        if let Some(arg) = args.get(1) {
            value = arg.as_bytes().to_vec();
        } else {
            let read = stdin.read_to_end(&mut value);
            if read.is_err() || value.is_empty() {
                return Err(CtlError::new(EXIT_BAD_ARGS, needs));
            }
        }
    }
    let lease_text = flags.string("lease");
    let lease = parse_hex_lease(&lease_text).map_err(|e| {
        CtlError::new(
            EXIT_BAD_ARGS,
            format!("bad lease ID ({e}), expecting ID in Hex"),
        )
    })?;
    Ok(PutRequest {
        key: args[0].as_bytes().to_vec(),
        value,
        lease,
        prev_kv: flags.bool("prev-kv"),
        ignore_value,
        ignore_lease: flags.bool("ignore-lease"),
    })
}

/// Go's `strconv.ParseInt(text, 16, 64)`.
pub fn parse_hex_lease(text: &str) -> Result<i64, String> {
    let syntax = || {
        format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            quote(text.as_bytes())
        )
    };
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(syntax());
    }
    let magnitude = u128::from_str_radix(digits, 16).map_err(|_| syntax())?;
    let limit = if negative {
        1u128 << 63
    } else {
        (1u128 << 63) - 1
    };
    if magnitude > limit {
        return Err(format!(
            "strconv.ParseInt: parsing {}: value out of range",
            quote(text.as_bytes())
        ));
    }
    Ok(if negative {
        (magnitude as i128).wrapping_neg() as i64
    } else {
        magnitude as i64
    })
}

/// `getDelOp`: the delete request for `del` flags and arguments.
pub fn del_op(flags: &FlagSet, args: &[String]) -> Result<DeleteRangeRequest, CtlError> {
    if args.is_empty() || args.len() > 2 {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "del command needs one argument as key and an optional argument as range_end",
        ));
    }
    let prefix = flags.bool("prefix");
    let from_key = flags.bool("from-key");
    if prefix && from_key {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    let mut request = DeleteRangeRequest {
        key: args[0].as_bytes().to_vec(),
        ..Default::default()
    };
    if args.len() > 1 {
        if prefix || from_key {
            return Err(CtlError::new(
                EXIT_BAD_ARGS,
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        request.range_end = args[1].as_bytes().to_vec();
    }
    apply_range_flags(&mut request.key, &mut request.range_end, prefix, false);
    request.prev_kv = flags.bool("prev-kv");
    apply_range_flags(&mut request.key, &mut request.range_end, false, from_key);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::command_path::find;
    use crate::cli::command_tree::tree;

    fn flags_for(command: &str, args: &[&str]) -> (FlagSet, Vec<String>) {
        let root = tree();
        let (path, _) = find(&root, &[command.to_string()]);
        let mut flags = path.flag_set();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let positional = flags.parse(&args).unwrap();
        (flags, positional)
    }

    #[test]
    fn get_builds_clientv3_requests() {
        let (flags, args) = flags_for(
            "get",
            &["foo", "--prefix", "--limit", "2", "--order", "descend"],
        );
        let r = get_op(&flags, &args).unwrap();
        assert_eq!(r.key, b"foo");
        assert_eq!(r.range_end, b"fop");
        assert_eq!(r.limit, 2);
        assert_eq!(r.sort_order, SortOrder::Descend as i32);

        let (flags, args) = flags_for("get", &["", "--from-key", "--order=ASCEND"]);
        let r = get_op(&flags, &args).unwrap();
        assert_eq!(r.key, vec![0]);
        assert_eq!(r.range_end, vec![0]);
        assert_eq!(r.sort_order, SortOrder::None as i32);
    }

    #[test]
    fn get_rejects_like_etcdctl() {
        let (flags, args) = flags_for("get", &["a", "--consistency=z"]);
        let err = get_op(&flags, &args).unwrap_err();
        assert_eq!(err.code, EXIT_BAD_FEATURE);
        assert_eq!(err.message, "unknown consistency flag \"z\"");
        let (flags, args) = flags_for("get", &["a", "b", "--prefix"]);
        assert_eq!(get_op(&flags, &args).unwrap_err().code, EXIT_BAD_ARGS);
    }

    #[test]
    fn put_reads_value_from_stdin_and_hex_lease() {
        let (flags, args) = flags_for("put", &["k", "--lease=1f"]);
        let r = put_op(&flags, &args, &mut &b"from stdin\n"[..]).unwrap();
        assert_eq!(r.value, b"from stdin\n");
        assert_eq!(r.lease, 0x1f);
        let (flags, args) = flags_for("put", &["k", "v", "--lease=zz"]);
        let err = put_op(&flags, &args, &mut &b""[..]).unwrap_err();
        assert_eq!(
            err.message,
            "bad lease ID (strconv.ParseInt: parsing \"zz\": invalid syntax), expecting ID in Hex"
        );
        let (flags, args) = flags_for("put", &["k"]);
        assert_eq!(
            put_op(&flags, &args, &mut &b""[..]).unwrap_err().code,
            EXIT_BAD_ARGS
        );
    }
}
