//! Shared test plumbing: reference paths, a started simulator with a
//! reqwest client per account, and a webhook receiver that records raw
//! deliveries and answers with scripted statuses.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arksync::jira_sim::{self, SimConfig, SimServer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

pub fn read_json(name: &str) -> Value {
    let path = crate::reference::path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference JSON parses")
}

pub struct Sim {
    pub server: SimServer,
    pub http: reqwest::Client,
}

impl Sim {
    pub async fn start(config: SimConfig) -> Self {
        let server = jira_sim::start(config).await.expect("simulator starts");
        Self { server, http: reqwest::Client::new() }
    }

    pub async fn cloud() -> Self {
        Self::start(SimConfig::default()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    /// A request as account `user` (0 = integration, 1 = the person).
    pub fn as_user(&self, user: usize, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let u = &self.server.credentials()[user];
        self.http.request(method, self.url(path)).basic_auth(&u.email, Some(&u.token))
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.as_user(0, method, path)
    }

    pub async fn json(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a Story in PROJ and returns its key.
    pub async fn create_story(&self, summary: &str) -> String {
        let body = serde_json::json!({ "fields": {
            "project": { "key": "PROJ" }, "issuetype": { "name": "Story" }, "summary": summary,
            "description": adf_text("A description"),
        }});
        let (status, v) = self.json(self.req(reqwest::Method::POST, "/rest/api/3/issue").json(&body)).await;
        assert_eq!(status, 201, "{v}");
        v["key"].as_str().unwrap().to_string()
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, self.url(&format!("/_sim/{path}")));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("admin call");
        assert!(resp.status().is_success(), "admin {path}: {}", resp.status());
        resp.json().await.expect("admin JSON")
    }
}

pub fn adf_text(text: &str) -> Value {
    serde_json::json!({ "type": "doc", "version": 1, "content": [
        { "type": "paragraph", "content": [{ "type": "text", "text": text }] }
    ]})
}

/// One delivery as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

/// A webhook endpoint on 127.0.0.1 that records every request and answers
/// with the next scripted status (200 once the script runs out).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub async fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let me = Self { url, got: Arc::default(), script: Arc::new(Mutex::new(script.iter().copied().collect())) };
        let server = me.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let r = server.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| r.clone().record(req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        me
    }

    async fn record(self, req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        self.got.lock().unwrap().push(Received { headers: parts.headers, body });
        let status = self.script.lock().unwrap().pop_front().unwrap_or(200);
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        Ok(resp)
    }

    /// Waits (≤ 10 s) until at least `n` deliveries arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..1000 {
            if self.got.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let got = self.got.lock().unwrap().clone();
        assert!(got.len() >= n, "expected {n} deliveries, got {}", got.len());
        got
    }

    pub fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}
