//! `JiraClient::create_new_issues` end to end against the simulator, on
//! Cloud and Data Center: batches of at most 50, each input mapped back to
//! its own issue or error, 429 retried, an ambiguous failure not repeated.

use std::collections::HashMap;

use arksync::jira::bulk::{ElementResult, parse_bulk_created};
use arksync::jira::connection::{Connection, Credentials, Flavor, Settings, Status};
use arksync::jira::fields::names;
use arksync::jira::requests::{self, FieldValue, IssueInput};
use arksync::jira::store::ConnectionStore;
use arksync::jira::{Error, JiraClient, backoff::RetryPolicy};
use arksync::jira_sim::{self, SimConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::contract::openapi;
use super::support::Sim;

/// A client for the simulator's integration account: Basic on Cloud, a
/// PAT on Data Center. Neither touches the connection store, so its pool
/// points nowhere and never connects.
fn client(sim: &Sim) -> JiraClient {
    let user = sim.server.integration_user();
    let (flavor, credentials) = match sim.server.config().flavor {
        jira_sim::Flavor::Cloud => {
            (Flavor::Cloud, Credentials::Basic { email: user.email.clone(), api_token: user.token.clone() })
        }
        jira_sim::Flavor::Datacenter => (Flavor::Datacenter, Credentials::Pat { token: user.token.clone() }),
    };
    let conn = Connection {
        id: 1,
        name: "sim".into(),
        flavor,
        base_url: Some(sim.server.base_url()),
        cloud_id: None,
        credentials,
        account_id: None,
        settings: Settings { rate_per_sec: 1000.0, burst: 100, ..Settings::default() },
        status: Status::Active,
        status_reason: None,
        access_expires_at: None,
        refresh_count: 0,
    };
    let pool = arksync::db::pool(tokio_postgres::Config::new(), 1).unwrap();
    let policy = RetryPolicy {
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    JiraClient::new(&conn, &ConnectionStore::new(pool, None)).unwrap().with_policy(policy)
}

fn input(summary: &str) -> IssueInput {
    IssueInput {
        project_key: Some("PROJ".into()),
        issue_type: Some("Story".into()),
        summary: Some(summary.into()),
        description: Some(format!("**{summary}** in [Markdown](https://example.com)\n\n- one\n- two")),
        labels: Some(vec!["arksync".into()]),
        priority: Some("High".into()),
        custom: vec![
            (names::ACCEPTANCE_CRITERIA.into(), FieldValue::Markdown("Given\n\nThen *it works*".into())),
            (names::STORY_POINTS.into(), FieldValue::Number(3.0)),
        ],
        ..IssueInput::default()
    }
    .with_arkhitekton_id(&format!("US-{summary}"))
}

/// An input Jira refuses: no summary.
fn refused() -> IssueInput {
    IssueInput { summary: None, ..input("x") }
}

/// Every issue in the simulator, by key.
async fn issues_by_key(sim: &Sim) -> HashMap<String, Value> {
    let all = sim.admin(Method::GET, "issues", None).await;
    all.as_array().unwrap().iter().map(|i| (i["key"].as_str().unwrap().to_string(), i.clone())).collect()
}

/// Method, path and status of each bulk create the simulator received.
async fn bulk_calls(sim: &Sim) -> Vec<u16> {
    let log = sim.admin(Method::GET, "requests", None).await;
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().ends_with("/issue/bulk"))
        .map(|e| e["status"].as_u64().unwrap() as u16)
        .collect()
}

fn refused_field(outcome: &ElementResult) -> Option<String> {
    match outcome {
        Err(Error::Invalid { status: 400, fields, .. }) => fields.keys().next().cloned(),
        _ => None,
    }
}

/// Each outcome maps back to its input: created ones carry the input's
/// summary, refused ones are exactly the inputs without one.
async fn assert_mapped_back(sim: &Sim, inputs: &[IssueInput], outcomes: &[ElementResult]) {
    assert_eq!(outcomes.len(), inputs.len());
    let stored = issues_by_key(sim).await;
    for (i, (input, outcome)) in inputs.iter().zip(outcomes).enumerate() {
        match (&input.summary, outcome) {
            (Some(summary), Ok(created)) => {
                assert_eq!(stored[&created.key]["fields"]["summary"], summary.as_str(), "input {i}");
                assert_eq!(stored[&created.key]["id"], created.id.as_str(), "input {i}");
            }
            (None, outcome) => assert_eq!(refused_field(outcome).as_deref(), Some("summary"), "input {i}"),
            (_, Err(e)) => panic!("input {i} failed: {e}"),
        }
    }
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(stored.len(), created, "nothing created beyond what was reported");
}

#[tokio::test]
async fn cloud_partial_failure_maps_each_result_back_to_its_input() {
    let sim = Sim::cloud().await;
    let jira = client(&sim);
    let inputs = vec![input("a"), refused(), input("c"), input("d"), refused()];
    let outcomes = jira.create_new_issues(&inputs).await.unwrap();
    assert_mapped_back(&sim, &inputs, &outcomes).await;
    let keys: Vec<Option<&str>> = outcomes.iter().map(|o| o.as_ref().ok().map(|c| c.key.as_str())).collect();
    assert_eq!(keys, [Some("PROJ-1"), None, Some("PROJ-2"), Some("PROJ-3"), None]);
    assert_eq!(bulk_calls(&sim).await, [201]);
}

#[tokio::test]
async fn more_than_fifty_inputs_go_in_batches_of_fifty_and_stay_in_order() {
    let sim = Sim::cloud().await;
    let jira = client(&sim);
    let inputs: Vec<IssueInput> =
        (0..120).map(|i| if [7, 75, 119].contains(&i) { refused() } else { input(&format!("s{i}")) }).collect();
    let outcomes = jira.create_new_issues(&inputs).await.unwrap();
    assert_eq!(bulk_calls(&sim).await, [201, 201, 201], "50 + 50 + 20");
    assert_mapped_back(&sim, &inputs, &outcomes).await;
    assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 3);
}

