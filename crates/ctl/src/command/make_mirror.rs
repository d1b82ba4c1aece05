//! `etcdctl make-mirror <destination>`: copies the keys under `--prefix` as they are at one
//! revision to the destination cluster (renamed to `--dest-prefix`, or to the root with
//! `--no-dest-prefix`), then follows the source with a watch from the next revision and
//! applies each revision's events in one destination txn. Every 30 s it prints how many keys
//! it has mirrored, as etcdctl does. The destination has TLS settings of its own
//! (`--dest-cacert --dest-cert --dest-key --dest-insecure-transport`).

use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error, connect};
use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, request_op,
};
use oxcd_api::key_range::prefix_end;
use oxcd_api::mvccpb::event::EventType;
use oxcd_client::{Client, ConnectOptions, TlsOptions, WatchError, WatchOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Keys read per page of the initial copy (clientv3 mirror's `batchLimit`).
const BATCH_LIMIT: i64 = 1000;

/// How often the mirrored-key count is printed.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// `etcdctl make-mirror [options] <destination>`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(
            CtlError::new(EXIT_BAD_ARGS, "make-mirror takes one destination argument").into(),
        );
    }
    let destination = ctx.args[0].clone();
    let dest_options = destination_options(ctx)?;
    let dest = connect(std::slice::from_ref(&destination), &dest_options).await?;
    let (source, _) = ctx.connect().await?;
    let prefix = ctx.flags.string("prefix").into_bytes();
    let dest_prefix = ctx.flags.string("dest-prefix").into_bytes();
    let no_dest_prefix = ctx.flags.bool("no-dest-prefix");
    ctx.out.flush();
    let mirror = Mirror {
        source,
        dest,
        prefix,
        dest_prefix,
        no_dest_prefix,
        total: Arc::new(AtomicI64::new(0)),
    };
    let total = mirror.total.clone();
    let reporter = tokio::spawn(async move {
        loop {
            tokio::time::sleep(REPORT_EVERY).await;
            println!("{}", total.load(Ordering::Relaxed));
        }
    });
    let result = mirror.run().await;
    reporter.abort();
    Err(result.into())
}

/// The destination's connection settings: the global dial and keepalive flags, the `--dest-*`
/// TLS files (never skipping verification, as etcdctl's destination settings cannot), and
/// `--dest-user`/`--dest-password`.
fn destination_options(ctx: &mut Context) -> Result<ConnectOptions, Stop> {
    let file = |flag: &str| Some(ctx.flags.string(flag)).filter(|f| !f.is_empty());
    let (cert_file, key_file, ca_file) = (file("dest-cert"), file("dest-key"), file("dest-cacert"));
    let wants_tls = cert_file.is_some()
        || key_file.is_some()
        || ca_file.is_some()
        || !ctx.flags.bool("dest-insecure-transport");
    let tls = wants_tls.then(|| TlsOptions {
        ca_file: ca_file.map(Into::into),
        cert_file: cert_file.map(Into::into),
        key_file: key_file.map(Into::into),
        server_name: None,
        insecure_skip_verify: false,
    });
    // etcdctl's `authDestCfg`.
    let credentials =
        ctx.credentials_from("dest-user", "dest-password", "Destination Password: ")?;
    Ok(ConnectOptions {
        dial_timeout: ctx.flags.duration("dial-timeout"),
        keepalive_time: Some(ctx.flags.duration("keepalive-time")).filter(|d| !d.is_zero()),
        keepalive_timeout: ctx.flags.duration("keepalive-timeout"),
        tls,
        credentials,
        ..ConnectOptions::default()
    })
}

struct Mirror {
    source: Client,
    dest: Client,
    prefix: Vec<u8>,
    dest_prefix: Vec<u8>,
    no_dest_prefix: bool,
    total: Arc<AtomicI64>,
}

impl Mirror {
    /// Mirrors until something fails; what failed is returned, as etcdctl only ever exits
    /// with an error.
    async fn run(mut self) -> CtlError {
        match self.mirror().await {
            Ok(never) => match never {},
            Err(stop) => stop,
        }
    }

    async fn mirror(&mut self) -> Result<std::convert::Infallible, CtlError> {
        // Any key serves to learn the revision the copy is made at.
        let probe = RangeRequest {
            key: b"foo".to_vec(),
            ..Default::default()
        };
        let revision = self
            .source
            .kv()
            .range(probe)
            .await
            .map_err(call_error)?
            .into_inner()
            .header
            .map_or(0, |h| h.revision);
        if self.no_dest_prefix && !self.dest_prefix.is_empty() {
            return Err(CtlError::new(
                EXIT_BAD_ARGS,
                "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one",
            ));
        }
        if !self.no_dest_prefix && self.dest_prefix.is_empty() {
            self.dest_prefix = self.prefix.clone();
        }
        self.copy_base(revision).await?;
        self.follow(revision + 1).await
    }

