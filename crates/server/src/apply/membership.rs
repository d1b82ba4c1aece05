//! Applying membership requests: a member's published name and client URLs, recorded in memory
//! and in the batch's backend transaction. Conf changes (adding and removing voters) are raft's
//! own entries and are handed back to raft by the loop.

use super::step::{Apply, ApplyContext, ApplyError};
use crate::proposal::{MemberAttributes, Outcome};

impl Apply for MemberAttributes {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<()>, ApplyError> {
        cx.state
            .membership()
            .apply_attributes(cx.batch.tables(), self)
            .map_err(ApplyError::storage)?;
        Ok(Ok(()))
    }
}
