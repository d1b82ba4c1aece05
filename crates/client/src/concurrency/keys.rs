//! The pieces the mutex and the election share (their keys come from `oxcd_api::key_range`): the
//! compare on a key's create revision, reading a transaction's range answers, and deleting a
//! key when a wait is abandoned.

use crate::client::Client;
use oxcd_api::etcdserverpb::{DeleteRangeRequest, TxnResponse, response_op};

/// The first key of the range answer at `index` of a transaction.
pub(super) fn first_kv(answer: &TxnResponse, index: usize) -> Option<&oxcd_api::mvccpb::KeyValue> {
    match answer.responses.get(index)?.response.as_ref()? {
        response_op::Response::ResponseRange(range) => range.kvs.first(),
        _ => None,
    }
}

/// Deletes a lock key in a detached task when a lock wait ends without the lock (an error or
/// the caller dropping the future), as clientv3 unlocks when `Lock`'s context is cancelled.
pub(super) struct DeleteOnDrop {
    pub(super) client: Option<Client>,
    pub(super) key: Vec<u8>,
}

impl DeleteOnDrop {
    /// The lock was granted: keep the key.
    pub(super) fn disarm(&mut self) {
        self.client = None;
    }
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let key = std::mem::take(&mut self.key);
            runtime.spawn(async move {
                let _ = client
                    .kv()
                    .delete_range(DeleteRangeRequest {
                        key,
                        ..Default::default()
                    })
                    .await;
            });
        }
    }
}
