//! New issues in bulk: pushes that each need a new issue, running at the
//! same time, share `POST /issue/bulk` calls (up to 50 issues a call)
//! instead of one `POST /issue` each.
//!
//! Nothing waits to fill a batch: a runner task takes whatever creates have
//! arrived and sends them at once, so a lone create goes out immediately
//! (as a plain `POST /issue`) and a burst (a bulk sync, many edits) goes out
//! up to 50 at a time. A few calls may be in flight at once; while they are,
//! new creates gather for the next call. Each push still records its create
//! as begun before it is sent and does its own bookkeeping after, so a push
//! whose batch failed as a whole (unknown which issues exist) looks its
//! issue up on retry, exactly as after a failed single create.

use std::sync::{Arc, OnceLock};

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::jira::bulk::BULK_CREATE_LIMIT;
use crate::jira::ops::CreatedIssue;
use crate::jira::requests::IssueInput;
use crate::jira::{Error, JiraClient};

/// Bulk calls in flight at once, over all connections.
const IN_FLIGHT: usize = 4;

struct Request {
    client: Arc<JiraClient>,
    input: IssueInput,
    reply: oneshot::Sender<Result<CreatedIssue, Error>>,
}

/// Hands creates to the runner, started on first use.
#[derive(Default)]
pub struct Creates {
    runner: OnceLock<mpsc::UnboundedSender<Request>>,
}

impl Creates {
    /// Creates the issue `input` describes through `client`, in a bulk call
    /// with whatever other creates are waiting. Like
    /// [`JiraClient::create_new_issue`], nothing is looked up first: the
    /// caller knows no earlier attempt can have reached Jira.
    pub async fn create(&self, client: Arc<JiraClient>, input: IssueInput) -> Result<CreatedIssue, Error> {
        let (reply, answer) = oneshot::channel();
        let runner = self.runner.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(rx));
            tx
        });
        runner.send(Request { client, input, reply }).map_err(|_| Error::Config("the bulk creator stopped".into()))?;
        // A dropped reply means the call's task died mid-call: unknown
        // whether the issue was made, like a lost connection.
        answer.await.map_err(|_| Error::Network("the bulk create was interrupted".into()))?
    }
}

async fn run(mut requests: mpsc::UnboundedReceiver<Request>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = requests.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        // Everything that arrived meanwhile (also while waiting for a slot).
        let batch = crate::batch::with_ready(first, BULK_CREATE_LIMIT, || requests.try_recv().ok());
        tokio::spawn(async move {
            send(batch).await;
            drop(slot);
        });
    }
}

/// One bulk call per connection in the batch; every request gets its own
/// outcome, or the call's error when the call failed as a whole.
async fn send(mut batch: Vec<Request>) {
    while let Some(first) = batch.first() {
        let client = first.client.clone();
        let (same, rest): (Vec<Request>, Vec<Request>) =
            batch.into_iter().partition(|r| Arc::ptr_eq(&r.client, &client));
        batch = rest;
        if let [_] = same.as_slice() {
            // Alone: the plain create, which also looks up after an
            // ambiguous failure before trying again.
            let request = same.into_iter().next().expect("one request");
            request.reply.send(client.create_new_issue(&request.input).await).ok();
            continue;
        }
        let (inputs, replies): (Vec<IssueInput>, Vec<_>) = same.into_iter().map(|r| (r.input, r.reply)).unzip();
        match client.create_new_issues(&inputs).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    reply.send(outcome).ok();
                }
            }
            Err(e) => {
                for reply in replies {
                    reply.send(Err(e.clone())).ok();
                }
            }
        }
    }
}
