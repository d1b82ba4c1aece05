//! The `protobuf` format: the response's wire encoding, written as-is without a newline.

use crate::out::Out;
use oxcd_api::etcdserverpb::ResponseHeader;
use prost::Message;

/// Writes `message` encoded.
pub fn print<M: Message>(out: &mut Out, message: &M) {
    out.bytes(&message.encode_to_vec());
}

/// Writes only the response header encoded, as etcdctl does for the lease responses whose
/// client-side wrappers embed the header.
pub fn header_only(out: &mut Out, header: Option<&ResponseHeader>) {
    if let Some(header) = header {
        out.bytes(&header.encode_to_vec());
    }
}

/// gogoproto's compact text form of a header: non-zero fields, each followed by a space;
/// `<nil>` for a missing header.
pub fn header_text(header: Option<&ResponseHeader>) -> String {
    let Some(h) = header else {
        return "<nil>".to_string();
    };
    let mut text = String::new();
    if h.cluster_id != 0 {
        text.push_str(&format!("cluster_id:{} ", h.cluster_id));
    }
    if h.member_id != 0 {
        text.push_str(&format!("member_id:{} ", h.member_id));
    }
    if h.revision != 0 {
        text.push_str(&format!("revision:{} ", h.revision));
    }
    if h.raft_term != 0 {
        text.push_str(&format!("raft_term:{} ", h.raft_term));
    }
    text
}
