//! The oxcd server: configuration, bootstrap, the apply loop and the client-facing services.

pub mod config;
pub mod logging;
