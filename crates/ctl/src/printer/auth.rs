//! Output of the `auth`, `user` and `role` commands in every format etcdctl offers for them.

use super::{Format, Printer, protobuf};
use crate::cli::exit::{CtlError, EXIT_BAD_FEATURE};
use crate::out::Out;
use oxcd_api::authpb::Permission;
use oxcd_api::authpb::permission::Type as PermissionType;
use oxcd_api::etcdserverpb::{
    AuthRoleGetResponse, AuthRoleListResponse, AuthStatusResponse, AuthUserGetResponse,
    AuthUserListResponse, ResponseHeader,
};
use oxcd_api::key_range::prefix_end;
use oxcd_etcd_compat::gotext::json::Object;
use oxcd_etcd_compat::gotext::quote::quote;

fn unsupported(format: Format) -> CtlError {
    let name = match format {
        Format::Simple => "simple",
        Format::Json => "json",
        Format::Fields => "fields",
        Format::Table => "table",
        Format::Protobuf => "protobuf",
    };
    CtlError::new(
        EXIT_BAD_FEATURE,
        format!("{name} not supported as output format"),
    )
}

fn fields_header(out: &mut Out, h: Option<&ResponseHeader>) {
    let h = h.copied().unwrap_or_default();
    out.line(&format!("\"ClusterID\" : {}", h.cluster_id));
    out.line(&format!("\"MemberID\" : {}", h.member_id));
    out.line(&format!("\"Revision\" : {}", h.revision));
    out.line(&format!("\"RaftTerm\" : {}", h.raft_term));
}

fn json_header(o: &mut Object<'_>, h: Option<&ResponseHeader>) {
    if let Some(h) = h {
        let mut inner = Object::new(o.key("header"));
        inner.num("cluster_id", h.cluster_id);
        inner.num("member_id", h.member_id);
        inner.num("revision", h.revision);
        inner.num("raft_term", h.raft_term);
        inner.close();
    }
}

fn json_strings(o: &mut Object<'_>, key: &str, values: &[String]) {
    o.texts(key, values);
}

/// A response that is only a header plus a simple-format sentence (most auth changes).
pub struct Change<'a, M: prost::Message> {
    /// The header.
    pub header: Option<&'a ResponseHeader>,
    /// The full response, for `-w protobuf`.
    pub message: &'a M,
    /// What the simple format prints.
    pub sentence: String,
    /// Whether etcdctl's fields printer handles this response.
    pub fields: bool,
}

