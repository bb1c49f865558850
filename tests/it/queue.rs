//! The job queue under concurrency and failure, against real PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arksync::db::jobs::{self, NewJob};
use arksync::queue::{JobError, Registry, Worker, WorkerConfig};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::harness::TestDb;

type Runs = Arc<Mutex<HashMap<i64, Vec<DateTime<Utc>>>>>;

fn fast_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 8,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        rescue_interval: Duration::from_millis(100),
        retry_base: Duration::from_millis(100),
        shutdown_deadline: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

/// A registry whose `noop` jobs record when each run started.
fn recording(runs: &Runs) -> Registry {
    let runs = runs.clone();
    Registry::new().register("noop", move |ctx| {
        let runs = runs.clone();
        async move {
            runs.lock().unwrap().entry(ctx.job.id).or_default().push(Utc::now());
            Ok(())
        }
    })
}

fn start(db: &TestDb, registry: Registry, config: WorkerConfig) -> (tokio::task::JoinHandle<()>, CancellationToken) {
    let token = CancellationToken::new();
    let worker = Worker::new(db.pool.clone(), db.pg_config(), registry, config);
    let run = worker.run(token.clone());
    (tokio::spawn(async move { run.await.unwrap() }), token)
}

async fn enqueue_noops(db: &TestDb, n: usize) {
    let payloads: Vec<serde_json::Value> = (0..n).map(|i| json!({"i": i})).collect();
    let client = db.pool.get().await.unwrap();
    jobs::insert_many(&client, "noop", &payloads, 5).await.unwrap();
}

async fn count(db: &TestDb, state: &str) -> i64 {
    let c = db.pool.get().await.unwrap();
    c.query_one("SELECT count(*) FROM jobs WHERE state = $1", &[&state]).await.unwrap().get(0)
}

async fn wait_for(db: &TestDb, state: &str, n: i64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while count(db, state).await < n {
        assert!(tokio::time::Instant::now() < deadline, "fewer than {n} jobs reached {state} in {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn racing_workers_never_run_a_job_twice() {
    let db = TestDb::new().await;
    enqueue_noops(&db, 3000).await;
    let runs: Runs = Arc::default();
    let workers: Vec<_> = (0..4).map(|_| start(&db, recording(&runs), fast_config())).collect();
    wait_for(&db, "completed", 3000, Duration::from_secs(120)).await;
    for (handle, token) in workers {
        token.cancel();
        handle.await.unwrap();
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 3000, "every job ran");
    assert!(runs.values().all(|r| r.len() == 1), "no job ran twice");
}

#[tokio::test]
async fn a_job_of_a_killed_worker_completes_exactly_once_after_its_lease_expires() {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    let id = jobs::insert(&client, &NewJob::new("noop", json!({}))).await.unwrap().unwrap();

    // Worker A takes the job and hangs; then its whole runtime is dropped,
    // as a killed process would be: nothing of it completes or releases.
    let pool = db.pool.clone();
    let pg_config = db.pg_config();
    let killed = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let (claimed_tx, mut claimed_rx) = tokio::sync::mpsc::unbounded_channel();
            let registry = Registry::new().register("noop", move |_| {
                let claimed_tx = claimed_tx.clone();
                async move {
                    claimed_tx.send(()).unwrap();
                    std::future::pending::<Result<(), JobError>>().await
                }
            });
            let config = WorkerConfig { lease: Duration::from_secs(1), ..fast_config() };
            tokio::spawn(Worker::new(pool, pg_config, registry, config).run(CancellationToken::new()));
            claimed_rx.recv().await.unwrap();
        });
        drop(rt);
    });
    killed.join().unwrap();
    let runs: Runs = Arc::default();
    let (handle, token) = start(&db, recording(&runs), fast_config());
    wait_for(&db, "completed", 1, Duration::from_secs(30)).await;
    token.cancel();
    handle.await.unwrap();

    assert_eq!(runs.lock().unwrap()[&id].len(), 1);
    let row = client.query_one("SELECT attempt, errors::text FROM jobs WHERE id = $1", &[&id]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2, "the rescued run is the second attempt");
    assert!(row.get::<_, String>(1).contains("lease expired"));
}

