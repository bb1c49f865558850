//! Content fidelity end to end: nothing changes that nobody changed. A
//! person's edit of one field in Jira writes that field only, rich text is
//! read from Jira's own form, a delivery's clock is not trusted, and a value
//! Jira cannot take is kept here rather than wiped.

use arksync::jira::adf;
use arksync::jira_sim::Flavor;
use arksync::webhooks::signature::sign_hmac;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::WEBHOOK_SECRET;
use crate::sync_e2e::Synced;

/// Descriptions whose Markdown cannot be spelled back exactly from Jira's
/// form by our converters (or could not be, once): each must survive a
/// person's edit of another field byte for byte.
const DESCRIPTIONS: &[&str] = &[
    "1. one\n2. two\n   - nested\n3. three\n",
    "**bold _italic_ bold**, ***both***\n",
    "- item one\n\n  second paragraph\n\n  ```\n  code in the item\n  ```\n- item two\n",
    "line one\nline two\\\nline three  \nline four\n",
    "| a | b |\n|---|:-:|\n| 1 | **2** |\n",
    "- [ ] todo\n- [x] done\n",
    "See [the spec](url), [notes](<my url>) and [x](./target.md) ![logo](https://img.example/a.png)\n",
    "* star bullets\n+ plus bullets\n\n3) three\n4) four\n",
    "Setext heading\n==============\n\nText with trailing spaces   \nand &copy; entities &amp; more.\n",
    "<u>underlined</u> and H<sub>2</sub>O, <details><summary>more</summary>hidden</details>\n",
];

async fn create_story(s: &Synced, description: &str) -> (String, String) {
    s.synced_story(
        json!({"title": "Fidelity", "description": description, "syncToJira": true, "jiraProjectKey": "PROJ"}),
    )
    .await
}