impl Printer {
    /// Prints a change acknowledged by a header-only response.
    pub fn auth_change<M: prost::Message>(
        &self,
        out: &mut Out,
        change: Change<'_, M>,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => out.line(&change.sentence),
            Format::Json => {
                let mut text = String::new();
                let mut o = Object::new(&mut text);
                json_header(&mut o, change.header);
                o.close();
                out.line(&text);
            }
            Format::Fields if change.fields => fields_header(out, change.header),
            Format::Protobuf => protobuf::print(out, change.message),
            Format::Fields | Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `role get`.
    pub fn role_get(
        &self,
        out: &mut Out,
        role: &str,
        r: &AuthRoleGetResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => role_get_simple(out, role, &r.perm),
            Format::Json => {
                let mut text = String::new();
                let mut o = Object::new(&mut text);
                json_header(&mut o, r.header.as_ref());
                if !r.perm.is_empty() {
                    let list = o.key("perm");
                    list.push('[');
                    for (i, p) in r.perm.iter().enumerate() {
                        if i > 0 {
                            list.push(',');
                        }
                        let mut item = Object::new(list);
                        item.num("permType", p.perm_type);
                        item.bytes("key", &p.key);
                        item.bytes("range_end", &p.range_end);
                        item.close();
                    }
                    list.push(']');
                }
                o.close();
                out.line(&text);
            }
            Format::Fields => {
                fields_header(out, r.header.as_ref());
                for p in &r.perm {
                    // etcdctl prints this label with a trailing space before Println's own.
                    out.line(&format!("\"PermType\" :  {}", permission_name(p.perm_type)));
                    out.line(&format!("\"Key\" : {}", quote(&p.key)));
                    out.line(&format!("\"RangeEnd\" : {}", quote(&p.range_end)));
                }
            }
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `role list`.
    pub fn role_list(&self, out: &mut Out, r: &AuthRoleListResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                for role in &r.roles {
                    out.line(role);
                }
            }
            Format::Json => {
                let mut text = String::new();
                let mut o = Object::new(&mut text);
                json_header(&mut o, r.header.as_ref());
                json_strings(&mut o, "roles", &r.roles);
                o.close();
                out.line(&text);
            }
            Format::Fields => {
                fields_header(out, r.header.as_ref());
                let mut line = String::from("\"Roles\" :");
                for role in &r.roles {
                    line.push(' ');
                    line.push_str(&quote(role.as_bytes()));
                }
                out.line(&line);
            }
            Format::Protobuf => protobuf::print(out, r),
            Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `user get`.
    pub fn user_get(
        &self,
        out: &mut Out,
        user: &str,
        r: &AuthUserGetResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                out.line(&format!("User: {user}"));
                let mut line = String::from("Roles:");
                for role in &r.roles {
                    line.push(' ');
                    line.push_str(role);
                }
                out.line(&line);
            }
            Format::Json => {
                let mut text = String::new();
                let mut o = Object::new(&mut text);
                json_header(&mut o, r.header.as_ref());
                json_strings(&mut o, "roles", &r.roles);
                o.close();
                out.line(&text);
            }
            Format::Protobuf => protobuf::print(out, r),
            Format::Fields | Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `user list`.
    pub fn user_list(&self, out: &mut Out, r: &AuthUserListResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                for user in &r.users {
                    out.line(user);
                }
            }
            Format::Json => {
                let mut text = String::new();
                let mut o = Object::new(&mut text);
                json_header(&mut o, r.header.as_ref());
                json_strings(&mut o, "users", &r.users);
                o.close();
                out.line(&text);
            }
            Format::Protobuf => protobuf::print(out, r),
            Format::Fields | Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }

    /// Prints `auth status`.
    pub fn auth_status(&self, out: &mut Out, r: &AuthStatusResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => {
                out.line(&format!("Authentication Status: {}", r.enabled));
                out.line(&format!("AuthRevision: {}", r.auth_revision));
            }
            Format::Json => {
                let mut text = String::new();
                let mut o = Object::new(&mut text);
                json_header(&mut o, r.header.as_ref());
                o.flag("enabled", r.enabled);
                o.num("authRevision", r.auth_revision);
                o.close();
                out.line(&text);
            }
            Format::Protobuf => protobuf::print(out, r),
            Format::Fields | Format::Table => return Err(unsupported(self.format)),
        }
        Ok(())
    }
}

fn permission_name(value: i32) -> String {
    PermissionType::try_from(value)
        .map_or_else(|_| value.to_string(), |t| t.as_str_name().to_string())
}

/// The simple format of `role get`: read and write permissions, ranges shown as etcdctl
/// shows them.
fn role_get_simple(out: &mut Out, role: &str, perms: &[Permission]) {
    out.line(&format!("Role {role}"));
    let print = |out: &mut Out, p: &Permission| {
        if p.range_end.is_empty() {
            out.bytes(b"\t");
            out.bytes(&p.key);
            out.bytes(b"\n");
            return;
        }
        if p.range_end != [0] {
            out.bytes(b"\t[");
            out.bytes(&p.key);
            out.bytes(b", ");
            out.bytes(&p.range_end);
            out.bytes(b")");
        } else {
            out.bytes(b"\t[");
            out.bytes(&p.key);
            out.bytes(b", <open ended>");
        }
        if prefix_end(&p.key) == p.range_end {
            out.bytes(b" (prefix ");
            out.bytes(&p.key);
            out.bytes(b")");
        }
        out.bytes(b"\n");
    };
    let read = PermissionType::Read as i32;
    let write = PermissionType::Write as i32;
    let both = PermissionType::Readwrite as i32;
    out.line("KV Read:");
    for p in perms
        .iter()
        .filter(|p| p.perm_type == read || p.perm_type == both)
    {
        print(out, p);
    }
    out.line("KV Write:");
    for p in perms
        .iter()
        .filter(|p| p.perm_type == write || p.perm_type == both)
    {
        print(out, p);
    }
}