    /// The keys under the prefix at `revision`, page by page, each put to the destination.
    async fn copy_base(&self, revision: i64) -> Result<(), CtlError> {
        let (mut key, range_end) = if self.prefix.is_empty() {
            (vec![0], vec![0])
        } else {
            (self.prefix.clone(), prefix_end(&self.prefix))
        };
        loop {
            let page = RangeRequest {
                key: key.clone(),
                range_end: range_end.clone(),
                limit: BATCH_LIMIT,
                revision,
                ..Default::default()
            };
            let page = self
                .source
                .kv()
                .range(page)
                .await
                .map_err(call_error)?
                .into_inner();
            for kv in &page.kvs {
                let put = PutRequest {
                    key: self.renamed(&kv.key),
                    value: kv.value.clone(),
                    ..Default::default()
                };
                self.dest.kv().put(put).await.map_err(call_error)?;
                self.total.fetch_add(1, Ordering::Relaxed);
            }
            match page.kvs.last() {
                Some(last) if page.more => {
                    key = last.key.clone();
                    key.push(0);
                }
                _ => return Ok(()),
            }
        }
    }

    /// Applies the source's changes from `start` on, one destination txn per revision.
    async fn follow(&self, start: i64) -> Result<std::convert::Infallible, CtlError> {
        let (key, options) = if self.prefix.is_empty() {
            (vec![0], WatchOptions::new().from_key())
        } else {
            (self.prefix.clone(), WatchOptions::new().prefix())
        };
        let mut changes = self.source.watch_stream(key, options.start_revision(start));
        while let Some(batch) = changes.next().await {
            let batch = batch.map_err(|error| match error {
                WatchError::Compacted { .. } => CtlError::error(EtcdError::Compacted.to_string()),
                other => CtlError::error(other.to_string()),
            })?;
            let mut ops = Vec::new();
            let mut last_revision = 0;
            for event in &batch.events {
                let Some(kv) = &event.kv else { continue };
                if last_revision != 0 && kv.mod_revision > last_revision {
                    self.apply(std::mem::take(&mut ops)).await?;
                }
                last_revision = kv.mod_revision;
                let key = self.renamed(&kv.key);
                let request = match event.r#type() {
                    EventType::Put => request_op::Request::RequestPut(PutRequest {
                        key,
                        value: kv.value.clone(),
                        ..Default::default()
                    }),
                    EventType::Delete => {
                        request_op::Request::RequestDeleteRange(DeleteRangeRequest {
                            key,
                            ..Default::default()
                        })
                    }
                };
                ops.push(RequestOp {
                    request: Some(request),
                });
                self.total.fetch_add(1, Ordering::Relaxed);
            }
            if !ops.is_empty() {
                self.apply(ops).await?;
            }
        }
        Err(CtlError::error("watch on the source cluster ended"))
    }

    async fn apply(&self, ops: Vec<RequestOp>) -> Result<(), CtlError> {
        let txn = TxnRequest {
            success: ops,
            ..Default::default()
        };
        self.dest.kv().txn(txn).await.map_err(call_error)?;
        Ok(())
    }

    /// The key with the first occurrence of the prefix replaced by the destination prefix
    /// (Go's `strings.Replace(key, prefix, destPrefix, 1)`; an empty prefix matches at the
    /// start).
    fn renamed(&self, key: &[u8]) -> Vec<u8> {
        replace_first(key, &self.prefix, &self.dest_prefix)
    }
}

fn replace_first(key: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = if from.is_empty() {
        Some(0)
    } else {
        key.windows(from.len()).position(|w| w == from)
    };
    match at {
        Some(at) => {
            let mut out = key[..at].to_vec();
            out.extend_from_slice(to);
            out.extend_from_slice(&key[at + from.len()..]);
            out
        }
        None => key.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_like_go_strings_replace_once() {
        assert_eq!(replace_first(b"/a/x/a/", b"/a/", b"/b/"), b"/b/x/a/");
        assert_eq!(replace_first(b"key", b"", b"p/"), b"p/key");
        assert_eq!(replace_first(b"key", b"zz", b"p/"), b"key");
        assert_eq!(replace_first(b"/a/k", b"/a/", b""), b"k");
    }
}
