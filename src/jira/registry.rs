//! One [`JiraClient`] per connection per process, so that every worker of
//! the process shares the connection's limiter, field cache and OAuth
//! token. The limiter is per process: with N replicas against one Jira,
//! give each `ratePerSec` = budget / N (Jira's 429s remain the backstop).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::store::ConnectionStore;
use super::{Error, JiraClient};

#[derive(Debug)]
pub struct Clients {
    store: ConnectionStore,
    by_connection: Mutex<HashMap<i64, Arc<JiraClient>>>,
}

impl Clients {
    pub fn new(store: ConnectionStore) -> Self {
        Self { store, by_connection: Mutex::default() }
    }

    /// The client of connection `id`, built on first use. A connection
    /// needing consent or without a site is an error, not a client.
    pub async fn get(&self, id: i64) -> Result<Arc<JiraClient>, Error> {
        if let Some(client) = self.by_connection.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(client.clone());
        }
        let conn = self.store.load(id).await?.ok_or_else(|| Error::Config(format!("no Jira connection {id}")))?;
        if conn.status == super::connection::Status::NeedsConsent {
            let reason = conn.status_reason.unwrap_or_else(|| "not authorised yet".into());
            return Err(Error::NeedsReconsent(reason));
        }
        let client = Arc::new(JiraClient::new(&conn, &self.store)?);
        let mut map = self.by_connection.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.entry(id).or_insert(client).clone())
    }

    /// Drops the cached client (after the connection changed or needs
    /// consent), so the next `get` reads the connection again.
    pub fn forget(&self, id: i64) {
        self.by_connection.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
}
