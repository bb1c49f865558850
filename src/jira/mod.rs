//! Jira: the client every outbound sync goes through, the shapes Jira sends
//! us, and the text formats it speaks (ADF for Cloud, wiki markup for Data
//! Center and webhooks) converted to and from ARKHITEKTON's Markdown.
//!
//! - [`connection`]: what a connection is; [`crypto`] seals its
//!   credentials; [`store`] keeps connections in PostgreSQL.
//! - [`client`]: the transport (limiter, auth, retries); [`limiter`] and
//!   [`backoff`] are its policy; [`Error`] is what callers branch on.
//! - [`oauth`]: consent and token refresh under a row lock; [`registry`]:
//!   one client per connection per process.
//! - [`ops`] (issues, transitions, search, links), [`bulk`] (up to 50
//!   creates per request), [`fields`] (discovery, cached), [`users`]
//!   (people by e-mail, cached), [`workflow`] (status changes of several
//!   transitions), [`hooks`] (dynamic webhooks); [`requests`] builds
//!   every body.
//! - [`adf`], [`wiki`]: Markdown ↔ ADF and wiki markup; [`webhook`]: deliveries.

pub mod adf;
pub mod backoff;
pub mod bulk;
pub mod client;
pub mod connection;
pub mod crypto;
mod error;
pub mod fields;
pub mod hooks;
pub mod limiter;
pub mod meta;
pub mod oauth;
pub mod ops;
pub mod registry;
pub mod requests;
pub mod store;
pub mod users;
pub mod webhook;
pub mod wiki;
pub mod workflow;

pub use client::JiraClient;
pub use error::Error;
