//! The Jira client against the simulator, per flavour and auth mode:
//! idempotent creates, edits, transitions, search paging, links, field
//! discovery, dynamic webhooks, and the typed errors.

use arksync::jira::Error;
use arksync::jira::connection::Credentials;
use arksync::jira::ops::PageCursor;
use arksync::jira::requests::{FieldValue, IssueInput};
use arksync::jira_sim::{Flavor, ScreenRequirement, SimConfig};
use reqwest::Method;

use crate::harness::TestDb;
use crate::jira_support::*;

fn story(summary: &str, ark_id: &str) -> IssueInput {
    IssueInput {
        project_key: Some("PROJ".into()),
        issue_type: Some("Story".into()),
        summary: Some(summary.into()),
        description: Some("Pay with a **saved** card.\n\n- fast\n- safe".into()),
        labels: Some(vec!["arksync".into()]),
        ..IssueInput::default()
    }
    .with_arkhitekton_id(ark_id)
}

#[tokio::test]
async fn cloud_api_token_client_creates_once_edits_and_reads_back_markdown() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig::default()).await);
    let store = store(&db);
    let jira = client(&site_connection(&store, &sim, "cloud").await, &store);

    let created = jira.create_issue(&story("Saved cards", "US-AAAAAA1")).await.unwrap();
    let again = jira.create_issue(&story("Saved cards", "US-AAAAAA1")).await.unwrap();
    assert_eq!(created, again, "a second create with the same ARKHITEKTON ID finds the first issue");

    let edit = IssueInput {
        summary: Some("Saved cards, edited".into()),
        custom: vec![("Story Points".into(), FieldValue::Number(5.0))],
        ..IssueInput::default()
    };
    jira.edit_issue(&created.key, &edit).await.unwrap();
    let issue = jira.get_issue(&created.key, &[]).await.unwrap();
    assert_eq!(issue["fields"]["summary"], "Saved cards, edited");
    assert_eq!(issue["fields"]["description"]["type"], "doc", "Cloud descriptions are ADF");
    let md = arksync::jira::requests::markdown_of(&issue["fields"]["description"]).unwrap();
    assert!(md.contains("**saved**") && md.contains("- fast"), "{md}");
    assert_eq!(jira.myself().await.unwrap(), sim.integration_user().account_id);

    jira.delete_issue(&created.key).await.unwrap();
    assert!(matches!(jira.get_issue(&created.key, &[]).await, Err(Error::NotFound(_))));
    jira.delete_issue(&created.key).await.expect("deleting a deleted issue is done, not an error");
}

#[tokio::test]
async fn data_center_pat_client_speaks_v2_with_wiki_markup_and_pages_by_start_at() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig { flavor: Flavor::Datacenter, ..SimConfig::default() }).await);
    let store = store(&db);
    let conn = site_connection(&store, &sim, "dc").await;
    assert!(matches!(conn.credentials, Credentials::Pat { .. }));
    let jira = client(&conn, &store);
    for i in 0..55 {
        jira.create_issue(&story(&format!("Story {i}"), &format!("US-DC{i:05}"))).await.unwrap();
    }
    let all = jira.search_all("project = PROJ", &["summary"]).await.unwrap();
    assert_eq!(all.len(), 55, "two pages joined");
    let first = jira.search("project = PROJ", &["summary"], None).await.unwrap();
    assert_eq!(first.next, Some(PageCursor::StartAt(50)));
    let key = all[0]["key"].as_str().unwrap();
    let issue = jira.get_issue(key, &["description"]).await.unwrap();
    let wiki = issue["fields"]["description"].as_str().expect("Data Center descriptions are wiki markup");
    assert!(wiki.contains("*saved*"), "{wiki}");
    assert!(requests(&sim).await.iter().all(|r| !r["path"].as_str().unwrap().contains("/rest/api/3/")));
}

#[tokio::test]
async fn cloud_search_follows_next_page_tokens() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig::default()).await);
    let store = store(&db);
    let jira = client(&site_connection(&store, &sim, "cloud").await, &store);
    for i in 0..52 {
        jira.create_issue(&story(&format!("S{i}"), &format!("US-PG{i:05}"))).await.unwrap();
    }
    let first = jira.search("project = PROJ", &["summary"], None).await.unwrap();
    assert!(matches!(first.next, Some(PageCursor::Token(_))));
    assert_eq!(jira.search_all("project = PROJ", &["summary"]).await.unwrap().len(), 52);
    let paths: Vec<String> = requests(&sim).await.iter().map(|r| r["path"].as_str().unwrap().to_string()).collect();
    assert!(paths.iter().any(|p| p == "/rest/api/3/search/jql"));
}

