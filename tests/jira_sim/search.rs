use reqwest::Method;
use serde_json::{Value, json};

use super::support::Sim;
use arksync::jira_sim::{Flavor, SimConfig};

async fn search(sim: &Sim, body: Value) -> (u16, Value) {
    sim.json(sim.req(Method::POST, "/rest/api/3/search/jql").json(&body)).await
}

fn ids(page: &Value) -> Vec<String> {
    page["issues"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn search_jql_returns_only_ids_by_default_and_pages_with_next_page_token() {
    let sim = Sim::cloud().await;
    for i in 0..5 {
        sim.create_story(&format!("s{i}")).await;
    }
    let (status, page1) = search(&sim, json!({ "jql": "project = PROJ ORDER BY updated ASC", "maxResults": 2 })).await;
    assert_eq!(status, 200);
    assert_eq!(page1["issues"][0].as_object().unwrap().keys().collect::<Vec<_>>(), ["id"]);
    assert_eq!(page1["isLast"], false);
    let mut all = ids(&page1);
    let mut token = page1["nextPageToken"].clone();
    while let Some(t) = token.as_str() {
        let (_, page) =
            search(&sim, json!({ "jql": "project = PROJ ORDER BY updated ASC", "maxResults": 2, "nextPageToken": t }))
                .await;
        all.extend(ids(&page));
        token = page["nextPageToken"].clone();
    }
    assert_eq!(all, ["10000", "10001", "10002", "10003", "10004"]);
}

#[tokio::test]
async fn search_by_arkhitekton_id_works_by_field_name_and_cf_number() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("tagged").await;
    sim.create_story("untagged").await;
    let set = json!({ "fields": { "customfield_10001": "US-ABC123" } });
    sim.json(sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&set)).await;
    for jql in [r#""ARKHITEKTON ID[Short text]" ~ "US-ABC123""#, r#"cf[10001] ~ "US-ABC123""#] {
        let (status, page) = search(&sim, json!({ "jql": jql, "fields": ["key", "customfield_10001"] })).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["issues"].as_array().unwrap().len(), 1, "{jql}");
        assert_eq!(page["issues"][0]["key"], json!(key));
        assert_eq!(page["issues"][0]["fields"]["customfield_10001"], "US-ABC123");
    }
}

#[tokio::test]
async fn search_by_key_list_and_updated_since_a_minute() {
    let sim = Sim::cloud().await;
    let a = sim.create_story("a").await;
    let _b = sim.create_story("b").await;
    let c = sim.create_story("c").await;
    let (_, page) = search(&sim, json!({ "jql": format!("key in ({a}, {c})"), "fields": ["key"] })).await;
    let keys: Vec<&str> = page["issues"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 2);
    let now = chrono::Utc::now();
    let since = (now - chrono::Duration::minutes(1)).format("%Y-%m-%d %H:%M").to_string();
    let (_, recent) = search(&sim, json!({ "jql": format!("project = PROJ AND updated >= \"{since}\"") })).await;
    assert_eq!(recent["issues"].as_array().unwrap().len(), 3);
    let future = (now + chrono::Duration::minutes(5)).format("%Y/%m/%d %H:%M").to_string();
    let (_, none) = search(&sim, json!({ "jql": format!("project = PROJ AND updated >= \"{future}\"") })).await;
    assert_eq!(none["issues"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn unbounded_or_invalid_jql_is_a_400_with_jiras_message() {
    let sim = Sim::cloud().await;
    let (status, err) = search(&sim, json!({ "jql": "ORDER BY updated" })).await;
    assert_eq!(status, 400);
    assert!(err["errorMessages"][0].as_str().unwrap().starts_with("Unbounded JQL queries are not allowed here."));
    let (status, err) = search(&sim, json!({ "jql": "nosuchfield = 1" })).await;
    assert_eq!(status, 400);
    assert!(err["errorMessages"][0].as_str().unwrap().contains("does not exist"));
    let (status, _) = search(&sim, json!({ "jql": "project = NOPE" })).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn text_fields_take_only_contains_and_other_fields_never_do() {
    let sim = Sim::cloud().await;
    let cases = [
        (
            r#"project = PROJ AND "ARKHITEKTON ID[Short text]" = "US-1""#,
            "'=' is not supported by the 'ARKHITEKTON ID[Short text]' field",
        ),
        (r#"project = PROJ AND summary = "x""#, "'=' is not supported by the 'summary' field"),
        (r#"project ~ PROJ"#, "'~' is not supported by the 'project' field"),
    ];
    for (jql, message) in cases {
        let (status, err) = search(&sim, json!({ "jql": jql })).await;
        assert_eq!(status, 400, "{jql}");
        assert!(err["errorMessages"][0].as_str().unwrap().contains(message), "{jql}: {err}");
    }
    let (status, _) = search(&sim, json!({ "jql": r#"project = PROJ AND cf[10001] ~ "US-1""# })).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_removed_cloud_search_endpoint_is_410_gone() {
    let sim = Sim::cloud().await;
    let (status, err) = sim.json(sim.req(Method::GET, "/rest/api/3/search?jql=project%3DPROJ")).await;
    assert_eq!(status, 410);
    assert!(err["errorMessages"][0].as_str().unwrap().contains("/rest/api/3/search/jql"));
}

#[tokio::test]
async fn data_center_search_pages_with_start_at_and_total() {
    let sim = Sim::start(SimConfig { flavor: Flavor::Datacenter, ..Default::default() }).await;
    let token = sim.server.credentials()[0].token.clone();
    for i in 0..3 {
        let body = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Task" }, "summary": format!("t{i}") } });
        sim.http.post(sim.url("/rest/api/2/issue")).bearer_auth(&token).json(&body).send().await.unwrap();
    }
    let get = |start: u32| {
        sim.http
            .get(sim.url(&format!(
                "/rest/api/2/search?jql=project%20%3D%20PROJ%20ORDER%20BY%20key%20ASC&startAt={start}&maxResults=2"
            )))
            .bearer_auth(&token)
    };
    let (status, p1) = sim.json(get(0)).await;
    assert_eq!(status, 200, "{p1}");
    assert_eq!((p1["total"].clone(), p1["startAt"].clone()), (json!(3), json!(0)));
    assert_eq!(p1["issues"].as_array().unwrap().len(), 2);
    assert!(p1["issues"][0]["fields"]["summary"].is_string(), "DC returns navigable fields by default");
    let (_, p2) = sim.json(get(2)).await;
    assert_eq!(p2["issues"][0]["key"], "PROJ-3");
}

#[tokio::test]
async fn with_search_lag_a_fresh_issue_is_not_found_yet_but_reads_by_key_work() {
    let sim = Sim::cloud().await;
    let faults = json!({ "searchLagMs": 60_000 });
    sim.admin(Method::POST, "faults", Some(faults)).await;
    let key = sim.create_story("fresh").await;
    let jql = json!({ "jql": format!("key = {key}") });
    let (status, page) = search(&sim, jql.clone()).await;
    assert_eq!((status, ids(&page).len()), (200, 0), "the index has not caught up");
    assert_eq!(sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await.0, 200);
    sim.admin(Method::POST, "clock/advance", Some(json!({ "minutes": 2 }))).await;
    let (_, page) = search(&sim, jql).await;
    assert_eq!(ids(&page).len(), 1, "found once the lag has passed");
}
