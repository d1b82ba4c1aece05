//! One Watch stream driven by a test: send create / cancel / progress requests and read the
//! responses, with timeouts so a server that stops answering fails the test instead of hanging.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use oxcd_api::etcdserverpb::watch_client::WatchClient;
use oxcd_api::etcdserverpb::watch_request::RequestUnion;
use oxcd_api::etcdserverpb::{
    WatchCancelRequest, WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

/// The response side: etcd (grpc-go) sends the stream's headers only with its first message,
/// so the call is left running in a task until a response is wanted.
enum Responses {
    Opening(JoinHandle<Result<Streaming<WatchResponse>, tonic::Status>>),
    Open(Box<Streaming<WatchResponse>>),
}

/// An open Watch stream.
pub struct WatchSession {
    requests: mpsc::Sender<WatchRequest>,
    responses: Responses,
}

impl WatchSession {
    /// Opens a stream on `client`.
    pub async fn open(client: &mut WatchClient<Channel>) -> Result<WatchSession> {
        let (requests, rx) = mpsc::channel(64);
        let mut client = client.clone();
        let call = tokio::spawn(async move {
            client
                .watch(ReceiverStream::new(rx))
                .await
                .map(tonic::Response::into_inner)
        });
        Ok(WatchSession {
            requests,
            responses: Responses::Opening(call),
        })
    }

    async fn responses(&mut self, wait: Duration) -> Result<Option<&mut Streaming<WatchResponse>>> {
        if let Responses::Opening(call) = &mut self.responses {
            let opened = match tokio::time::timeout(wait, call).await {
                Err(_) => return Ok(None),
                Ok(joined) => joined
                    .context("watch call task")?
                    .context("opening a watch stream")?,
            };
            self.responses = Responses::Open(Box::new(opened));
        }
        match &mut self.responses {
            Responses::Open(stream) => Ok(Some(stream)),
            Responses::Opening(_) => Ok(None),
        }
    }

    /// Sends one request.
    pub async fn send(&self, request: RequestUnion) -> Result<()> {
        self.requests
            .send(WatchRequest {
                request_union: Some(request),
            })
            .await
            .map_err(|_| anyhow!("watch stream closed"))
    }

    /// Asks for a watcher.
    pub async fn create(&self, create: WatchCreateRequest) -> Result<()> {
        self.send(RequestUnion::CreateRequest(create)).await
    }

    /// Cancels watcher `watch_id`.
    pub async fn cancel(&self, watch_id: i64) -> Result<()> {
        self.send(RequestUnion::CancelRequest(WatchCancelRequest { watch_id }))
            .await
    }

    /// Asks for a progress notification.
    pub async fn request_progress(&self) -> Result<()> {
        self.send(RequestUnion::ProgressRequest(WatchProgressRequest {}))
            .await
    }

    /// The next response, or `None` if none arrives within `wait`. An error if the stream ended.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<WatchResponse>> {
        let deadline = tokio::time::Instant::now() + wait;
        let Some(responses) = self.responses(wait).await? else {
            return Ok(None);
        };
        match tokio::time::timeout_at(deadline, responses.message()).await {
            Err(_) => Ok(None),
            Ok(Ok(Some(response))) => Ok(Some(response)),
            Ok(Ok(None)) => Err(anyhow!("watch stream ended")),
            Ok(Err(status)) => Err(anyhow!("watch stream failed: {status}")),
        }
    }

    /// Every response that arrives within `period`.
    pub async fn collect_for(&mut self, period: Duration) -> Result<Vec<WatchResponse>> {
        let deadline = tokio::time::Instant::now() + period;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(out);
            }
            if let Some(response) = self.next(left).await? {
                out.push(response);
            }
        }
    }

    /// Every response until none has arrived for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Result<Vec<WatchResponse>> {
        let mut out = Vec::new();
        while let Some(response) = self.next(quiet).await? {
            out.push(response);
        }
        Ok(out)
    }
}
