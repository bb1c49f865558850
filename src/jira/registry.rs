//! One [`JiraClient`] per connection per process, so that every worker of
//! the process shares the connection's limiter, field cache and OAuth
//! token. A connection changed through the API (its site, credentials or
//! limits) gets a new client the next time it is read, in every replica.
//! The limiter is per process: with N replicas against one Jira, give each
//! `ratePerSec` = budget / N (Jira's 429s remain the backstop).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::connection::{Connection, Credentials, Status};
use super::store::ConnectionStore;
use super::{Error, JiraClient};

#[derive(Debug)]
pub struct Clients {
    store: ConnectionStore,
    /// Each connection's client, with the shape of the connection it was
    /// built from (see [`shape`]).
    by_connection: Mutex<HashMap<i64, (String, Arc<JiraClient>)>>,
}

/// What a client is built from: where it calls, how it authenticates and
/// its limits. An OAuth connection's tokens are not part of it (the client
/// refreshes them itself).
fn shape(conn: &Connection) -> String {
    let credentials = match &conn.credentials {
        Credentials::Oauth { client_id, client_secret, .. } => {
            serde_json::json!({"oauth": [client_id, client_secret]})
        }
        other => serde_json::to_value(other).unwrap_or_default(),
    };
    let parts = serde_json::json!([conn.flavor, conn.api_root(), credentials, conn.settings]);
    hex::encode(Sha256::digest(parts.to_string().as_bytes()))
}

impl Clients {
    pub fn new(store: ConnectionStore) -> Self {
        Self { store, by_connection: Mutex::default() }
    }

    /// The client of connection `id`, as the connection is now (see
    /// [`Self::for_connection`]).
    pub async fn get(&self, id: i64) -> Result<Arc<JiraClient>, Error> {
        let conn = self.store.load(id).await?.ok_or_else(|| Error::Config(format!("no Jira connection {id}")))?;
        self.for_connection(&conn)
    }

    /// The client of `conn`: the one already built while the connection
    /// keeps its shape (so every task shares its limiter and caches), a new
    /// one once its site, credentials or limits changed. A connection
    /// needing consent is an error, not a client (and its old client goes).
    pub fn for_connection(&self, conn: &Connection) -> Result<Arc<JiraClient>, Error> {
        let mut map = self.by_connection.lock().unwrap_or_else(|e| e.into_inner());
        if conn.status == Status::NeedsConsent {
            map.remove(&conn.id);
            let reason = conn.status_reason.clone().unwrap_or_else(|| "not authorised yet".into());
            return Err(Error::NeedsReconsent(reason));
        }
        let shape = shape(conn);
        if let Some((built_from, client)) = map.get(&conn.id)
            && *built_from == shape
        {
            return Ok(client.clone());
        }
        let client = Arc::new(JiraClient::new(conn, &self.store)?);
        map.insert(conn.id, (shape, client.clone()));
        Ok(client)
    }
}
