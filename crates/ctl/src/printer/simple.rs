//! The default `simple` format: keys and values on their own lines, `OK` for put, counts for
//! del, `SUCCESS`/`FAILURE` for txn, comma-separated rows for member and endpoint commands.

use super::{EpHashKv, EpHealth, EpStatus, Printer, hashkv_rows, member_rows, status_rows};
use crate::out::Out;
use oxcd_api::etcdserverpb::{
    AlarmResponse, AlarmType, DeleteRangeResponse, LeaseTimeToLiveResponse, MemberAddResponse,
    MemberListResponse, PutResponse, RangeResponse, TxnResponse, response_op,
};
use oxcd_api::mvccpb::KeyValue;

/// `\x66\x6f\x6f` for `foo`, as etcdctl's `--hex` prints bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
}

fn key_value(out: &mut Out, p: &Printer, kv: &KeyValue) {
    if p.hex {
        if !p.value_only {
            out.line(&hex(&kv.key));
        }
        out.line(&hex(&kv.value));
    } else {
        if !p.value_only {
            out.bytes(&kv.key);
            out.bytes(b"\n");
        }
        out.bytes(&kv.value);
        out.bytes(b"\n");
    }
}

/// `get`: every key and value.
pub fn get(out: &mut Out, p: &Printer, r: &RangeResponse) {
    for kv in &r.kvs {
        key_value(out, p, kv);
    }
}

/// `put`: `OK`, then the previous pair if asked for.
pub fn put(out: &mut Out, p: &Printer, r: &PutResponse) {
    out.line("OK");
    if let Some(prev) = &r.prev_kv {
        key_value(out, p, prev);
    }
}

/// `del`: the number deleted, then the previous pairs if asked for.
pub fn del(out: &mut Out, p: &Printer, r: &DeleteRangeResponse) {
    out.line(&r.deleted.to_string());
    for kv in &r.prev_kvs {
        key_value(out, p, kv);
    }
}

/// `txn`: the outcome, then each response after a blank line.
pub fn txn(out: &mut Out, p: &Printer, r: &TxnResponse) {
    out.line(if r.succeeded { "SUCCESS" } else { "FAILURE" });
    for op in &r.responses {
        out.line("");
        match &op.response {
            Some(response_op::Response::ResponseDeleteRange(d)) => del(out, p, d),
            Some(response_op::Response::ResponsePut(put_response)) => put(out, p, put_response),
            Some(response_op::Response::ResponseRange(range)) => get(out, p, range),
            other => out.line(&format!("unexpected response {other:?}")),
        }
    }
}

/// A watch response: each event's type, then the previous pair if asked for, then the pair.
pub fn watch(out: &mut Out, p: &Printer, r: &oxcd_api::etcdserverpb::WatchResponse) {
    for event in &r.events {
        out.line(&event_type_name(event.r#type));
        if let Some(prev) = &event.prev_kv {
            key_value(out, p, prev);
        }
        key_value(out, p, &event.kv.clone().unwrap_or_default());
    }
}

/// An event type as Go prints it (`PUT`, `DELETE`).
pub fn event_type_name(value: i32) -> String {
    oxcd_api::mvccpb::event::EventType::try_from(value)
        .map_or_else(|_| value.to_string(), |t| t.as_str_name().to_string())
}

/// `member list`: one comma-separated row per member.
pub fn member_list(out: &mut Out, r: &MemberListResponse) {
    for row in member_rows(r) {
        out.line(&row.join(", "));
    }
}

/// `member add`: the first line (the command adds the `ETCD_*` block).
pub fn member_add(out: &mut Out, r: &MemberAddResponse) {
    let id = r.member.as_ref().map_or(0, |m| m.id);
    let cluster = r.header.as_ref().map_or(0, |h| h.cluster_id);
    out.line(&format!("Member {id:16x} added to cluster {cluster:16x}"));
}

/// `lease timetolive`.
pub fn lease_timetolive(out: &mut Out, r: &LeaseTimeToLiveResponse, keys: bool) {
    if r.granted_ttl == 0 && r.ttl == -1 {
        out.line(&format!("lease {:016x} already expired", r.id));
        return;
    }
    let mut text = format!(
        "lease {:016x} granted with TTL({}s), remaining({}s)",
        r.id, r.granted_ttl, r.ttl
    );
    if keys {
        let names: Vec<String> = r
            .keys
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        text.push_str(&format!(", attached keys([{}])", names.join(" ")));
    }
    out.line(&text);
}

/// `alarm list`: each alarm as Go's `%+v` prints the protobuf message (its compact text).
pub fn alarm(out: &mut Out, r: &AlarmResponse) {
    for a in &r.alarms {
        let mut text = String::new();
        if a.member_id != 0 {
            text.push_str(&format!("memberID:{} ", a.member_id));
        }
        if a.alarm != 0 {
            let name = AlarmType::try_from(a.alarm)
                .map_or_else(|_| a.alarm.to_string(), |t| t.as_str_name().to_string());
            text.push_str(&format!("alarm:{name} "));
        }
        out.line(&text);
    }
}

/// `endpoint health`: healthy endpoints on stdout, unhealthy ones on stderr.
pub fn endpoint_health(out: &mut Out, list: &[EpHealth]) {
    for h in list {
        if h.error.is_empty() {
            out.line(&format!(
                "{} is healthy: successfully committed proposal: took = {}",
                h.endpoint, h.took
            ));
        } else {
            out.err_line(&format!(
                "{} is unhealthy: failed to commit proposal: {}",
                h.endpoint, h.error
            ));
        }
    }
}

/// `endpoint status`: one comma-separated row per endpoint.
pub fn endpoint_status(out: &mut Out, list: &[EpStatus]) {
    for row in status_rows(list) {
        out.line(&row.join(", "));
    }
}

/// `endpoint hashkv`: `endpoint, hash` per endpoint.
pub fn endpoint_hashkv(out: &mut Out, list: &[EpHashKv]) {
    for row in hashkv_rows(list) {
        out.line(&row.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::Format;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v.into(),
            ..Default::default()
        }
    }

    fn printed(f: impl FnOnce(&mut Out)) -> String {
        let mut out = Out::default();
        f(&mut out);
        out.stdout_text()
    }

    #[test]
    fn get_and_hex() {
        let r = RangeResponse {
            kvs: vec![kv("foo", "bar")],
            ..Default::default()
        };
        let plain = Printer::new(Format::Simple, false);
        assert_eq!(printed(|o| get(o, &plain, &r)), "foo\nbar\n");
        let hexed = Printer::new(Format::Simple, true);
        assert_eq!(
            printed(|o| get(o, &hexed, &r)),
            "\\x66\\x6f\\x6f\n\\x62\\x61\\x72\n"
        );
        let value_only = Printer {
            value_only: true,
            ..plain
        };
        assert_eq!(printed(|o| get(o, &value_only, &r)), "bar\n");
    }

    #[test]
    fn member_add_pads_ids_to_sixteen_columns() {
        let r = MemberAddResponse {
            header: Some(oxcd_api::etcdserverpb::ResponseHeader {
                cluster_id: 0xabc,
                ..Default::default()
            }),
            member: Some(oxcd_api::etcdserverpb::Member {
                id: 0x1234,
                ..Default::default()
            }),
            members: vec![],
        };
        assert_eq!(
            printed(|o| member_add(o, &r)),
            "Member             1234 added to cluster              abc\n"
        );
    }
}
