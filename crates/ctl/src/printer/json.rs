//! The `json` format: Go's `encoding/json` rendering of etcd's response structs (gogoproto
//! field tags, `omitempty`, bytes as base64), plus etcdctl's hand-written hex member list.

use super::{EpHashKv, EpHealth, EpStatus};
use oxcd_api::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse, MemberListResponse,
    PutResponse, RangeResponse, ResponseHeader, StatusResponse, TxnResponse, response_op,
};
use oxcd_api::mvccpb::KeyValue;
use oxcd_etcd_compat::gotext::json::{Object, push_string};

fn header(o: &mut Object<'_>, h: Option<&ResponseHeader>) {
    if let Some(h) = h {
        header_as(o, "header", h);
    }
}

/// A response header under `name` (protobuf's JSON field names, zero fields omitted).
fn header_as(o: &mut Object<'_>, name: &str, h: &ResponseHeader) {
    let mut inner = Object::new(o.key(name));
    inner.num("cluster_id", h.cluster_id);
    inner.num("member_id", h.member_id);
    inner.num("revision", h.revision);
    inner.num("raft_term", h.raft_term);
    inner.close();
}

fn key_value(out: &mut String, kv: &KeyValue) {
    let mut o = Object::new(out);
    o.bytes("key", &kv.key);
    o.num("create_revision", kv.create_revision);
    o.num("mod_revision", kv.mod_revision);
    o.num("version", kv.version);
    o.bytes("value", &kv.value);
    o.num("lease", kv.lease);
    o.close();
}

fn key_values(o: &mut Object<'_>, key: &str, kvs: &[KeyValue]) {
    if kvs.is_empty() {
        return;
    }
    let out = o.key(key);
    out.push('[');
    for (i, kv) in kvs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        key_value(out, kv);
    }
    out.push(']');
}

fn range_into(out: &mut String, r: &RangeResponse) {
    let mut o = Object::new(out);
    header(&mut o, r.header.as_ref());
    key_values(&mut o, "kvs", &r.kvs);
    o.flag("more", r.more);
    o.num("count", r.count);
    o.close();
}

fn put_into(out: &mut String, r: &PutResponse) {
    let mut o = Object::new(out);
    header(&mut o, r.header.as_ref());
    if let Some(prev) = &r.prev_kv {
        key_value(o.key("prev_kv"), prev);
    }
    o.close();
}

fn delete_into(out: &mut String, r: &DeleteRangeResponse) {
    let mut o = Object::new(out);
    header(&mut o, r.header.as_ref());
    o.num("deleted", r.deleted);
    key_values(&mut o, "prev_kvs", &r.prev_kvs);
    o.close();
}

fn txn_into(out: &mut String, r: &TxnResponse) {
    let mut o = Object::new(out);
    header(&mut o, r.header.as_ref());
    o.flag("succeeded", r.succeeded);
    if !r.responses.is_empty() {
        let list = o.key("responses");
        list.push('[');
        for (i, op) in r.responses.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            let mut op_object = Object::new(list);
            // gogoproto's oneof field has no JSON tag, so Go names it after the Go field.
            if let Some(response) = &op.response {
                let wrapper = op_object.key("Response");
                let mut w = Object::new(wrapper);
                match response {
                    response_op::Response::ResponseRange(g) => {
                        range_into(w.key("response_range"), g)
                    }
                    response_op::Response::ResponsePut(p) => put_into(w.key("response_put"), p),
                    response_op::Response::ResponseDeleteRange(d) => {
                        delete_into(w.key("response_delete_range"), d)
                    }
                    response_op::Response::ResponseTxn(t) => txn_into(w.key("response_txn"), t),
                }
                w.close();
            }
            op_object.close();
        }
        list.push(']');
    }
    o.close();
}

fn member_into(out: &mut String, m: &Member) {
    let mut o = Object::new(out);
    o.num("ID", m.id);
    o.text("name", &m.name);
    o.texts("peerURLs", &m.peer_ur_ls);
    o.texts("clientURLs", &m.client_ur_ls);
    o.flag("isLearner", m.is_learner);
    o.close();
}

fn members(o: &mut Object<'_>, list: &[Member]) {
    if list.is_empty() {
        return;
    }
    let out = o.key("members");
    out.push('[');
    for (i, m) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        member_into(out, m);
    }
    out.push(']');
}

fn status_into(out: &mut String, r: &StatusResponse) {
    let mut o = Object::new(out);
    header(&mut o, r.header.as_ref());
    o.text("version", &r.version);
    o.num("dbSize", r.db_size);
    o.num("leader", r.leader);
    o.num("raftIndex", r.raft_index);
    o.num("raftTerm", r.raft_term);
    o.num("raftAppliedIndex", r.raft_applied_index);
    o.texts("errors", &r.errors);
    o.num("dbSizeInUse", r.db_size_in_use);
    o.flag("isLearner", r.is_learner);
    o.close();
}

