//! etcdctl's output formats (`-w simple|json|fields|table|protobuf`, with `--hex`): one
//! printer per format, each printing exactly what etcdctl's does, and etcdctl's
//! "not supported as output format" errors where a format lacks a command.

pub mod auth;
pub mod fields;
pub mod json;
pub mod protobuf;
pub mod simple;
pub mod table;

use crate::cli::exit::{CtlError, EXIT_BAD_FEATURE};
use crate::out::Out;
use oxcd_api::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberAddResponse,
    MemberListResponse, MemberPromoteResponse, MemberRemoveResponse, MemberUpdateResponse,
    MoveLeaderResponse, PutResponse, RangeResponse, StatusResponse, TxnResponse, WatchResponse,
};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text (default).
    Simple,
    /// etcdctl's JSON.
    Json,
    /// `"Field" : value` lines.
    Fields,
    /// Bordered tables.
    Table,
    /// Raw protobuf bytes.
    Protobuf,
}

impl Format {
    /// Parses `--write-out`.
    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "simple" => Format::Simple,
            "json" => Format::Json,
            "fields" => Format::Fields,
            "table" => Format::Table,
            "protobuf" => Format::Protobuf,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Table => "table",
            Format::Protobuf => "protobuf",
        }
    }
}

/// One endpoint's health, as `endpoint health` reports it.
#[derive(Debug, Clone)]
pub struct EpHealth {
    /// Endpoint as given.
    pub endpoint: String,
    /// Whether it is healthy.
    pub health: bool,
    /// How long the check took (Go duration text; empty if it never ran).
    pub took: String,
    /// Why it is unhealthy.
    pub error: String,
}

/// One endpoint's status.
#[derive(Debug, Clone)]
pub struct EpStatus {
    /// Endpoint as given.
    pub endpoint: String,
    /// The server's answer.
    pub status: StatusResponse,
}

/// One endpoint's KV hash.
#[derive(Debug, Clone)]
pub struct EpHashKv {
    /// Endpoint as given.
    pub endpoint: String,
    /// The server's answer.
    pub hash: HashKvResponse,
}

/// The printer selected by `--write-out` and `--hex`.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Output format.
    pub format: Format,
    /// Print keys and values as `\x..` hex.
    pub hex: bool,
    /// Print only values (`get --print-value-only`).
    pub value_only: bool,
}

