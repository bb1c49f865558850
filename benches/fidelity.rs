//! `cargo bench --bench fidelity`: the content-fidelity report. Prints
//! figures only (no timing), over the corpus kept in `tests/corpus/`:
//!
//! 1. Markdown → ADF → Markdown (Cloud) and Markdown → wiki → Markdown
//!    (Data Center): a fixpoint after one cycle; rendered as HTML, equal to
//!    the Markdown rendered directly (whitespace between tags ignored).
//! 2. Pushed ADF valid per the ADF JSON schema (read in place from
//!    `ARKSYNC_REFERENCE_DIR` or `../shared/reference`) and per Atlassian's
//!    own validator (`tools/adf-validate`, when installed).
//! 3. End to end, against PostgreSQL, arksync and the Jira simulator, on
//!    Cloud and on Data Center: each Markdown document is pushed as a
//!    story's description, a person edits only the issue's summary in Jira,
//!    and the description here is compared byte for byte.
//! 4. End to end on Cloud: each rich ADF document (made as in Jira's
//!    editor) is imported, the item's title is edited here and pushed, and
//!    the issue's ADF is compared with what the person wrote.

#[path = "../tests/common/corpus.rs"]
mod corpus;
#[allow(dead_code)]
#[path = "../tests/common/reference.rs"]
mod reference;
#[allow(dead_code)]
mod support;

use std::time::Duration;

use arksync::jira::connection::{Credentials, Flavor, Settings};
use arksync::jira::crypto::SecretKey;
use arksync::jira::store::{ConnectionStore, NewConnectionInput};
use arksync::jira::{adf, wiki};
use arksync::jira_sim::{self, AdminWebhook, SimConfig};
use arksync::queue::{Registry, Worker, WorkerConfig};
use arksync::sync::Engine;
use corpus::{atlassian_validator, corpus};
use pulldown_cmark::{Options, Parser, html};
use serde_json::{Value, json};
use support::{Bench, SECRET};
use tokio_util::sync::CancellationToken;

/// Markdown as HTML, with GitHub's extensions, whitespace between tags and
/// runs of whitespace folded.
fn render(md: &str) -> String {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_GFM;
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(md, options));
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace("> <", "><")
}

fn pct(n: usize, of: usize) -> String {
    format!("{n}/{of} ({:.1} %)", 100.0 * n as f64 / of.max(1) as f64)
}

fn converters(docs: &[(String, String)]) {
    println!("\n## Converters over {} Markdown documents", docs.len());
    let (mut fix_cloud, mut fix_dc, mut html_cloud, mut html_dc) = (0, 0, 0, 0);
    let mut unequal = Vec::new();
    for (name, md) in docs {
        let cloud = adf::adf_to_markdown(&adf::markdown_to_adf(md));
        fix_cloud += usize::from(adf::adf_to_markdown(&adf::markdown_to_adf(&cloud)) == cloud);
        let dc = wiki::wiki_to_markdown(&wiki::markdown_to_wiki(md));
        fix_dc += usize::from(wiki::wiki_to_markdown(&wiki::markdown_to_wiki(&dc)) == dc);
        if render(md) == render(&cloud) {
            html_cloud += 1;
        } else {
            unequal.push(name.as_str());
        }
        html_dc += usize::from(render(md) == render(&dc));
    }
    let n = docs.len();
    println!("- Cloud: Markdown → ADF → Markdown a fixpoint after one cycle: {}", pct(fix_cloud, n));
    println!("- Data Center: Markdown → wiki → Markdown a fixpoint after one cycle: {}", pct(fix_dc, n));
    println!("- Cloud: rendered HTML equal after Markdown → ADF → Markdown: {}", pct(html_cloud, n));
    println!("- Data Center: rendered HTML equal after Markdown → wiki → Markdown: {}", pct(html_dc, n));
    println!("  (Cloud HTML differs for: {})", unequal.join(", "));
    edited_in_jira(docs);
}

