//! Errors the client reports, with server statuses mapped back to etcd's typed errors.

use oxcd_api::EtcdError;
use std::fmt;

/// Message of the status a call gets when its deadline passes in the client, as Go prints it.
pub(crate) const DEADLINE_MESSAGE: &str = "context deadline exceeded";

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// An endpoint string could not be parsed.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No endpoint was given.
    #[error("at least one Endpoint is required in client config")]
    NoEndpoints,
    /// The TLS settings could not be used (a file missing or unreadable, a key that does not
    /// match its certificate); the message is the one etcd's clients give.
    #[error("{0}")]
    Tls(String),
    /// The options contradict each other.
    #[error("{0}")]
    InvalidOptions(String),
    /// The server answered with one of etcd's own errors.
    #[error("{error}")]
    Etcd {
        /// The typed error.
        error: EtcdError,
        /// The status as received.
        status: tonic::Status,
    },
    /// Any other gRPC failure, including transport errors and deadlines.
    #[error("{}", GoStatus(.0))]
    Status(tonic::Status),
}

impl ClientError {
    /// The etcd error, if the server reported one.
    pub fn etcd_error(&self) -> Option<EtcdError> {
        match self {
            ClientError::Etcd { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// The gRPC code of a failed call, if this error came from one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Etcd { status, .. } | ClientError::Status(status) => Some(status.code()),
            _ => None,
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        match EtcdError::from_message(status.message()) {
            Some(error) => ClientError::Etcd { error, status },
            None => ClientError::Status(status),
        }
    }
}

/// Formats a status the way Go's gRPC does (`rpc error: code = X desc = Y`), which is what
/// etcdctl prints; the client's own deadline prints as Go's `context deadline exceeded`.
pub(crate) struct GoStatus<'a>(pub &'a tonic::Status);

impl fmt::Display for GoStatus<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.0;
        if status.code() == tonic::Code::DeadlineExceeded && status.message() == DEADLINE_MESSAGE {
            return f.write_str(DEADLINE_MESSAGE);
        }
        write!(
            f,
            "rpc error: code = {} desc = {}",
            go_code_name(status.code()),
            status.message()
        )
    }
}

/// The name Go's `codes.Code.String()` gives a gRPC code.
pub(crate) fn go_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_become_typed_errors() {
        let status = tonic::Status::invalid_argument("etcdserver: key is not provided");
        let err = ClientError::from(status);
        assert_eq!(err.etcd_error(), Some(EtcdError::EmptyKey));
        assert_eq!(err.to_string(), "etcdserver: key is not provided");
        assert_eq!(err.code(), Some(tonic::Code::InvalidArgument));
    }

    #[test]
    fn other_statuses_print_like_go_grpc() {
        let err = ClientError::from(tonic::Status::unavailable("connection refused"));
        assert_eq!(err.etcd_error(), None);
        assert_eq!(
            err.to_string(),
            "rpc error: code = Unavailable desc = connection refused"
        );
        let deadline = ClientError::from(tonic::Status::deadline_exceeded(DEADLINE_MESSAGE));
        assert_eq!(deadline.to_string(), "context deadline exceeded");
    }
}
