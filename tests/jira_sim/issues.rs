use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Sim, adf_text};

fn is_jira_time(s: &str) -> bool {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z").is_ok() && s.len() == 28 && s.ends_with("+0000")
}

#[tokio::test]
async fn created_issues_get_sequential_keys_numeric_ids_and_jira_timestamps() {
    let sim = Sim::cloud().await;
    let first = sim.create_story("one").await;
    let second = sim.create_story("two").await;
    assert_eq!((first.as_str(), second.as_str()), ("PROJ-1", "PROJ-2"));
    let (status, issue) = sim.json(sim.req(Method::GET, "/rest/api/3/issue/PROJ-2")).await;
    assert_eq!(status, 200);
    assert!(issue["id"].as_str().unwrap().parse::<u64>().is_ok());
    assert!(is_jira_time(issue["fields"]["updated"].as_str().unwrap()), "{}", issue["fields"]["updated"]);
    assert_eq!(issue["fields"]["status"]["name"], "To Do");
    assert_eq!(issue["fields"]["description"], adf_text("A description"));
    let by_id = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{}", issue["id"].as_str().unwrap()))).await.1;
    assert_eq!(by_id["key"], "PROJ-2");
}

#[tokio::test]
async fn every_write_bumps_updated() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("bump").await;
    let before =
        sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await.1["fields"]["updated"].clone();
    let edit = json!({ "fields": { "summary": "bumped" } });
    let (status, _) = sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&edit)).await;
    assert_eq!(status, 204);
    let after =
        sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await.1["fields"]["updated"].clone();
    assert!(after.as_str() > before.as_str(), "{before} -> {after}");
}

#[tokio::test]
async fn get_with_fields_returns_only_those_fields_and_expand_changelog_has_history() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("fields").await;
    let (_, issue) = sim
        .json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}?fields=summary,status&expand=changelog")))
        .await;
    let fields: Vec<&String> = issue["fields"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["status", "summary"]);
    assert_eq!(issue["changelog"]["histories"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn status_in_a_put_is_refused_as_jira_does_and_nothing_changes() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("status").await;
    let edit = json!({ "fields": { "status": { "name": "Done" }, "summary": "renamed" } });
    let (status, body) = sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&edit)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({ "errorMessages": [], "errors": { "status": "Field 'status' cannot be set. It is not on the appropriate screen, or unknown." } })
    );
    let (_, issue) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(issue["fields"]["status"]["name"], "To Do");
    assert_eq!(issue["fields"]["summary"], "status", "the whole edit is refused");
    let edit = json!({ "fields": { "summary": "renamed" } });
    let (status, _) = sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&edit)).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn delete_removes_the_issue_and_later_reads_are_404() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("gone").await;
    let (status, _) = sim.json(sim.req(Method::DELETE, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(status, 204);
    let (status, body) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(status, 404);
    assert_eq!(body["errorMessages"][0], "Issue does not exist or you do not have permission to see it.");
}

#[tokio::test]
async fn invalid_adf_is_rejected_with_jiras_error_shape_naming_the_field() {
    let sim = Sim::cloud().await;
    let bad = json!({ "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": "" }] }] });
    let body = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" }, "summary": "x", "customfield_10003": bad } });
    let (status, err) = sim.json(sim.req(Method::POST, "/rest/api/3/issue").json(&body)).await;
    assert_eq!(status, 400);
    assert_eq!(err["errorMessages"], json!([]));
    assert!(err["errors"]["customfield_10003"].as_str().unwrap().contains("text"), "{err}");
    let plain = json!({ "fields": { "description": "plain string" } });
    let key = sim.create_story("ok").await;
    let (status, err) = sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&plain)).await;
    assert_eq!(status, 400);
    assert!(err["errors"]["description"].as_str().unwrap().contains("Atlassian Document"));
}

#[tokio::test]
async fn custom_fields_validate_select_options_and_render_as_options() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("cf").await;
    let bad = json!({ "fields": { "customfield_10002": { "value": "nope" } } });
    let (status, err) = sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&bad)).await;
    assert_eq!(status, 400);
    assert_eq!(err["errors"]["customfield_10002"], "Option value 'nope' is not valid");
    let good = json!({ "fields": { "customfield_10002": { "value": "jira" }, "customfield_10016": 5, "customfield_10001": "US-1" } });
    let (status, _) = sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&good)).await;
    assert_eq!(status, 204);
    let (_, issue) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(issue["fields"]["customfield_10002"]["value"], "jira");
    assert_eq!(issue["fields"]["customfield_10016"], 5);
    assert_eq!(issue["fields"]["customfield_10001"], "US-1");
}

async fn transition_ids(sim: &Sim, key: &str) -> Vec<String> {
    let (_, t) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}/transitions"))).await;
    t["transitions"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
}

async fn transition(sim: &Sim, key: &str, body: Value) -> (u16, Value) {
    sim.json(sim.req(Method::POST, &format!("/rest/api/3/issue/{key}/transitions")).json(&body)).await
}

