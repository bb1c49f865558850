//! Scheduled work: each slot is enqueued once however many replicas fire
//! it; retention deletes only what is past it; dynamic webhooks near expiry
//! are refreshed against the simulator.

use std::time::Duration;

use arksync::jira_sim::SimConfig;
use arksync::scheduler::{self, Retention};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::harness::{TestApp, TestDb};
use crate::jira_support::{admin_post, client, consented_oauth_connection, requests, sim, store};

#[tokio::test]
async fn three_replicas_firing_the_same_slots_enqueue_each_once() {
    let db = TestDb::new().await;
    let replicas: Vec<_> = (0..3).map(|_| arksync::db::pool(db.pg_config(), 4).unwrap()).collect();
    let slots: Vec<DateTime<Utc>> = (0..5)
        .map(|i| scheduler::interval_slot(Utc::now() + chrono::Duration::minutes(5 * i), Duration::from_secs(300)))
        .collect();
    for slot in &slots {
        let fired = replicas.iter().map(|pool| {
            let (pool, slot) = (pool.clone(), *slot);
            tokio::spawn(async move { scheduler::enqueue_slot(&pool, scheduler::RECONCILE, slot).await.unwrap() })
        });
        let ids: Vec<Option<i64>> =
            futures_util::future::join_all(fired).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(ids.iter().flatten().count(), 1, "slot {slot}: {ids:?}");
    }
    // A replica firing late, after the slot's job ran and was pruned.
    db.psql("DELETE FROM jobs");
    assert_eq!(scheduler::enqueue_slot(&replicas[0], scheduler::RECONCILE, slots[0]).await.unwrap(), None);
    db.psql(&format!("SELECT 1 FROM scheduled_runs WHERE name = 'reconcile' HAVING count(*) = {}", slots.len()));
    let other = scheduler::enqueue_slot(&replicas[1], scheduler::PRUNE_RETENTION, slots[0]).await.unwrap();
    assert!(other.is_some(), "another entry's slot at the same time is its own");
    let job = db.psql("SELECT kind || ' ' || payload::text || ' ' || unique_key FROM jobs");
    let key = format!("cron:prune_retention:{}", slots[0].format("%Y-%m-%dT%H:%M:%SZ"));
    assert_eq!(job, format!("prune_retention {{}} {key}"));
}

#[tokio::test]
async fn prune_retention_deletes_only_rows_past_retention_and_never_pending_events() {
    let db = TestDb::new().await;
    db.psql(
        "INSERT INTO jira_webhook_events (event_type, raw_payload, idempotency_key, processing_status, received_at) \
         SELECT 'jira:issue_updated', '{}', s || '-' || age, s, now() - make_interval(days => age) \
         FROM unnest(ARRAY['pending', 'processed', 'ignored', 'failed']) AS s, unnest(ARRAY[5, 31, 400]) AS age",
    );
    db.psql(
        "INSERT INTO jira_sync_logs (sync_direction, sync_type, sync_source, status, created_at) \
         SELECT 'to_jira', 'update', 'change', 'success', now() - make_interval(days => age) \
         FROM unnest(ARRAY[1, 89, 91, 365]) AS age",
    );
    let retention = Retention { webhook_event_days: 30, sync_log_days: 90 };
    scheduler::prune_retention(&db.pool, retention).await.unwrap();
    let events = db.psql("SELECT string_agg(idempotency_key, ',' ORDER BY idempotency_key) FROM jira_webhook_events");
    assert_eq!(events, "failed-5,ignored-5,pending-31,pending-400,pending-5,processed-5");
    let logs = db.psql(
        "SELECT string_agg(extract(day FROM now() - created_at)::text, ',' ORDER BY created_at DESC) FROM jira_sync_logs",
    );
    assert_eq!(logs, "1,89");
}

#[tokio::test]
async fn refresh_webhooks_refreshes_those_near_expiry_and_leaves_fresh_ones_alone() {
    let app = TestApp::spawn().await;
    let sim = sim(SimConfig::default()).await;
    let id = consented_oauth_connection(&app, &sim).await;
    let store = store(&app.db);
    let jira = client(&store.load(id).await.unwrap().unwrap(), &store);
    let register = async |jql: &str| {
        let url = app.url("/api/jira/webhooks");
        *jira.register_webhook(&url, &["jira:issue_updated"], jql, &[]).await.unwrap()[0].as_ref().unwrap()
    };
    let old = register("project = PROJ").await;
    // 25 days later (in Jira's clock, and in the job's `now`): `old`
    // expires in 5 days, `fresh` (registered now) in 30.
    admin_post(&sim, "clock/advance", json!({ "days": 25 })).await;
    let fresh = register("project = PROJ AND type = Bug").await;
    let expiries = async || -> Vec<(i64, i64)> {
        let hooks = jira.list_webhooks().await.unwrap();
        hooks.iter().map(|h| (h.id, h.expiration_date.as_i64().unwrap())).collect()
    };
    let before = expiries().await;
    reqwest::Client::new().delete(format!("{}/_sim/requests", sim.base_url())).send().await.unwrap();

    let engine = arksync::sync::Engine::new(app.db.pool.clone(), store.clone());
    scheduler::refresh_all(&engine, Utc::now() + chrono::Duration::days(25)).await.unwrap();

    let refreshes: Vec<_> = requests(&sim)
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/webhook/refresh"))
        .collect();
    assert_eq!(refreshes.len(), 1, "one PUT for all due webhooks: {refreshes:?}");
    assert_eq!(refreshes[0]["method"], "PUT");
    let after = expiries().await;
    let expiry = |list: &[(i64, i64)], id| list.iter().find(|(h, _)| *h == id).unwrap().1;
    let day = 86_400_000;
    assert!(expiry(&after, old) - expiry(&before, old) > 24 * day, "old was refreshed: {before:?} → {after:?}");
    assert_eq!(expiry(&after, fresh), expiry(&before, fresh), "fresh was left alone");
}
