//! Contract tests of the Jira client against Atlassian's OpenAPI document
//! (read in place from the shared reference folder): every body the
//! client can send validates against its operation's request schema (and
//! every ADF inside it against the ADF schema), and every response the
//! client parses is parsed from the document's own examples.

use std::sync::OnceLock;

use arksync::jira::connection::Flavor;
use arksync::jira::fields::{FieldMap, names};
use arksync::jira::hooks::{parse_registrations, parse_webhook_page};
use arksync::jira::ops::{CreatedIssue, PageCursor, parse_search, parse_transitions};
use arksync::jira::requests::{self, Assignee, FieldValue, IssueInput};
use arksync::jira::users::{pick_user, user_search_query};
use arksync::jira::{Error, client::error_from};
use serde_json::{Value, json};

fn reference(name: &str) -> Value {
    let path = crate::reference::path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference JSON parses")
}

fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| reference("jira-cloud-platform.swagger-v3.v3.json"))
}

fn operation(path: &str, method: &str) -> &'static Value {
    let op = &openapi()["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the OpenAPI document");
    op
}

/// Validates `body` against the request schema of `method path`.
fn check_request(path: &str, method: &str, body: &Value) {
    let errors = request_errors(path, method, body);
    assert!(errors.is_empty(), "{method} {path}: {errors:#?}\n{body}");
    check_adf_inside(body);
}

fn request_errors(path: &str, method: &str, body: &Value) -> Vec<String> {
    let schema = operation(path, method)
        .pointer("/requestBody/content/application~1json/schema")
        .unwrap_or_else(|| panic!("{method} {path} documents no JSON body"));
    let root = json!({ "allOf": [schema], "components": openapi()["components"] });
    let validator = jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&root).expect("schema compiles");
    validator.iter_errors(body).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

#[test]
fn the_schema_check_has_teeth() {
    if crate::reference::missing() {
        return;
    }
    assert!(!request_errors("/rest/api/3/webhook/refresh", "put", &json!({ "webhookIds": ["a"] })).is_empty());
    assert!(!request_errors("/rest/api/3/search/jql", "post", &json!({ "jql": 1 })).is_empty());
    assert!(!request_errors("/rest/api/3/issue", "post", &json!({ "fields": [] })).is_empty());
}

/// Every `{"type":"doc"}` inside `v` against the official ADF schema.
fn check_adf_inside(v: &Value) {
    static ADF: OnceLock<jsonschema::Validator> = OnceLock::new();
    match v {
        Value::Object(o) if o.get("type") == Some(&json!("doc")) => {
            let adf = ADF.get_or_init(|| {
                let schema = reference("adf-schema-full.v57.7.22.json");
                jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&schema).unwrap()
            });
            let errors: Vec<String> = adf.iter_errors(v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "ADF the client sends is invalid: {errors:?}\n{v}");
        }
        Value::Object(o) => o.values().for_each(check_adf_inside),
        Value::Array(a) => a.iter().for_each(check_adf_inside),
        _ => {}
    }
}

/// The document's example answer of `method path` for `status`.
fn example(path: &str, method: &str, status: u16) -> Value {
    let ex = operation(path, method)["responses"][status.to_string()]
        .pointer("/content/application~1json/example")
        .unwrap_or_else(|| panic!("{method} {path} {status} has no example"))
        .clone();
    match ex {
        Value::String(s) => serde_json::from_str(&s).expect("the example is JSON"),
        v => v,
    }
}

fn field_map() -> FieldMap {
    let fields: Vec<Value> =
        [names::ARKHITEKTON_ID, names::ACCEPTANCE_CRITERIA, names::DEFECT_TYPE, names::STORY_POINTS, names::EPIC_LINK]
            .iter()
            .enumerate()
            .map(|(i, n)| json!({ "id": format!("customfield_{}", 10100 + i), "name": n, "custom": true }))
            .collect();
    FieldMap::from_response(&Value::Array(fields)).unwrap()
}