#[tokio::test]
async fn a_batch_with_every_input_refused_is_answered_not_failed() {
    let sim = Sim::cloud().await;
    let outcomes = client(&sim).create_new_issues(&[refused(), refused()]).await.unwrap();
    assert_eq!(
        outcomes.iter().map(refused_field).collect::<Vec<_>>(),
        [Some("summary".into()), Some("summary".into())]
    );
    assert_eq!(bulk_calls(&sim).await, [400]);
}

#[tokio::test]
async fn each_element_is_the_body_a_single_create_sends() {
    let sim = Sim::cloud().await;
    let jira = client(&sim);
    let single = jira.create_new_issue(&input("same")).await.unwrap();
    let bulk = jira.create_new_issues(&[input("same")]).await.unwrap().remove(0).unwrap();
    let stored = issues_by_key(&sim).await;
    let fields = |key: &str| {
        let mut f = stored[key]["fields"].as_object().unwrap().clone();
        // Times, and links that name the issue's own key.
        for volatile in ["created", "updated", "statuscategorychangedate", "votes", "watches"] {
            f.remove(volatile);
        }
        f
    };
    assert_ne!(single.key, bulk.key);
    assert_eq!(fields(&bulk.key), fields(&single.key));
    let map = jira.field_map().await.unwrap();
    let body = requests::issue_body(Flavor::Cloud, &map, &input("same")).unwrap();
    let ark_id = map.id(names::ARKHITEKTON_ID).unwrap();
    assert_eq!(fields(&bulk.key)[ark_id], "US-same");
    assert_eq!(fields(&bulk.key)["description"], body["fields"]["description"], "ADF as built");
}

