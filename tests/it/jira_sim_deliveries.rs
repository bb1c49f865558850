//! The Jira simulator's webhooks, read by arksync's own code. Deliveries the
//! simulator sends must parse with `Delivery::parse` and `WebhookPayload`
//! into the same typed values as Atlassian's real deliveries (read in place
//! from `../shared/reference/jira-webhooks/`) for the same events; and an
//! admin webhook pointed at the real server must be verified, stored once,
//! and answered 200 when Jira sends it again.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arksync::jira::webhook::{ChangeItem, EventKind, WebhookPayload};
use arksync::jira_sim::{self, AdminWebhook, SimConfig, SimServer};
use arksync::webhooks::Delivery;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::harness::{TestApp, WEBHOOK_SECRET};

type Got = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A webhook endpoint that records every delivery and answers 200.
async fn receiver() -> (String, Got) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Got = Arc::default();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let sink = sink.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    sink.lock().unwrap().push((parts.headers, body));
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), svc));
        }
    });
    (url, got)
}

async fn start_sim(hook_url: &str, secret: Option<&str>) -> SimServer {
    let mut config = SimConfig::default();
    config.admin_webhooks.push(AdminWebhook { url: hook_url.to_owned(), secret: secret.map(str::to_owned) });
    config.webhook_retry.base_delay = Duration::from_millis(20);
    jira_sim::start(config).await.expect("the simulator starts")
}

/// Calls the simulator's REST API as account `user` (0 = integration,
/// 1 = a person working in Jira); returns the status and JSON body.
async fn call(sim: &SimServer, user: usize, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let u = &sim.credentials()[user];
    let mut rb = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .basic_auth(&u.email, Some(&u.token));
    if let Some(body) = body {
        rb = rb.json(&body);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null))
}

fn adf(text: &str) -> Value {
    json!({ "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": text }] }] })
}

/// Parses one delivery the way the server does: the envelope, then the
/// typed payload.
fn parse(headers: &HeaderMap, body: &[u8]) -> (Delivery, WebhookPayload) {
    let delivery = Delivery::parse(headers, &bytes::Bytes::copy_from_slice(body)).expect("Delivery::parse accepts it");
    let payload = serde_json::from_slice(body).expect("WebhookPayload parses it");
    (delivery, payload)
}

fn reference(name: &str) -> (Delivery, WebhookPayload) {
    let path = crate::reference::path("jira-webhooks").join(name);
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&HeaderMap::new(), &body)
}

/// Which parts of a changelog item are set: `(fieldtype, from, fromString,
/// to, toString)`. Ids differ between sites; what is present must not.
fn presence(item: &ChangeItem) -> (Option<&str>, bool, bool, bool, bool) {
    (
        item.fieldtype.as_deref(),
        item.from.is_some(),
        item.from_string.is_some(),
        item.to.is_some(),
        item.to_string.is_some(),
    )
}

fn item<'a>(p: &'a WebhookPayload, field_id: &str) -> &'a ChangeItem {
    let items = &p.changelog.as_ref().expect("a changelog").items;
    items.iter().find(|i| i.field_id.as_deref() == Some(field_id)).unwrap_or_else(|| panic!("no {field_id} item"))
}

/// The typed values that must agree between a real delivery and ours.
fn assert_same_typed(name: &str, (rd, rp): &(Delivery, WebhookPayload), (od, op): &(Delivery, WebhookPayload)) {
    assert_eq!(op.kind(), rp.kind(), "{name}: kind");
    assert_eq!(od.event_type, rd.event_type, "{name}: event type");
    if rp.issue_event_type_name.is_some() {
        assert_eq!(op.issue_event_type_name, rp.issue_event_type_name, "{name}: issue_event_type_name");
    }
    let (ri, oi) = (rp.issue.as_ref().unwrap(), op.issue.as_ref().unwrap());
    assert_eq!(od.issue_key.as_deref(), Some(oi.key.as_str()), "{name}: Delivery reads the key");
    assert_eq!(od.issue_id.as_deref(), Some(oi.id.as_str()), "{name}: Delivery reads the id");
    assert!(ri.id.parse::<u64>().is_ok() && oi.id.parse::<u64>().is_ok(), "{name}: numeric issue ids");
    assert_eq!(rp.issue_updated().is_some(), op.issue_updated().is_some(), "{name}: fields.updated parses");
    assert!(op.issue_updated().is_some(), "{name}: fields.updated parses");
    let v2_text = |d: &Value| d.is_string() || d.is_null();
    assert!(oi.fields.get("description").is_none_or(v2_text), "{name}: v2 description (wiki markup)");
    let account = |p: &WebhookPayload| p.user.as_ref().and_then(|u| u.account_id.clone());
    assert!(account(rp).is_some() && account(op).is_some(), "{name}: user.accountId");
    assert_eq!(rp.changelog.is_some(), op.changelog.is_some(), "{name}: changelog presence");
    if let (Some(rc), Some(oc)) = (&rp.changelog, &op.changelog) {
        assert!(rc.id.parse::<u64>().is_ok() && oc.id.parse::<u64>().is_ok(), "{name}: changelog.id");
        assert!(oc.items.iter().all(|i| i.field_id.is_some()), "{name}: every item has a fieldId");
    }
}

