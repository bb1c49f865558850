//! `GET /healthz` (the process is up), `GET /readyz` (it can do work:
//! the database answers) and `GET /metrics` (Prometheus).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde_json::json;

use super::{AppState, json_response};

pub fn healthz() -> Response<Full<Bytes>> {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

pub async fn readyz(state: &AppState) -> Response<Full<Bytes>> {
    if crate::db::is_ready(&state.pool, Duration::from_secs(2)).await {
        json_response(StatusCode::OK, &json!({ "status": "ready" }))
    } else {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "unavailable", "reason": "the database does not answer" }),
        )
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: &AppState) -> Response<Full<Bytes>> {
    let body = crate::metrics::render(&state.pool).await;
    Response::builder()
        .status(StatusCode::OK)
        .header(hyper::header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}
