//! The member's listeners: on each client listener gRPC and plain HTTP share the port (HTTP/2
//! for gRPC, HTTP/1.1 for `/health` and friends), as on etcd's client port; a
//! `--listen-metrics-urls` listener serves `/metrics` and `/health` only.

use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::metrics::GrpcMetricsLayer;
use crate::server::EtcdServer;
use crate::{fail_stop, grpc, http};

/// gRPC clients get `Unimplemented` for a method we do not serve; anything else is plain HTTP
/// and gets 404, as etcd's HTTP mux answers.
async fn unknown_path(request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let is_grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if is_grpc {
        tonic::Status::unimplemented(format!("unknown method {}", request.uri().path()))
            .into_http::<axum::body::Body>()
            .into_response()
    } else {
        (axum::http::StatusCode::NOT_FOUND, "404 page not found\n").into_response()
    }
}

/// Serves every client listener until they fail; returns the first listener error.
pub(crate) async fn serve_clients(
    listeners: Vec<std::net::TcpListener>,
    server: Arc<EtcdServer>,
) -> std::io::Result<()> {
    let app = grpc::routes(server.clone())
        .into_axum_router()
        .layer(GrpcMetricsLayer::new(server.metrics().grpc().clone()))
        // Outside the metrics, as etcd's interceptors run before its gRPC metrics: a call
        // refused for want of a leader is not counted as handled.
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            grpc::leader_gate,
        ))
        .merge(http::routes(server))
        .merge(fail_stop::control_routes())
        .fallback(unknown_path);
    let mut tasks = JoinSet::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = app.clone();
        tasks.spawn(async move { axum::serve(listener, app).await });
    }
    first_failure(tasks).await
}

/// Serves `/metrics` and `/health` on the `--listen-metrics-urls` listeners until one fails.
pub(crate) async fn serve_metrics(
    listeners: Vec<std::net::TcpListener>,
    server: Arc<EtcdServer>,
) -> std::io::Result<()> {
    let app = http::metrics_routes(server);
    let mut tasks = JoinSet::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let app = app.clone();
        tasks.spawn(async move { axum::serve(listener, app).await });
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
