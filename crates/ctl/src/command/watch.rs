//! `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]` and its
//! interactive mode: events printed as they arrive, optionally running a command for each.

use super::watch_args::{self, BAD_ARGS_NUM, WatchArgs};
use crate::cli::command_path::find;
use crate::cli::command_tree::tree;
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, EXIT_INVALID_INPUT, Stop};
use crate::cli::flag::{FlagKind, FlagSet, FlagSpec};
use crate::cli::global::Context;
use crate::command::txn_input::{TxnReader, argify};
use crate::out::Out;
use crate::printer::Printer;
use oxcd_api::etcdserverpb::{
    WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse, watch_request,
};
use oxcd_api::key_range::prefix_end;
use oxcd_client::{Client, ClientError};
use oxcd_etcd_compat::gotext::quote::quote;
use std::collections::{HashMap, VecDeque};
use tokio::sync::mpsc;

/// Exit code etcdctl uses when the server ends a watch.
const EXIT_INTERRUPTED: i32 = 5;

/// The watch ID the server uses for progress notifications meant for every watch.
const ALL_WATCHES: i64 = -1;

/// `etcdctl watch`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    let env_key = env_value(ctx, "ETCDCTL_WATCH_KEY");
    let env_range = env_value(ctx, "ETCDCTL_WATCH_RANGE_END");
    if env_key.is_empty() && !env_range.is_empty() {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            format!(
                "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
                quote(env_range.as_bytes())
            ),
        )
        .into());
    }
    // These variables belong to `watch`, so they draw no "unrecognized" warning.
    for name in ["watch-key", "watch-range-end"] {
        ctx.inherited
            .push(FlagSpec::new(name, FlagKind::String, "", ""));
    }
    let root = tree();
    let (path, _) = find(&root, &["watch".to_string()]);
    let watch_command = path.command().clone();
    if ctx.flags.bool("interactive") {
        return interactive(ctx, &watch_command, &env_key, &env_range).await;
    }
    let parsed = watch_args::parse(
        &watch_command,
        &ctx.raw_args,
        &ctx.args,
        &env_key,
        &env_range,
        false,
    )
    .map_err(|e| CtlError::new(EXIT_BAD_ARGS, e))?;
    let (client, printer) = ctx.connect().await?;
    let create =
        create_request(&ctx.flags, &parsed.keys).map_err(|e| CtlError::new(EXIT_BAD_ARGS, e))?;
    let mut session = WatchSession::open(&client, printer);
    session.create(create, parsed.exec).await?;
    ctx.out.flush();
    session.serve().await?;
    Err(CtlError::new(EXIT_INTERRUPTED, "watch is canceled by the server").into())
}