#[tokio::test]
async fn available_transitions_depend_on_the_current_status() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("wf").await;
    assert_eq!(transition_ids(&sim, &key).await, ["21", "51"]);
    assert_eq!(transition(&sim, &key, json!({ "transition": { "id": "21" } })).await.0, 204);
    assert_eq!(transition_ids(&sim, &key).await, ["11", "31", "51"]);
    let (_, issue) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(issue["fields"]["status"]["name"], "In Progress");
}

#[tokio::test]
async fn an_unavailable_transition_is_rejected_with_jiras_message() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("wf").await;
    let (status, err) = transition(&sim, &key, json!({ "transition": { "id": "41" } })).await;
    assert_eq!(status, 400);
    assert_eq!(err["errorMessages"][0], "Transition id '41' is not valid for this issue.");
}

#[tokio::test]
async fn a_transition_without_a_screen_refuses_fields_even_a_resolution() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("wf").await;
    let body = json!({ "transition": { "id": "51" }, "fields": { "resolution": { "name": "Duplicate" } } });
    let (status, err) = transition(&sim, &key, body).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["errors"]["resolution"],
        "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."
    );
    let (_, issue) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(issue["fields"]["status"]["name"], "To Do", "nothing moved");
    assert_eq!(transition(&sim, &key, json!({ "transition": { "id": "51" } })).await.0, 204);
    let (_, issue) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(issue["fields"]["resolution"]["name"], "Won't Do", "the workflow sets it");
}

#[tokio::test]
async fn a_transition_whose_screen_requires_a_field_fails_without_it() {
    let mut config = arksync::jira_sim::SimConfig::default();
    config.screen_requirements.push(arksync::jira_sim::ScreenRequirement {
        transition_name: "Won't Do".into(),
        field_id: "resolution".into(),
    });
    let sim = Sim::start(config).await;
    let key = sim.create_story("wf").await;
    let (status, err) = transition(&sim, &key, json!({ "transition": { "id": "51" } })).await;
    assert_eq!(status, 400);
    assert_eq!(err["errors"]["resolution"], "Resolution is required.");
    let ok = json!({ "transition": { "id": "51" }, "fields": { "resolution": { "name": "Duplicate" } } });
    assert_eq!(transition(&sim, &key, ok).await.0, 204);
    let (_, issue) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
    assert_eq!(issue["fields"]["status"]["name"], "Won't Do");
    assert_eq!(issue["fields"]["resolution"]["name"], "Duplicate");
}

#[tokio::test]
async fn stories_take_an_epic_as_parent_and_links_show_on_both_issues() {
    let sim = Sim::cloud().await;
    let epic =
        json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Epic" }, "summary": "epic" } });
    let (_, e) = sim.json(sim.req(Method::POST, "/rest/api/3/issue").json(&epic)).await;
    let story = sim.create_story("child").await;
    let set_parent = json!({ "fields": { "parent": { "key": e["key"] } } });
    assert_eq!(sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{story}")).json(&set_parent)).await.0, 204);
    let (_, s) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{story}"))).await;
    assert_eq!(s["fields"]["parent"]["key"], e["key"]);
    let other = sim.create_story("other").await;
    let bad_parent = json!({ "fields": { "parent": { "key": other } } });
    assert_eq!(sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{story}")).json(&bad_parent)).await.0, 400);
    let link =
        json!({ "type": { "name": "Blocks" }, "inwardIssue": { "key": story }, "outwardIssue": { "key": other } });
    assert_eq!(sim.json(sim.req(Method::POST, "/rest/api/3/issueLink").json(&link)).await.0, 201);
    let (_, a) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{story}"))).await;
    let (_, b) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{other}"))).await;
    assert_eq!(a["fields"]["issuelinks"][0]["outwardIssue"]["key"], json!(other));
    assert_eq!(b["fields"]["issuelinks"][0]["inwardIssue"]["key"], json!(story));
    let last_link_item = |key: &str| {
        let sim = &sim;
        let path = format!("/rest/api/3/issue/{key}?expand=changelog");
        async move {
            let (_, v) = sim.json(sim.req(Method::GET, &path)).await;
            let histories = v["changelog"]["histories"].as_array().unwrap().clone();
            histories.last().unwrap()["items"][0].clone()
        }
    };
    let (a, b) = (last_link_item(&story).await, last_link_item(&other).await);
    assert_eq!(
        (a["field"].clone(), a["toString"].clone()),
        (json!("Link"), json!(format!("This issue blocks {other}")))
    );
    assert_eq!(b["toString"], json!(format!("This issue is blocked by {story}")), "both issues record the link");
    let to_itself =
        json!({ "type": { "name": "Blocks" }, "inwardIssue": { "key": story }, "outwardIssue": { "key": story } });
    assert_eq!(sim.json(sim.req(Method::POST, "/rest/api/3/issueLink").json(&to_itself)).await.0, 400);
}

#[tokio::test]
async fn field_catalogue_lists_the_spec_custom_fields_with_jql_clause_names() {
    let sim = Sim::cloud().await;
    let (_, fields) = sim.json(sim.req(Method::GET, "/rest/api/3/field")).await;
    let names: Vec<&str> = fields
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["custom"] == true)
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for wanted in [
        "ARKHITEKTON ID",
        "Sync Source",
        "Story Points",
        "Acceptance Criteria",
        "Related Files",
        "Defect Type",
        "Root Cause",
        "Value Stream",
        "Business Value",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    let ark = fields.as_array().unwrap().iter().find(|f| f["name"] == "ARKHITEKTON ID").unwrap();
    assert!(ark["clauseNames"].as_array().unwrap().contains(&json!("ARKHITEKTON ID[Short text]")));
}

#[tokio::test]
async fn concurrent_creates_never_reuse_a_key() {
    let sim = std::sync::Arc::new(Sim::cloud().await);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let sim = sim.clone();
            tokio::spawn(async move { sim.create_story(&format!("c{i}")).await })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap());
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 40);
}

