//! The operations configuration: `prometheus.yml`, the alert rules in
//! `prometheus/`, and Grafana's provisioning and dashboards in `grafana/`.
//!
//! Every PromQL expression (dashboard queries and rules) may name only
//! metrics `src/metrics.rs` exports; every dashboard panel queries the
//! provisioned data source; every alert has a severity, a summary, a
//! description, a runbook file that exists, and a promtool unit test. promtool
//! checks the configuration, the rules and their unit tests, and that every
//! dashboard query parses. Without promtool on PATH those checks are skipped
//! locally, and fail when `CI` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Series Prometheus itself writes, not arksync: `up` (scrape health, used
/// by the ArksyncDown alert) and `ALERTS` (the Queue & Alerts dashboard).
const PROMETHEUS_SERIES: &[&str] = &["up", "ALERTS"];

/// The three dashboards of the spec ("Monitoring & Observability").
const DASHBOARDS: &[&str] = &["arksync-sync-health", "arksync-webhooks", "arksync-queue-alerts"];

/// The spec's four alerts and the three operators asked for.
const REQUIRED_ALERTS: &[&str] = &[
    "ArksyncSyncErrorRateHigh",
    "ArksyncSyncLagHigh",
    "ArksyncQueueBacklog",
    "ArksyncWebhookFailures",
    "ArksyncConnectionNeedsReconsent",
    "ArksyncOldestRunnableJobStale",
    "ArksyncNoWebhooks24h",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

// ---------------------------------------------------------------------------
// What arksync exports

/// Every series name arksync exports: the string constants at the top of
/// `src/metrics.rs`, and for each one described as a histogram its
/// `_bucket`, `_sum` and `_count` series (a histogram has no bare series).
fn exported_series() -> BTreeSet<String> {
    let source = read("src/metrics.rs");
    let mut constants = BTreeMap::new();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else { continue };
        let Some((name, value)) = rest.split_once(": &str = \"") else { continue };
        let value = value.strip_suffix("\";").unwrap_or_else(|| panic!("unexpected metric constant: {line}"));
        constants.insert(name.to_owned(), value.to_owned());
    }
    assert!(constants.len() >= 20, "found only {} metric constants in src/metrics.rs", constants.len());
    // `describe_histogram!(NAME, …)`, on one line or (rustfmt) several.
    let histograms: BTreeSet<&str> = source
        .split("describe_histogram!(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next())
        .collect();
    assert!(!histograms.is_empty(), "no describe_histogram! in src/metrics.rs");
    for h in &histograms {
        assert!(constants.contains_key(*h), "describe_histogram!({h}, …) names no metric constant");
    }
    let mut series = BTreeSet::new();
    for (constant, name) in &constants {
        if histograms.contains(constant.as_str()) {
            for suffix in ["_bucket", "_sum", "_count"] {
                series.insert(format!("{name}{suffix}"));
            }
        } else {
            series.insert(name.clone());
        }
    }
    series
}

// ---------------------------------------------------------------------------
// A PromQL tokeniser, just enough to find the metric names of an expression

const FUNCTIONS: &[&str] = &[
    // aggregations
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    // functions
    "abs",
    "absent",
    "absent_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_quantile",
    "histogram_count",
    "histogram_sum",
    "histogram_fraction",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "ln",
    "log2",
    "log10",
    "minute",
    "month",
    "predict_linear",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sqrt",
    "time",
    "timestamp",
    "vector",
    "year",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "start",
    "end",
];

/// Keywords followed by a parenthesised list of label names, not series.
const LABEL_LIST_KEYWORDS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"];

/// The series names an expression selects, or what in it is not understood
/// (an unknown function, an unbalanced bracket).
fn metric_names(expr: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let skip_to = |from: usize, close: char| -> Result<usize, String> {
        let mut j = from + 1;
        while j < chars.len() {
            match chars[j] {
                c if c == close => return Ok(j + 1),
                '"' | '\'' | '`' => j = skip_string(&chars, j)?,
                _ => j += 1,
            }
        }
        Err(format!("unclosed '{}' in {expr}", chars[from]))
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i)?,
            // Label matchers and range / subquery durations name no series.
            '{' => i = skip_to(i, '}')?,
            '[' => i = skip_to(i, ']')?,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            // Grafana variables: $name, ${name}.
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    i = skip_to(i, '}')?;
                } else {
                    while i < chars.len() && is_ident(chars[i]) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                // Numbers and durations: 0.95, 5m, 1e3, 0x1f.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                // `sum by (le) (…)`: an aggregation's grouping may come first.
                let grouping_follows = ["by", "without"].iter().any(|kw| {
                    let end = next + kw.len();
                    chars.len() > end && chars[next..end].iter().copied().eq(kw.chars()) && !is_ident(chars[end])
                });
                let called = chars.get(next) == Some(&'(') || grouping_follows;
                let lower = word.to_ascii_lowercase();
                if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                    if called {
                        i = skip_to(next, ')')?;
                    }
                } else if KEYWORDS.contains(&lower.as_str()) {
                } else if called {
                    if !FUNCTIONS.contains(&word.as_str()) {
                        return Err(format!("unknown function {word}( in {expr}"));
                    }
                } else {
                    names.push(word);
                }
            }
            _ => i += 1,
        }
    }
    Ok(names)
}

