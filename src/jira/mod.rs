//! Jira: the shapes Jira sends us. The REST client arrives with the Jira
//! client issue.

pub mod webhook;
