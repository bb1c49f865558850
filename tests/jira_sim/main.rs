//! Integration tests of the Jira simulator, one binary grouped by feature.
//! Each test starts its own simulator on 127.0.0.1:0 and talks HTTP to it.

mod adf_corpus;
mod auth;
mod bad_input;
mod bulk;
mod bulk_client;
mod contract;
mod faults;
mod issues;
#[path = "../common/reference.rs"]
mod reference;
mod search;
mod support;
mod users;
mod webhooks;
