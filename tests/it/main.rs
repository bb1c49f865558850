//! arksync's integration tests: one binary, grouped by feature, against real
//! PostgreSQL (an embedded cluster per run, a fresh database per test).

#[path = "../common/corpus.rs"]
mod corpus;
mod harness;
mod jira_support;
mod log_context;
#[path = "../common/reference.rs"]
mod reference;

mod bad_input;
mod embedded_cluster;
mod formats;
mod jira_client;
mod jira_connections;
mod jira_contract;
mod jira_oauth;
mod jira_rate_limits;
mod jira_retries;
mod jira_sim_deliveries;
mod metrics;
mod ops_config;
mod outbox;
mod queue;
mod replicas;
mod runbook;
mod scheduler;
mod schema;
mod sync_api;
mod sync_bulk_create;
mod sync_bulk_pull;
mod sync_chaos;
pub mod sync_e2e;
mod sync_fidelity;
mod sync_fields;
mod sync_import;
mod sync_people;
mod webhooks;
mod work_items_api;
