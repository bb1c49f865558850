//! Every file of the psql runbook in `sql/` runs cleanly against a migrated
//! database with data in it, and the ones that answer a question answer it.

use std::path::{Path, PathBuf};

use crate::harness::TestDb;

fn runbook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sql").join(name)
}

/// A bit of everything the runbook looks at.
fn seed(db: &TestDb) -> (String, String) {
    db.psql(
        "INSERT INTO jobs (kind, state, attempt, max_attempts, finalized_at, errors) VALUES \
           ('push_to_jira', 'discarded', 3, 3, now(), '[{\"attempt\": 3, \"error\": \"Jira said 400: summary is required\"}]'); \
         INSERT INTO jobs (kind, state, attempt, lease_expires_at, locked_by, attempted_at) VALUES \
           ('process_webhook', 'running', 1, now() - interval '5 minutes', 'arksync-1-dead', now() - interval '6 minutes'); \
         INSERT INTO jobs (kind, run_at) VALUES ('process_webhook', now() - interval '10 minutes');",
    );
    let discarded = db.psql("SELECT id FROM jobs WHERE state = 'discarded'");
    let story = db.psql(
        "INSERT INTO user_stories (title, sync_to_jira, jira_project_key) VALUES ('Behind', true, 'PROJ') RETURNING id",
    );
    db.psql(&format!(
        "INSERT INTO jira_integration_mappings (arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
           jira_issue_type, jira_project_key) VALUES ('{story}', 'user_story', 'PROJ-7', '10007', 'Story', 'PROJ'); \
         INSERT INTO jira_sync_logs (arkhitekton_id, sync_direction, sync_type, sync_source, status, error_message, \
           error_code, duration_ms) VALUES ('{story}', 'to_jira', 'update', 'change', 'failed', 'rate limited', '429', 12), \
           ('{story}', 'to_jira', 'create', 'change', 'success', NULL, NULL, 40); \
         INSERT INTO jira_webhook_events (event_type, jira_issue_key, raw_payload, idempotency_key, processing_status, \
           processing_error) VALUES ('jira:issue_updated', 'PROJ-7', '{{}}', 'k1', 'failed', 'does not parse');"
    ));
    (discarded, story)
}

#[tokio::test]
async fn every_runbook_file_runs_and_answers_its_question() {
    let db = TestDb::new().await;
    let (discarded, story) = seed(&db);
    let run = |name: &str, vars: &[(&str, &str)]| db.psql_file(&runbook(name), vars);

    let depth = run("queue_depth.sql", &[]);
    // The syncing story enqueued one push; the seeded one was discarded.
    assert!(depth.contains("push_to_jira|1|0|0|1|0|"), "{depth}");
    assert!(run("oldest_runnable_jobs.sql", &[]).contains("process_webhook"));
    assert!(run("stuck_jobs.sql", &[]).contains("arksync-1-dead"));
    assert!(run("discarded_jobs.sql", &[]).contains("summary is required"));
    assert!(run("failed_syncs_24h.sql", &[]).contains("rate limited"));
    assert!(run("out_of_sync_entities.sql", &[]).contains(&story));
    assert!(run("mappings_for.sql", &[("id", &story)]).contains("PROJ-7"));
    assert!(run("mappings_for.sql", &[("id", "PROJ-7")]).contains(&story));
    assert!(run("webhook_events_by_status.sql", &[]).contains("does not parse"));
    assert!(run("sync_rate.sql", &[]).contains("to_jira|success|1|1"));
    assert!(run("queue_bloat.sql", &[]).contains("jobs|"));

    let requeued = run("requeue_discarded_job.sql", &[("job_id", &discarded)]);
    assert!(requeued.contains("available"), "{requeued}");
    assert_eq!(db.psql(&format!("SELECT state || ',' || attempt FROM jobs WHERE id = {discarded}")), "available,0");
    assert_eq!(run("requeue_discarded_job.sql", &[("job_id", &discarded)]), "", "only a discarded job is requeued");
    // A value is passed as a literal, never spliced into the SQL.
    run("mappings_for.sql", &[("id", "x' OR '1'='1")]);
}

#[test]
fn every_runbook_file_is_covered_by_the_test_above_and_has_a_header() {
    let source = include_str!("runbook.rs");
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("sql")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".sql") {
            continue;
        }
        assert!(source.contains(&format!("\"{name}\"")), "{name} is not run by the test");
        let text = std::fs::read_to_string(runbook(&name)).unwrap();
        assert!(text.starts_with("-- When:"), "{name} must start with a comment saying when to use it");
    }
}
