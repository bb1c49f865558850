//! The HTTP API: a plain hyper 1.x server, a router that matches method and
//! path segments, one file per resource, and [`ApiError`].

mod body;
mod bulk;
mod conflicts;
mod connections;
mod error;
mod health;
mod mappings;
mod oauth;
mod projects;
mod request;
mod router;
mod sync;
mod webhooks;
mod work_items;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;

/// How long in-flight requests may run after shutdown begins.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// What every handler can reach.
pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub max_body_bytes: usize,
    pub jira_base_url: Option<String>,
    pub webhook_auth: crate::webhooks::signature::WebhookAuth,
    pub ingest: crate::webhooks::ingest::IngestWriter,
    /// Jira connections and the key that seals their credentials.
    pub connections: crate::jira::store::ConnectionStore,
    /// The sync engine, for the few requests that ask Jira directly (a
    /// manual link reads the issue).
    pub sync: crate::sync::Engine,
}

/// Serves until `shutdown` is cancelled, then stops accepting, lets
/// in-flight requests finish (up to [`DRAIN_DEADLINE`]) and returns.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(30));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        stream.set_nodelay(true).ok();
        let state = state.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(router::handle(&state, req).await) }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown()).await.is_err() {
        tracing::warn!("some requests were still running after the drain deadline");
    }
    Ok(())
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).expect("a Value always serialises");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static headers are valid")
}
