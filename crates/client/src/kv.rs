//! Typed KV calls: [`Client::get`], [`Client::put`], [`Client::delete`], [`Client::compact`],
//! their option builders, and thin response wrappers that keep the protobuf answer reachable.

use crate::client::Client;
use crate::error::ClientError;
use oxcd_api::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, ResponseHeader, range_request,
};
use oxcd_api::key_range::prefix_end;
use oxcd_api::mvccpb::KeyValue;

/// The header of an answer, or an all-zero one when the server sent none.
pub(crate) fn header_of(header: &Option<ResponseHeader>) -> &ResponseHeader {
    static EMPTY: ResponseHeader = ResponseHeader {
        cluster_id: 0,
        member_id: 0,
        revision: 0,
        raft_term: 0,
    };
    header.as_ref().unwrap_or(&EMPTY)
}

/// Where a request's key range ends: at the key, at an explicit end, or the whole prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum RangeEnd {
    #[default]
    Key,
    End(Vec<u8>),
    Prefix,
    FromKey,
}

impl RangeEnd {
    /// The `key` and `range_end` fields for `key`; an empty key with a prefix or from-key
    /// range means every key, as clientv3 sends it (`"\0"` to `"\0"`, or from `"\0"`).
    pub(crate) fn apply(&self, key: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        match self {
            RangeEnd::Key => (key, Vec::new()),
            RangeEnd::End(end) => (key, end.clone()),
            RangeEnd::Prefix if key.is_empty() => (vec![0], vec![0]),
            RangeEnd::Prefix => {
                let end = prefix_end(&key);
                (key, end)
            }
            RangeEnd::FromKey if key.is_empty() => (vec![0], vec![0]),
            RangeEnd::FromKey => (key, vec![0]),
        }
    }
}

/// Options of [`Client::get`] (etcd's `RangeRequest`), built by chaining.
///
/// ```
/// use oxcd_client::GetOptions;
/// let options = GetOptions::new().prefix().limit(10).keys_only();
/// ```
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    range_end: RangeEnd,
    request: RangeRequest,
}

impl GetOptions {
    /// Reads one key, linearizably, at the newest revision.
    pub fn new() -> GetOptions {
        GetOptions::default()
    }

    /// Reads every key starting with the key (clientv3's `WithPrefix`); an empty key then
    /// means every key.
    pub fn prefix(mut self) -> GetOptions {
        self.range_end = RangeEnd::Prefix;
        self
    }

    /// Reads the keys in `[key, end)` (clientv3's `WithRange`).
    pub fn range_end(mut self, end: impl Into<Vec<u8>>) -> GetOptions {
        self.range_end = RangeEnd::End(end.into());
        self
    }

    /// Reads every key at or after the key (clientv3's `WithFromKey`).
    pub fn from_key(mut self) -> GetOptions {
        self.range_end = RangeEnd::FromKey;
        self
    }

    /// Reads at an older revision (0: the newest).
    pub fn revision(mut self, revision: i64) -> GetOptions {
        self.request.revision = revision;
        self
    }

    /// Returns at most `limit` keys (0: no limit); `more` tells whether there were more.
    pub fn limit(mut self, limit: i64) -> GetOptions {
        self.request.limit = limit;
        self
    }

    /// Returns keys without values.
    pub fn keys_only(mut self) -> GetOptions {
        self.request.keys_only = true;
        self
    }

    /// Returns only the number of keys in the range.
    pub fn count_only(mut self) -> GetOptions {
        self.request.count_only = true;
        self
    }

    /// Answers from the member's local state without a quorum round (may be stale).
    pub fn serializable(mut self) -> GetOptions {
        self.request.serializable = true;
        self
    }

    /// Sorts the keys by `target` in `order`.
    pub fn sort(
        mut self,
        target: range_request::SortTarget,
        order: range_request::SortOrder,
    ) -> GetOptions {
        self.request.sort_target = target as i32;
        self.request.sort_order = order as i32;
        self
    }

    /// Only keys last modified at or after `revision`.
    pub fn min_mod_revision(mut self, revision: i64) -> GetOptions {
        self.request.min_mod_revision = revision;
        self
    }

    /// Only keys last modified at or before `revision`.
    pub fn max_mod_revision(mut self, revision: i64) -> GetOptions {
        self.request.max_mod_revision = revision;
        self
    }

    /// Only keys created at or after `revision`.
    pub fn min_create_revision(mut self, revision: i64) -> GetOptions {
        self.request.min_create_revision = revision;
        self
    }

