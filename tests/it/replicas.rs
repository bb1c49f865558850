//! The real binary as four replicas against one database: three
//! `arksync worker` and one `arksync serve`. Scheduled slots are enqueued
//! once and every job is processed once, whichever replica takes it.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::harness::TestDb;

/// Jobs enqueued besides the scheduled ones.
const JOBS: usize = 60;

fn start(db: &TestDb, command: &str, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_arksync"))
        .arg(command)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("ARKSYNC_LISTEN", "127.0.0.1:0")
        .env("ARKSYNC_DATA_DIR", dir)
        .env("ARKSYNC_DB_POOL_SIZE", "4")
        .env("ARKSYNC_WORKERS", "4")
        .env("ARKSYNC_PRUNE_INTERVAL_SECS", "2")
        .env("ARKSYNC_RECONCILE_INTERVAL_SECS", "2")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting arksync")
}

/// SIGTERM, then the JSON lines it wrote.
fn stop(child: Child) -> Vec<Value> {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "arksync exited with {}", out.status);
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[tokio::test]
async fn three_workers_and_a_server_enqueue_each_slot_once_and_run_each_job_once() {
    let db = TestDb::new().await;
    let dir = tempdir();
    let payloads = vec![json!({}); JOBS];
    let client = db.pool.get().await.unwrap();
    arksync::db::jobs::insert_many(&client, arksync::scheduler::PRUNE_RETENTION, &payloads, 3).await.unwrap();
    let replicas: Vec<Child> = ["worker", "worker", "worker", "serve"].iter().map(|c| start(&db, c, &dir)).collect();

    // Enough for a few 2-second slots; every job done.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        let row = client
            .query_one(
                "SELECT (SELECT count(DISTINCT slot) FROM scheduled_runs WHERE name = 'prune_retention'), \
                        (SELECT count(*) FROM jobs WHERE kind = 'prune_retention' AND state <> 'completed')",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) >= 4 && row.get::<_, i64>(1) == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slots or jobs missing: {row:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs: Vec<Vec<Value>> = replicas.into_iter().map(stop).collect();

    for name in ["prune_retention", "reconcile"] {
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM scheduled_runs WHERE name = $1), \
                        (SELECT count(*) FROM jobs WHERE kind = $1 AND unique_key LIKE 'cron:%'), \
                        (SELECT count(DISTINCT unique_key) FROM jobs WHERE kind = $1 AND unique_key LIKE 'cron:%')",
                &[&name],
            )
            .await
            .unwrap();
        let (slots, jobs, keys): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        assert!(slots >= 3, "{name}: {slots} slots");
        assert_eq!((jobs, keys), (slots, slots), "{name}: one job per slot");
    }
    let unfinished: i64 = client
        .query_one(
            "SELECT count(*) FROM jobs WHERE kind = 'prune_retention' AND NOT (state = 'completed' AND attempt = 1)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unfinished, 0, "every job completed at its first attempt");
    // Each job's handler ran exactly once, across the four processes; its
    // line carries the job span's fields.
    let mut runs: BTreeMap<i64, usize> = BTreeMap::new();
    for line in logs.iter().flatten().filter(|l| l["message"] == "pruned rows past retention") {
        assert_eq!(line["span"]["job.kind"], "prune_retention", "{line}");
        *runs.entry(line["span"]["job.id"].as_i64().unwrap()).or_default() += 1;
    }
    let total: i64 =
        client.query_one("SELECT count(*) FROM jobs WHERE kind = 'prune_retention'", &[]).await.unwrap().get(0);
    assert_eq!(runs.len() as i64, total, "every job ran");
    assert!(runs.values().all(|n| *n == 1), "no job ran twice: {runs:?}");
    std::fs::remove_dir_all(&dir).ok();
}

fn tempdir() -> std::path::PathBuf {
    let dir = crate::harness::test_root().join(format!("replicas-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
