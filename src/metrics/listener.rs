//! `ARKSYNC_METRICS_LISTEN`: `GET /metrics` on an address of its own.
//!
//! `arksync worker` has no API listener, so without this its job and sync
//! counters (kept in the process) could not be scraped. `serve` may use it
//! too, to keep metrics off the API's port. Anything but `GET /metrics`
//! is 404; connections are few (one scraper) and short.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Binds `listen` (when set) and serves `/metrics` until `shutdown`.
/// Binding fails loudly: a scrape target that silently is not there is
/// worse than a failed start.
pub async fn spawn(
    listen: Option<SocketAddr>,
    pool: deadpool_postgres::Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(listen) = listen else { return Ok(None) };
    super::handle();
    let listener =
        TcpListener::bind(listen).await.with_context(|| format!("listening on {listen} (ARKSYNC_METRICS_LISTEN)"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "serving /metrics");
    tokio::spawn(accept_loop(listener, pool, shutdown));
    Ok(Some(address))
}

async fn accept_loop(listener: TcpListener, pool: deadpool_postgres::Pool, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a metrics connection failed");
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let pool = pool.clone();
        let service = service_fn(move |req| answer(req, pool.clone()));
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "a metrics connection ended with an error");
            }
        });
    }
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    pool: deadpool_postgres::Pool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if req.method() == Method::GET && req.uri().path() == "/metrics" {
        Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(super::render(&pool).await)))
    } else {
        Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::from_static(b"not found\n")))
    };
    Ok(response.expect("a valid response"))
}