    /// Only keys created at or before `revision`.
    pub fn max_create_revision(mut self, revision: i64) -> GetOptions {
        self.request.max_create_revision = revision;
        self
    }

    /// The protobuf request for `key`.
    pub fn into_request(self, key: impl Into<Vec<u8>>) -> RangeRequest {
        let (key, range_end) = self.range_end.apply(key.into());
        RangeRequest {
            key,
            range_end,
            ..self.request
        }
    }
}

/// Options of [`Client::put`] (etcd's `PutRequest`).
///
/// ```
/// use oxcd_client::PutOptions;
/// let options = PutOptions::new().lease(0x1234).prev_kv();
/// ```
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    request: PutRequest,
}

impl PutOptions {
    /// A plain put without lease.
    pub fn new() -> PutOptions {
        PutOptions::default()
    }

    /// Attaches the key to a lease: it is deleted when the lease ends.
    pub fn lease(mut self, lease: i64) -> PutOptions {
        self.request.lease = lease;
        self
    }

    /// Returns the key-value pair as it was before the put.
    pub fn prev_kv(mut self) -> PutOptions {
        self.request.prev_kv = true;
        self
    }

    /// Keeps the current value, changing only the lease (fails if the key does not exist).
    pub fn ignore_value(mut self) -> PutOptions {
        self.request.ignore_value = true;
        self
    }

    /// Keeps the current lease, changing only the value (fails if the key does not exist).
    pub fn ignore_lease(mut self) -> PutOptions {
        self.request.ignore_lease = true;
        self
    }

    /// The protobuf request putting `value` under `key`.
    pub fn into_request(self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> PutRequest {
        PutRequest {
            key: key.into(),
            value: value.into(),
            ..self.request
        }
    }
}

/// Options of [`Client::delete`] (etcd's `DeleteRangeRequest`).
///
/// ```
/// use oxcd_client::DeleteOptions;
/// let options = DeleteOptions::new().prefix().prev_kv();
/// ```
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    range_end: RangeEnd,
    prev_kv: bool,
}

impl DeleteOptions {
    /// Deletes one key.
    pub fn new() -> DeleteOptions {
        DeleteOptions::default()
    }

    /// Deletes every key starting with the key.
    pub fn prefix(mut self) -> DeleteOptions {
        self.range_end = RangeEnd::Prefix;
        self
    }

    /// Deletes the keys in `[key, end)`.
    pub fn range_end(mut self, end: impl Into<Vec<u8>>) -> DeleteOptions {
        self.range_end = RangeEnd::End(end.into());
        self
    }

    /// Deletes every key at or after the key.
    pub fn from_key(mut self) -> DeleteOptions {
        self.range_end = RangeEnd::FromKey;
        self
    }

    /// Returns the deleted key-value pairs.
    pub fn prev_kv(mut self) -> DeleteOptions {
        self.prev_kv = true;
        self
    }

    /// The protobuf request for `key`.
    pub fn into_request(self, key: impl Into<Vec<u8>>) -> DeleteRangeRequest {
        let (key, range_end) = self.range_end.apply(key.into());
        DeleteRangeRequest {
            key,
            range_end,
            prev_kv: self.prev_kv,
        }
    }
}

/// The answer to [`Client::get`]: the keys found and the revision they were read at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetResponse(pub RangeResponse);

impl GetResponse {
    /// The response header (revision, member, term).
    pub fn header(&self) -> &ResponseHeader {
        header_of(&self.0.header)
    }

    /// The store revision the read saw.
    pub fn revision(&self) -> i64 {
        self.header().revision
    }

    /// The keys found, in key order unless sorted otherwise.
    pub fn kvs(&self) -> &[KeyValue] {
        &self.0.kvs
    }

    /// The first key found, if any (handy for single-key reads).
    pub fn first(&self) -> Option<&KeyValue> {
        self.0.kvs.first()
    }

    /// The number of keys in the range (not limited by `limit`).
    pub fn count(&self) -> i64 {
        self.0.count
    }

    /// Whether `limit` left keys out.
    pub fn more(&self) -> bool {
        self.0.more
    }

    /// The protobuf answer.
    pub fn into_raw(self) -> RangeResponse {
        self.0
    }
}

/// The answer to [`Client::put`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutResult(pub PutResponse);

