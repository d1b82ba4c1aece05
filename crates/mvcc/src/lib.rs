//! Multi-version key-value store (being built).