fn full_input() -> IssueInput {
    IssueInput {
        project_key: Some("PROJ".into()),
        issue_type: Some("Story".into()),
        summary: Some("Pay with a saved card".into()),
        description: Some(
            "# Goal\n\nPay **fast**, see [docs](https://example.com).\n\n- a\n- b\n\n```rust\nfn x() {}\n```".into(),
        ),
        labels: Some(vec!["arksync".into(), "payments".into()]),
        priority: Some("High".into()),
        epic_key: Some("PROJ-1".into()),
        assignee: Some(Assignee::User("5b10ac8d82e05b22cc7d4ef5".into())),
        custom: vec![
            (names::ACCEPTANCE_CRITERIA.into(), FieldValue::Markdown("Given a card\nWhen I pay\nThen it works".into())),
            (names::DEFECT_TYPE.into(), FieldValue::Option("UI".into())),
            (names::STORY_POINTS.into(), FieldValue::Number(5.0)),
        ],
    }
    .with_arkhitekton_id("US-K7V595F")
}

#[test]
fn issue_bodies_match_the_create_and_edit_schemas_with_valid_adf() {
    if crate::reference::missing() {
        return;
    }
    let map = field_map();
    let create = requests::issue_body(Flavor::Cloud, &map, &full_input()).unwrap();
    assert_eq!(create["fields"]["parent"]["key"], "PROJ-1", "Cloud links epics through parent");
    assert_eq!(create["fields"]["assignee"], json!({"accountId": "5b10ac8d82e05b22cc7d4ef5"}));
    check_request("/rest/api/3/issue", "post", &create);
    let edit = IssueInput { summary: Some("x".into()), labels: Some(vec![]), ..IssueInput::default() };
    check_request(
        "/rest/api/3/issue/{issueIdOrKey}",
        "put",
        &requests::issue_body(Flavor::Cloud, &map, &edit).unwrap(),
    );
    let clear = IssueInput { custom: vec![(names::STORY_POINTS.into(), FieldValue::Clear)], ..IssueInput::default() };
    check_request(
        "/rest/api/3/issue/{issueIdOrKey}",
        "put",
        &requests::issue_body(Flavor::Cloud, &map, &clear).unwrap(),
    );
    let unassign = IssueInput { assignee: Some(Assignee::Unassigned), ..IssueInput::default() };
    let unassign = requests::issue_body(Flavor::Cloud, &map, &unassign).unwrap();
    assert_eq!(unassign, json!({"fields": {"assignee": null}}));
    check_request("/rest/api/3/issue/{issueIdOrKey}", "put", &unassign);
    let unresolved = IssueInput { assignee: Some(Assignee::Email("x@example.com".into())), ..IssueInput::default() };
    let unresolved = requests::issue_body(Flavor::Cloud, &map, &unresolved).unwrap();
    assert_eq!(unresolved, json!({"fields": {}}), "an e-mail not looked up is never sent");
    let dc = requests::issue_body(Flavor::Datacenter, &map, &full_input()).unwrap();
    assert!(dc["fields"]["description"].is_string(), "Data Center takes wiki markup");
    assert_eq!(dc["fields"]["customfield_10104"], "PROJ-1", "Data Center links epics through Epic Link");
    assert_eq!(dc["fields"]["assignee"], json!({"name": "5b10ac8d82e05b22cc7d4ef5"}), "Data Center names users");
    check_request("/rest/api/3/issue", "post", &dc);
}

