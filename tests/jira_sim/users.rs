//! People: `GET /user/search` on both flavours, assignees on issues (with
//! or without e-mail, as each person's privacy setting says), and
//! assignee changes in changelogs and webhooks.

use arksync::jira_sim::{AdminWebhook, Flavor, SimConfig, SimUser};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Receiver, Sim};

/// The default accounts plus Bob, who hides his e-mail.
fn with_private_bob(flavor: Flavor) -> SimConfig {
    let mut config = SimConfig { flavor, ..SimConfig::default() };
    let mut bob = SimUser::new("bob.private@example.com", "bob-token", 2);
    bob.email_hidden = true;
    config.users.push(bob);
    config
}

async fn search(sim: &Sim, version: u8, query: &str) -> (u16, Value) {
    sim.json(sim.req(Method::GET, &format!("/rest/api/{version}/user/search?{query}"))).await
}

fn ids(users: &Value, key: &str) -> Vec<String> {
    users.as_array().unwrap().iter().map(|u| u[key].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn cloud_user_search_matches_email_and_name_prefixes_and_respects_hidden_emails() {
    let sim = Sim::start(with_private_bob(Flavor::Cloud)).await;
    let jane = sim.server.credentials()[1].account_id.clone();
    let bob = sim.server.credentials()[2].account_id.clone();

    let (status, found) = search(&sim, 3, "query=jane.doe%40example.com").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(ids(&found, "accountId"), [jane.as_str()]);
    assert_eq!(found[0]["emailAddress"], "jane.doe@example.com");
    assert_eq!(ids(&search(&sim, 3, "query=JANE").await.1, "accountId"), [jane.as_str()], "prefix, any case");
    assert_eq!(ids(&search(&sim, 3, "query=doe").await.1, "accountId"), [jane.as_str()], "a display-name word");

    // Bob hides his e-mail: found only by the full address, shown without it.
    let (_, found) = search(&sim, 3, "query=bob.private%40example.com").await;
    assert_eq!(ids(&found, "accountId"), [bob.as_str()]);
    assert!(found[0].get("emailAddress").is_none(), "hidden: {}", found[0]);
    assert_eq!(search(&sim, 3, "query=bob.private%40").await.1, json!([]), "no prefix search on a hidden e-mail");
    assert_eq!(search(&sim, 3, "query=nobody%40example.com").await.1, json!([]));
    assert_eq!(ids(&search(&sim, 3, &format!("accountId={bob}")).await.1, "accountId"), [bob.as_str()]);

    assert_eq!(search(&sim, 3, "maxResults=5").await.0, 400, "query, accountId or property is required");
    assert_eq!(search(&sim, 3, &format!("query=jane&accountId={jane}")).await.0, 400, "not both");
    let anonymous = sim.http.get(sim.url("/rest/api/3/user/search?query=jane")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(search(&sim, 2, "query=jane").await.0, 404, "Cloud serves v3");
}

#[tokio::test]
async fn data_center_user_search_takes_a_username_and_answers_names() {
    let sim = Sim::start(with_private_bob(Flavor::Datacenter)).await;
    let (status, found) = search(&sim, 2, "username=jane.doe%40example.com").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(ids(&found, "name"), ["jane.doe"]);
    assert_eq!(found[0]["emailAddress"], "jane.doe@example.com");
    assert!(found[0].get("accountId").is_none(), "Data Center has no account ids");
    assert_eq!(ids(&search(&sim, 2, "username=jane").await.1, "name"), ["jane.doe"]);
    let (_, bob) = search(&sim, 2, "username=bob.private%40example.com").await;
    assert_eq!(ids(&bob, "name"), ["bob.private"]);
    assert!(bob[0].get("emailAddress").is_none());
    let (status, err) = search(&sim, 2, "query=jane").await;
    assert_eq!(status, 400, "username is required: {err}");
}

#[tokio::test]
async fn assignees_render_with_email_unless_hidden_and_unknown_accounts_are_refused() {
    let receiver = Receiver::start(&[]).await;
    let mut config = with_private_bob(Flavor::Cloud);
    config.admin_webhooks.push(AdminWebhook { url: receiver.url.clone(), secret: None });
    let sim = Sim::start(config).await;
    let (jane, bob) = (sim.server.credentials()[1].account_id.clone(), sim.server.credentials()[2].account_id.clone());
    let key = sim.create_story("people").await;
    let path = format!("/rest/api/3/issue/{key}");
    let assign = |id: &str| json!({"fields": {"assignee": {"accountId": id}}});

    assert_eq!(sim.json(sim.req(Method::PUT, &path).json(&assign(&jane))).await.0, 204);
    let (_, issue) = sim.json(sim.req(Method::GET, &format!("{path}?expand=changelog"))).await;
    let assignee = &issue["fields"]["assignee"];
    assert_eq!((&assignee["accountId"], &assignee["emailAddress"]), (&json!(jane), &json!("jane.doe@example.com")));
    let histories = issue["changelog"]["histories"].as_array().unwrap();
    let item = &histories.last().unwrap()["items"][0];
    assert_eq!(
        (&item["fieldId"], &item["to"], &item["toString"]),
        (&json!("assignee"), &json!(jane), &json!("Jane Doe"))
    );

    assert_eq!(sim.json(sim.req(Method::PUT, &path).json(&assign(&bob))).await.0, 204);
    let (_, issue) = sim.json(sim.req(Method::GET, &path)).await;
    assert_eq!(issue["fields"]["assignee"]["accountId"], json!(bob));
    assert!(issue["fields"]["assignee"].get("emailAddress").is_none(), "Bob hides his e-mail");

    let (status, err) = sim.json(sim.req(Method::PUT, &path).json(&assign("712020:no-such-person"))).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["errors"]["assignee"].as_str().unwrap().contains("does not exist"), "{err}");
    assert_eq!(sim.json(sim.req(Method::PUT, &path).json(&json!({"fields": {"assignee": null}}))).await.0, 204);
    let (_, issue) = sim.json(sim.req(Method::GET, &path)).await;
    assert_eq!(issue["fields"]["assignee"], Value::Null);

    // Webhooks: created, jane, bob, unassigned; assignee-only edits are `issue_assigned`.
    let got = receiver.wait_for(4).await;
    let to_jane = got[1].json();
    assert_eq!(to_jane["issue_event_type_name"], "issue_assigned");
    assert_eq!(to_jane["issue"]["fields"]["assignee"]["emailAddress"], "jane.doe@example.com");
    let item = &to_jane["changelog"]["items"][0];
    assert_eq!((&item["fieldId"], &item["tmpToAccountId"]), (&json!("assignee"), &json!(jane)));
    let to_bob = got[2].json();
    assert_eq!(to_bob["issue"]["fields"]["assignee"]["accountId"], json!(bob));
    assert!(to_bob["issue"]["fields"]["assignee"].get("emailAddress").is_none());
    let unassigned = got[3].json();
    assert_eq!(unassigned["issue"]["fields"]["assignee"], Value::Null);
    assert_eq!(unassigned["changelog"]["items"][0]["from"], json!(bob));
}

#[tokio::test]
async fn resolution_notes_is_a_text_field_and_resolutions_describe_their_type() {
    let sim = Sim::cloud().await;
    let (_, fields) = sim.json(sim.req(Method::GET, "/rest/api/3/field")).await;
    let notes = fields.as_array().unwrap().iter().find(|f| f["name"] == "Resolution Notes").expect("the field");
    assert_eq!((&notes["custom"], &notes["schema"]["type"]), (&json!(true), &json!("string")));
    let key = sim.create_story("notes").await;
    let path = format!("/rest/api/3/issue/{key}");
    let body = json!({"fields": {notes["id"].as_str().unwrap(): crate::support::adf_text("Cache fixed")}});
    assert_eq!(sim.json(sim.req(Method::PUT, &path).json(&body)).await.0, 204);
    // Resolve it: To Do → In Progress → In Review → Done sets the resolution.
    for id in ["21", "31", "41"] {
        let t = json!({"transition": {"id": id}});
        assert_eq!(sim.json(sim.req(Method::POST, &format!("{path}/transitions")).json(&t)).await.0, 204);
    }
    let (_, issue) = sim.json(sim.req(Method::GET, &path)).await;
    assert_eq!(issue["fields"][notes["id"].as_str().unwrap()]["content"][0]["content"][0]["text"], "Cache fixed");
    assert_eq!(issue["fields"]["resolution"]["description"], "Work has been completed on this issue.");
}
