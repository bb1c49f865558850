//! The sync engine: the rules that keep work items and Jira issues equal.
//!
//! - Outbound ([`outbound`]): the database's outbox triggers enqueue a
//!   `push_to_jira` job for every edit of a syncing item (never for a change
//!   that came from Jira); the job reads the item's latest state, maps it
//!   ([`mapping`], [`maps`]) and creates or edits the issue, then moves its
//!   status by transition.
//! - Inbound ([`inbound`]): a stored webhook delivery (or a reconciliation
//!   pass) is turned into a patch of the linked item, after the spec's loop
//!   prevention layers (our own account or Sync Source marker; idempotency;
//!   stale versions; nothing changed → no write), with concurrent edits
//!   resolved and recorded ([`conflicts`]). Changes are written with
//!   `sync_source = 'jira'`, which the triggers refuse to push back.
//! - Decisions ([`plan`]): both directions' rules as pure functions of
//!   values (load → plan → apply), property-tested; what both sides agreed
//!   on is kept per field, with a fingerprint of Jira's own form of it
//!   ([`agreed`]), so a field nobody changed is never written.
//! - People ([`people`]): assignees and owners are e-mails here and Jira
//!   users there, looked up (cached) on the way out and mapped back in.
//! - Import ([`import`]): an issue made in Jira in a project that imports
//!   them becomes a new item, linked, in one transaction.
//! - Bulk ([`bulk`]): a bulk sync: pulls its items' issues page by page,
//!   and/or enqueues their pushes in batches.

pub mod agreed;
pub mod bulk;
pub mod conflicts;
pub mod creates;
pub mod import;
pub mod inbound;
pub mod mapping;
pub mod maps;
pub mod options;
pub mod outbound;
pub mod people;
pub mod plan;
pub mod reconcile;
pub mod recorder;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::EntityKind;
use crate::jira::connection::Flavor;
use crate::jira::registry::Clients;
use crate::jira::store::ConnectionStore;
use crate::jira::{Error as JiraError, JiraClient};

/// The connection the sync uses: the one named `default`, else the first.
pub const DEFAULT_CONNECTION: &str = "default";

/// What sync jobs share.
#[derive(Clone)]
pub struct Engine {
    pub pool: deadpool_postgres::Pool,
    pub store: ConnectionStore,
    pub clients: Arc<Clients>,
    /// Integration accounts learnt from `/myself`, by connection.
    accounts: Arc<Mutex<HashMap<i64, String>>>,
    /// The status new issues start in, by connection, project and issue
    /// type, with when it was learnt.
    initial_statuses: Arc<Mutex<HashMap<InitialStatusKey, (String, Instant)>>>,
    /// New issues, made in bulk calls shared by concurrent pushes.
    pub creates: Arc<creates::Creates>,
    /// Successful pushes' bookkeeping, committed in groups.
    pub recorder: Arc<recorder::Recorder>,
    /// The last [`Engine::side`], with when it was read.
    side: Arc<Mutex<Option<(Side, Instant)>>>,
    /// Jira's select-list options, as pushes learnt them.
    options: Arc<options::OptionCache>,
}

/// Connection, project and issue type.
type InitialStatusKey = (i64, String, String);

/// How long a learnt initial status is trusted: a workflow rarely changes,
/// and a wrong guess would leave a new issue in the wrong status.
const INITIAL_STATUS_TTL: Duration = Duration::from_secs(300);

/// How long the connection a sync uses is remembered: reading it (and
/// opening its credentials) for every job was two statements per create. A
/// connection added, replaced or removed takes effect within this.
const SIDE_TTL: Duration = Duration::from_secs(2);

/// How long the integration account last read stays known to the webhook
/// endpoint, which settles that account's changes (our own echoes) without
/// a job. Accounts change only when the connection is replaced, and a
/// replaced connection's old account makes no more changes.
const OWN_ACCOUNT_TTL: Duration = Duration::from_secs(60);

