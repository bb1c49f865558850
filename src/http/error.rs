//! `ApiError`: the one type that becomes an HTTP error response.
//!
//! 4xx bodies say what was wrong with the request as
//! `{"error":{"code","message","field"?}}`. 5xx bodies say nothing internal;
//! the full cause chain goes to the log.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};
use serde_json::json;

use crate::domain::input::InputError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(#[from] InputError),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// The request is fine but the resource's state or the server's
    /// configuration forbids it now (e.g. no ARKSYNC_SECRET_KEY, a
    /// connection needing consent).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Jira could not be reached or failed; retry later.
    #[error("Jira is unavailable")]
    JiraUnavailable(#[source] anyhow::Error),
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) | Self::JiraUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code_message_field(&self) -> (&'static str, String, Option<String>) {
        match self {
            Self::BadRequest(e) => (e.code, e.message.clone(), e.field.clone()),
            Self::NotFound(what) => ("not_found", what.clone(), None),
            Self::MethodNotAllowed { allow } => {
                ("method_not_allowed", format!("this resource allows only {allow}"), None)
            }
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                "the request body must be JSON, sent with `Content-Type: application/json`".into(),
                None,
            ),
            Self::PayloadTooLarge { limit } => {
                ("payload_too_large", format!("the request body is larger than {limit} bytes"), None)
            }
            Self::Conflict { code, message } => (code, message.clone(), None),
            Self::JiraUnavailable(_) => {
                ("jira_unavailable", "Jira could not be reached or failed; retry shortly".into(), None)
            }
            Self::Unavailable(_) => {
                ("unavailable", "the service is temporarily unavailable; retry shortly".into(), None)
            }
            Self::Internal(_) => ("internal", "internal error".into(), None),
        }
    }

    /// The response, logging server-side failures with their cause chain.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        if let Self::Internal(cause) | Self::Unavailable(cause) | Self::JiraUnavailable(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), status = self.status().as_u16(), "request failed");
        }
        let status = self.status();
        let (code, message, field) = self.code_message_field();
        let mut error = json!({ "code": code, "message": message });
        if let Some(field) = field {
            error["field"] = json!(field);
        }
        let mut response = super::json_response(status, &json!({ "error": error }));
        if let Self::MethodNotAllowed { allow } = self {
            response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(err.into())
    }
}

impl From<tokio_postgres::Error> for ApiError {
    /// A lost connection is "try again"; anything else is our bug.
    fn from(err: tokio_postgres::Error) -> Self {
        let io = std::error::Error::source(&err).is_some_and(|s| s.is::<std::io::Error>());
        if err.is_closed() || io { Self::Unavailable(err.into()) } else { Self::Internal(err.into()) }
    }
}

impl From<crate::jira::Error> for ApiError {
    /// Jira's refusals of our input are 400s that quote Jira; transient
    /// failures are 503s; configuration and consent problems are 409s.
    /// No variant carries a credential, so the messages are safe to show.
    fn from(err: crate::jira::Error) -> Self {
        use crate::jira::Error as J;
        match err {
            J::Config(m) => Self::Conflict { code: "not_configured", message: m },
            J::NeedsReconsent(_) => Self::Conflict { code: "needs_consent", message: err.to_string() },
            J::Invalid { .. } | J::NotFound(_) | J::Forbidden(_) | J::Unauthorized | J::Conflict(_) => {
                Self::BadRequest(InputError::new("jira_rejected", None, err.to_string()))
            }
            J::TransitionUnavailable { .. } => {
                Self::Conflict { code: "transition_unavailable", message: err.to_string() }
            }
            J::Database(_) => Self::Unavailable(err.into()),
            J::RateLimited { .. } | J::Server { .. } | J::Timeout | J::Network(_) | J::Decode(_) => {
                Self::JiraUnavailable(err.into())
            }
        }
    }
}
