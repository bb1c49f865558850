//! SQL for user stories, defects and epics.
//!
//! Statements are assembled from the kind's static field table (column names
//! come from code, never from input); every value travels as a parameter.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{Map, Value, json};

use super::prepared;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::domain::input::{Assignment, FieldValue, SyncIntent};
use crate::domain::{EntityKind, FieldSpec, FieldType};

type Param = Box<dyn ToSql + Sync + Send>;

/// Filters of the list endpoint; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub sync_status: Option<String>,
    pub has_sync_error: Option<bool>,
    pub status: Option<String>,
    /// Assignee (owner for epics).
    pub person: Option<String>,
    pub epic_id: Option<String>,
    /// Resume after this (created_at, id), newest first.
    pub after: Option<(DateTime<Utc>, String)>,
}

/// Sync counters over a whole kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStats {
    pub total_synced: i64,
    pub total_pending: i64,
    pub total_errors: i64,
}

/// Columns every select returns, with the live mapping joined in.
fn select_list(kind: EntityKind) -> String {
    let mut cols: Vec<String> = vec!["t.id".into()];
    cols.extend(kind.fields().iter().map(|f| format!("t.{}", f.column)));
    cols.extend(
        [
            "sync_to_jira",
            "jira_project_key",
            "jira_issue_key",
            "jira_issue_id",
            "last_synced_at",
            "sync_source",
            "sync_status",
            "sync_error",
            "sync_warnings",
            "created_at",
            "updated_at",
        ]
        .iter()
        .map(|c| format!("t.{c}")),
    );
    cols.extend(
        ["id AS m_id", "jira_issue_key AS m_key", "last_synced_at AS m_synced", "sync_status AS m_status"]
            .iter()
            .map(|c| format!("m.{c}")),
    );
    format!(
        "SELECT {} FROM {} t LEFT JOIN LATERAL (\
            SELECT id, jira_issue_key, last_synced_at, sync_status FROM live_mappings \
            WHERE arkhitekton_id = t.id LIMIT 1) m ON true",
        cols.join(", "),
        kind.table()
    )
}

/// Inserts a new item and returns its id.
pub async fn insert(
    client: &impl GenericClient,
    kind: EntityKind,
    assignments: &[Assignment],
    sync: &SyncIntent,
) -> Result<String, tokio_postgres::Error> {
    let mut columns: Vec<&str> = assignments.iter().map(|a| a.field.column).collect();
    let mut params: Vec<Param> = assignments.iter().map(|a| to_param(a.field, &a.value)).collect();
    let wants_sync = sync.sync_to_jira == Some(true);
    columns.extend(["sync_to_jira", "jira_project_key", "sync_status"]);
    params.push(Box::new(wants_sync));
    params.push(Box::new(sync.jira_project_key.clone().flatten()));
    params.push(Box::new(wants_sync.then_some("pending")));
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) RETURNING id",
        kind.table(),
        columns.join(", "),
        placeholders.join(", ")
    );
    let row = client.query_one(&sql, &refs(&params)).await?;
    Ok(row.get(0))
}

/// One item as API JSON, or `None` when there is no such id.
pub async fn get(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    jira_base_url: Option<&str>,
) -> Result<Option<Value>, tokio_postgres::Error> {
    let sql = format!("{} WHERE t.id = $1", select_list(kind));
    let row = prepared::query_opt(client, &sql, &[&id]).await?;
    Ok(row.map(|r| row_to_json(kind, &r, jira_base_url)))
}

/// What a push reads, by one statement and so as of one moment: the item as
/// API JSON, its version (`updated_at`), its sync status, its live link,
/// and the map overrides of its Jira project. Read apart, a Jira change applied in between would be in the item
/// but not in what the link says was agreed, and would look like an edit
/// made here.
pub async fn get_for_push(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
) -> Result<Option<ForPush>, tokio_postgres::Error> {
    let link_columns: Vec<String> = super::sync::MAPPING_COLUMNS.split(", ").map(|c| format!("l.{c}")).collect();
    let columns = link_columns.join(", ");
    let sql = format!(
        "SELECT i.*, (SELECT maps FROM jira_project_settings \
                      WHERE project_key = coalesce(l.jira_project_key, i.jira_project_key)) AS project_maps, \
                {columns} \
         FROM ({} WHERE t.id = $1) i \
         LEFT JOIN live_mappings l ON l.arkhitekton_id = i.id",
        select_list(kind)
    );
    let Some(row) = prepared::query_opt(client, &sql, &[&id]).await? else { return Ok(None) };
    let link_at = row.len() - link_columns.len();
    let linked = row.get::<_, Option<uuid::Uuid>>(link_at).is_some();
    Ok(Some(ForPush {
        item: row_to_json(kind, &row, None),
        version: row.get("updated_at"),
        status: row.get("sync_status"),
        project_maps: row.get("project_maps"),
        mapping: linked.then(|| super::sync::mapping_at(&row, link_at)),
    }))
}