/// A person adds a paragraph to the description in Jira: what comes back
/// is the Markdown as it was written, with that paragraph added (the
/// blocks nobody edited keep their spelling; see `adf::keep`).
fn edited_in_jira(docs: &[(String, String)]) {
    const ADDED: &str = "Added in Jira.";
    let (mut bytes_cloud, mut bytes_dc, mut html_cloud, mut html_dc) = (0, 0, 0, 0);
    for (_, md) in docs {
        let expected = format!("{}\n\n{ADDED}\n", md.trim_end());
        let mut doc = adf::markdown_to_adf(md);
        if let Some(content) = doc["content"].as_array_mut() {
            content.push(json!({"type": "paragraph", "content": [{"type": "text", "text": ADDED}]}));
        }
        let cloud = adf::adf_to_markdown_keeping(&doc, md);
        let wiki = format!("{}\n\n{ADDED}", wiki::markdown_to_wiki(md));
        let dc = wiki::wiki_to_markdown_keeping(&wiki, md);
        bytes_cloud += usize::from(cloud == expected);
        bytes_dc += usize::from(dc == expected);
        html_cloud += usize::from(render(&cloud) == render(&expected));
        html_dc += usize::from(render(&dc) == render(&expected));
    }
    let n = docs.len();
    println!("\n## A person adds a paragraph in Jira ({n} documents)");
    println!("- Cloud: the rest byte-identical: {}; rendered HTML equal: {}", pct(bytes_cloud, n), pct(html_cloud, n));
    println!("- Data Center: the rest byte-identical: {}; rendered HTML equal: {}", pct(bytes_dc, n), pct(html_dc, n));
}

fn validity(pushed: &[(String, Value)]) -> anyhow::Result<()> {
    println!("\n## Pushed ADF ({} documents)", pushed.len());
    let schema_path = reference::path("adf-schema-full.v57.7.22.json");
    match std::fs::read_to_string(&schema_path) {
        Ok(text) => {
            let schema: Value = serde_json::from_str(&text)?;
            let validator = jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&schema)?;
            let valid = pushed.iter().filter(|(_, d)| validator.is_valid(d)).count();
            println!("- valid per the ADF JSON schema: {}", pct(valid, pushed.len()));
        }
        Err(_) => println!("- ADF JSON schema: skipped ({} is absent)", schema_path.display()),
    }
    let Some(results) = atlassian_validator(pushed) else {
        println!("- Atlassian's validator: skipped (run `npm ci --prefix tools/adf-validate`)");
        return Ok(());
    };
    let valid = results.iter().filter(|r| r["valid"] == true).count();
    println!("- valid per Atlassian's validator (@atlaskit/adf-utils, strict): {}", pct(valid, pushed.len()));
    for r in results.iter().filter(|r| r["valid"] != true) {
        println!("  refused: {} {}", r["name"], r["errors"]);
    }
    Ok(())
}