#[tokio::test]
async fn a_failing_job_is_retried_with_growing_delays_then_discarded_with_every_error() {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    let job = NewJob { max_attempts: 4, ..NewJob::new("flaky", json!({})) };
    let id = jobs::insert(&client, &job).await.unwrap().unwrap();
    let starts: Arc<Mutex<Vec<DateTime<Utc>>>> = Arc::default();
    let seen = starts.clone();
    let registry = Registry::new().register("flaky", move |ctx| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(Utc::now());
            Err(JobError::Retry(anyhow::anyhow!("boom on attempt {}", ctx.job.attempt)))
        }
    });
    let (handle, token) = start(&db, registry, fast_config());
    wait_for(&db, "discarded", 1, Duration::from_secs(30)).await;
    token.cancel();
    handle.await.unwrap();

    let starts = starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 4, "ran max_attempts times");
    for (n, pair) in starts.windows(2).enumerate() {
        let gap = (pair[1] - pair[0]).to_std().unwrap();
        let least = Duration::from_millis(100).mul_f64(2f64.powi(n as i32) * 0.7);
        assert!(gap >= least, "retry {n} came after {gap:?}, before the backoff of at least {least:?}");
    }
    let errors: serde_json::Value =
        client.query_one("SELECT errors FROM jobs WHERE id = $1", &[&id]).await.unwrap().get(0);
    let messages: Vec<&str> = errors.as_array().unwrap().iter().map(|e| e["error"].as_str().unwrap()).collect();
    assert_eq!(messages, ["boom on attempt 1", "boom on attempt 2", "boom on attempt 3", "boom on attempt 4"]);
    assert!(jobs::requeue(&client, id).await.unwrap(), "an operator can requeue a discarded job");
    assert_eq!(count(&db, "available").await, 1);
}

#[tokio::test]
async fn a_discard_error_stops_retrying_at_once() {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    jobs::insert(&client, &NewJob::new("bad", json!({}))).await.unwrap();
    let registry =
        Registry::new().register("bad", |_| async { Err(JobError::Discard(anyhow::anyhow!("payload is nonsense"))) });
    let (handle, token) = start(&db, registry, fast_config());
    wait_for(&db, "discarded", 1, Duration::from_secs(30)).await;
    token.cancel();
    handle.await.unwrap();
    let attempt: i32 = client.query_one("SELECT attempt FROM jobs", &[]).await.unwrap().get(0);
    assert_eq!(attempt, 1);
}