/// An item as a push reads it ([`get_for_push`]).
pub struct ForPush {
    pub item: Value,
    pub version: DateTime<Utc>,
    pub status: Option<String>,
    /// `jira_project_settings.maps` of the link's project (else the item's
    /// `jira_project_key`); `None` when the project has no settings.
    pub project_maps: Option<Value>,
    pub mapping: Option<super::sync::Mapping>,
}

/// The sync columns of an item, locked for the rest of the transaction:
/// `(jira_project_key, jira_issue_key)`, or `None` when there is no such id.
pub async fn lock_sync_target(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
) -> Result<Option<(Option<String>, Option<String>)>, tokio_postgres::Error> {
    let sql = format!("SELECT jira_project_key, jira_issue_key FROM {} WHERE id = $1 FOR UPDATE", kind.table());
    let row = prepared::query_opt(client, &sql, &[&id]).await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Applies a patch; returns false when there is no such id.
pub async fn update(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    assignments: &[Assignment],
    sync: &SyncIntent,
) -> Result<bool, tokio_postgres::Error> {
    let mut sets: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    for a in assignments {
        params.push(to_param(a.field, &a.value));
        sets.push(format!("{} = ${}", a.field.column, params.len()));
    }
    if let Some(key) = &sync.jira_project_key {
        params.push(Box::new(key.clone()));
        sets.push(format!("jira_project_key = ${}", params.len()));
    }
    match sync.sync_to_jira {
        Some(true) => sets.push("sync_to_jira = true, sync_status = 'pending', sync_error = NULL".into()),
        Some(false) => sets.push(
            "sync_to_jira = false, sync_status = CASE WHEN jira_issue_key IS NULL THEN NULL ELSE 'disabled' END".into(),
        ),
        None => {}
    }
    if sets.is_empty() {
        sets.push("id = id".into());
    }
    params.push(Box::new(id.to_owned()));
    let sql = format!("UPDATE {} SET {} WHERE id = ${}", kind.table(), sets.join(", "), params.len());
    Ok(client.execute(&sql, &refs(&params)).await? == 1)
}

/// Deletes an item and unlinks its mappings (the Jira issue is left alone);
/// returns false when there is no such id.
pub async fn delete(client: &impl GenericClient, kind: EntityKind, id: &str) -> Result<bool, tokio_postgres::Error> {
    let sql = format!("DELETE FROM {} WHERE id = $1", kind.table());
    let deleted = client.execute(&sql, &[&id]).await? == 1;
    if deleted {
        client
            .execute("UPDATE jira_integration_mappings SET sync_status = 'unlinked' WHERE arkhitekton_id = $1", &[&id])
            .await?;
    }
    Ok(deleted)
}

/// One page of items, newest first, plus the (created_at, id) of each row
/// so the caller can make a cursor.
pub async fn list(
    client: &impl GenericClient,
    kind: EntityKind,
    filter: &ListFilter,
    limit: i64,
    jira_base_url: Option<&str>,
) -> Result<Vec<(Value, DateTime<Utc>, String)>, tokio_postgres::Error> {
    let person = kind.person_field().column;
    let epic = if kind == EntityKind::UserStory { "t.epic_id = $5" } else { "$5::text IS NULL" };
    let sql = format!(
        "{} WHERE ($1::text IS NULL OR t.sync_status = $1) \
           AND ($2::bool IS NULL OR coalesce(t.sync_status = 'error', false) = $2) \
           AND ($3::text IS NULL OR t.status = $3) \
           AND ($4::text IS NULL OR t.{person} = $4) \
           AND ($5::text IS NULL OR {epic}) \
           AND ($6::timestamptz IS NULL OR (t.created_at, t.id) < ($6, $7)) \
         ORDER BY t.created_at DESC, t.id DESC LIMIT $8",
        select_list(kind)
    );
    let (after_ts, after_id) = match &filter.after {
        Some((ts, id)) => (Some(*ts), Some(id.clone())),
        None => (None, None),
    };
    let rows = client
        .query(
            &sql,
            &[
                &filter.sync_status,
                &filter.has_sync_error,
                &filter.status,
                &filter.person,
                &filter.epic_id,
                &after_ts,
                &after_id,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(|r| (row_to_json(kind, r, jira_base_url), r.get("created_at"), r.get("id"))).collect())
}

/// Counts of synced, pending and failed items of a kind.
pub async fn sync_stats(client: &impl GenericClient, kind: EntityKind) -> Result<SyncStats, tokio_postgres::Error> {
    let sql = format!(
        "SELECT count(*) FILTER (WHERE sync_status = 'synced'), \
                count(*) FILTER (WHERE sync_status = 'pending'), \
                count(*) FILTER (WHERE sync_status = 'error') \
         FROM {} WHERE sync_status IS NOT NULL",
        kind.table()
    );
    let row = client.query_one(&sql, &[]).await?;
    Ok(SyncStats { total_synced: row.get(0), total_pending: row.get(1), total_errors: row.get(2) })
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// A value as a parameter of the column's type (a NULL must be typed too).
fn to_param(spec: &FieldSpec, value: &FieldValue) -> Param {
    match (value, spec.ty) {
        (FieldValue::Text(s), _) => Box::new(s.clone()),
        (FieldValue::Int(n), _) => Box::new(*n),
        (FieldValue::Date(d), _) => Box::new(*d),
        (FieldValue::List(items), _) => Box::new(items.clone()),
        (FieldValue::Null, FieldType::Int { .. }) => Box::new(None::<i32>),
        (FieldValue::Null, FieldType::Date) => Box::new(None::<NaiveDate>),
        (FieldValue::Null, FieldType::StringList) => Box::new(None::<Vec<String>>),
        (FieldValue::Null, _) => Box::new(None::<String>),
    }
}

/// RFC 3339 in UTC with milliseconds, as the spec's examples.
pub fn timestamp(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn row_to_json(kind: EntityKind, row: &Row, jira_base_url: Option<&str>) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(row.get::<_, String>("id")));
    for f in kind.fields() {
        obj.insert(f.json.into(), column_json(row, f));
    }
    let ts = |name: &str| row.get::<_, Option<DateTime<Utc>>>(name).map(timestamp);
    obj.insert("syncToJira".into(), json!(row.get::<_, bool>("sync_to_jira")));
    obj.insert("jiraProjectKey".into(), json!(row.get::<_, Option<String>>("jira_project_key")));
    obj.insert("jiraIssueKey".into(), json!(row.get::<_, Option<String>>("jira_issue_key")));
    obj.insert("jiraIssueId".into(), json!(row.get::<_, Option<String>>("jira_issue_id")));
    obj.insert("lastSyncedAt".into(), json!(ts("last_synced_at")));
    obj.insert("syncSource".into(), json!(row.get::<_, String>("sync_source")));
    obj.insert("syncStatus".into(), json!(row.get::<_, Option<String>>("sync_status")));
    obj.insert("syncError".into(), json!(row.get::<_, Option<String>>("sync_error")));
    obj.insert("syncWarnings".into(), row.get::<_, Value>("sync_warnings"));
    obj.insert("createdAt".into(), json!(ts("created_at")));
    obj.insert("updatedAt".into(), json!(ts("updated_at")));
    obj.insert("jiraMapping".into(), mapping_json(row, jira_base_url));
    Value::Object(obj)
}

fn column_json(row: &Row, f: &FieldSpec) -> Value {
    match f.ty {
        FieldType::Int { .. } => json!(row.get::<_, Option<i32>>(f.column)),
        FieldType::Date => json!(row.get::<_, Option<NaiveDate>>(f.column).map(|d| d.to_string())),
        FieldType::StringList => json!(row.get::<_, Vec<String>>(f.column)),
        _ => json!(row.get::<_, Option<String>>(f.column)),
    }
}

/// The spec's `jiraMapping`: null until the item is linked to an issue.
fn mapping_json(row: &Row, jira_base_url: Option<&str>) -> Value {
    let Some(key) = row.get::<_, Option<String>>("m_key") else {
        return Value::Null;
    };
    let issue_url = jira_base_url.map(|base| format!("{base}/browse/{key}"));
    json!({
        "mappingId": row.get::<_, uuid::Uuid>("m_id"),
        "issueKey": key,
        "issueUrl": issue_url,
        "lastSyncedAt": row.get::<_, Option<DateTime<Utc>>>("m_synced").map(timestamp),
        "syncStatus": row.get::<_, String>("m_status"),
    })
}
