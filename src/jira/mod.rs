//! Jira: the shapes Jira sends us, and the text formats it speaks (ADF for
//! Cloud, wiki markup for Data Center and webhooks) converted to and from
//! ARKHITEKTON's Markdown. The REST client arrives with the Jira client issue.

pub mod adf;
pub mod webhook;
pub mod wiki;