/// arksync (API, webhook endpoint, worker) against a simulator of `flavor`
/// that calls it back.
struct Stack {
    bench: Bench,
    sim: jira_sim::SimServer,
    base: String,
    http: reqwest::Client,
    stop: CancellationToken,
    stop_http: CancellationToken,
    worker: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Stack {
    async fn start(flavor: jira_sim::Flavor) -> anyhow::Result<Self> {
        let bench = Bench::start().await?;
        let key = SecretKey::parse(&"ab".repeat(32)).map_err(anyhow::Error::msg)?;
        let store = ConnectionStore::new(bench.pool.clone(), Some(key));
        let engine = Engine::new(bench.pool.clone(), store.clone());
        let (addr, stop_http) = bench.serve_with(engine.clone()).await?;
        let sim = jira_sim::start(SimConfig {
            flavor,
            admin_webhooks: vec![AdminWebhook {
                url: format!("http://{addr}/api/jira/webhooks"),
                secret: Some(SECRET.to_owned()),
            }],
            ..SimConfig::default()
        })
        .await?;
        let user = sim.integration_user();
        let (flavor, credentials) = match flavor {
            jira_sim::Flavor::Cloud => {
                (Flavor::Cloud, Credentials::Basic { email: user.email.clone(), api_token: user.token.clone() })
            }
            jira_sim::Flavor::Datacenter => (Flavor::Datacenter, Credentials::Pat { token: user.token.clone() }),
        };
        let settings = Settings { rate_per_sec: 100_000.0, burst: 10_000, ..Settings::default() };
        let connection = NewConnectionInput {
            name: "default".into(),
            flavor,
            base_url: Some(sim.base_url()),
            credentials,
            settings,
        };
        store.create(&connection).await?;
        let registry = arksync::webhooks::process::register(Registry::new(), Some(engine.clone()));
        let registry = arksync::sync::outbound::register(registry, engine.clone());
        let registry = arksync::sync::import::register(registry, engine);
        let stop = CancellationToken::new();
        let config = WorkerConfig { concurrency: 16, ..WorkerConfig::default() };
        let worker =
            tokio::spawn(Worker::new(bench.pool.clone(), bench.pg_config(), registry, config).run(stop.clone()));
        let base = format!("http://{addr}");
        Ok(Self { bench, sim, base, http: reqwest::Client::new(), stop, stop_http, worker })
    }

    /// Waits until no job waits or runs and no delivery is pending, five
    /// times in a row 100 ms apart.
    async fn settle(&self) -> anyhow::Result<()> {
        let client = self.bench.pool.get().await?;
        let mut quiet = 0;
        while quiet < 5 {
            let busy: i64 = client
                .query_one(
                    "SELECT (SELECT count(*) FROM jobs WHERE state IN ('available', 'running')) + \
                            (SELECT count(*) FROM jira_webhook_events WHERE processing_status = 'pending')",
                    &[],
                )
                .await?
                .get(0);
            quiet = if busy == 0 { quiet + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn person(&self, method: reqwest::Method, path: &str, body: Value) -> anyhow::Result<u16> {
        let person = &self.sim.credentials()[1];
        let url = format!("{}{path}", self.sim.base_url());
        let mut req = self.http.request(method, url).json(&body);
        req = match self.sim.config().flavor {
            jira_sim::Flavor::Cloud => req.basic_auth(&person.email, Some(&person.token)),
            jira_sim::Flavor::Datacenter => req.bearer_auth(&person.token),
        };
        Ok(req.send().await?.status().as_u16())
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let res = self.http.request(method, format!("{}{path}", self.base)).json(&body).send().await?;
        Ok(res.json().await.unwrap_or(Value::Null))
    }

    async fn sim_issue(&self, key: &str) -> anyhow::Result<Value> {
        let issues: Value = self.http.get(format!("{}/_sim/issues", self.sim.base_url())).send().await?.json().await?;
        Ok(issues.as_array().and_then(|a| a.iter().find(|i| i["key"] == key).cloned()).unwrap_or(Value::Null))
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.worker.await??;
        self.stop_http.cancel();
        self.sim.shutdown().await;
        self.bench.stop()
    }
}

/// Pushes every document as a story's description, has a person edit only
/// each issue's summary, and counts descriptions that changed here.
async fn summary_only_edits(
    flavor: jira_sim::Flavor,
    docs: &[(String, String)],
) -> anyhow::Result<Vec<(String, Value)>> {
    let s = Stack::start(flavor).await?;
    let mut items = Vec::new();
    for (name, md) in docs {
        let body = json!({"title": name, "description": md, "syncToJira": true, "jiraProjectKey": "PROJ"});
        let v = s.api(reqwest::Method::POST, "/api/user-stories", body).await?;
        items.push((name.clone(), md.clone(), v["id"].as_str().unwrap_or_default().to_owned()));
    }
    s.settle().await?;
    let api = if flavor == jira_sim::Flavor::Cloud { 3 } else { 2 };
    let mut pushed = Vec::new();
    let mut not_synced = 0;
    for (name, _, id) in &items {
        let got = s.api(reqwest::Method::GET, &format!("/api/user-stories/{id}"), Value::Null).await?;
        let Some(key) = got["jiraIssueKey"].as_str() else {
            not_synced += 1;
            continue;
        };
        pushed.push((name.clone(), s.sim_issue(key).await?["fields"]["description"].clone()));
        let path = format!("/rest/api/{api}/issue/{key}");
        s.person(reqwest::Method::PUT, &path, json!({"fields": {"summary": format!("{name} (renamed in Jira)")}}))
            .await?;
    }
    s.settle().await?;
    let (mut identical, mut arrived) = (0, 0);
    let mut changed = Vec::new();
    for (name, md, id) in &items {
        let got = s.api(reqwest::Method::GET, &format!("/api/user-stories/{id}"), Value::Null).await?;
        arrived += usize::from(got["title"].as_str().is_some_and(|t| t.ends_with("(renamed in Jira)")));
        if got["description"].as_str() == Some(md.as_str()) {
            identical += 1;
        } else {
            changed.push(name.as_str());
        }
    }
    let n = items.len();
    println!("\n## {flavor:?}: a person edits only the summary in Jira ({n} documents)");
    println!("- pushed and linked: {}", pct(n - not_synced, n));
    println!("- the person's summary arrived: {}", pct(arrived, n));
    println!("- descriptions that changed here: {} {}", changed.len(), if changed.is_empty() { "" } else { "→" });
    for name in &changed {
        println!("  {name}");
    }
    println!("- Markdown → Jira → (summary edited) → Markdown byte-identical: {}", pct(identical, n));
    s.stop().await?;
    Ok(pushed)
}

/// Imports every rich ADF document, edits each item's title here, and
/// counts issues whose ADF is still what the person wrote.
async fn rich_adf_pushed_back(docs: &[(String, String)]) -> anyhow::Result<()> {
    let s = Stack::start(jira_sim::Flavor::Cloud).await?;
    s.api(reqwest::Method::PUT, "/api/jira/projects/PROJ/settings", json!({"importUnmapped": true})).await?;
    let mut keys = Vec::new();
    for (name, text) in docs {
        let doc: Value = serde_json::from_str(text)?;
        let body = json!({"fields": {"project": {"key": "PROJ"}, "issuetype": {"name": "Story"},
                                     "summary": name, "description": doc}});
        let person = &s.sim.credentials()[1];
        let res = s
            .http
            .post(format!("{}/rest/api/3/issue", s.sim.base_url()))
            .basic_auth(&person.email, Some(&person.token))
            .json(&body)
            .send()
            .await?;
        let status = res.status().as_u16();
        let created: Value = res.json().await.unwrap_or(Value::Null);
        keys.push((name.clone(), doc, created["key"].as_str().map(str::to_owned), status));
    }
    s.settle().await?;
    let client = s.bench.pool.get().await?;
    let (mut imported, mut unchanged, mut refused) = (0, 0, Vec::new());
    let mut altered = Vec::new();
    for (name, _, key, status) in &keys {
        let Some(key) = key else {
            refused.push(format!("{name} ({status})"));
            continue;
        };
        let row = client.query_opt("SELECT id FROM user_stories WHERE jira_issue_key = $1", &[key]).await?;
        let Some(id) = row.map(|r| r.get::<_, String>(0)) else { continue };
        imported += 1;
        s.api(reqwest::Method::PATCH, &format!("/api/user-stories/{id}"), json!({"title": format!("{name} edited")}))
            .await?;
    }
    s.settle().await?;
    for (name, doc, key, _) in &keys {
        let Some(key) = key else { continue };
        let issue = s.sim_issue(key).await?;
        let title_pushed = issue["fields"]["summary"].as_str().is_some_and(|t| t.ends_with(" edited"));
        if title_pushed && issue["fields"]["description"] == *doc {
            unchanged += 1;
        } else {
            altered.push(name.as_str());
        }
    }
    let n = docs.len();
    println!("\n## Cloud: rich ADF from Jira's editor → Markdown → the item edited here and pushed ({n} documents)");
    if !refused.is_empty() {
        println!("- refused by the simulator: {}", refused.join(", "));
    }
    println!("- imported: {}", pct(imported, n));
    println!("- the issue's ADF unchanged after the push: {}", pct(unchanged, n));
    for name in &altered {
        println!("  changed or not pushed: {name}");
    }
    s.stop().await
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let markdown = corpus("markdown");
    let rich = corpus("adf");
    println!("# arksync content-fidelity report (corpus: tests/corpus)");
    converters(&markdown);
    let mut pushed: Vec<(String, Value)> =
        markdown.iter().map(|(n, md)| (n.clone(), adf::markdown_to_adf(md))).collect();
    let cloud = summary_only_edits(jira_sim::Flavor::Cloud, &markdown).await?;
    summary_only_edits(jira_sim::Flavor::Datacenter, &markdown).await?;
    pushed.extend(cloud.into_iter().map(|(n, d)| (format!("{n} (as the simulator holds it)"), d)));
    for (name, text) in &rich {
        let back = adf::markdown_to_adf(&adf::adf_to_markdown(&serde_json::from_str(text)?));
        pushed.push((format!("{name} (read, written back)"), back));
    }
    validity(&pushed)?;
    rich_adf_pushed_back(&rich).await?;
    Ok(())
}