#[tokio::test]
async fn shutdown_finishes_running_jobs_within_the_deadline_and_releases_the_rest() {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    let quick = jobs::insert(&client, &NewJob::new("quick", json!({}))).await.unwrap().unwrap();
    let slow = jobs::insert(&client, &NewJob::new("slow", json!({}))).await.unwrap().unwrap();
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let (tx1, tx2) = (started_tx.clone(), started_tx);
    let registry = Registry::new()
        .register("quick", move |_| {
            let tx = tx1.clone();
            async move {
                tx.send(()).unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(())
            }
        })
        .register("slow", move |_| {
            let tx = tx2.clone();
            async move {
                tx.send(()).unwrap();
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        });
    let config = WorkerConfig { shutdown_deadline: Duration::from_secs(1), ..fast_config() };
    let (handle, token) = start(&db, registry, config);
    started_rx.recv().await.unwrap();
    started_rx.recv().await.unwrap();
    token.cancel();
    handle.await.unwrap();
    let state = |id: i64| {
        let client = &client;
        async move {
            let row = client.query_one("SELECT state, attempt FROM jobs WHERE id = $1", &[&id]).await.unwrap();
            (row.get::<_, String>(0), row.get::<_, i32>(1))
        }
    };
    assert_eq!(state(quick).await, ("completed".to_owned(), 1), "finished within the deadline");
    assert_eq!(state(slow).await, ("available".to_owned(), 0), "given back without using an attempt");
}

#[tokio::test]
async fn notify_wakes_an_idle_worker_long_before_its_poll() {
    let db = TestDb::new().await;
    let runs: Runs = Arc::default();
    let config = WorkerConfig { poll_interval: Duration::from_secs(600), ..fast_config() };
    let (handle, token) = start(&db, recording(&runs), config);
    wait_for_listener(&db).await;
    insert_notify_and_wait(&db).await;
    token.cancel();
    handle.await.unwrap();
}

#[tokio::test]
async fn the_listener_reconnects_after_its_connection_is_killed() {
    let db = TestDb::new().await;
    let runs: Runs = Arc::default();
    let config = WorkerConfig { poll_interval: Duration::from_secs(600), ..fast_config() };
    let (handle, token) = start(&db, recording(&runs), config);
    let first = wait_for_listener(&db).await;
    let client = db.pool.get().await.unwrap();
    client.execute("SELECT pg_terminate_backend($1)", &[&first]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while wait_for_listener(&db).await == first {
        assert!(tokio::time::Instant::now() < deadline, "the listener never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    insert_notify_and_wait(&db).await;
    token.cancel();
    handle.await.unwrap();
}

#[tokio::test]
async fn without_listen_the_poll_still_finds_jobs() {
    let db = TestDb::new().await;
    let runs: Runs = Arc::default();
    let config = WorkerConfig { listen: false, poll_interval: Duration::from_millis(100), ..fast_config() };
    let (handle, token) = start(&db, recording(&runs), config);
    let client = db.pool.get().await.unwrap();
    jobs::insert(&client, &NewJob::new("noop", json!({}))).await.unwrap();
    wait_for(&db, "completed", 1, Duration::from_secs(30)).await;
    token.cancel();
    handle.await.unwrap();
}

#[tokio::test]
async fn unique_jobs_coalesce_only_while_waiting() {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    let job = NewJob { unique_key: Some("push:US-K7V595F".into()), ..NewJob::new("push", json!({})) };
    let first = jobs::insert(&client, &job).await.unwrap();
    assert!(first.is_some());
    assert_eq!(jobs::insert(&client, &job).await.unwrap(), None, "a waiting twin absorbs the new one");
    let claimed = jobs::claim(&client, &["push".to_owned()], 10, Duration::from_secs(30), "w").await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(jobs::insert(&client, &job).await.unwrap().is_some(), "an edit during a running push gets its own");
}

#[tokio::test]
async fn completion_by_a_stale_claim_is_refused() {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    let id = jobs::insert(&client, &NewJob::new("noop", json!({}))).await.unwrap().unwrap();
    let kinds = ["noop".to_owned()];
    let first = jobs::claim(&client, &kinds, 1, Duration::from_secs(30), "a").await.unwrap();
    client.execute("UPDATE jobs SET lease_expires_at = now() - interval '1 s' WHERE id = $1", &[&id]).await.unwrap();
    assert_eq!(jobs::rescue_expired(&client).await.unwrap(), 1);
    let second = jobs::claim(&client, &kinds, 1, Duration::from_secs(30), "b").await.unwrap();
    assert_eq!(jobs::complete_many(&client, &[id], &[first[0].attempt]).await.unwrap(), 0, "a's claim is gone");
    assert_eq!(jobs::complete_many(&client, &[id], &[second[0].attempt]).await.unwrap(), 1);
}

#[tokio::test]
async fn pruning_removes_old_finished_jobs_in_batches_and_keeps_the_rest() {
    let db = TestDb::new().await;
    enqueue_noops(&db, 25).await;
    let client = db.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE jobs SET state = 'completed', finalized_at = now() - interval '2 days' WHERE id IN \
             (SELECT id FROM jobs ORDER BY id LIMIT 20)",
            &[],
        )
        .await
        .unwrap();
    let day = Duration::from_secs(86_400);
    assert_eq!(jobs::prune(&client, day, day * 7, 15).await.unwrap(), 15);
    assert_eq!(jobs::prune(&client, day, day * 7, 15).await.unwrap(), 5);
    assert_eq!(count(&db, "available").await, 5, "live jobs are untouched");
}

/// One job and a NOTIFY; returns once a worker has completed the job.
async fn insert_notify_and_wait(db: &TestDb) {
    let client = db.pool.get().await.unwrap();
    jobs::insert(&client, &NewJob::new("noop", json!({}))).await.unwrap();
    jobs::notify(&client).await.unwrap();
    wait_for(db, "completed", 1, Duration::from_secs(30)).await;
}

/// The backend pid of the worker's LISTEN connection, once it is listening.
async fn wait_for_listener(db: &TestDb) -> i32 {
    let client = db.pool.get().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let row = client
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'arksync-listener' \
                 AND datname = current_database() AND query ILIKE 'LISTEN%'",
                &[],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(tokio::time::Instant::now() < deadline, "no LISTEN connection");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_worker_prunes_completed_jobs_past_their_retention_and_keeps_dead_letters() {
    let db = TestDb::new().await;
    enqueue_noops(&db, 50).await;
    let client = db.pool.get().await.unwrap();
    let dead = NewJob { max_attempts: 1, ..NewJob::new("bad", json!({})) };
    jobs::insert(&client, &dead).await.unwrap();
    let runs: Runs = Arc::default();
    let registry =
        recording(&runs).register("bad", |_| async { Err(JobError::Discard(anyhow::anyhow!("never works"))) });
    let config = WorkerConfig { completed_retention: Duration::from_millis(200), ..fast_config() };
    let (handle, token) = start(&db, registry, config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = client.query_one("SELECT count(*) FROM jobs", &[]).await.unwrap().get(0);
        if left == 1 && runs.lock().unwrap().len() == 50 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} jobs left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    token.cancel();
    handle.await.unwrap();
    assert_eq!(count(&db, "discarded").await, 1, "the dead letter is kept for its own, longer retention");
}

#[tokio::test]
async fn a_job_waits_while_its_unique_twin_runs_and_failures_coalesce_into_the_waiting_twin() {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    let kinds = ["push".to_owned()];
    let job = NewJob { unique_key: Some("push:US-K7V595F".into()), ..NewJob::new("push", json!({})) };
    let first = jobs::insert(&client, &job).await.unwrap().unwrap();
    let running = jobs::claim(&client, &kinds, 10, Duration::from_secs(30), "a").await.unwrap();
    assert_eq!(running.len(), 1);
    let second = jobs::insert(&client, &job).await.unwrap().unwrap();
    let other = jobs::insert(&client, &NewJob::new("push", json!({}))).await.unwrap().unwrap();
    let claimed = jobs::claim(&client, &kinds, 10, Duration::from_secs(30), "b").await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![other], "the twin waits; others run");
    // The running one fails: the waiting twin already covers it.
    let state = jobs::fail(&client, first, 1, "boom", chrono::Utc::now(), false).await.unwrap();
    assert_eq!(state.as_deref(), Some("cancelled"));
    let claimed = jobs::claim(&client, &kinds, 10, Duration::from_secs(30), "c").await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![second]);
}