/// The Jira side of one sync: the client and what we know of its account.
#[derive(Clone)]
pub struct Side {
    pub client: Arc<JiraClient>,
    pub flavor: Flavor,
    /// The integration account: changes it makes are our own echoes.
    pub account_id: Option<String>,
}

impl Engine {
    pub fn new(pool: deadpool_postgres::Pool, store: ConnectionStore) -> Self {
        Self {
            pool,
            clients: Arc::new(Clients::new(store.clone())),
            store,
            accounts: Arc::default(),
            initial_statuses: Arc::default(),
            creates: Arc::default(),
            recorder: Arc::default(),
            side: Arc::default(),
            options: Arc::default(),
        }
    }

    /// The Jira connection to sync with (read at most every [`SIDE_TTL`]).
    pub async fn side(&self) -> Result<Side, JiraError> {
        if let Some((side, at)) = &*self.side.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < SIDE_TTL
        {
            return Ok(side.clone());
        }
        let side = self.read_side().await?;
        *self.side.lock().unwrap_or_else(|e| e.into_inner()) = Some((side.clone(), Instant::now()));
        Ok(side)
    }

    /// Whether `actor` is the integration account of the connection the
    /// sync uses, as far as known without waiting: false when the
    /// connection has not been read in the last [`OWN_ACCOUNT_TTL`].
    pub fn is_own_account(&self, actor: &str) -> bool {
        match &*self.side.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((side, at)) => at.elapsed() < OWN_ACCOUNT_TTL && side.account_id.as_deref() == Some(actor),
            None => false,
        }
    }

    /// Jira's options for a kind's select lists in `project`, as pushes
    /// learnt them on the connection last read (see [`options`]), without
    /// asking Jira; `None` when not known.
    pub fn known_options(&self, project: &str, kind: EntityKind) -> Option<Arc<options::Allowed>> {
        let connection = self.side.lock().unwrap_or_else(|e| e.into_inner()).as_ref()?.0.client.connection_id;
        self.options.known(connection, project, kind)
    }

    async fn read_side(&self) -> Result<Side, JiraError> {
        let conn = match self.store.load_by_name(DEFAULT_CONNECTION).await? {
            Some(conn) => conn,
            None => {
                let first = self.store.list().await?.into_iter().next();
                let id = first.ok_or_else(|| JiraError::Config("no Jira connection is configured".into()))?.id;
                self.store.load(id).await?.ok_or_else(|| JiraError::Config("the Jira connection vanished".into()))?
            }
        };
        let client = self.clients.for_connection(&conn)?;
        let account_id = match conn.account_id {
            Some(id) => id,
            None => self.account(conn.id, &client).await?,
        };
        Ok(Side { flavor: conn.flavor, account_id: Some(account_id), client })
    }

    /// The integration account of a connection that does not record it
    /// (API-token and PAT connections): asked of Jira once per process.
    async fn account(&self, connection: i64, client: &JiraClient) -> Result<String, JiraError> {
        if let Some(id) = self.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(&connection) {
            return Ok(id.clone());
        }
        let id = client.myself().await?;
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).insert(connection, id.clone());
        Ok(id)
    }

    /// The status issues of this type start in, in this project: read off
    /// the issue `just_created` once, then remembered for a while, so most
    /// creates need no status call at all.
    pub async fn initial_status(
        &self,
        side: &Side,
        project: &str,
        issue_type: &str,
        just_created: &str,
    ) -> Result<String, JiraError> {
        let key = (side.client.connection_id, project.to_owned(), issue_type.to_owned());
        if let Some((status, at)) = self.initial_statuses.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
            && at.elapsed() < INITIAL_STATUS_TTL
        {
            return Ok(status.clone());
        }
        let issue = side.client.get_issue(just_created, &["status"]).await?;
        let status = issue["fields"]["status"]["name"]
            .as_str()
            .ok_or_else(|| JiraError::Decode(format!("{just_created} has no status")))?
            .to_owned();
        self.initial_statuses.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (status.clone(), Instant::now()));
        Ok(status)
    }
}