#[test]
fn transition_search_link_and_webhook_bodies_match_their_schemas() {
    if crate::reference::missing() {
        return;
    }
    check_request("/rest/api/3/issue/{issueIdOrKey}/transitions", "post", &requests::transition_body("31"));
    check_request(
        "/rest/api/3/search/jql",
        "post",
        &requests::search_jql_body("project = PROJ", &["summary"], 50, None),
    );
    check_request(
        "/rest/api/3/search/jql",
        "post",
        &requests::search_jql_body("cf[10001] ~ \"US-1\"", &["key"], 50, Some("tok")),
    );
    // Data Center's /rest/api/2/search takes the body of Cloud's old /search.
    check_request("/rest/api/3/search", "post", &requests::search_v2_body("project = PROJ", &["summary"], 50, 100));
    check_request("/rest/api/3/issueLink", "post", &requests::issue_link_body("Relates", "PROJ-1", "PROJ-2"));
    let events = ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"];
    check_request(
        "/rest/api/3/webhook",
        "post",
        &requests::register_webhooks_body("https://a.example/h", &events, "project = PROJ", &[]),
    );
    check_request(
        "/rest/api/3/webhook",
        "post",
        &requests::register_webhooks_body("https://a.example/h", &events, "project = PROJ", &["summary"]),
    );
    check_request("/rest/api/3/webhook/refresh", "put", &requests::webhook_ids_body(&[1000, 1001]));
    check_request("/rest/api/3/webhook", "delete", &requests::webhook_ids_body(&[1000]));
}

#[test]
fn the_client_parses_the_documented_example_answers() {
    if crate::reference::missing() {
        return;
    }
    let created: CreatedIssue = serde_json::from_value(example("/rest/api/3/issue", "post", 201)).unwrap();
    assert_eq!((created.id.as_str(), created.key.as_str()), ("10000", "ED-24"));

    let transitions = parse_transitions(&example("/rest/api/3/issue/{issueIdOrKey}/transitions", "get", 200)).unwrap();
    assert!(!transitions.is_empty() && transitions.iter().all(|t| !t.to.name.is_empty()));

    let page = parse_search(Flavor::Cloud, &example("/rest/api/3/search/jql", "post", 200), 0).unwrap();
    assert!(!page.issues.is_empty());
    assert!(page.next.is_none() || matches!(page.next, Some(PageCursor::Token(_))));

    let fields = FieldMap::from_response(&example("/rest/api/3/field", "get", 200)).unwrap();
    assert_eq!(fields.id("description").unwrap(), "description");

    let registered = parse_registrations(&example("/rest/api/3/webhook", "post", 200)).unwrap();
    assert_eq!(registered[0], Ok(1000));
    assert_eq!(registered[1], Err(vec!["The clause watchCount is unsupported".to_string()]));
    let (hooks, last) = parse_webhook_page(&example("/rest/api/3/webhook", "get", 200)).unwrap();
    assert!(last && hooks.iter().any(|h| h.id == 10000 && h.jql_filter == "project = PRJ"));
    let refreshed = example("/rest/api/3/webhook/refresh", "put", 200);
    assert!(!refreshed["expirationDate"].is_null());

    let bad = example("/rest/api/3/issue", "post", 400).to_string();
    let err = error_from(reqwest::StatusCode::BAD_REQUEST, &Default::default(), bad.as_bytes());
    assert!(matches!(&err, Error::Invalid { message, .. } if message == "Field 'priority' is required"), "{err:?}");
}

#[test]
fn the_user_search_sends_documented_parameters_and_reads_the_documented_answer() {
    if crate::reference::missing() {
        return;
    }
    let op = operation("/rest/api/3/user/search", "get");
    let documented: Vec<&str> =
        op["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for (name, _) in user_search_query(Flavor::Cloud, "jane@example.com") {
        assert!(documented.contains(&name), "{name} is not a parameter of GET /user/search: {documented:?}");
    }
    assert!(user_search_query(Flavor::Cloud, "j@example.com").contains(&("query", "j@example.com".into())));
    assert!(user_search_query(Flavor::Datacenter, "j@example.com").contains(&("username", "j@example.com".into())));

    // The example lists two inactive users with hidden e-mails: nobody to assign.
    let mut answer = example("/rest/api/3/user/search", "get", 200);
    assert_eq!(pick_user(Flavor::Cloud, &answer, "mia@example.com").unwrap(), None);
    answer[0]["active"] = json!(true);
    let picked = pick_user(Flavor::Cloud, &answer, "mia@example.com").unwrap();
    assert_eq!(picked.as_deref(), Some("5b10a2844c20165700ede21g"), "the only active user, by accountId");
}