/// Waits (≤ 10 s) for `n` deliveries.
async fn wait_for(got: &Got, n: usize) -> Vec<(HeaderMap, Bytes)> {
    for _ in 0..1000 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = got.lock().unwrap().clone();
    assert!(got.len() >= n, "expected {n} deliveries, got {}", got.len());
    got
}

#[tokio::test]
async fn simulated_deliveries_parse_into_the_same_typed_values_as_real_ones() {
    if crate::reference::missing() {
        return;
    }
    let (url, got) = receiver().await;
    let sim = start_sim(&url, None).await;
    let person = sim.credentials()[1].account_id.clone();
    let create = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" },
        "summary": "typed", "description": adf("description here"), "customfield_10001": "US-0" } });
    let (status, created) = call(&sim, 0, reqwest::Method::POST, "/rest/api/3/issue", Some(create)).await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let issue = format!("/rest/api/3/issue/{key}");
    let edit = json!({ "fields": { "customfield_10001": "US-1" } });
    assert_eq!(call(&sim, 1, reqwest::Method::PUT, &issue, Some(edit)).await.0, 204);
    let transition = json!({ "transition": { "id": "21" } });
    assert_eq!(call(&sim, 1, reqwest::Method::POST, &format!("{issue}/transitions"), Some(transition)).await.0, 204);
    assert_eq!(call(&sim, 1, reqwest::Method::DELETE, &issue, None).await.0, 204);

    let ours: Vec<(HeaderMap, (Delivery, WebhookPayload))> =
        wait_for(&got, 4).await.into_iter().map(|(h, b)| (h.clone(), parse(&h, &b))).collect();
    for (headers, (delivery, payload)) in &ours {
        let id = headers["x-atlassian-webhook-identifier"].to_str().unwrap();
        assert_eq!(delivery.idempotency_key, format!("delivery:{id}"), "keyed on the delivery identifier");
        assert_eq!((delivery.retry, delivery.issue_key.as_deref()), (0, Some(key.as_str())));
        assert_eq!(payload.issue.as_ref().unwrap().id, created["id"].as_str().unwrap());
    }
    let find = |kind: EventKind, type_name: &str| {
        ours.iter()
            .map(|(_, parsed)| parsed)
            .find(|(_, p)| {
                p.kind() == kind && (type_name.is_empty() || p.issue_event_type_name.as_deref() == Some(type_name))
            })
            .unwrap_or_else(|| panic!("no {kind:?}/{type_name} delivery"))
    };
    let user = |p: &WebhookPayload| p.user.as_ref().and_then(|u| u.account_id.clone());

    let (real, sim_created) = (reference("cloud-issue_created.bytebase.json"), find(EventKind::IssueCreated, ""));
    assert_same_typed("created", &real, sim_created);
    for field in ["description", "priority", "reporter", "status", "summary"] {
        assert_eq!(presence(item(&sim_created.1, field)), presence(item(&real.1, field)), "created: {field}");
    }
    assert_eq!(item(&sim_created.1, "summary").to_string.as_deref(), Some("typed"));
    assert_eq!(item(&sim_created.1, "priority").to_string, item(&real.1, "priority").to_string);
    assert_eq!(user(&sim_created.1), Some(sim.integration_user().account_id.clone()));

    let real = reference("cloud-issue_updated-field-edit.bytebase.json");
    let sim_edit = find(EventKind::IssueUpdated, "issue_updated");
    assert_same_typed("field edit", &real, sim_edit);
    let (real_item, our_item) = (&real.1.changelog.as_ref().unwrap().items[0], item(&sim_edit.1, "customfield_10001"));
    assert!(real_item.field_id.as_deref().unwrap().starts_with("customfield_"));
    assert_eq!(presence(our_item), presence(real_item), "a custom text field carries only strings");
    assert_eq!(
        (our_item.field.as_str(), our_item.from_string.as_deref(), our_item.to_string.as_deref()),
        ("ARKHITEKTON ID", Some("US-0"), Some("US-1"))
    );
    assert_eq!(user(&sim_edit.1).as_deref(), Some(person.as_str()), "the person is the actor");

    let real = reference("cloud-issue_updated-status-transition.bytebase.json");
    let sim_transition = find(EventKind::IssueUpdated, "issue_generic");
    assert_same_typed("transition", &real, sim_transition);
    let (real_item, our_item) = (item(&real.1, "status"), item(&sim_transition.1, "status"));
    assert_eq!(presence(our_item), presence(real_item));
    assert_eq!(
        (&our_item.field, &our_item.from_string, &our_item.to_string),
        (&real_item.field, &real_item.from_string, &real_item.to_string)
    );
    assert_eq!(user(&sim_transition.1).as_deref(), Some(person.as_str()));

    let (real, sim_deleted) = (reference("cloud-issue_deleted.osbot-jira.json"), find(EventKind::IssueDeleted, ""));
    assert_same_typed("deleted", &real, sim_deleted);
    assert_eq!(user(&sim_deleted.1).as_deref(), Some(person.as_str()));
    sim.shutdown().await;
}

