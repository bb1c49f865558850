//! The serve loop: plain hyper 1.x HTTP/1.1 with keep-alive, one task per
//! connection, graceful drain on shutdown (with a deadline).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::http::{self, Req, Resp};
use super::router;
use super::state::Sim;

/// Accepts connections until `stop` fires, then drains for up to 5 s.
pub async fn serve(sim: Arc<Sim>, listener: TcpListener, mut stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let sim = sim.clone();
                let service = service_fn(move |req| handle(sim.clone(), req));
                let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection closed with error");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// The largest request body read; Jira requests are small JSON, and a
/// bigger body gets 413 instead of being buffered whole.
const MAX_BODY_BYTES: usize = 10 << 20;

/// Reads the whole body (up to `MAX_BODY_BYTES`) and routes.
async fn handle(sim: Arc<Sim>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let received = sim.clock.now();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            let status = hyper::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(http::ApiError::Status(status, "Request Entity Too Large".into()).into_response());
        }
        Err(_) => return Ok(http::ApiError::bad_request("The request body could not be read.").into_response()),
    };
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: http::parse_query(parts.uri.query()),
        headers: parts.headers,
        body,
        received,
    };
    Ok(router::handle(sim, req).await)
}
