//! Who made a request: the user a token or client certificate names and the auth revision
//! the permissions were looked up at, or the member itself. Proposals carry it through raft, so
//! every member checks a write against the same auth state at the same point of the log (etcd
//! puts the same two fields in its request header).

/// The author of a request, as the raft envelope carries it.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct Caller {
    /// The user name; empty for a client that gave no credentials.
    #[prost(string, tag = "1")]
    pub(crate) user: String,
    /// The auth revision the caller's credentials were checked at; 0 without credentials.
    #[prost(uint64, tag = "2")]
    pub(crate) auth_revision: u64,
    /// The member's own work (lease expiry, auto-compaction, publishing itself), which acts
    /// with every right as etcd's internal requests do.
    #[prost(bool, tag = "3")]
    pub(crate) member: bool,
}

impl Caller {
    /// A client that gave no credentials: refused everything while authentication is on.
    pub(crate) fn anonymous() -> Caller {
        Caller::default()
    }

    /// The member acting on its own.
    pub(crate) fn member() -> Caller {
        Caller {
            member: true,
            ..Caller::default()
        }
    }

    /// `user`, whose credentials were checked at auth `revision`.
    pub(crate) fn user(user: String, revision: u64) -> Caller {
        Caller {
            user,
            auth_revision: revision,
            member: false,
        }
    }
}
