//! The member's listeners: on each client listener gRPC and plain HTTP share the port (HTTP/2
//! for gRPC, HTTP/1.1 for `/health` and friends), as on etcd's client port; a
//! `--listen-metrics-urls` listener serves `/metrics` and `/health` only. The JSON gateway
//! (`gateway`) calls the same gRPC services, with their layers. A TLS listener (see
//! `oxcd_tls::Incoming`) serves the same routes over its handshaken connections, and puts the
//! verified client certificate's common name on every request of the connection
//! ([`grpc::ClientIdentity`]).

use std::sync::Arc;

use axum::Router;
use axum::serve::{Listener, ListenerExt};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use oxcd_tls::{Incoming as TlsIncoming, ServerStream};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::coalesced_writes::{CoalescedWrites, PendingCalls};
use crate::grpc::ClientIdentity;
use crate::listeners::Bound;
use crate::metrics::GrpcMetricsLayer;
use crate::server::EtcdServer;
use crate::{cors, fail_stop, gateway, grpc, http};

/// How many times the largest request message a gateway request's JSON may be.
const GATEWAY_JSON_FACTOR: usize = 4;

/// The connections of a TLS listener (possibly also serving plaintext), each with the common
/// name of its verified client certificate.
struct Secured(TlsIncoming);

impl Listener for Secured {
    type Io = ServerStream;
    type Addr = Option<ClientIdentity>;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.0.next().await {
            Some(accepted) => (
                accepted.stream,
                accepted
                    .peer_common_name
                    .map(|common_name| ClientIdentity { common_name }),
            ),
            // The accepting task only ends with the runtime.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(None)
    }
}

/// Serves `app` on `bound` until the listener fails.
fn spawn_serving(
    tasks: &mut JoinSet<std::io::Result<()>>,
    bound: Bound,
    app: Router,
    max_streams: u32,
) -> std::io::Result<()> {
    bound.socket.set_nonblocking(true)?;
    if bound.mode.tls.is_none() {
        let listener = TcpListener::from_std(bound.socket)?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tasks.spawn(serve_connections(listener, app, max_streams, |_| None));
        return Ok(());
    }
    let listener = Secured(TlsIncoming::start(bound.socket, bound.mode)?);
    tasks.spawn(serve_connections(listener, app, max_streams, Clone::clone));
    Ok(())
}

/// Accepts connections for ever, serving each in its own task in HTTP/1.1 or HTTP/2 as the
/// client speaks, with `identity` (the verified client certificate's name) on every request
/// of the connection. HTTP/2 connections may hold `max_streams` streams at once: hyper's own
/// default of 200 would leave a client's 201st watch stream waiting for ever, where etcd
/// (`--max-concurrent-streams`) allows 2^32 - 1.
async fn serve_connections<L: Listener>(
    mut listener: L,
    app: Router,
    max_streams: u32,
    identity: fn(&L::Addr) -> Option<ClientIdentity>,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http2().max_concurrent_streams(max_streams);
    loop {
        let (io, address) = listener.accept().await;
        let identity = identity(&address);
        let calls = PendingCalls::default();
        let counting = calls.clone();
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                if let Some(identity) = &identity {
                    request.extensions_mut().insert(identity.clone());
                }
                request
            })
            .map_future(move |answer| {
                let call = counting.start();
                async move {
                    let response = answer.await;
                    drop(call);
                    response
                }
            });
        let builder = builder.clone();
        tokio::spawn(async move {
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(CoalescedWrites::new(io, calls)),
                TowerToHyperService::new(service),
            );
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "client connection ended");
            }
        });
    }
}

/// gRPC clients get `Unimplemented` for a method we do not serve; anything else is plain HTTP
/// and gets 404, as etcd's HTTP mux answers (a CORS preflight gets its answer).
async fn unknown_path(request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let is_grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if is_grpc {
        return tonic::Status::unimplemented(format!("unknown method {}", request.uri().path()))
            .into_http::<axum::body::Body>()
            .into_response();
    }
    let mut response = if request.method() == axum::http::Method::OPTIONS {
        axum::response::Response::default()
    } else {
        (axum::http::StatusCode::NOT_FOUND, "404 page not found\n").into_response()
    };
    cors::add_headers(&mut response);
    response
}

