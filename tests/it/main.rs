//! arksync's integration tests: one binary, grouped by feature, against real
//! PostgreSQL (an embedded cluster per run, a fresh database per test).

mod harness;

mod bad_input;
mod embedded_cluster;
mod formats;
mod jira_sim_deliveries;
mod metrics;
mod ops_config;
mod outbox;
mod queue;
mod runbook;
mod schema;
mod webhooks;
mod work_items_api;
