//! Every kind of bad input gets its status and a JSON error naming what was
//! wrong, and leaves the database exactly as it was.

use serde_json::{Value, json};

use crate::harness::{TestApp, status_and_json};

/// Everything the API can write, as one comparable value.
async fn snapshot(app: &TestApp) -> Value {
    let db = app.db.connect().await;
    let mut out = serde_json::Map::new();
    for table in ["user_stories", "defects", "epics", "jira_integration_mappings"] {
        let sql = format!("SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]') FROM {table} t");
        let rows: Value = db.query_one(&sql, &[]).await.unwrap().get(0);
        out.insert(table.into(), rows);
    }
    Value::Object(out)
}

/// Sends a raw request and checks status, error code and field, and that
/// nothing changed.
async fn assert_refused(
    app: &TestApp,
    req: reqwest::RequestBuilder,
    status: u16,
    code: &str,
    field: Option<&str>,
) -> Value {
    let before = snapshot(app).await;
    let (got, body) = status_and_json(req.send().await.unwrap()).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["field"].as_str(), field, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(snapshot(app).await, before, "the database changed");
    body
}

async fn seeded() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let (_, s) = app.post("/api/user-stories", json!({"title": "keep me", "labels": ["x"]})).await;
    (app, s["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn malformed_json_is_400() {
    let (app, id) = seeded().await;
    let post = app.http.post(app.url("/api/user-stories")).header("content-type", "application/json");
    assert_refused(&app, post.body("{\"title\": "), 400, "malformed_json", None).await;
    let patch = app.http.patch(app.url(&format!("/api/user-stories/{id}"))).header("content-type", "application/json");
    assert_refused(&app, patch.body("not json"), 400, "malformed_json", None).await;
    let empty = app.http.post(app.url("/api/epics")).header("content-type", "application/json");
    assert_refused(&app, empty, 400, "malformed_json", None).await;
}

#[tokio::test]
async fn unknown_and_read_only_fields_are_400() {
    let (app, id) = seeded().await;
    let post = app.http.post(app.url("/api/user-stories")).json(&json!({"title": "t", "colour": "red"}));
    assert_refused(&app, post, 400, "unknown_field", Some("colour")).await;
    let patch = app.http.patch(app.url(&format!("/api/user-stories/{id}"))).json(&json!({"severity": "low"}));
    assert_refused(&app, patch, 400, "unknown_field", Some("severity")).await;
    let patch = app.http.patch(app.url(&format!("/api/user-stories/{id}"))).json(&json!({"syncStatus": "synced"}));
    assert_refused(&app, patch, 400, "read_only_field", Some("syncStatus")).await;
}

#[tokio::test]
async fn wrong_types_are_400() {
    let (app, id) = seeded().await;
    let cases = [
        json!({"title": 42}),
        json!({"title": "t", "labels": "x"}),
        json!({"title": "t", "storyPoints": "5"}),
        json!({"title": "t", "syncToJira": "yes"}),
    ];
    let fields = ["title", "labels", "storyPoints", "syncToJira"];
    for (body, field) in cases.iter().zip(fields) {
        let post = app.http.post(app.url("/api/user-stories")).json(body);
        assert_refused(&app, post, 400, "invalid_type", Some(field)).await;
    }
    let patch = app.http.patch(app.url(&format!("/api/user-stories/{id}"))).json(&json!([1, 2]));
    assert_refused(&app, patch, 400, "invalid_type", None).await;
}

#[tokio::test]
async fn values_out_of_their_set_are_400_and_name_the_allowed_values() {
    let (app, id) = seeded().await;
    let post = app.http.post(app.url("/api/defects")).json(&json!({"title": "t", "severity": "blocker"}));
    let body = assert_refused(&app, post, 400, "invalid_value", Some("severity")).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("critical, high, medium, low"), "{body}");
    let patch = app.http.patch(app.url(&format!("/api/user-stories/{id}"))).json(&json!({"status": "doing"}));
    assert_refused(&app, patch, 400, "invalid_value", Some("status")).await;
    let list = app.http.get(app.url("/api/user-stories?syncStatus=done"));
    assert_refused(&app, list, 400, "invalid_value", Some("syncStatus")).await;
    let post = app.http.post(app.url("/api/user-stories")).json(&json!({"title": "t", "epicId": "EPIC-0000000"}));
    assert_refused(&app, post, 400, "invalid_value", Some("epicId")).await;
}

#[tokio::test]
async fn missing_required_fields_are_400() {
    let (app, _) = seeded().await;
    let post = app.http.post(app.url("/api/epics")).json(&json!({"description": "no title"}));
    assert_refused(&app, post, 400, "missing_field", Some("title")).await;
    let post = app.http.post(app.url("/api/epics")).json(&json!({"title": "t", "syncToJira": true}));
    assert_refused(&app, post, 400, "missing_field", Some("jiraProjectKey")).await;
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404() {
    let (app, _) = seeded().await;
    for req in [
        app.http.get(app.url("/api/user-stories/US-0000000")),
        app.http.get(app.url("/api/user-stories/nonsense")),
        app.http.patch(app.url("/api/defects/DEF-0000000")).json(&json!({"title": "x"})),
        app.http.delete(app.url("/api/epics/EPIC-0000000")),
        app.http.get(app.url("/api/widgets")),
    ] {
        assert_refused(&app, req, 404, "not_found", None).await;
    }
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let (app, id) = seeded().await;
    let res = app.http.put(app.url(&format!("/api/user-stories/{id}"))).json(&json!({})).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, PATCH, DELETE");
    assert_refused(&app, app.http.delete(app.url("/api/user-stories")), 405, "method_not_allowed", None).await;
    assert_refused(&app, app.http.post(app.url("/healthz")), 405, "method_not_allowed", None).await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let (app, id) = seeded().await;
    let post =
        app.http.post(app.url("/api/user-stories")).header("content-type", "text/plain").body("{\"title\":\"t\"}");
    assert_refused(&app, post, 415, "unsupported_media_type", None).await;
    let patch = app.http.patch(app.url(&format!("/api/user-stories/{id}"))).body("{\"title\":\"t\"}");
    assert_refused(&app, patch, 415, "unsupported_media_type", None).await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_whether_declared_or_streamed() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 1024).await;
    let big = json!({"title": "t", "description": "x".repeat(2000)}).to_string();
    let post = app.http.post(app.url("/api/user-stories")).header("content-type", "application/json").body(big.clone());
    assert_refused(&app, post, 413, "payload_too_large", None).await;
    // No Content-Length: the body arrives chunked and is cut off while read.
    let stream = futures_util::stream::iter(
        big.into_bytes().chunks(100).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let post = app
        .http
        .post(app.url("/api/user-stories"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream));
    assert_refused(&app, post, 413, "payload_too_large", None).await;
}

#[tokio::test]
async fn internal_errors_are_500_and_say_nothing_internal() {
    let (app, _) = seeded().await;
    app.db.connect().await.batch_execute("DROP TABLE defects").await.unwrap();
    let (status, body) = app.get("/api/defects").await;
    assert_eq!(status, 500);
    assert_eq!(body, json!({"error": {"code": "internal", "message": "internal error"}}));
}
