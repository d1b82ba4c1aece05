//! Shared harness for the multi-process tests in this crate.
