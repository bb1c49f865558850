//! `Sim`, the shared state of one simulator instance. Each part has its own
//! lock so a slow path in one (webhook bookkeeping) never blocks another
//! (the issue store); no lock is ever held across an `.await`.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;

use super::clock::SimClock;
use super::config::{SimConfig, SimUser};
use super::delivery::{Attempt, Outgoing};
use super::faults::Faults;
use super::oauth::OAuthState;
use super::ratelimit::RateLimiter;
use super::reqlog::RequestLog;
use super::store::Store;
use super::webhooks::Registry;

pub struct Sim {
    pub config: SimConfig,
    /// `http://127.0.0.1:PORT`, known once the listener is bound.
    pub base_url: String,
    pub clock: SimClock,
    pub store: Mutex<Store>,
    pub faults: Mutex<Faults>,
    pub limiter: Mutex<RateLimiter>,
    pub log: Mutex<RequestLog>,
    pub hooks: Mutex<Registry>,
    pub oauth: Mutex<OAuthState>,
    pub outbox: mpsc::UnboundedSender<Outgoing>,
    pub deliveries: Mutex<Vec<Attempt>>,
}

/// Locks a mutex, recovering from poisoning: a panicking handler must not
/// take the whole simulator down with it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    pub fn user(&self, account_id: &str) -> Option<&SimUser> {
        self.config.users.iter().find(|u| u.account_id == account_id)
    }

    pub fn integration_user(&self) -> &SimUser {
        &self.config.users[0]
    }

    /// Project ids are 10000, 10001, … in configuration order.
    pub fn project_id(&self, key: &str) -> Option<u64> {
        let pos = self.config.projects.iter().position(|p| p.eq_ignore_ascii_case(key))?;
        Some(10000 + pos as u64)
    }

    /// Resolves a project by key or numeric id to its canonical key.
    pub fn project_key(&self, id_or_key: &str) -> Option<String> {
        if let Ok(id) = id_or_key.parse::<u64>() {
            let idx = id.checked_sub(10000)? as usize;
            return self.config.projects.get(idx).cloned();
        }
        self.config.projects.iter().find(|p| p.eq_ignore_ascii_case(id_or_key)).cloned()
    }

    /// REST version this flavour serves: 3 for Cloud, 2 for Data Center.
    pub fn api_version(&self) -> u8 {
        match self.config.flavor {
            super::config::Flavor::Cloud => 3,
            super::config::Flavor::Datacenter => 2,
        }
    }

    /// Saves the store when a state file is configured; failures are logged,
    /// not returned, because the in-memory state is still correct.
    pub fn persist(&self, store: &Store) {
        if let Some(path) = &self.config.state_file
            && let Err(e) = store.save(path)
        {
            tracing::warn!(error = %e, "could not persist simulator state");
        }
    }
}
