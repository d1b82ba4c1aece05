//! etcdctl's exit codes (`cobrautl`) and the error type that carries one.

/// Generic failure.
pub const EXIT_ERROR: i32 = 1;
/// Could not connect.
pub const EXIT_BAD_CONNECTION: i32 = 2;
/// Malformed input (txn, watch).
pub const EXIT_INVALID_INPUT: i32 = 3;
/// A valid flag with an unsupported value.
pub const EXIT_BAD_FEATURE: i32 = 4;
/// Wrong arguments.
pub const EXIT_BAD_ARGS: i32 = 128;

/// A failure reported as `Error: <message>` on stderr with an exit code, like
/// `cobrautl.ExitWithError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlError {
    /// Process exit code.
    pub code: i32,
    /// Text after `Error: `.
    pub message: String,
}

impl CtlError {
    /// An error with `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> CtlError {
        CtlError {
            code,
            message: message.into(),
        }
    }

    /// Exit code 1.
    pub fn error(message: impl Into<String>) -> CtlError {
        CtlError::new(EXIT_ERROR, message)
    }
}

/// What a command wants the process to do when it stops early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Print `Error: ...` and exit with the code.
    Fail(CtlError),
    /// Exit with the code; everything was already printed.
    Exit(i32),
}

impl From<CtlError> for Stop {
    fn from(e: CtlError) -> Stop {
        Stop::Fail(e)
    }
}
