//! Small typed readers of the sync-management endpoints' JSON bodies: an
//! object with known keys, and typed fields whose errors name the field.

use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Map, Value};

use super::ApiError;
use super::request::{is_json, read_body};
use crate::domain::input::InputError;

/// A JSON body, or `{}` when the body is empty (for endpoints whose fields
/// are all optional).
pub async fn read_json_or_empty(req: Request<Incoming>, limit: usize) -> Result<Value, ApiError> {
    let typed = req.headers().contains_key(hyper::header::CONTENT_TYPE);
    if typed && !is_json(&req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = read_body(req, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    if !typed {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(&body)
        .map_err(|e| InputError::new("malformed_json", None, format!("the request body is not valid JSON: {e}")).into())
}

/// The body as an object holding only `known` keys.
pub fn object<'v>(body: &'v Value, known: &[&str]) -> Result<&'v Map<String, Value>, ApiError> {
    let Value::Object(map) = body else {
        return Err(InputError::new("invalid_type", None, "the request body must be a JSON object").into());
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(InputError::new(
            "unknown_field",
            unknown.clone(),
            format!("unknown field `{unknown}`; known: {}", known.join(", ")),
        )
        .into());
    }
    Ok(map)
}

pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    InputError::new("invalid_value", field.to_owned(), message).into()
}

pub fn wrong_type(field: &str, expected: &str) -> ApiError {
    InputError::new("invalid_type", field.to_owned(), format!("`{field}` must be {expected}")).into()
}

pub fn missing(field: &str, message: impl Into<String>) -> ApiError {
    InputError::new("missing_field", field.to_owned(), message).into()
}

/// An optional string field (`null` counts as absent).
pub fn opt_str<'v>(map: &'v Map<String, Value>, field: &str) -> Result<Option<&'v str>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

pub fn req_str<'v>(map: &'v Map<String, Value>, field: &str) -> Result<&'v str, ApiError> {
    opt_str(map, field)?.ok_or_else(|| missing(field, format!("`{field}` is required")))
}

pub fn opt_bool(map: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(field, "true or false")),
    }
}

/// An optional whole number within `range`.
pub fn opt_int(
    map: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            Some(_) => Err(invalid(field, format!("`{field}` must be from {} to {}", range.start(), range.end()))),
            None => Err(wrong_type(field, "a whole number")),
        },
    }
}
