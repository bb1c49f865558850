//! SQL of per-Jira-project settings (`jira_project_settings`, V6): value
//! map overrides and whether issues made in Jira are imported.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;

/// A project's settings as stored; `updated_at` is `None` for a project
/// with no row (the defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSettings {
    pub project_key: String,
    pub maps: Value,
    pub import_unmapped: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn get(client: &impl GenericClient, project_key: &str) -> Result<ProjectSettings, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT maps, import_unmapped, updated_at FROM jira_project_settings WHERE project_key = $1",
            &[&project_key],
        )
        .await?;
    Ok(match row {
        Some(r) => ProjectSettings {
            project_key: project_key.to_owned(),
            maps: r.get(0),
            import_unmapped: r.get(1),
            updated_at: Some(r.get(2)),
        },
        None => ProjectSettings {
            project_key: project_key.to_owned(),
            maps: serde_json::json!({}),
            import_unmapped: false,
            updated_at: None,
        },
    })
}

/// Creates or changes a project's settings; `None` keeps the stored value
/// (or the default for a new row).
pub async fn upsert(
    client: &impl GenericClient,
    project_key: &str,
    maps: Option<&Value>,
    import_unmapped: Option<bool>,
) -> Result<ProjectSettings, tokio_postgres::Error> {
    let row = client
        .query_one(
            "INSERT INTO jira_project_settings (project_key, maps, import_unmapped) \
             VALUES ($1, coalesce($2, '{}'::jsonb), coalesce($3, false)) \
             ON CONFLICT (project_key) DO UPDATE SET maps = coalesce($2, jira_project_settings.maps), \
                 import_unmapped = coalesce($3, jira_project_settings.import_unmapped), updated_at = now() \
             RETURNING maps, import_unmapped, updated_at",
            &[&project_key, &maps, &import_unmapped],
        )
        .await?;
    Ok(ProjectSettings {
        project_key: project_key.to_owned(),
        maps: row.get(0),
        import_unmapped: row.get(1),
        updated_at: Some(row.get(2)),
    })
}

/// Projects whose issues made in Jira are imported: reconciliation must
/// search them even before any of their issues is linked.
pub async fn importing(client: &impl GenericClient) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows =
        client.query("SELECT project_key FROM jira_project_settings WHERE import_unmapped ORDER BY 1", &[]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// After an import: the new item equals its issue (bookkeeping only, so no
/// trigger counts it as an edit).
pub async fn mark_imported(
    client: &impl GenericClient,
    kind: crate::domain::EntityKind,
    id: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET last_synced_at = updated_at, sync_status = 'synced', sync_error = NULL WHERE id = $1",
        kind.table()
    );
    client.execute(&sql, &[&id]).await.map(drop)
}
