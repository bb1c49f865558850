//! Jira rich text in one canonical form, for telling whether two values
//! say the same: key order, Jira's `localId`s, empty `attrs`/`marks`/
//! `content` and line-ending or trailing-space differences in wiki text do
//! not count, and an empty document, an empty string and null are one value
//! (nothing).

use serde_json::{Map, Value};

pub(super) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::String(s) => {
            let s = s.replace("\r\n", "\n");
            let lines: Vec<&str> = s.trim().split('\n').map(str::trim_end).collect();
            let joined = lines.join("\n");
            if joined.is_empty() {
                out.push_str("null");
            } else {
                out.push_str(&Value::String(joined).to_string());
            }
        }
        Value::Object(map) if is_empty_doc(map) => out.push_str("null"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| keep(k, &map[k.as_str()])).collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                match (k.as_str(), &map[k.as_str()]) {
                    ("attrs", Value::Object(attrs)) => {
                        let kept: Map<String, Value> = attrs
                            .iter()
                            .filter(|(a, _)| *a != "localId")
                            .map(|(a, v)| (a.clone(), v.clone()))
                            .collect();
                        write(&Value::Object(kept), out);
                    }
                    (_, v) => canonical_exact(v, out),
                }
            }
            out.push('}');
        }
        other => canonical_exact(other, out),
    }
}

/// Inside a document, strings are compared exactly (text nodes keep their
/// spaces); objects are still canonical.
fn canonical_exact(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_exact(v, out);
            }
            out.push(']');
        }
        Value::Object(_) => write(value, out),
        other => out.push_str(&other.to_string()),
    }
}

/// Keys that carry nothing: empty `attrs`, `marks` or `content`.
fn keep(key: &str, value: &Value) -> bool {
    let empty = match value {
        Value::Object(m) => m.is_empty() || (key == "attrs" && m.keys().all(|k| k == "localId")),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    !(empty && ["attrs", "marks", "content"].contains(&key))
}

fn is_empty_doc(map: &Map<String, Value>) -> bool {
    map.get("type").and_then(Value::as_str) == Some("doc")
        && map.get("content").and_then(Value::as_array).is_none_or(Vec::is_empty)
}