fn hashkv_into(out: &mut String, r: &HashKvResponse) {
    let mut o = Object::new(out);
    header(&mut o, r.header.as_ref());
    o.num("hash", r.hash);
    o.num("compact_revision", r.compact_revision);
    o.close();
}

/// The header's fields inlined, as Go marshals clientv3's wrappers that embed
/// `*pb.ResponseHeader`.
fn flattened_header(o: &mut Object<'_>, h: Option<&ResponseHeader>) {
    if let Some(h) = h {
        o.num("cluster_id", h.cluster_id);
        o.num("member_id", h.member_id);
        o.num("revision", h.revision);
        o.num("raft_term", h.raft_term);
    }
}

/// Responses that carry nothing but their header.
pub fn header_only(h: Option<&ResponseHeader>) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    header(&mut o, h);
    o.close();
    out
}

/// `lease grant` (clientv3's `LeaseGrantResponse`).
pub fn lease_grant(r: &LeaseGrantResponse) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    flattened_header(&mut o, r.header.as_ref());
    o.key("ID").push_str(&r.id.to_string());
    o.key("TTL").push_str(&r.ttl.to_string());
    push_string(o.key("Error"), r.error.as_bytes());
    o.close();
    out
}

/// `lease keep-alive` (clientv3's `LeaseKeepAliveResponse`).
pub fn lease_keepalive(r: &LeaseKeepAliveResponse) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    flattened_header(&mut o, r.header.as_ref());
    o.key("ID").push_str(&r.id.to_string());
    o.key("TTL").push_str(&r.ttl.to_string());
    o.close();
    out
}

/// `lease timetolive` (clientv3's `LeaseTimeToLiveResponse`).
pub fn lease_timetolive(r: &LeaseTimeToLiveResponse) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    flattened_header(&mut o, r.header.as_ref());
    o.key("id").push_str(&r.id.to_string());
    o.key("ttl").push_str(&r.ttl.to_string());
    o.key("granted-ttl").push_str(&r.granted_ttl.to_string());
    let keys = o.key("keys");
    if r.keys.is_empty() {
        keys.push_str("null");
    } else {
        keys.push('[');
        for (i, key) in r.keys.iter().enumerate() {
            if i > 0 {
                keys.push(',');
            }
            oxcd_etcd_compat::gotext::json::push_bytes(keys, key);
        }
        keys.push(']');
    }
    o.close();
    out
}

/// `lease list` (clientv3's `LeaseLeasesResponse`).
pub fn lease_list(r: &LeaseLeasesResponse) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    flattened_header(&mut o, r.header.as_ref());
    let list = o.key("leases");
    list.push('[');
    for (i, lease) in r.leases.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&format!("{{\"id\":{}}}", lease.id));
    }
    list.push(']');
    o.close();
    out
}

/// `alarm list` / `alarm disarm`.
pub fn alarm(r: &AlarmResponse) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    header(&mut o, r.header.as_ref());
    if !r.alarms.is_empty() {
        let list = o.key("alarms");
        list.push('[');
        for (i, a) in r.alarms.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            let mut item = Object::new(list);
            item.num("memberID", a.member_id);
            item.num("alarm", a.alarm);
            item.close();
        }
        list.push(']');
    }
    o.close();
    out
}

/// A watch response as Go marshals clientv3's `WatchResponse` (exported fields, no tags).
pub fn watch(r: &oxcd_api::etcdserverpb::WatchResponse) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    // clientv3's field is a value, not a pointer: always there, even when empty.
    header_as(&mut o, "Header", &r.header.unwrap_or_default());
    // clientv3 always allocates the event slice, so even an empty one prints as `[]`.
    let events = o.key("Events");
    events.push('[');
    for (i, event) in r.events.iter().enumerate() {
        if i > 0 {
            events.push(',');
        }
        let mut e = Object::new(events);
        e.num("type", event.r#type);
        if let Some(kv) = &event.kv {
            key_value(e.key("kv"), kv);
        }
        if let Some(prev) = &event.prev_kv {
            key_value(e.key("prev_kv"), prev);
        }
        e.close();
    }
    events.push(']');
    o.key("CompactRevision")
        .push_str(&r.compact_revision.to_string());
    o.key("Canceled").push_str(&r.canceled.to_string());
    o.key("Created").push_str(&r.created.to_string());
    o.close();
    out
}

/// `get`.
pub fn range(r: &RangeResponse) -> String {
    let mut out = String::new();
    range_into(&mut out, r);
    out
}

/// `put`.
pub fn put(r: &PutResponse) -> String {
    let mut out = String::new();
    put_into(&mut out, r);
    out
}

/// `del`.
pub fn delete(r: &DeleteRangeResponse) -> String {
    let mut out = String::new();
    delete_into(&mut out, r);
    out
}

