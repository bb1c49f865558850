//! SQL of the webhook inbox (`jira_webhook_events`).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::prepared;
use uuid::Uuid;

use super::raw_json::RawJson;

/// The job kind that processes a stored delivery.
pub const PROCESS_JOB: &str = "process_webhook";
/// Attempts of a processing job before it is discarded.
pub const PROCESS_MAX_ATTEMPTS: i32 = 10;

/// Columns of one delivery to store; parallel vectors, one entry each.
#[derive(Debug, Default)]
pub struct NewEvents {
    pub ids: Vec<Uuid>,
    pub idempotency_keys: Vec<String>,
    pub event_types: Vec<String>,
    pub issue_keys: Vec<Option<String>>,
    pub issue_ids: Vec<Option<String>>,
    pub payloads: Vec<RawJson>,
    pub webhook_ids: Vec<Option<String>>,
    pub retries: Vec<i32>,
    /// `pending` (a job processes it) or `ignored` (stored as settled).
    pub statuses: Vec<String>,
    /// Why an `ignored` delivery needs no processing.
    pub notes: Vec<Option<String>>,
}

/// Stores deliveries and their processing jobs with one statement; a
/// delivery whose idempotency key is already stored (or appears earlier in
/// the same batch) is skipped. A delivery stored as `ignored` gets no job.
/// Returns (idempotency key, event id, job id) of each delivery stored.
pub async fn insert_batch(
    client: &impl GenericClient,
    events: &NewEvents,
) -> Result<Vec<(String, Uuid, Option<i64>)>, tokio_postgres::Error> {
    let rows = prepared::query(
        client,
        "WITH input AS ( \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], \
                                      $7::text[], $8::int[], $11::text[], $12::text[]) WITH ORDINALITY \
                     AS i(id, idempotency_key, event_type, issue_key, issue_id, payload, webhook_id, retry, \
                          status, note, ord)), \
             events AS ( \
                 INSERT INTO jira_webhook_events (id, idempotency_key, event_type, jira_issue_key, jira_issue_id, \
                                                  raw_payload, webhook_id, delivery_retry, processing_status, \
                                                  processing_error, processed_at) \
                 SELECT id, idempotency_key, event_type, issue_key, issue_id, payload, webhook_id, retry, status, \
                        note, CASE WHEN status = 'pending' THEN NULL ELSE now() END \
                 FROM input ORDER BY ord \
                 ON CONFLICT (idempotency_key) DO NOTHING \
                 RETURNING id, idempotency_key, processing_status), \
             jobs AS ( \
                 INSERT INTO jobs (kind, payload, max_attempts) \
                 SELECT $9, jsonb_build_object('eventId', events.id), $10 FROM events \
                 WHERE events.processing_status = 'pending' \
                 RETURNING id, (payload->>'eventId')::uuid AS event_id) \
             SELECT events.idempotency_key, events.id, jobs.id \
             FROM events LEFT JOIN jobs ON jobs.event_id = events.id",
        &[
            &events.ids,
            &events.idempotency_keys,
            &events.event_types,
            &events.issue_keys,
            &events.issue_ids,
            &events.payloads,
            &events.webhook_ids,
            &events.retries,
            &PROCESS_JOB,
            &PROCESS_MAX_ATTEMPTS,
            &events.statuses,
            &events.notes,
        ],
    )
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// Stored deliveries with these idempotency keys: (key, event id, status).
pub async fn find_by_keys(
    client: &impl GenericClient,
    keys: &[String],
) -> Result<Vec<(String, Uuid, String)>, tokio_postgres::Error> {
    let rows = prepared::query(
        client,
        "SELECT idempotency_key, id, processing_status FROM jira_webhook_events WHERE idempotency_key = ANY($1)",
        &[&keys],
    )
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// A stored delivery's processing state.
#[derive(Debug, Clone)]
pub struct EventStatus {
    pub status: String,
    pub error: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
}

pub async fn status(client: &impl GenericClient, id: Uuid) -> Result<Option<EventStatus>, tokio_postgres::Error> {
    let row = prepared::query_opt(
        client,
        "SELECT processing_status, processing_error, processed_at FROM jira_webhook_events WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(row.map(|r| EventStatus { status: r.get(0), error: r.get(1), processed_at: r.get(2) }))
}

/// The stored payload of a delivery.
pub async fn payload(client: &impl GenericClient, id: Uuid) -> Result<Option<Value>, tokio_postgres::Error> {
    let row = prepared::query_opt(client, "SELECT raw_payload FROM jira_webhook_events WHERE id = $1", &[&id]).await?;
    Ok(row.map(|r| r.get(0)))
}

/// Records the outcome of processing: `processed`, `ignored` or `failed`.
pub async fn finish(
    client: &impl GenericClient,
    id: Uuid,
    status: &str,
    error: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    prepared::execute(
        client,
        "UPDATE jira_webhook_events SET processing_status = $2, processing_error = $3, processed_at = now() \
             WHERE id = $1",
        &[&id, &status, &error],
    )
    .await
    .map(drop)
}

/// Notes why processing failed this time; the delivery stays `pending`
/// and its job retries.
pub async fn note_error(client: &impl GenericClient, id: Uuid, error: &str) -> Result<(), tokio_postgres::Error> {
    prepared::execute(client, "UPDATE jira_webhook_events SET processing_error = $2 WHERE id = $1", &[&id, &error])
        .await
        .map(drop)
}