/// `/_sim/deliveries` once `n` attempts have an answer.
async fn answered_attempts(sim: &SimServer, n: usize) -> Vec<Value> {
    let url = format!("{}/_sim/deliveries", sim.base_url());
    for _ in 0..1000 {
        let all: Vec<Value> = reqwest::get(&url).await.unwrap().json().await.unwrap();
        let answered: Vec<Value> = all.into_iter().filter(|a| a["status"].is_u64()).collect();
        if answered.len() >= n {
            return answered;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} answered deliveries");
}

#[tokio::test]
async fn a_persons_edit_reaches_the_server_signed_and_a_duplicate_delivery_is_stored_once() {
    let app = TestApp::spawn().await;
    let sim = start_sim(&app.url("/api/jira/webhooks"), Some(WEBHOOK_SECRET)).await;
    let create =
        json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Task" }, "summary": "e2e" } });
    let (_, created) = call(&sim, 0, reqwest::Method::POST, "/rest/api/3/issue", Some(create)).await;
    let issue = format!("/rest/api/3/issue/{}", created["key"].as_str().unwrap());
    let edit = json!({ "fields": { "summary": "edited by a person" } });
    assert_eq!(call(&sim, 1, reqwest::Method::PUT, &issue, Some(edit)).await.0, 204);

    let attempts = answered_attempts(&sim, 2).await;
    assert!(attempts.iter().all(|a| a["status"] == 202), "verified and stored: {attempts:?}");
    let c = app.db.connect().await;
    let row = c
        .query_one(
            "SELECT jira_issue_key, idempotency_key, raw_payload->'user'->>'accountId' FROM jira_webhook_events \
             WHERE event_type = 'jira:issue_updated'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), created["key"].as_str().unwrap());
    let edit_attempt =
        attempts.iter().find(|a| row.get::<_, String>(1) == format!("delivery:{}", a["identifier"].as_str().unwrap()));
    assert!(edit_attempt.is_some(), "stored under the delivery identifier");
    assert_eq!(row.get::<_, String>(2), sim.credentials()[1].account_id);

    let faults = json!({ "webhooks": { "duplicateNext": 1 } });
    reqwest::Client::new().post(format!("{}/_sim/faults", sim.base_url())).json(&faults).send().await.unwrap();
    let edit = json!({ "fields": { "summary": "edited twice" } });
    assert_eq!(call(&sim, 1, reqwest::Method::PUT, &issue, Some(edit)).await.0, 204);
    let attempts = answered_attempts(&sim, 4).await;
    let (a, b) = (&attempts[2], &attempts[3]);
    assert_eq!(a["identifier"], b["identifier"], "the same delivery twice");
    let mut statuses = [a["status"].as_u64().unwrap(), b["status"].as_u64().unwrap()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 202], "the second copy is recognised");
    let count: i64 = c.query_one("SELECT count(*) FROM jira_webhook_events", &[]).await.unwrap().get(0);
    assert_eq!(count, 3, "create, edit, and the duplicated edit once");
    sim.shutdown().await;
}
