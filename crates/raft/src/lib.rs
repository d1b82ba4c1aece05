//! Consensus for oxcd (being built).