impl PutResult {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        header_of(&self.0.header)
    }

    /// The revision the put created.
    pub fn revision(&self) -> i64 {
        self.header().revision
    }

    /// The pair before the put, when asked for with [`PutOptions::prev_kv`] and it existed.
    pub fn prev_kv(&self) -> Option<&KeyValue> {
        self.0.prev_kv.as_ref()
    }

    /// The protobuf answer.
    pub fn into_raw(self) -> PutResponse {
        self.0
    }
}

/// The answer to [`Client::delete`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteResult(pub DeleteRangeResponse);

impl DeleteResult {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        header_of(&self.0.header)
    }

    /// The revision after the delete (unchanged when nothing was deleted).
    pub fn revision(&self) -> i64 {
        self.header().revision
    }

    /// How many keys were deleted.
    pub fn deleted(&self) -> i64 {
        self.0.deleted
    }

    /// The deleted pairs, when asked for with [`DeleteOptions::prev_kv`].
    pub fn prev_kvs(&self) -> &[KeyValue] {
        &self.0.prev_kvs
    }

    /// The protobuf answer.
    pub fn into_raw(self) -> DeleteRangeResponse {
        self.0
    }
}

impl Client {
    /// Reads `key` (or the range `options` make of it).
    ///
    /// ```no_run
    /// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::ClientError> {
    /// use oxcd_client::GetOptions;
    /// let found = client.get("config/", GetOptions::new().prefix()).await?;
    /// for kv in found.kvs() {
    ///     println!("{} = {}", String::from_utf8_lossy(&kv.key), String::from_utf8_lossy(&kv.value));
    /// }
    /// println!("read at revision {}", found.revision());
    /// # Ok(()) }
    /// ```
    pub async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: GetOptions,
    ) -> Result<GetResponse, ClientError> {
        let answer = self.kv().range(options.into_request(key)).await?;
        Ok(GetResponse(answer.into_inner()))
    }

    /// Puts `value` under `key`.
    ///
    /// ```no_run
    /// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::ClientError> {
    /// use oxcd_client::PutOptions;
    /// let put = client.put("greeting", "hello", PutOptions::new().prev_kv()).await?;
    /// println!("written at revision {}", put.revision());
    /// # Ok(()) }
    /// ```
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: PutOptions,
    ) -> Result<PutResult, ClientError> {
        let answer = self.kv().put(options.into_request(key, value)).await?;
        Ok(PutResult(answer.into_inner()))
    }

    /// Deletes `key` (or the range `options` make of it).
    ///
    /// ```no_run
    /// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::ClientError> {
    /// use oxcd_client::DeleteOptions;
    /// let gone = client.delete("jobs/", DeleteOptions::new().prefix()).await?;
    /// println!("deleted {} keys", gone.deleted());
    /// # Ok(()) }
    /// ```
    pub async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: DeleteOptions,
    ) -> Result<DeleteResult, ClientError> {
        let answer = self.kv().delete_range(options.into_request(key)).await?;
        Ok(DeleteResult(answer.into_inner()))
    }

    /// Compacts the history up to `revision`: older revisions can no longer be read or
    /// watched. With `physical`, returns once the compaction is applied on disk.
    pub async fn compact(&self, revision: i64, physical: bool) -> Result<i64, ClientError> {
        let answer = self
            .kv()
            .compact(CompactionRequest { revision, physical })
            .await?
            .into_inner();
        Ok(header_of(&answer.header).revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_build_etcds_requests() {
        let get = GetOptions::new()
            .prefix()
            .limit(3)
            .revision(7)
            .serializable()
            .into_request("a/");
        assert_eq!(get.key, b"a/");
        assert_eq!(get.range_end, b"a0");
        assert_eq!((get.limit, get.revision, get.serializable), (3, 7, true));
        assert_eq!(
            GetOptions::new().from_key().into_request("k").range_end,
            [0]
        );
        assert!(GetOptions::new().into_request("k").range_end.is_empty());
        let put = PutOptions::new().lease(5).prev_kv().into_request("k", "v");
        assert_eq!(
            (put.lease, put.prev_kv, put.value.as_slice()),
            (5, true, &b"v"[..])
        );
        let delete = DeleteOptions::new()
            .range_end("z")
            .prev_kv()
            .into_request("a");
        assert_eq!(
            (delete.range_end.as_slice(), delete.prev_kv),
            (&b"z"[..], true)
        );
        assert_eq!(
            DeleteOptions::new().prefix().into_request("").range_end,
            [0]
        );
    }
}
