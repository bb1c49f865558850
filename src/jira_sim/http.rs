//! Request and response plumbing shared by every handler, and `ApiError`,
//! the one type that becomes an error response, always in Jira's
//! `{"errorMessages":[…],"errors":{…}}` shape (`ErrorCollection`).

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Map, Value, json};

pub type Resp = Response<Full<Bytes>>;

/// A fully read request: handlers are synchronous functions over this.
#[derive(Debug)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub received: DateTime<Utc>,
}

impl Req {
    pub fn segments(&self) -> Vec<&str> {
        self.path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect()
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Parses the body as JSON; an empty body is `{}` (Jira accepts that for
    /// bodiless POSTs such as refresh).
    pub fn json(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("Unexpected character in request body: {e}")))
    }
}

/// Splits `a=1&b=x%20y` into a map; the last value of a repeated key wins.
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn json_response(status: StatusCode, body: &Value) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
    resp
}

pub fn empty(status: StatusCode) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

/// The failures handlers return. Each maps to the status Jira uses.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request")]
    BadRequest { messages: Vec<String>, errors: Map<String, Value> },
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("status {0}")]
    Status(StatusCode, String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest { messages: vec![message.into()], errors: Map::new() }
    }

    /// A 400 naming the offending field, as Jira reports validation errors.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.to_string(), Value::String(message.into()));
        Self::BadRequest { messages: Vec::new(), errors }
    }

    pub fn issue_not_found() -> Self {
        Self::NotFound("Issue does not exist or you do not have permission to see it.".into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Status(s, _) => *s,
        }
    }

    /// The `ErrorCollection` this error is answered with; the bulk create
    /// reports each failed element's error in this form.
    pub fn collection(&self) -> Value {
        let messages = match self {
            Self::BadRequest { messages, errors } => return error_collection(messages.clone(), errors.clone()),
            Self::Unauthorized => vec!["Client must be authenticated to access this resource.".into()],
            Self::MethodNotAllowed => vec!["Method not allowed".into()],
            Self::Forbidden(m) | Self::NotFound(m) | Self::Status(_, m) => vec![m.clone()],
        };
        error_collection(messages, Map::new())
    }

    pub fn into_response(self) -> Resp {
        let mut resp = json_response(self.status(), &self.collection());
        if let Self::Unauthorized = self {
            resp.headers_mut().insert("WWW-Authenticate", HeaderValue::from_static("Basic realm=\"protected-area\""));
        }
        resp
    }
}

pub fn error_collection(messages: Vec<String>, errors: Map<String, Value>) -> Value {
    json!({ "errorMessages": messages, "errors": errors })
}

pub type ApiResult = Result<Resp, ApiError>;