fn skip_string(chars: &[char], from: usize) -> Result<usize, String> {
    let quote = chars[from];
    let mut j = from + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if quote != '`' => j += 2,
            c if c == quote => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err("unclosed string".into())
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

#[test]
fn the_promql_tokeniser_finds_series_and_only_series() {
    let names = |e: &str| metric_names(e).unwrap();
    assert_eq!(
        names(
            r#"histogram_quantile(0.95, sum by (le, direction) (rate(jira_sync_lag_seconds_bucket{direction="to_jira", le!="x"}[$__rate_interval])))"#
        ),
        ["jira_sync_lag_seconds_bucket"]
    );
    assert_eq!(
        names("(time() - max(a_b)) > 86400 and on () max(c:d) > 0 or vector(0) unless e offset 5m"),
        ["a_b", "c:d", "e"]
    );
    assert_eq!(names("sum(x) without (instance) / ignoring(kind) group_left(state) y > bool 1e3"), ["x", "y"]);
    assert_eq!(names(r#"count(ALERTS{alertname=~"Arksync.*(x)", alertstate="firing"}) or vector(0)"#), ["ALERTS"]);
    assert_eq!(names("up == 0"), ["up"]);
    assert!(metric_names("rat(x[5m])").unwrap_err().contains("unknown function rat("));
    assert!(metric_names("sum(x{a=\"b\"").is_err());
}

// ---------------------------------------------------------------------------
// The rules file, read line by line (the repository has no YAML parser; the
// count is checked against promtool's)

#[derive(Debug)]
struct Rule {
    name: String,
    expr: String,
    /// `key: value` lines of its labels and annotations (single-line values;
    /// folded values are recorded as present with an empty value).
    fields: BTreeMap<String, String>,
}

fn rules(text: &str) -> Vec<Rule> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rules: Vec<Rule> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        i += 1;
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("- alert:").or_else(|| trimmed.strip_prefix("- record:")) {
            rules.push(Rule { name: name.trim().to_owned(), expr: String::new(), fields: BTreeMap::new() });
            continue;
        }
        if trimmed.starts_with("- name:") {
            continue;
        }
        let Some(rule) = rules.last_mut() else { continue };
        let Some((key, value)) = trimmed.split_once(':') else { continue };
        let (key, value) = (key.trim(), value.trim());
        if value.starts_with('|') || value.starts_with('>') {
            // A block scalar: the lines indented deeper than its key.
            let mut block = Vec::new();
            while i < lines.len() {
                let l = lines[i];
                let deeper = l.len() - l.trim_start().len() > indent;
                if !(l.trim().is_empty() || deeper) {
                    break;
                }
                block.push(l.trim());
                i += 1;
            }
            let joined = block.join(if value.starts_with('|') { "\n" } else { " " });
            if key == "expr" {
                rule.expr = joined.trim().to_owned();
            } else {
                rule.fields.insert(key.to_owned(), joined.trim().to_owned());
            }
        } else if key == "expr" {
            rule.expr = unquote(value);
        } else if !value.is_empty() {
            rule.fields.insert(key.to_owned(), unquote(value));
        }
    }
    rules
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    v.to_owned()
}

fn alert_rules() -> Vec<Rule> {
    let rules = rules(&read("prometheus/alerts.yml"));
    assert!(rules.len() >= REQUIRED_ALERTS.len(), "found {} rules", rules.len());
    for rule in &rules {
        assert!(!rule.expr.is_empty(), "rule {} has no expr", rule.name);
    }
    rules
}

#[test]
fn every_alert_has_a_severity_summary_description_runbook_and_unit_test() {
    let rules = alert_rules();
    let tests = read("prometheus/alerts_test.yml");
    let names: BTreeSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    for required in REQUIRED_ALERTS {
        assert!(names.contains(required), "prometheus/alerts.yml lacks the alert {required}");
    }
    assert_eq!(names.len(), rules.len(), "alert names must be unique");
    for rule in &rules {
        let name = &rule.name;
        let severity = rule.fields.get("severity").unwrap_or_else(|| panic!("{name} has no severity label"));
        assert!(["critical", "high", "warning", "info"].contains(&severity.as_str()), "{name}: severity {severity}");
        for key in ["summary", "description"] {
            assert!(rule.fields.get(key).is_some_and(|v| !v.is_empty()), "{name} has no {key} annotation");
        }
        let runbook = rule.fields.get("runbook").unwrap_or_else(|| panic!("{name} has no runbook annotation"));
        assert!(
            runbook.starts_with("sql/") && runbook.ends_with(".sql") && root().join(runbook).is_file(),
            "{name}: runbook {runbook:?} is not a file of the psql runbook in sql/"
        );
        assert!(
            tests.contains(&format!("alertname: {name}\n")),
            "{name} has no unit test in prometheus/alerts_test.yml"
        );
    }
}

// ---------------------------------------------------------------------------
// Grafana

struct Dashboard {
    file: String,
    json: Value,
}

fn dashboards() -> Vec<Dashboard> {
    let dir = root().join("grafana/dashboards");
    let mut found: Vec<Dashboard> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not valid JSON: {e}"));
            Dashboard { file, json }
        })
        .collect();
    found.sort_by(|a, b| a.file.cmp(&b.file));
    found
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            if let Some(nested) = panel.get("panels") {
                walk(nested, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// (dashboard file, panel title, expr) of every query.
fn dashboard_queries() -> Vec<(String, String, String)> {
    let mut queries = Vec::new();
    for d in dashboards() {
        for panel in panels(&d.json) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let title = panel["title"].as_str().unwrap_or("?").to_owned();
                let expr =
                    target["expr"].as_str().unwrap_or_else(|| panic!("{}: {title}: a target without expr", d.file));
                queries.push((d.file.clone(), title, expr.to_owned()));
            }
        }
    }
    queries
}