#[tokio::test]
async fn data_center_serves_v2_with_wiki_descriptions_and_epic_link() {
    let config = arksync::jira_sim::SimConfig { flavor: arksync::jira_sim::Flavor::Datacenter, ..Default::default() };
    let sim = Sim::start(config).await;
    let token = sim.server.credentials()[0].token.clone();
    let post = |body: Value| sim.http.post(sim.url("/rest/api/2/issue")).bearer_auth(&token).json(&body);
    let (status, epic) = sim
        .json(post(
            json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Epic" }, "summary": "E" } }),
        ))
        .await;
    assert_eq!(status, 201, "{epic}");
    let story = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" }, "summary": "S", "description": "h1. Title\n*bold*", "customfield_10014": epic["key"] } });
    let (status, s) = sim.json(post(story)).await;
    assert_eq!(status, 201, "{s}");
    let (_, issue) = sim
        .json(sim.http.get(sim.url(&format!("/rest/api/2/issue/{}", s["key"].as_str().unwrap()))).bearer_auth(&token))
        .await;
    assert_eq!(issue["fields"]["description"], "h1. Title\n*bold*");
    assert_eq!(issue["fields"]["customfield_10014"], epic["key"]);
    assert!(issue["self"].as_str().unwrap().contains("/rest/api/2/"));
    let v3 = sim.http.get(sim.url("/rest/api/3/issue/PROJ-1")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(v3.status(), 404);
}

#[tokio::test]
async fn data_center_knows_people_by_name_and_cloud_only_by_account_id() {
    let config = arksync::jira_sim::SimConfig { flavor: arksync::jira_sim::Flavor::Datacenter, ..Default::default() };
    let sim = Sim::start(config).await;
    let token = sim.server.credentials()[0].token.clone();
    let create = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Task" }, "summary": "dc",
        "assignee": { "name": "jane.doe" } } });
    let (status, created) =
        sim.json(sim.http.post(sim.url("/rest/api/2/issue")).bearer_auth(&token).json(&create)).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/rest/api/2/issue/{}?expand=changelog", created["key"].as_str().unwrap());
    let (_, issue) = sim.json(sim.http.get(sim.url(&path)).bearer_auth(&token)).await;
    let assignee = &issue["fields"]["assignee"];
    assert_eq!(
        (assignee["name"].clone(), assignee["emailAddress"].clone()),
        (json!("jane.doe"), json!("jane.doe@example.com"))
    );
    assert!(assignee.get("accountId").is_none(), "Data Center has no account ids: {assignee}");
    let item =
        issue["changelog"]["histories"][0]["items"].as_array().unwrap().iter().find(|i| i["fieldId"] == "assignee");
    assert_eq!(item.unwrap()["to"], "jane.doe", "changelog names the user key");
    let by_account = json!({ "fields": { "assignee": { "accountId": sim.server.credentials()[1].account_id } } });
    let put = sim.http.put(sim.url(&format!("/rest/api/2/issue/{}", created["key"].as_str().unwrap())));
    assert_eq!(sim.json(put.bearer_auth(&token).json(&by_account)).await.0, 400);

    let cloud = Sim::cloud().await;
    let key = cloud.create_story("cloud").await;
    let by_name = json!({ "fields": { "assignee": { "name": "jane.doe" } } });
    let (status, err) = cloud.json(cloud.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&by_name)).await;
    assert_eq!(status, 400, "Cloud retired user names: {err}");
    assert!(err["errors"]["assignee"].is_string());
}

#[tokio::test]
async fn state_persisted_to_a_file_survives_a_restart_and_keys_continue() {
    let dir = std::env::temp_dir().join(format!("jirasim-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = arksync::jira_sim::SimConfig { state_file: Some(dir.join("state.json")), ..Default::default() };
    let sim = Sim::start(config.clone()).await;
    sim.create_story("persisted").await;
    sim.server.shutdown().await;
    let again = Sim::start(config).await;
    let (status, issue) = again.json(again.req(Method::GET, "/rest/api/3/issue/PROJ-1")).await;
    assert_eq!((status, issue["fields"]["summary"].clone()), (200, json!("persisted")));
    assert_eq!(again.create_story("next").await, "PROJ-2");
    std::fs::remove_dir_all(&dir).ok();
}
