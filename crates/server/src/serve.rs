//! Client listeners: gRPC and plain HTTP share each listener (HTTP/2 for gRPC, HTTP/1.1 for
//! `/health` and friends), as on etcd's client port.

use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::server::EtcdServer;
use crate::{fail_stop, grpc, http, metrics};

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
pub async fn serve_clients(
    listeners: Vec<std::net::TcpListener>,
    server: Arc<EtcdServer>,
) -> std::io::Result<()> {
    let app = grpc::routes(server.clone())
        .into_axum_router()
        .layer(metrics::GrpcMetricsLayer::new(server.metrics().clone()))
        .merge(http::routes(server.clone()))
        .merge(metrics::routes(server))
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
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
    Ok(())
}