#[tokio::test]
async fn a_transition_goes_through_the_one_leading_to_the_status_or_names_the_reachable_ones() {
    let config = SimConfig {
        screen_requirements: vec![ScreenRequirement {
            transition_name: "Won't Do".into(),
            field_id: "resolution".into(),
        }],
        ..SimConfig::default()
    };
    let (db, sim) = (TestDb::new().await, sim(config).await);
    let store = store(&db);
    let jira = client(&site_connection(&store, &sim, "cloud").await, &store);
    let key = jira.create_issue(&story("Flow", "US-TRANS01")).await.unwrap().key;

    assert!(jira.transition_to(&key, "In Progress").await.unwrap());
    assert!(!jira.transition_to(&key, "In Progress").await.unwrap(), "already there: nothing to do");
    let err = jira.transition_to(&key, "Done").await.unwrap_err();
    let Error::TransitionUnavailable { reachable, .. } = &err else { panic!("{err:?}") };
    assert!(reachable.contains(&"In Review".to_string()), "{reachable:?}");
    assert!(err.to_string().contains("In Review"), "{err}");
    assert!(matches!(err.to_job_error(), arksync::queue::JobError::Discard(_)));

    let refused = jira.transition_to(&key, "Won't Do").await.unwrap_err();
    assert!(matches!(&refused, Error::TransitionUnavailable { detail: Some(_), .. }), "{refused:?}");
}

#[tokio::test]
async fn field_discovery_is_cached_for_an_hour_and_bad_input_is_a_typed_error() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig::default()).await);
    let store = store(&db);
    let jira = client(&site_connection(&store, &sim, "cloud").await, &store);
    let map = jira.field_map().await.unwrap();
    assert_eq!(map.id("ARKHITEKTON ID").unwrap(), "customfield_10001");
    jira.field_map().await.unwrap();
    jira.create_issue(&story("one", "US-FIELD01")).await.unwrap();
    let field_calls = requests(&sim).await.iter().filter(|r| r["path"] == "/rest/api/3/field").count();
    assert_eq!(field_calls, 1, "GET /field once per connection while the cache is fresh");

    let no_summary =
        IssueInput { project_key: Some("PROJ".into()), issue_type: Some("Story".into()), ..Default::default() };
    let err = jira.create_issue(&no_summary).await.unwrap_err();
    assert!(matches!(&err, Error::Invalid { status: 400, fields, .. } if fields.contains_key("summary")), "{err:?}");
    let posts =
        requests(&sim).await.iter().filter(|r| r["method"] == "POST" && r["path"] == "/rest/api/3/issue").count();
    assert_eq!(posts, 2, "a 400 is not retried");
}

#[tokio::test]
async fn issue_links_and_a_wrong_token_give_typed_answers() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig::default()).await);
    let store = store(&db);
    let mut conn = site_connection(&store, &sim, "cloud").await;
    let jira = client(&conn, &store);
    let a = jira.create_issue(&story("A", "US-LINK001")).await.unwrap().key;
    let b = jira.create_issue(&story("B", "US-LINK002")).await.unwrap().key;
    jira.link_issues("Relates", &a, &b).await.unwrap();
    let links = jira.get_issue(&a, &["issuelinks"]).await.unwrap();
    assert_eq!(links["fields"]["issuelinks"].as_array().map(Vec::len), Some(1), "{links}");

    conn.credentials = Credentials::Basic { email: sim.integration_user().email.clone(), api_token: "wrong".into() };
    let bad = client(&conn, &store);
    assert!(matches!(bad.get_issue(&a, &[]).await, Err(Error::Unauthorized)));
    let gets = requests(&sim).await.iter().filter(|r| r["status"] == 401).count();
    assert_eq!(gets, 1, "a 401 with a fixed credential is not retried");
}

#[tokio::test]
async fn dynamic_webhooks_register_list_refresh_and_delete_over_oauth() {
    let app = crate::harness::TestApp::spawn().await;
    let sim = sim(SimConfig::default()).await;
    let id = consented_oauth_connection(&app, &sim).await;
    let store = store(&app.db);
    let jira = client(&store.load(id).await.unwrap().unwrap(), &store);
    let results = jira
        .register_webhook(
            &app.url("/api/jira/webhooks"),
            &["jira:issue_created", "jira:issue_updated"],
            "project = PROJ",
            &[],
        )
        .await
        .unwrap();
    let hook = *results[0].as_ref().unwrap();
    let listed = jira.list_webhooks().await.unwrap();
    assert_eq!(listed.iter().map(|w| w.id).collect::<Vec<_>>(), vec![hook]);
    assert!(!jira.refresh_webhooks(&[hook]).await.unwrap().is_null());
    jira.delete_webhooks(&[hook]).await.unwrap();
    assert!(jira.list_webhooks().await.unwrap().is_empty());
    let registered = requests(&sim).await;
    assert!(
        registered
            .iter()
            .any(|r| r["method"] == Method::PUT.as_str() && r["path"].as_str().unwrap().ends_with("/webhook/refresh"))
    );
}
