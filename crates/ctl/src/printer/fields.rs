//! The `fields` format: one `"Name" : value` line per field, strings quoted as Go's `%q`.

use super::{EpHashKv, EpHealth, EpStatus};
use crate::out::Out;
use oxcd_api::etcdserverpb::{
    AlarmResponse, AlarmType, DeleteRangeResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse,
    MemberListResponse, PutResponse, RangeResponse, ResponseHeader, TxnResponse, response_op,
};
use oxcd_api::mvccpb::KeyValue;
use oxcd_etcd_compat::gotext::quote::quote;

fn header(out: &mut Out, h: Option<&ResponseHeader>) {
    let h = h.copied().unwrap_or_default();
    out.line(&format!("\"ClusterID\" : {}", h.cluster_id));
    out.line(&format!("\"MemberID\" : {}", h.member_id));
    out.line(&format!("\"Revision\" : {}", h.revision));
    out.line(&format!("\"RaftTerm\" : {}", h.raft_term));
}

fn key_value(out: &mut Out, prefix: &str, kv: &KeyValue) {
    out.line(&format!("\"{prefix}Key\" : {}", quote(&kv.key)));
    out.line(&format!(
        "\"{prefix}CreateRevision\" : {}",
        kv.create_revision
    ));
    out.line(&format!("\"{prefix}ModRevision\" : {}", kv.mod_revision));
    out.line(&format!("\"{prefix}Version\" : {}", kv.version));
    out.line(&format!("\"{prefix}Value\" : {}", quote(&kv.value)));
    out.line(&format!("\"{prefix}Lease\" : {}", kv.lease));
}

/// Responses that carry nothing but their header.
pub fn header_only(out: &mut Out, h: Option<&ResponseHeader>) {
    header(out, h);
}

/// `lease grant` and `lease keep-alive`.
pub fn lease_id_ttl(out: &mut Out, h: Option<&ResponseHeader>, id: i64, ttl: i64) {
    header(out, h);
    out.line(&format!("\"ID\" : {id}"));
    out.line(&format!("\"TTL\" : {ttl}"));
}

/// `lease timetolive`.
pub fn lease_timetolive(out: &mut Out, r: &LeaseTimeToLiveResponse) {
    lease_id_ttl(out, r.header.as_ref(), r.id, r.ttl);
    out.line(&format!("\"GrantedTTL\" : {}", r.granted_ttl));
    for key in &r.keys {
        out.line(&format!("\"Key\" : {}", quote(key)));
    }
}

/// `lease list`.
pub fn lease_list(out: &mut Out, r: &LeaseLeasesResponse) {
    header(out, r.header.as_ref());
    for lease in &r.leases {
        out.line(&format!("\"ID\" : {}", lease.id));
    }
}

/// `alarm list`.
pub fn alarm(out: &mut Out, r: &AlarmResponse) {
    header(out, r.header.as_ref());
    for a in &r.alarms {
        out.line(&format!("\"MemberID\" : {}", a.member_id));
        let name = AlarmType::try_from(a.alarm)
            .map_or_else(|_| a.alarm.to_string(), |t| t.as_str_name().to_string());
        out.line(&format!("\"AlarmType\" : {name}"));
        out.line("");
    }
}

/// `get`.
pub fn get(out: &mut Out, r: &RangeResponse) {
    header(out, r.header.as_ref());
    for kv in &r.kvs {
        key_value(out, "", kv);
    }
    out.line(&format!("\"More\" : {}", r.more));
    out.line(&format!("\"Count\" : {}", r.count));
}

/// `put`.
pub fn put(out: &mut Out, r: &PutResponse) {
    header(out, r.header.as_ref());
    if let Some(prev) = &r.prev_kv {
        key_value(out, "Prev", prev);
    }
}

/// `del`.
pub fn del(out: &mut Out, r: &DeleteRangeResponse) {
    header(out, r.header.as_ref());
    out.line(&format!("\"Deleted\" : {}", r.deleted));
    for kv in &r.prev_kvs {
        key_value(out, "Prev", kv);
    }
}

/// `txn`.
pub fn txn(out: &mut Out, r: &TxnResponse) {
    header(out, r.header.as_ref());
    out.line(&format!("\"Succeeded\" : {}", r.succeeded));
    for op in &r.responses {
        match &op.response {
            Some(response_op::Response::ResponseDeleteRange(d)) => del(out, d),
            Some(response_op::Response::ResponsePut(p)) => put(out, p),
            Some(response_op::Response::ResponseRange(g)) => get(out, g),
            other => out.line(&format!(
                "\"Unknown\" : {}",
                quote(format!("{other:?}").as_bytes())
            )),
        }
    }
}

/// A watch response.
pub fn watch(out: &mut Out, r: &oxcd_api::etcdserverpb::WatchResponse) {
    header(out, Some(&r.header.unwrap_or_default()));
    for event in &r.events {
        out.line(&format!(
            "\"Type\" : {}",
            super::simple::event_type_name(event.r#type)
        ));
        if let Some(prev) = &event.prev_kv {
            key_value(out, "Prev", prev);
        }
        key_value(out, "", &event.kv.clone().unwrap_or_default());
    }
}

/// `member list`.
pub fn member_list(out: &mut Out, r: &MemberListResponse) {
    header(out, r.header.as_ref());
    for m in &r.members {
        out.line(&format!("\"ID\" : {}", m.id));
        out.line(&format!("\"Name\" : {}", quote(m.name.as_bytes())));
        for url in &m.peer_ur_ls {
            out.line(&format!("\"PeerURL\" : {}", quote(url.as_bytes())));
        }
        for url in &m.client_ur_ls {
            out.line(&format!("\"ClientURL\" : {}", quote(url.as_bytes())));
        }
        out.line(&format!("\"IsLearner\" : {}", m.is_learner));
        out.line("");
    }
}

/// `endpoint health`.
pub fn endpoint_health(out: &mut Out, list: &[EpHealth]) {
    for h in list {
        out.line(&format!("\"Endpoint\" : {}", quote(h.endpoint.as_bytes())));
        out.line(&format!("\"Health\" : {}", h.health));
        out.line(&format!("\"Took\" : {}", h.took));
        out.line(&format!("\"Error\" : {}", h.error));
        out.line("");
    }
}

/// `endpoint status`.
pub fn endpoint_status(out: &mut Out, list: &[EpStatus]) {
    for s in list {
        let r = &s.status;
        header(out, r.header.as_ref());
        out.line(&format!("\"Version\" : {}", quote(r.version.as_bytes())));
        out.line(&format!("\"DBSize\" : {}", r.db_size));
        out.line(&format!("\"Leader\" : {}", r.leader));
        out.line(&format!("\"IsLearner\" : {}", r.is_learner));
        out.line(&format!("\"RaftIndex\" : {}", r.raft_index));
        out.line(&format!("\"RaftTerm\" : {}", r.raft_term));
        out.line(&format!("\"RaftAppliedIndex\" : {}", r.raft_applied_index));
        // Go prints a []string as [a b].
        out.line(&format!("\"Errors\" : [{}]", r.errors.join(" ")));
        out.line(&format!("\"Endpoint\" : {}", quote(s.endpoint.as_bytes())));
        out.line("");
    }
}

/// `endpoint hashkv`.
pub fn endpoint_hashkv(out: &mut Out, list: &[EpHashKv]) {
    for h in list {
        header(out, h.hash.header.as_ref());
        out.line(&format!("\"Endpoint\" : {}", quote(h.endpoint.as_bytes())));
        out.line(&format!("\"Hash\" : {}", h.hash.hash));
        out.line("");
    }
}
