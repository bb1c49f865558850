//! `GET /metrics`: Prometheus text. For now the gauges that need a person:
//! Jira connections waiting for OAuth re-consent.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};

use super::{ApiError, AppState};

pub async fn render(state: &AppState) -> Result<Response<Full<Bytes>>, ApiError> {
    let client = state.pool.get().await?;
    let needing = crate::db::connections::count_needing_consent(&**client).await?;
    let body = format!(
        "# HELP jira_connections_needing_consent Jira connections whose OAuth grant must be authorised again.\n\
         # TYPE jira_connections_needing_consent gauge\n\
         jira_connections_needing_consent {needing}\n"
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(body)))
        .map_err(ApiError::internal)
}