/// The `uid:` of every provisioned data source.
fn provisioned_datasource_uids() -> BTreeSet<String> {
    let dir = root().join("grafana/provisioning/datasources");
    let mut uids = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(uid) = line.trim().strip_prefix("uid:") {
                uids.insert(unquote(uid));
            }
        }
    }
    uids
}

#[test]
fn dashboards_are_valid_and_query_the_provisioned_datasource() {
    let uids = provisioned_datasource_uids();
    assert!(uids.contains("prometheus"), "no data source with uid prometheus is provisioned: {uids:?}");
    let all = dashboards();
    let found: BTreeSet<&str> = all.iter().filter_map(|d| d.json["uid"].as_str()).collect();
    for uid in DASHBOARDS {
        assert!(found.contains(uid), "no dashboard with uid {uid} in grafana/dashboards/ (found {found:?})");
    }
    assert_eq!(found.len(), all.len(), "every dashboard needs a unique uid");
    for d in &all {
        let (file, json) = (&d.file, &d.json);
        assert_eq!(
            json["uid"].as_str().map(|u| format!("{u}.json")).as_deref(),
            Some(file.as_str()),
            "file name = uid"
        );
        assert!(json["title"].as_str().is_some_and(|t| !t.is_empty()), "{file}: no title");
        assert!(json["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{file}: schemaVersion");
        assert!(json.get("id").is_none_or(Value::is_null), "{file}: a provisioned dashboard carries no database id");
        let mut ids = BTreeSet::new();
        let mut queried = 0;
        for panel in panels(json) {
            let title = panel["title"].as_str().unwrap_or("?");
            let kind = panel["type"].as_str().unwrap_or_else(|| panic!("{file}: panel {title} has no type"));
            assert!(ids.insert(panel["id"].as_u64().expect("panel id")), "{file}: duplicate panel id in {title}");
            assert!(panel["gridPos"]["w"].as_u64().is_some(), "{file}: {title} has no gridPos");
            let targets = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
            if targets.is_empty() {
                assert!(["row", "text"].contains(&kind), "{file}: {kind} panel {title} queries nothing");
                continue;
            }
            queried += 1;
            let uid = panel["datasource"]["uid"].as_str();
            assert!(
                uid.is_some_and(|u| uids.contains(u)),
                "{file}: panel {title} uses data source {uid:?}, not a provisioned one {uids:?}"
            );
            for target in targets {
                if let Some(target_uid) = target["datasource"]["uid"].as_str() {
                    assert!(uids.contains(target_uid), "{file}: {title}: target data source {target_uid}");
                }
                assert!(target["refId"].as_str().is_some(), "{file}: {title}: a target without refId");
            }
        }
        assert!(queried >= 4, "{file}: only {queried} panels query anything");
    }
}

#[test]
fn grafana_and_prometheus_paths_agree_with_the_documented_compose_file() {
    let readme = read("docs/operations.md");
    let provider = read("grafana/provisioning/dashboards/arksync.yml");
    assert!(provider.contains("type: file") && provider.contains("path: /var/lib/grafana/dashboards"), "{provider}");
    for mount in [
        "./grafana/provisioning:/etc/grafana/provisioning",
        "./grafana/dashboards:/var/lib/grafana/dashboards",
        "./prometheus.yml:/etc/prometheus/prometheus.yml",
        "./prometheus:/etc/prometheus/prometheus",
    ] {
        assert!(readme.contains(mount), "docs/operations.md's compose file does not mount {mount}");
    }
    let config = read("prometheus.yml");
    assert!(config.contains("- prometheus/alerts.yml"), "prometheus.yml does not load prometheus/alerts.yml");
    assert!(config.contains("metrics_path: /metrics") && config.contains("\"localhost:5000\""), "{config}");
}

#[test]
fn dashboards_and_rules_name_only_metrics_arksync_exports() {
    let exported = exported_series();
    let mut expressions: Vec<(String, String)> = dashboard_queries()
        .into_iter()
        .map(|(file, title, expr)| (format!("grafana/dashboards/{file}: {title}"), expr))
        .collect();
    let rules = alert_rules();
    expressions.extend(rules.iter().map(|r| (format!("prometheus/alerts.yml: {}", r.name), r.expr.clone())));
    assert!(expressions.len() > 40, "only {} expressions found", expressions.len());

    let mut unknown = Vec::new();
    let mut used = BTreeSet::new();
    for (place, expr) in &expressions {
        let names = metric_names(expr).unwrap_or_else(|e| panic!("{place}: {e}"));
        assert!(!names.is_empty(), "{place}: names no metric: {expr}");
        for name in names {
            if !exported.contains(&name) && !PROMETHEUS_SERIES.contains(&name.as_str()) {
                unknown.push(format!("{place}: {name}"));
            }
            used.insert(name);
        }
    }
    assert!(unknown.is_empty(), "not exported by src/metrics.rs:\n{}", unknown.join("\n"));
    // Seeing a metric only in one place is fine, but a dashboard should show
    // every family arksync exports.
    let families =
        |n: &str| n.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count").to_owned();
    let shown: BTreeSet<String> = used.iter().map(|n| families(n)).collect();
    let missing: Vec<String> = exported
        .iter()
        .map(|n| families(n))
        .filter(|f| !shown.contains(f))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(missing.is_empty(), "exported but on no dashboard: {missing:?}");
}

// ---------------------------------------------------------------------------
// promtool

fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("promtool")).find(|p| p.is_file())
}

