//! `POST /api/jira/webhooks` and `GET /api/jira/webhooks/:eventId/status`.
//!
//! A delivery is verified over its raw bytes before anything is parsed,
//! stored durably (see [`crate::webhooks::ingest`]) and only then answered:
//! 202 for a new delivery, 200 for one already stored, 401 for a bad
//! signature (nothing stored), 503 when it could not be stored, so Jira
//! retries. Never a 2xx for something not stored.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::request::read_body;
use super::{ApiError, AppState, json_response};
use crate::db::webhook_events;
use crate::db::work_items::timestamp;
use crate::domain::input::InputError;
use crate::webhooks::Delivery;
use crate::webhooks::ingest::{IngestError, Outcome};

type HttpResult = Result<Response<Full<Bytes>>, ApiError>;

pub async fn receive(state: &AppState, req: Request<Incoming>) -> HttpResult {
    let headers = req.headers().clone();
    let body = read_body(req, state.max_body_bytes).await?;
    if let Err(e) = state.webhook_auth.verify(&headers, &body) {
        tracing::warn!(reason = %e, "refused a webhook delivery");
        crate::metrics::webhook_rejected("unauthorized");
        return Ok(json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": {"code": "unauthorized", "message": e.to_string()}}),
        ));
    }
    let delivery = Delivery::parse(&headers, &body).map_err(|e| {
        crate::metrics::webhook_rejected("invalid");
        InputError::new("invalid_delivery", None, e.0)
    })?;
    let mut delivery = delivery;
    // Loop prevention's first layer, at the door: a change our integration
    // account made is our own echo. Known now (the connection was read in
    // the last seconds), it is stored as settled and never becomes a job.
    if delivery.actor.as_deref().is_some_and(|actor| state.sync.is_own_account(actor)) {
        delivery.ignore = Some(crate::sync::inbound::OWN_ACCOUNT.to_owned());
    }
    let event = delivery.event_type.clone();
    let settled = delivery.ignore.is_some();
    match state.ingest.submit(delivery).await {
        Ok(Outcome::Accepted { event_id, job_id }) => {
            crate::metrics::webhook_received(&event);
            if settled {
                crate::metrics::webhook_processed(&event, "ignored", std::time::Duration::ZERO);
            }
            let mut body = json!({"status": "accepted", "jobId": job_id.map(|id| id.to_string()), "eventId": event_id});
            if settled {
                body["processingStatus"] = json!("ignored");
            }
            Ok(json_response(StatusCode::ACCEPTED, &body))
        }
        Ok(Outcome::Duplicate { event_id, status }) => Ok(json_response(
            StatusCode::OK,
            &json!({"status": "already_processed", "eventId": event_id, "processingStatus": status}),
        )),
        Err(IngestError::Refused) => {
            Err(InputError::new("invalid_delivery", None, "the delivery's content cannot be stored").into())
        }
        Err(IngestError::Unavailable(e)) => Err(ApiError::Unavailable(e)),
    }
}

pub async fn status(state: &AppState, event_id: &str) -> HttpResult {
    let not_found = || ApiError::NotFound(format!("no webhook event with id `{event_id}`"));
    let id: uuid::Uuid = event_id.parse().map_err(|_| not_found())?;
    let client = state.pool.get().await?;
    let event = webhook_events::status(&client, id).await?.ok_or_else(not_found)?;
    let mut body = json!({"status": event.status});
    if let Some(error) = event.error {
        body["error"] = json!(error);
    }
    if let Some(at) = event.processed_at {
        body["processedAt"] = json!(timestamp(at));
    }
    Ok(json_response(StatusCode::OK, &body))
}