fn unsupported(format: Format) -> CtlError {
    CtlError::new(
        EXIT_BAD_FEATURE,
        format!("{} not supported as output format", format.name()),
    )
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format, hex: bool) -> Printer {
        Printer {
            format,
            hex,
            value_only: false,
        }
    }

    /// Prints a `get` result.
    pub fn get(&self, out: &mut Out, r: &RangeResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::get(out, self, r),
            Format::Json => out.line(&json::range(r)),
            Format::Fields => fields::get(out, r),
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints a `put` result.
    pub fn put(&self, out: &mut Out, r: &PutResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::put(out, self, r),
            Format::Json => out.line(&json::put(r)),
            Format::Fields => fields::put(out, r),
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints a `del` result.
    pub fn del(&self, out: &mut Out, r: &DeleteRangeResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::del(out, self, r),
            Format::Json => out.line(&json::delete(r)),
            Format::Fields => fields::del(out, r),
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints a `txn` result.
    pub fn txn(&self, out: &mut Out, r: &TxnResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::txn(out, self, r),
            Format::Json => out.line(&json::txn(r)),
            Format::Fields => fields::txn(out, r),
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `member list`.
    pub fn member_list(&self, out: &mut Out, r: &MemberListResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::member_list(out, r),
            Format::Json if self.hex => out.line(&json::member_list_hex(r)),
            Format::Json => out.line(&json::member_list(r)),
            Format::Fields => fields::member_list(out, r),
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => out.text(&table::member_list(r)),
        }
        Ok(())
    }

    /// Prints `member add` (simple adds the `ETCD_*` lines itself, in the command).
    pub fn member_add(&self, out: &mut Out, r: &MemberAddResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::member_add(out, r),
            Format::Json => out.line(&json::member_add(r)),
            Format::Protobuf => protobuf::print(out, r),
            Format::Fields | Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `member remove`.
    pub fn member_remove(
        &self,
        out: &mut Out,
        id: u64,
        r: &MemberRemoveResponse,
    ) -> Result<(), CtlError> {
        self.member_change(out, "removed from", id, r.header.as_ref(), &r.members, r)
    }

    /// Prints `member update`.
    pub fn member_update(
        &self,
        out: &mut Out,
        id: u64,
        r: &MemberUpdateResponse,
    ) -> Result<(), CtlError> {
        self.member_change(out, "updated in", id, r.header.as_ref(), &r.members, r)
    }

    /// Prints `member promote`.
    pub fn member_promote(
        &self,
        out: &mut Out,
        id: u64,
        r: &MemberPromoteResponse,
    ) -> Result<(), CtlError> {
        self.member_change(out, "promoted in", id, r.header.as_ref(), &r.members, r)
    }

    fn member_change<M: prost::Message>(
        &self,
        out: &mut Out,
        verb: &str,
        id: u64,
        header: Option<&oxcd_api::etcdserverpb::ResponseHeader>,
        members: &[oxcd_api::etcdserverpb::Member],
        message: &M,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                let cluster = header.map_or(0, |h| h.cluster_id);
                out.line(&format!("Member {id:16x} {verb} cluster {cluster:16x}"));
            }
            Format::Json => out.line(&json::header_and_members(header, members)),
            Format::Protobuf => protobuf::print(out, message),
            Format::Fields | Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `endpoint health`.
    pub fn endpoint_health(&self, out: &mut Out, list: &[EpHealth]) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::endpoint_health(out, list),
            Format::Json => out.line(&json::endpoint_health(list)),
            Format::Fields => fields::endpoint_health(out, list),
            Format::Table => out.text(&table::endpoint_health(list)),
            Format::Protobuf => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `endpoint status`.
    pub fn endpoint_status(&self, out: &mut Out, list: &[EpStatus]) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::endpoint_status(out, list),
            Format::Json => out.line(&json::endpoint_status(list)),
            Format::Fields => fields::endpoint_status(out, list),
            Format::Table => out.text(&table::endpoint_status(list)),
            Format::Protobuf => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `endpoint hashkv`.
    pub fn endpoint_hashkv(&self, out: &mut Out, list: &[EpHashKv]) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::endpoint_hashkv(out, list),
            Format::Json => out.line(&json::endpoint_hashkv(list)),
            Format::Fields => fields::endpoint_hashkv(out, list),
            Format::Table => out.text(&table::endpoint_hashkv(list)),
            Format::Protobuf => return Err(unsupported(self.format)),
        }
        Ok(())
    }
}

impl Printer {
    /// Prints `lease grant`.
    pub fn lease_grant(&self, out: &mut Out, r: &LeaseGrantResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                out.line(&format!("lease {:016x} granted with TTL({}s)", r.id, r.ttl))
            }
            Format::Json => out.line(&json::lease_grant(r)),
            Format::Fields => fields::lease_id_ttl(out, r.header.as_ref(), r.id, r.ttl),
            // etcdctl's protobuf printer only finds the embedded header's Marshal.
            Format::Protobuf => protobuf::header_only(out, r.header.as_ref()),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `lease revoke`.
    pub fn lease_revoke(
        &self,
        out: &mut Out,
        id: i64,
        r: &LeaseRevokeResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => out.line(&format!("lease {id:016x} revoked")),
            Format::Json => out.line(&json::header_only(r.header.as_ref())),
            Format::Fields => fields::header_only(out, r.header.as_ref()),
            Format::Protobuf => {
                return Err(CtlError::new(
                    EXIT_BAD_FEATURE,
                    format!(
                        "marshal unsupported for type clientv3.LeaseRevokeResponse ({{{} {{}} [] 0}})",
                        protobuf::header_text(r.header.as_ref())
                    ),
                ));
            }
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints one `lease keep-alive` answer.
    pub fn lease_keepalive(
        &self,
        out: &mut Out,
        r: &LeaseKeepAliveResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => out.line(&format!(
                "lease {:016x} keepalived with TTL({})",
                r.id, r.ttl
            )),
            Format::Json => out.line(&json::lease_keepalive(r)),
            Format::Fields => fields::lease_id_ttl(out, r.header.as_ref(), r.id, r.ttl),
            Format::Protobuf => protobuf::header_only(out, r.header.as_ref()),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `lease timetolive`.
    pub fn lease_timetolive(
        &self,
        out: &mut Out,
        r: &LeaseTimeToLiveResponse,
        keys: bool,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::lease_timetolive(out, r, keys),
            Format::Json => out.line(&json::lease_timetolive(r)),
            Format::Fields => fields::lease_timetolive(out, r),
            Format::Protobuf => protobuf::header_only(out, r.header.as_ref()),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `lease list`.
    pub fn lease_list(&self, out: &mut Out, r: &LeaseLeasesResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                out.line(&format!("found {} leases", r.leases.len()));
                for lease in &r.leases {
                    out.line(&format!("{:016x}", lease.id));
                }
            }
            Format::Json => out.line(&json::lease_list(r)),
            Format::Fields => fields::lease_list(out, r),
            Format::Protobuf => protobuf::header_only(out, r.header.as_ref()),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `alarm list` and `alarm disarm`.
    pub fn alarm(&self, out: &mut Out, r: &AlarmResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::alarm(out, r),
            Format::Json => out.line(&json::alarm(r)),
            Format::Fields => fields::alarm(out, r),
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `move-leader`.
    pub fn move_leader(
        &self,
        out: &mut Out,
        leader: u64,
        target: u64,
        r: &MoveLeaderResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => out.line(&format!(
                "Leadership transferred from {leader:x} to {target:x}"
            )),
            Format::Json => out.line(&json::header_only(r.header.as_ref())),
            Format::Protobuf => protobuf::print(out, r),
            Format::Fields | Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }
}

impl Printer {
    /// Prints one watch response as clientv3 delivers it.
    pub fn watch(&self, out: &mut Out, r: &WatchResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::watch(out, self, r),
            Format::Json => out.line(&json::watch(r)),
            Format::Fields => fields::watch(out, r),
            Format::Protobuf => {
                // clientv3's WatchResponse keeps only these fields.
                let trimmed = WatchResponse {
                    header: Some(r.header.unwrap_or_default()),
                    events: r.events.clone(),
                    compact_revision: r.compact_revision,
                    canceled: r.canceled,
                    created: r.created,
                    ..Default::default()
                };
                protobuf::print(out, &trimmed);
            }
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }
}

/// The rows etcdctl's simple and table printers share for `member list`.
pub fn member_rows(r: &MemberListResponse) -> Vec<Vec<String>> {
    r.members
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id),
                if m.name.is_empty() {
                    "unstarted"
                } else {
                    "started"
                }
                .to_string(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect()
}

/// The rows for `endpoint health`.
pub fn health_rows(list: &[EpHealth]) -> Vec<Vec<String>> {
    list.iter()
        .map(|h| {
            vec![
                h.endpoint.clone(),
                h.health.to_string(),
                h.took.clone(),
                h.error.clone(),
            ]
        })
        .collect()
}

/// The rows for `endpoint status`.
pub fn status_rows(list: &[EpStatus]) -> Vec<Vec<String>> {
    list.iter()
        .map(|s| {
            let r = &s.status;
            let member_id = r.header.as_ref().map_or(0, |h| h.member_id);
            vec![
                s.endpoint.clone(),
                format!("{member_id:x}"),
                r.version.clone(),
                oxcd_etcd_compat::gotext::humanize::bytes(r.db_size.max(0) as u64),
                (r.leader == member_id).to_string(),
                r.is_learner.to_string(),
                r.raft_term.to_string(),
                r.raft_index.to_string(),
                r.raft_applied_index.to_string(),
                r.errors.join(", "),
            ]
        })
        .collect()
}

/// The rows for `endpoint hashkv`.
pub fn hashkv_rows(list: &[EpHashKv]) -> Vec<Vec<String>> {
    list.iter()
        .map(|h| vec![h.endpoint.clone(), h.hash.hash.to_string()])
        .collect()
}