fn run_promtool(promtool: &Path, args: &[&str]) -> String {
    let out = Command::new(promtool)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("running promtool {args:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {} failed:\n{text}", args.join(" "));
    text
}

#[test]
fn promtool_checks_the_config_the_rules_their_unit_tests_and_the_dashboard_queries() {
    let Some(promtool) = promtool() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is not on PATH, and CI is set: CI must run it (.ci/run installs the Debian package prometheus)"
        );
        // Written to the terminal, not to the test's captured output.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "note: promtool checks skipped: promtool is not on PATH (apt-get install prometheus)"
        );
        return;
    };
    run_promtool(&promtool, &["check", "config", "prometheus.yml"]);
    // promtool counts the rules; the line-based reader above must agree.
    let checked = run_promtool(&promtool, &["check", "rules", "prometheus/alerts.yml"]);
    let counted = format!("SUCCESS: {} rules found", alert_rules().len());
    assert!(checked.contains(&counted), "promtool found other rules than the {counted}:\n{checked}");
    run_promtool(&promtool, &["test", "rules", "prometheus/alerts_test.yml"]);

    // Every dashboard query parses: as recording rules, with Grafana's
    // variables replaced by durations.
    let mut file = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (i, (_, _, expr)) in dashboard_queries().iter().enumerate() {
        let expr = expr.replace("$__rate_interval", "1m").replace("$__range", "1h").replace("$__interval", "1m");
        file.push_str(&format!("      - record: dashboard:query_{i}\n        expr: {}\n", Value::from(expr)));
    }
    let dir = std::env::temp_dir().join(format!("arksync-ops-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dashboard_queries.yml");
    std::fs::write(&path, file).unwrap();
    let out = Command::new(&promtool).arg("check").arg("rules").arg(&path).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "a dashboard query does not parse:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// Dockerfile

/// The Dockerfile's dependency stage copies only `Cargo.toml` and
/// `Cargo.lock` and stubs the sources, so that dependencies build once. Its
/// stub commands, read from the Dockerfile itself and run in a folder that
/// holds only the manifest, must leave a manifest cargo accepts: a new
/// `[[bench]]` or binary without a stub once broke the image's build.
#[test]
fn the_dockerfiles_dependency_stage_stubs_every_target_the_manifest_names() {
    let dockerfile = read("Dockerfile");
    let stage =
        dockerfile.split("COPY Cargo.toml Cargo.lock ./").nth(1).expect("the dependency stage copies the manifest");
    let mut run = String::new();
    for line in stage.lines().skip_while(|l| !l.starts_with("RUN ")) {
        let line = line.trim();
        if !line.starts_with('#') {
            run.push_str(line.strip_suffix('\\').unwrap_or(line));
            run.push(' ');
        }
        if !line.ends_with('\\') && !line.starts_with('#') {
            break;
        }
    }
    let stubs = run.trim_start_matches("RUN ").split("&& cargo build").next().unwrap().to_owned();
    assert!(stubs.contains("benches"), "the stage stubs the benches: {stubs}");
    let dir = std::env::temp_dir().join(format!("arksync-docker-stubs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(root().join(file), dir.join(file)).unwrap();
    }
    let out = Command::new("sh").arg("-c").arg(&stubs).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "the stub commands ran: {}", String::from_utf8_lossy(&out.stderr));
    // `cargo fetch` reads the manifest, targets included, and needs no build:
    // offline, for this machine's platform, from what the test build fetched.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let host = Command::new("rustc").arg("-vV").output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_owned));
    let fetched = Command::new(cargo)
        .args(["fetch", "--offline", "--locked", "--target"])
        .arg(host.expect("rustc names its host"))
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        fetched.status.success(),
        "the stubbed manifest does not parse:\n{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
}
