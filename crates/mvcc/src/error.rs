//! The storage engine's failures as the rest of oxcd sees them: what was being done, and why it
//! failed (the engine's own error, kept as the source).

/// A failure of the storage engine, with what was being done when it happened.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct BackendError {
    context: &'static str,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl BackendError {
    /// Wraps an error with the operation that failed.
    pub fn new(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> BackendError {
        BackendError {
            context,
            source: source.into(),
        }
    }

    /// A closure for `map_err` that adds `context`.
    pub(crate) fn with<E>(context: &'static str) -> impl FnOnce(E) -> BackendError
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        move |e| BackendError::new(context, e)
    }
}
