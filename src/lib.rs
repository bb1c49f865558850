//! arksync keeps ARKHITEKTON work items (user stories, defects, epics) and
//! Jira issues in sync, both ways, in near real time.
//!
//! The design is PostgreSQL-centric: the database holds the work items, the
//! id mappings, the inbox of Jira webhook deliveries and the job queue, and
//! its triggers decide what must be pushed to Jira. A lean hyper server
//! ([`http`]) takes API calls and webhooks and writes them to PostgreSQL
//! ([`db`], all SQL lives there); workers claim jobs with `FOR UPDATE SKIP
//! LOCKED`. With no `DATABASE_URL`, arksync runs its own private PostgreSQL
//! cluster ([`pg`]), which the tests reuse.
//!
//! - [`config`]: typed configuration from environment variables.
//! - [`domain`]: the work-item kinds, their fields and the rules of their values.
//! - [`db`]: the pool, migrations and one function per SQL statement.
//! - [`http`]: the API server, router and handlers.
//! - [`pg`]: the embedded PostgreSQL cluster.
//! - [`queue`]: the job queue's workers, NOTIFY listener and batched completion.
//! - [`scheduler`]: cron entries (webhook refresh, retention, reconciliation)
//!   that only enqueue jobs, once per slot however many replicas run.
//! - [`sync`]: the sync rules: field maps, loop prevention, conflicts, outbound, inbound.
//! - [`webhooks`]: verifying, storing (group commit) and processing Jira deliveries.
//! - [`jira`]: the Jira client (connections with sealed credentials, OAuth,
//!   rate limits, retries, issue operations) and the shapes and formats Jira speaks.
//! - [`jira_sim`]: a Jira simulator faithful to Atlassian's contract, for tests and demos.
//! - [`metrics`]: every Prometheus metric, named in one place.
//! - [`app`]: what each subcommand runs.

pub mod app;
pub mod batch;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod healthcheck;
pub mod http;
pub mod jira;
pub mod jira_sim;
pub mod metrics;
pub mod pg;
pub mod queue;
pub mod scheduler;
pub mod sync;
pub mod telemetry;
pub mod webhooks;