#[tokio::test]
async fn a_429_is_waited_out_and_the_batch_sent_again() {
    let sim = Sim::cloud().await;
    let jira = client(&sim);
    jira.field_map().await.unwrap();
    sim.admin(Method::POST, "faults", Some(json!({ "burst429": { "count": 1, "retryAfterSecs": 1 } }))).await;
    let inputs = vec![input("a"), input("b")];
    let outcomes = jira.create_new_issues(&inputs).await.unwrap();
    assert_eq!(bulk_calls(&sim).await, [429, 201]);
    assert_mapped_back(&sim, &inputs, &outcomes).await;
}

#[tokio::test]
async fn an_ambiguous_failure_is_returned_not_repeated() {
    let sim = Sim::cloud().await;
    let jira = client(&sim);
    let faults = json!({ "failNext": { "status": 503, "count": 1, "pathContains": "/issue/bulk" } });
    sim.admin(Method::POST, "faults", Some(faults)).await;
    let result = jira.create_new_issues(&[input("a"), input("b")]).await;
    assert!(matches!(result, Err(Error::Server { status: 503, .. })), "{result:?}");
    assert_eq!(bulk_calls(&sim).await, [503], "a 5xx on a create is never repeated blindly");
}

#[tokio::test]
async fn data_center_bulk_creates_on_v2_with_wiki_markup_and_maps_failures() {
    let sim = Sim::start(SimConfig { flavor: jira_sim::Flavor::Datacenter, ..Default::default() }).await;
    let jira = client(&sim);
    let inputs = vec![refused(), input("dc")];
    let outcomes = jira.create_new_issues(&inputs).await.unwrap();
    assert_mapped_back(&sim, &inputs, &outcomes).await;
    let log = sim.admin(Method::GET, "requests", None).await;
    assert!(log.as_array().unwrap().iter().any(|e| e["path"] == "/rest/api/2/issue/bulk"));
    let key = &outcomes[1].as_ref().unwrap().key;
    let description = &issues_by_key(&sim).await[key]["fields"]["description"];
    let wiki = requests::rich_text(Flavor::Datacenter, inputs[1].description.as_deref().unwrap());
    assert_eq!(description, &wiki, "wiki markup as a single create sends it");
    assert!(description.as_str().unwrap().starts_with("*dc* in [Markdown|https://example.com]"), "{description}");
}

#[tokio::test]
async fn no_inputs_send_nothing() {
    let sim = Sim::cloud().await;
    assert!(client(&sim).create_new_issues(&[]).await.unwrap().is_empty());
    assert!(sim.admin(Method::GET, "requests", None).await.as_array().unwrap().is_empty());
}

#[test]
fn the_bulk_body_matches_the_request_schema_and_the_documented_answers_parse() {
    if crate::reference::missing() {
        return;
    }
    let op = &openapi()["paths"]["/rest/api/3/issue/bulk"]["post"];
    let schema = op.pointer("/requestBody/content/application~1json/schema").unwrap();
    let root = json!({ "allOf": [schema], "components": openapi()["components"] });
    let validator = jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&root).unwrap();
    let element = json!({ "fields": { "summary": "x", "project": { "key": "PROJ" } } });
    let body = requests::bulk_create_body(&[&element, &element]);
    assert_eq!(body["issueUpdates"][1], element, "elements are sent unchanged");
    assert!(validator.is_valid(&body));
    assert!(!validator.is_valid(&json!({ "issueUpdates": [[]] })), "the check has teeth");
    let example = |status: &str| -> Value {
        let ex = op["responses"][status].pointer("/content/application~1json/example").unwrap();
        serde_json::from_str(ex.as_str().unwrap()).unwrap()
    };
    let created = parse_bulk_created(StatusCode::CREATED, &example("201"), 2).unwrap();
    let keys: Vec<&str> = created.iter().map(|o| o.as_ref().unwrap().key.as_str()).collect();
    assert_eq!(keys, ["ED-24", "ED-25"]);
    let refused = parse_bulk_created(StatusCode::BAD_REQUEST, &example("400"), 2).unwrap();
    assert!(
        refused.iter().all(|o| matches!(o, Err(Error::Invalid { fields, .. }) if fields.contains_key("issuetype")))
    );
}
