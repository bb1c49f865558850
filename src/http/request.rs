//! Reading requests: JSON bodies within a size limit, and query strings.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, header};
use serde_json::Value;

use super::ApiError;
use crate::domain::input::InputError;

/// Reads the whole body, refusing more than `limit` bytes (413) without
/// buffering them.
pub async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::PayloadTooLarge { limit }),
        Err(e) => Err(ApiError::BadRequest(InputError::new(
            "bad_body",
            None,
            format!("the request body could not be read: {e}"),
        ))),
    }
}

/// Checks the content type (415), reads the body (413) and parses it as
/// JSON (400).
pub async fn read_json(req: Request<Incoming>, limit: usize) -> Result<Value, ApiError> {
    if !is_json(&req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = read_body(req, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::new("malformed_json", None, "the request body is empty; send a JSON object").into());
    }
    serde_json::from_slice(&body)
        .map_err(|e| InputError::new("malformed_json", None, format!("the request body is not valid JSON: {e}")).into())
}

/// `application/json`, with or without parameters such as a charset.
pub(super) fn is_json<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The query string as (name, value) pairs, percent-decoded.
pub fn query_pairs<B>(req: &Request<B>) -> Vec<(String, String)> {
    req.uri().query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}