fn env_value(ctx: &Context, name: &str) -> String {
    ctx.environ
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// `getWatchChan`'s request: key, range or prefix, start revision, options.
fn create_request(flags: &FlagSet, keys: &[String]) -> Result<WatchCreateRequest, String> {
    let Some(key) = keys.first() else {
        return Err(BAD_ARGS_NUM.to_string());
    };
    let prefix = flags.bool("prefix");
    let mut request = WatchCreateRequest {
        key: key.as_bytes().to_vec(),
        start_revision: flags.int("rev"),
        prev_kv: flags.bool("prev-kv"),
        progress_notify: flags.bool("progress-notify"),
        ..Default::default()
    };
    if keys.len() == 2 {
        if prefix {
            return Err("`range_end` and `--prefix` are mutually exclusive".to_string());
        }
        request.range_end = keys[1].as_bytes().to_vec();
    }
    if prefix {
        if request.key.is_empty() {
            request.key = vec![0];
            request.range_end = vec![0];
        } else {
            request.range_end = prefix_end(&request.key);
        }
    }
    Ok(request)
}

/// Interactive mode: `watch ...` and `progress` lines from standard input.
async fn interactive(
    ctx: &mut Context,
    watch_command: &crate::cli::command::Command,
    env_key: &str,
    env_range: &str,
) -> Result<(), Stop> {
    let (client, printer) = ctx.connect().await?;
    let mut session = WatchSession::open(&client, printer);
    let (lines_tx, mut lines_rx) = mpsc::channel::<Result<String, String>>(16);
    // Standard input blocks, so it is read on its own thread.
    std::thread::spawn(move || {
        let mut reader = TxnReader::new(std::io::stdin());
        loop {
            let line = reader.read_line().map_err(|stop| match stop {
                Stop::Fail(e) => e.message,
                Stop::Exit(_) => "EOF".to_string(),
            });
            let failed = line.is_err();
            if lines_tx.blocking_send(line).is_err() || failed {
                return;
            }
        }
    });
    loop {
        tokio::select! {
            line = lines_rx.recv() => {
                let line = match line {
                    Some(Ok(line)) => line,
                    Some(Err(e)) => {
                        return Err(CtlError::new(
                            EXIT_INVALID_INPUT,
                            format!("error reading watch request line: {e}"),
                        ).into());
                    }
                    None => return Err(CtlError::new(EXIT_INVALID_INPUT, "error reading watch request line: EOF").into()),
                };
                let line = line.strip_suffix('\n').unwrap_or(&line).to_string();
                let args = argify(&line)?;
                match args.first().map(String::as_str) {
                    None => ctx.out.err_line(&format!("Invalid command: {line} (watch and progress supported)")),
                    Some("watch") => {
                        if args.len() < 2 && env_key.is_empty() {
                            ctx.out.err_line(&format!("Invalid command {line} (command type or key is not provided)"));
                            continue;
                        }
                        let parsed: WatchArgs = watch_args::parse(watch_command, &ctx.raw_args, &args, env_key, env_range, true)
                            .map_err(|e| CtlError::new(EXIT_BAD_ARGS, e))?;
                        let flags = parsed.flags.clone().unwrap_or_else(|| ctx.flags.clone());
                        match create_request(&flags, &parsed.keys) {
                            Ok(create) => session.create(create, parsed.exec).await?,
                            Err(e) => ctx.out.err_line(&format!("Invalid command {line} ({e})")),
                        }
                    }
                    Some("progress") => session.request_progress().await?,
                    Some(_) => ctx.out.err_line(&format!("Invalid command {line} (only support watch)")),
                }
            }
            ended = session.next() => {
                if !ended? {
                    // The server ended the stream; etcdctl keeps reading lines regardless.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// One bidirectional Watch stream carrying any number of watches, printing what arrives.
struct WatchSession {
    requests: mpsc::Sender<WatchRequest>,
    /// What the server sends, forwarded by the task that owns the call; ends with the stream,
    /// after the error that ended it, if any.
    responses: mpsc::Receiver<Result<WatchResponse, tonic::Status>>,
    printer: Printer,
    /// Exec commands of watches whose creation is not confirmed yet, in request order.
    pending: VecDeque<Vec<String>>,
    /// Exec commands of live watches, by watch ID.
    live: HashMap<i64, Vec<String>>,
    out: Out,
}

impl WatchSession {
    /// Starts the stream. The call runs on its own task because, like etcd, a server need not
    /// answer before it has received the first create request, which is sent after this returns.
    fn open(client: &Client, printer: Printer) -> WatchSession {
        let (requests, rx) = mpsc::channel(16);
        let mut request = tonic::Request::new(
            tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(rx),
        );
        // Like clientv3's WithRequireLeader: the server ends watches when it loses its leader.
        request.metadata_mut().insert(
            "hasleader",
            tonic::metadata::MetadataValue::from_static("true"),
        );
        let (responses_tx, responses) = mpsc::channel(16);
        let mut watch = client.watch();
        tokio::spawn(async move {
            let mut stream = match watch.watch(request).await {
                Ok(response) => response.into_inner(),
                Err(status) => {
                    let _ = responses_tx.send(Err(status)).await;
                    return;
                }
            };
            loop {
                let item = match stream.message().await {
                    Ok(Some(response)) => Ok(response),
                    Ok(None) => return,
                    Err(status) => Err(status),
                };
                let failed = item.is_err();
                if responses_tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        WatchSession {
            requests,
            responses,
            printer,
            pending: VecDeque::new(),
            live: HashMap::new(),
            out: Out::default(),
        }
    }

    async fn send(&self, union: watch_request::RequestUnion) -> Result<(), Stop> {
        self.requests
            .send(WatchRequest {
                request_union: Some(union),
            })
            .await
            .map_err(|_| CtlError::new(EXIT_INTERRUPTED, "watch is canceled by the server").into())
    }

    async fn create(&mut self, create: WatchCreateRequest, exec: Vec<String>) -> Result<(), Stop> {
        self.pending.push_back(exec);
        self.send(watch_request::RequestUnion::CreateRequest(create))
            .await
    }

    async fn request_progress(&mut self) -> Result<(), Stop> {
        self.send(watch_request::RequestUnion::ProgressRequest(
            WatchProgressRequest {},
        ))
        .await
    }

    /// Handles responses until every watch has ended.
    async fn serve(&mut self) -> Result<(), Stop> {
        while self.next().await? {
            if self.live.is_empty() && self.pending.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// Handles one response; false once the stream has ended.
    async fn next(&mut self) -> Result<bool, Stop> {
        let response = match self.responses.recv().await {
            Some(Ok(response)) => response,
            Some(Err(status)) => {
                // clientv3 reports a broken stream as the cancellation of every watch on it.
                let error = ClientError::from(status);
                self.out.err_line(&format!("watch was canceled ({error})"));
                self.out.flush();
                self.live.clear();
                self.pending.clear();
                return Ok(false);
            }
            None => {
                self.live.clear();
                self.pending.clear();
                return Ok(false);
            }
        };
        if response.created {
            let exec = self.pending.pop_front().unwrap_or_default();
            if response.canceled {
                self.report_cancel(&response)?;
            } else {
                self.live.insert(response.watch_id, exec);
            }
            return Ok(true);
        }
        let watches: Vec<i64> = if response.watch_id == ALL_WATCHES {
            self.live.keys().copied().collect()
        } else {
            vec![response.watch_id]
        };
        for watch_id in watches {
            let exec = self.live.get(&watch_id).cloned().unwrap_or_default();
            self.deliver(&response, &exec).await?;
            if response.canceled {
                self.live.remove(&watch_id);
            }
        }
        Ok(true)
    }

    fn report_cancel(&mut self, response: &WatchResponse) -> Result<(), Stop> {
        let reason = cancel_error(response);
        self.out.err_line(&format!("watch was canceled ({reason})"));
        self.printer.watch(&mut self.out, response)?;
        self.out.flush();
        Ok(())
    }

    /// Prints a response as `printWatchCh` does and runs the exec command per event.
    async fn deliver(&mut self, response: &WatchResponse, exec: &[String]) -> Result<(), Stop> {
        if response.canceled {
            return self.report_cancel(response);
        }
        let progress = response.events.is_empty()
            && response.compact_revision == 0
            && response.header.is_some_and(|h| h.revision != 0);
        if progress {
            let revision = response.header.map_or(0, |h| h.revision);
            self.out.line(&format!("progress notify: {revision}"));
        }
        self.printer.watch(&mut self.out, response)?;
        self.out.flush();
        if exec.is_empty() {
            return Ok(());
        }
        for event in &response.events {
            let kv = event.kv.clone().unwrap_or_default();
            let status = tokio::process::Command::new(&exec[0])
                .args(&exec[1..])
                .env(
                    "ETCD_WATCH_REVISION",
                    response.header.map_or(0, |h| h.revision).to_string(),
                )
                .env(
                    "ETCD_WATCH_EVENT_TYPE",
                    quote(crate::printer::simple::event_type_name(event.r#type).as_bytes()),
                )
                .env("ETCD_WATCH_KEY", quote(&kv.key))
                .env("ETCD_WATCH_VALUE", quote(&kv.value))
                .status()
                .await;
            let failure = match status {
                Ok(status) if status.success() => None,
                Ok(status) => Some(format!("exit status {}", status.code().unwrap_or(-1))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!(
                    "exec: {}: executable file not found in $PATH",
                    quote(exec[0].as_bytes())
                )),
                Err(e) => Some(e.to_string()),
            };
            if let Some(failure) = failure {
                let words: Vec<String> = exec.iter().map(|w| quote(w.as_bytes())).collect();
                self.out
                    .err_line(&format!("command [{}] error ({failure})", words.join(" ")));
                return Err(Stop::Exit(1));
            }
        }
        Ok(())
    }
}

/// clientv3's `WatchResponse.Err()` for a canceled watch.
fn cancel_error(response: &WatchResponse) -> String {
    if response.compact_revision != 0 {
        return oxcd_api::EtcdError::Compacted.message().to_string();
    }
    if !response.cancel_reason.is_empty() {
        let status = tonic::Status::failed_precondition(response.cancel_reason.clone());
        return ClientError::from(status).to_string();
    }
    oxcd_api::EtcdError::FutureRev.message().to_string()
}
