//! How oxutl fails: etcdutl's `Error: <message>` line on stderr and cobrautl's exit codes.

/// cobrautl's `ExitError`.
pub const EXIT_ERROR: i32 = 1;
/// cobrautl's `ExitBadFeature`.
pub const EXIT_BAD_FEATURE: i32 = 4;
/// cobrautl's `ExitBadArgs`.
pub const EXIT_BAD_ARGS: i32 = 128;

/// A failed command: the message etcdutl prints after `Error: ` and its exit code.
#[derive(Debug)]
pub struct Failure {
    /// The message.
    pub message: String,
    /// The exit code.
    pub code: i32,
}

impl Failure {
    /// An `ExitError` failure.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_ERROR,
        }
    }

    /// An `ExitBadArgs` failure.
    pub fn bad_args(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_BAD_ARGS,
        }
    }

    /// An `ExitBadFeature` failure.
    pub fn bad_feature(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_BAD_FEATURE,
        }
    }
}