async fn summary_only_edit_leaves_every_description_untouched(flavor: Flavor) {
    let s = Synced::start(|c| c.flavor = flavor).await;
    let api = if flavor == Flavor::Cloud { 3 } else { 2 };
    for (n, &description) in DESCRIPTIONS.iter().enumerate() {
        let (id, key) = create_story(&s, description).await;
        let summary = format!("Renamed in Jira {n}");
        let path = format!("/rest/api/{api}/issue/{key}");
        assert_eq!(s.as_person(Method::PUT, &path, json!({"fields": {"summary": summary}})).await, 204);
        s.settle().await;
        let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
        assert_eq!(got["title"], summary.as_str(), "the person's edit arrived");
        assert_eq!(got["description"], description, "{flavor:?}: the description nobody edited is unchanged");
        assert_eq!(got["syncStatus"], "synced");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_persons_summary_only_edit_on_cloud_never_rewrites_the_description() {
    summary_only_edit_leaves_every_description_untouched(Flavor::Cloud).await;
}

#[tokio::test]
async fn a_persons_summary_only_edit_on_data_center_never_rewrites_the_description() {
    summary_only_edit_leaves_every_description_untouched(Flavor::Datacenter).await;
}

#[tokio::test]
async fn literal_text_of_a_cloud_description_is_read_from_adf_not_as_wiki_markup() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = create_story(&s, "Before.\n").await;
    let literal = "*not bold* and _x_ and -y- and {{z}} and [a|b]";
    let doc = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": literal}]}]});
    let path = format!("/rest/api/3/issue/{key}");
    assert_eq!(s.as_person(Method::PUT, &path, json!({"fields": {"description": doc}})).await, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    let md = got["description"].as_str().unwrap();
    // Read back as Markdown, it is the same single run of plain text.
    assert_eq!(adf::markdown_to_adf(md), doc, "the text stays literal: {md:?}");
    // And nothing was pushed back over the person's ADF.
    assert_eq!(s.issue(&key).await["fields"]["description"], doc);
    s.stop().await;
}

#[tokio::test]
async fn a_description_a_person_edits_in_jira_still_arrives() {
    for flavor in [Flavor::Cloud, Flavor::Datacenter] {
        let s = Synced::start(|c| c.flavor = flavor).await;
        let (id, key) = create_story(&s, "Old text.\n").await;
        let (api, body) = match flavor {
            Flavor::Cloud => (3, adf::markdown_to_adf("New **text**.")),
            Flavor::Datacenter => (2, json!("New *text*.")),
        };
        let path = format!("/rest/api/{api}/issue/{key}");
        assert_eq!(s.as_person(Method::PUT, &path, json!({"fields": {"description": body}})).await, 204);
        s.settle().await;
        let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
        assert_eq!(got["description"], "New **text**.\n", "{flavor:?}");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_persons_edit_of_one_paragraph_in_jira_leaves_the_spelling_of_the_rest() {
    // Spellings our converters would not write: `*` bullets, a loose list,
    // a relative link (text in ADF), a reference link and raw HTML.
    let before = "* one\n* two\n\nThe paragraph a person edits.\n\n1) loose\n\n2) list\n\n\
                  See [the doc](./doc.md) and [ref].\n\n<kbd>Ctrl</kbd>\n\n[ref]: https://x.example/r\n";
    for flavor in [Flavor::Cloud, Flavor::Datacenter] {
        let s = Synced::start(|c| c.flavor = flavor).await;
        let (id, key) = create_story(&s, before).await;
        let api = if flavor == Flavor::Cloud { 3 } else { 2 };
        let mut held = s.issue(&key).await["fields"]["description"].clone();
        match flavor {
            Flavor::Cloud => {
                held["content"][1] = json!({"type": "paragraph", "content": [{"type": "text", "text": "Edited."}]});
            }
            Flavor::Datacenter => {
                let wiki = held.as_str().unwrap().replace("The paragraph a person edits.", "Edited.");
                held = json!(wiki);
            }
        }
        let path = format!("/rest/api/{api}/issue/{key}");
        assert_eq!(s.as_person(Method::PUT, &path, json!({"fields": {"description": held}})).await, 204);
        s.settle().await;
        let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
        assert_eq!(got["description"], before.replace("The paragraph a person edits.", "Edited."), "{flavor:?}");
        s.stop().await;
    }
}

/// Posts a delivery to arksync's webhook endpoint, signed as Jira would.
async fn deliver(s: &Synced, body: &Value) -> u16 {
    let raw = serde_json::to_vec(body).unwrap();
    s.app
        .http
        .post(s.app.url("/api/jira/webhooks"))
        .header("content-type", "application/json")
        .header("x-hub-signature", sign_hmac(WEBHOOK_SECRET.as_bytes(), &raw))
        .header("x-atlassian-webhook-identifier", uuid::Uuid::new_v4().to_string())
        .body(raw)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_signed_delivery_dated_in_the_future_does_not_lock_out_later_edits() {
    for flavor in [Flavor::Cloud, Flavor::Datacenter] {
        let s = Synced::start(|c| c.flavor = flavor).await;
        let (id, key) = create_story(&s, "").await;
        let issue = s.issue(&key).await;
        let mut fields = issue["fields"].clone();
        fields["summary"] = json!("From a delivery dated 2099");
        fields["updated"] = json!("2099-01-01T00:00:00.000+0000");
        let forged = json!({
            "timestamp": 4_070_908_800_000_i64, "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_updated",
            "user": {"accountId": "someone-else", "displayName": "Someone"},
            "issue": {"id": issue["id"], "key": key, "self": issue["self"], "fields": fields},
            "changelog": {"id": "99999", "items": [{"field": "summary", "fieldtype": "jira", "fieldId": "summary",
                "fromString": "Fidelity", "toString": "From a delivery dated 2099"}]}});
        assert_eq!(deliver(&s, &forged).await, 202);
        s.settle().await;
        let summary = "A real edit, made after the forged one";
        let api = if flavor == Flavor::Cloud { 3 } else { 2 };
        let path = format!("/rest/api/{api}/issue/{key}");
        assert_eq!(s.as_person(Method::PUT, &path, json!({"fields": {"summary": summary}})).await, 204);
        s.settle().await;
        let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
        assert_eq!(got["title"], summary, "{flavor:?}: the later real edit is applied");
        let c = s.app.db.connect().await;
        let seen: chrono::DateTime<chrono::Utc> = c
            .query_one("SELECT jira_updated_at FROM jira_integration_mappings WHERE jira_issue_key = $1", &[&key])
            .await
            .unwrap()
            .get(0);
        assert!(seen < chrono::Utc::now() + chrono::Duration::minutes(10), "no version from the future: {seen}");
        s.stop().await;
    }
}

#[tokio::test]
async fn an_assignee_no_jira_user_has_is_kept_through_pulls_and_stays_reported() {
    let s = Synced::start(|_| {}).await;
    let (status, story) = s
        .app
        .post(
            "/api/user-stories",
            json!({"title": "Owned by a stranger", "assignee": "nobody@unknown.example", "syncToJira": true,
                   "jiraProjectKey": "PROJ"}),
        )
        .await;
    assert_eq!(status, 201);
    let id = story["id"].as_str().unwrap().to_owned();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    let key = got["jiraIssueKey"].as_str().unwrap().to_owned();
    assert_eq!(got["syncStatus"], "synced", "the other fields synced: {got}");
    assert!(got["syncWarnings"][0]["message"].as_str().unwrap().contains("nobody@unknown.example"), "{got}");

    // A person edits another field in Jira, and a reconciliation pass runs.
    let path = format!("/rest/api/3/issue/{key}");
    assert_eq!(s.as_person(Method::PUT, &path, json!({"fields": {"summary": "Renamed in Jira"}})).await, 204);
    s.settle().await;
    arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["title"], "Renamed in Jira");
    assert_eq!(got["assignee"], "nobody@unknown.example", "never wiped by a pull: {got}");
    assert_eq!(got["syncWarnings"][0]["field"], "assignee", "still reported: {got}");
    assert!(got["syncWarnings"][0]["message"].as_str().unwrap_or_default().contains("nobody@unknown.example"));

    // A person who assigns the issue in Jira is still heard.
    let (account, email) = (s.sim.credentials()[1].account_id.clone(), s.sim.credentials()[1].email.clone());
    assert_eq!(s.as_person(Method::PUT, &path, json!({"fields": {"assignee": {"accountId": account}}})).await, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["assignee"], email.as_str(), "Jira's new assignee is taken: {got}");
    assert_eq!(got["syncWarnings"], json!([]), "and nothing is left to warn of: {got}");
    s.stop().await;
}

#[tokio::test]
async fn reconciliation_during_our_multi_hop_walk_never_takes_a_step_of_it_for_a_persons_edit() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = create_story(&s, "").await;
    // Slow Jira down so the walk To Do → In Progress → In Review → Done
    // takes seconds, then reconcile while it is half-way.
    crate::jira_support::admin_post(&s.sim, "faults", json!({"latencyMs": 250})).await;
    let (status, _) = s.app.patch(&format!("/api/user-stories/{id}"), json!({"status": "done"})).await;
    assert_eq!(status, 200);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = s.issue(&key).await["fields"]["status"]["name"].as_str().unwrap_or_default().to_owned();
        if now != "To Do" {
            assert_ne!(now, "Done", "the walk was still under way when the pass ran");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the walk never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    crate::jira_support::admin_post(&s.sim, "faults", json!({"latencyMs": 0})).await;
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["status"], "done", "the person-free walk was not read as an edit: {got}");
    assert_eq!(got["syncStatus"], "synced", "{got}");
    assert_eq!(s.issue(&key).await["fields"]["status"]["name"], "Done");
    let c = s.app.db.connect().await;
    let conflicts: i64 = c.query_one("SELECT count(*) FROM sync_conflicts", &[]).await.unwrap().get(0);
    assert_eq!(conflicts, 0, "no conflict with ourselves");
    s.stop().await;
}

#[tokio::test]
async fn a_select_value_jira_does_not_offer_is_left_out_reported_and_then_refused_by_the_api() {
    for flavor in [Flavor::Cloud, Flavor::Datacenter] {
        let s = Synced::start(|c| c.flavor = flavor).await;
        let (status, defect) = s
            .app
            .post(
                "/api/defects",
                json!({"title": "Odd type", "severity": "low", "defectType": "Bug", "rootCause": "why",
                       "syncToJira": true, "jiraProjectKey": "PROJ"}),
            )
            .await;
        assert_eq!(status, 201, "not known yet, so not refused: {defect}");
        let id = defect["id"].as_str().unwrap().to_owned();
        s.settle().await;
        let (_, got) = s.app.get(&format!("/api/defects/{id}")).await;
        let key = got["jiraIssueKey"].as_str().expect("the issue was made with the other fields").to_owned();
        assert_eq!(got["defectType"], "Bug", "kept here: {got}");
        assert_eq!(got["syncStatus"], "error", "{flavor:?}: {got}");
        let error = got["syncError"].as_str().unwrap();
        assert!(error.contains("\"Bug\"") && error.contains("UI, Logic, Performance"), "names the options: {error}");
        let issue = s.issue(&key).await;
        assert_eq!(issue["fields"]["summary"], "Odd type");
        assert!(issue["fields"]["customfield_10005"].is_null(), "not sent: {issue}");

        // Now that the options are known, the API refuses what Jira cannot take.
        let (status, body) = s.app.patch(&format!("/api/defects/{id}"), json!({"defectType": "Nonsense"})).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
            (Some("invalid_option"), Some("defectType"))
        );
        assert!(body.to_string().contains("UI, Logic"), "{body}");
        let (status, _) = s
            .app
            .post(
                "/api/defects",
                json!({"title": "t", "severity": "low", "defectType": "Nonsense", "syncToJira": true,
                       "jiraProjectKey": "PROJ"}),
            )
            .await;
        assert_eq!(status, 400);

        // An offered value goes, and mends the item.
        let (status, _) = s.app.patch(&format!("/api/defects/{id}"), json!({"defectType": "Logic"})).await;
        assert_eq!(status, 200);
        s.settle().await;
        let (_, got) = s.app.get(&format!("/api/defects/{id}")).await;
        assert_eq!((got["syncStatus"].as_str(), got["syncError"].as_str()), (Some("synced"), None), "{got}");
        let held = s.issue(&key).await["fields"]["customfield_10005"].clone();
        assert!(held == "Logic" || held["value"] == "Logic", "{held}");
        s.stop().await;
    }
}