/// Serves every client listener until they fail; returns the first listener error.
pub(crate) async fn serve_clients(
    listeners: Vec<Bound>,
    server: Arc<EtcdServer>,
) -> std::io::Result<()> {
    let max_streams = server.settings().max_concurrent_streams;
    let grpc = grpc::routes(server.clone())
        .into_axum_router()
        .layer(GrpcMetricsLayer::new(server.metrics().grpc().clone()))
        // Outside the metrics, as etcd's interceptors run before its gRPC metrics: a call
        // refused for want of a leader is not counted as handled.
        .layer(grpc::LeaderGateLayer::new(server.clone()));
    let mut plain_http = http::routes(server.clone()).merge(fail_stop::control_routes());
    if server.settings().enable_grpc_gateway {
        // JSON spells a message out at length (base64 bytes, integers as strings), never in
        // fewer bytes than the protobuf the gRPC layer then bounds.
        let max_json = GATEWAY_JSON_FACTOR * grpc::max_request_message(&server);
        plain_http = plain_http.merge(gateway::routes(grpc.clone(), max_json));
    }
    // CORS only on plain HTTP, so gRPC calls pay nothing for it.
    let plain_http = plain_http.layer(axum::middleware::from_fn(cors::allow_any_origin));
    let app = grpc.merge(plain_http).fallback(unknown_path);
    let mut tasks = JoinSet::new();
    for bound in listeners {
        spawn_serving(&mut tasks, bound, app.clone(), max_streams)?;
    }
    first_failure(tasks).await
}

/// Serves `/metrics` and `/health` on the `--listen-metrics-urls` listeners until one fails.
pub(crate) async fn serve_metrics(
    listeners: Vec<Bound>,
    server: Arc<EtcdServer>,
) -> std::io::Result<()> {
    let app = http::metrics_routes(server);
    let mut tasks = JoinSet::new();
    for bound in listeners {
        spawn_serving(&mut tasks, bound, app.clone(), u32::MAX)?;
    }
    first_failure(tasks).await
}

/// Waits for every listener's task; returns the first listener error.
async fn first_failure(mut tasks: JoinSet<std::io::Result<()>>) -> std::io::Result<()> {
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use axum::Extension;
    use axum::routing::get;
    use oxcd_testkit::certs::{Authority, CertFiles};
    use oxcd_tls::ListenerMode;

    use super::*;

    /// `GET /whoami` over HTTPS presenting `client`; the response body.
    fn whoami(port: u16, ca: &std::path::Path, client: Option<&CertFiles>) -> String {
        let builder = rustls::ClientConfig::builder_with_provider(oxcd_tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(oxcd_tls::root_store(ca).unwrap());
        let config = match client {
            Some(files) => builder
                .with_client_auth_cert(
                    oxcd_tls::certificates(&files.cert).unwrap(),
                    oxcd_tls::private_key(&files.key).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let session = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut tls = rustls::StreamOwned::new(session, tcp);
        tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = Vec::new();
        let _ = tls.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).into_owned();
        response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn handlers_see_the_verified_client_common_name() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new(dir.path(), "ours").unwrap();
        let server = ca.issue("server", "server", &["127.0.0.1"]).unwrap();
        let alice = ca.issue("alice", "alice", &[]).unwrap();
        let settings = oxcd_tls::ServerTlsSettings {
            cert_file: server.cert.clone(),
            key_file: server.key.clone(),
            // Certificates are asked for, not required: a client may come without one.
            trusted_ca_file: None,
            ..oxcd_tls::ServerTlsSettings::default()
        };
        let mut with_ca = settings.clone();
        with_ca.trusted_ca_file = Some(ca.ca_file());
        let cases = [(with_ca, Some(&alice), "alice"), (settings, None, "nobody")];
        for (settings, client, expected) in cases {
            let config = oxcd_tls::server_config(&settings, oxcd_tls::ALPN_H2_AND_HTTP1).unwrap();
            let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = socket.local_addr().unwrap().port();
            let bound = Bound {
                socket,
                mode: ListenerMode {
                    tls: Some(config),
                    plain: false,
                    check_san: false,
                },
                address: format!("127.0.0.1:{port}"),
            };
            let app = Router::new().route(
                "/whoami",
                get(
                    |identity: Option<Extension<grpc::ClientIdentity>>| async move {
                        identity.map_or("nobody".to_string(), |Extension(id)| id.common_name)
                    },
                ),
            );
            let mut tasks = JoinSet::new();
            spawn_serving(&mut tasks, bound, app, u32::MAX).unwrap();
            let ca_file = ca.ca_file();
            let client = client.cloned();
            let body = tokio::task::spawn_blocking(move || whoami(port, &ca_file, client.as_ref()))
                .await
                .unwrap();
            assert_eq!(body, expected);
            tasks.abort_all();
        }
    }
}
