//! The secret-leak test, alone in its own test binary: it captures every
//! log line with a scoped `tracing` subscriber, and tracing's per-callsite
//! interest cache is shared by all threads of a process, so tests running
//! beside it on other threads could make callsites skip the capture. Alone,
//! the capture sees everything. It reuses the integration tests' harness.

#[allow(dead_code)]
#[path = "../it/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../it/jira_support.rs"]
mod jira_support;

mod log_capture;