/// `txn`.
pub fn txn(r: &TxnResponse) -> String {
    let mut out = String::new();
    txn_into(&mut out, r);
    out
}

/// `member list`.
pub fn member_list(r: &MemberListResponse) -> String {
    header_and_members(r.header.as_ref(), &r.members)
}

/// Responses made of a header and the member list (remove, update, promote, list).
pub fn header_and_members(h: Option<&ResponseHeader>, list: &[Member]) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    header(&mut o, h);
    members(&mut o, list);
    o.close();
    out
}

/// `member add`.
pub fn member_add(r: &MemberAddResponse) -> String {
    let mut out = String::new();
    let mut o = Object::new(&mut out);
    header(&mut o, r.header.as_ref());
    if let Some(m) = &r.member {
        member_into(o.key("member"), m);
    }
    members(&mut o, &r.members);
    o.close();
    out
}

/// `member list -w json --hex`: etcdctl writes this one by hand, IDs in hex, the member
/// name unescaped and `clientURLS` spelled as etcdctl spells it.
pub fn member_list_hex(r: &MemberListResponse) -> String {
    let h = r.header.unwrap_or_default();
    let mut out = format!(
        "{{\"header\":{{\"cluster_id\":\"{:x}\",\"member_id\":\"{:x}\",\"raft_term\":{:x}}}",
        h.cluster_id, h.member_id, h.raft_term
    );
    for (i, m) in r.members.iter().enumerate() {
        out.push_str(if i == 0 {
            ",\"members\":[{\"ID\":\""
        } else {
            ",{\"ID\":\""
        });
        out.push_str(&format!("{:x}", m.id));
        out.push_str(&format!("\",\"name\":\"{}\",\"peerURLs\":", m.name));
        string_list(&mut out, &m.peer_ur_ls);
        out.push_str(",\"clientURLS\":");
        string_list(&mut out, &m.client_ur_ls);
        out.push('}');
        if i + 1 == r.members.len() {
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// A Go `[]string` marshalled: `null` when nil, else an array.
fn string_list(out: &mut String, list: &[String]) {
    if list.is_empty() {
        out.push_str("null");
        return;
    }
    out.push('[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, s.as_bytes());
    }
    out.push(']');
}

/// `endpoint health`.
pub fn endpoint_health(list: &[EpHealth]) -> String {
    let mut out = String::from("[");
    for (i, h) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"endpoint\":");
        push_string(&mut out, h.endpoint.as_bytes());
        out.push_str(&format!(",\"health\":{},\"took\":", h.health));
        push_string(&mut out, h.took.as_bytes());
        if !h.error.is_empty() {
            out.push_str(",\"error\":");
            push_string(&mut out, h.error.as_bytes());
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// `endpoint status`.
pub fn endpoint_status(list: &[EpStatus]) -> String {
    let mut out = String::from("[");
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Endpoint\":");
        push_string(&mut out, s.endpoint.as_bytes());
        out.push_str(",\"Status\":");
        status_into(&mut out, &s.status);
        out.push('}');
    }
    out.push(']');
    out
}

/// `endpoint hashkv`.
pub fn endpoint_hashkv(list: &[EpHashKv]) -> String {
    let mut out = String::from("[");
    for (i, h) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Endpoint\":");
        push_string(&mut out, h.endpoint.as_bytes());
        out.push_str(",\"HashKV\":");
        hashkv_into(&mut out, &h.hash);
        out.push('}');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_matches_etcdctl() {
        let r = RangeResponse {
            header: Some(ResponseHeader {
                cluster_id: 15118495548433857066,
                member_id: 13668033151171901709,
                revision: 3,
                raft_term: 2,
            }),
            kvs: vec![KeyValue {
                key: b"foo".to_vec(),
                create_revision: 2,
                mod_revision: 2,
                version: 1,
                value: b"bar".to_vec(),
                lease: 0,
            }],
            more: false,
            count: 1,
        };
        assert_eq!(
            range(&r),
            r#"{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":3,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"}],"count":1}"#
        );
    }

    #[test]
    fn txn_wraps_responses_like_gogoproto() {
        let r = TxnResponse {
            header: Some(ResponseHeader {
                revision: 6,
                ..Default::default()
            }),
            succeeded: true,
            responses: vec![oxcd_api::etcdserverpb::ResponseOp {
                response: Some(response_op::Response::ResponsePut(PutResponse {
                    header: Some(ResponseHeader {
                        revision: 6,
                        ..Default::default()
                    }),
                    prev_kv: None,
                })),
            }],
        };
        assert_eq!(
            txn(&r),
            r#"{"header":{"revision":6},"succeeded":true,"responses":[{"Response":{"response_put":{"header":{"revision":6}}}}]}"#
        );
    }
}
