//! ADF → Jira wiki markup, because webhooks carry fields in REST v2 form:
//! a Cloud description written as ADF arrives in a webhook as wiki text.
//! Covers the node set `adf.rs` accepts.

use serde_json::Value;

pub fn from_adf(doc: &Value) -> String {
    let blocks = children(doc);
    blocks.iter().map(|b| block(b, 0)).collect::<Vec<_>>().join("\n\n")
}

fn children(node: &Value) -> &[Value] {
    node.get("content").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn block(node: &Value, depth: usize) -> String {
    let ty = node.get("type").and_then(Value::as_str).unwrap_or("");
    match ty {
        "paragraph" => inline_all(node),
        "heading" => {
            let level = node.pointer("/attrs/level").and_then(Value::as_u64).unwrap_or(1);
            format!("h{level}. {}", inline_all(node))
        }
        "bulletList" => list(node, depth, '*'),
        "orderedList" => list(node, depth, '#'),
        "codeBlock" => code_block(node),
        "blockquote" => format!("{{quote}}\n{}\n{{quote}}", blocks(node, depth)),
        "panel" => format!("{{panel}}\n{}\n{{panel}}", blocks(node, depth)),
        "rule" => "----".to_string(),
        "table" => children(node).iter().map(table_row).collect::<Vec<_>>().join("\n"),
        _ => inline_all(node),
    }
}

fn blocks(node: &Value, depth: usize) -> String {
    children(node).iter().map(|b| block(b, depth)).collect::<Vec<_>>().join("\n\n")
}

fn code_block(node: &Value) -> String {
    let text: String = children(node).iter().filter_map(|t| t.get("text").and_then(Value::as_str)).collect();
    match node.pointer("/attrs/language").and_then(Value::as_str) {
        Some(lang) => format!("{{code:{lang}}}\n{text}\n{{code}}"),
        None => format!("{{code}}\n{text}\n{{code}}"),
    }
}

/// Nested lists repeat the bullet: `*`, `**`, `#*` is not used by Jira's
/// renderer, so each level uses its own list's symbol.
fn list(node: &Value, depth: usize, symbol: char) -> String {
    let prefix: String = std::iter::repeat_n(symbol, depth + 1).collect();
    let mut lines = Vec::new();
    for item in children(node) {
        for (i, child) in children(item).iter().enumerate() {
            let ty = child.get("type").and_then(Value::as_str).unwrap_or("");
            if ty == "bulletList" || ty == "orderedList" {
                lines.push(block(child, depth + 1));
            } else if i == 0 {
                lines.push(format!("{prefix} {}", block(child, depth)));
            } else {
                lines.push(block(child, depth));
            }
        }
    }
    lines.join("\n")
}

fn table_row(row: &Value) -> String {
    let cells: Vec<String> = children(row)
        .iter()
        .map(|c| {
            let sep = if c.get("type").and_then(Value::as_str) == Some("tableHeader") { "||" } else { "|" };
            format!("{sep}{}", blocks(c, 0))
        })
        .collect();
    let last = if cells.first().is_some_and(|c| c.starts_with("||")) { "||" } else { "|" };
    format!("{}{last}", cells.concat())
}

fn inline_all(node: &Value) -> String {
    children(node).iter().map(inline).collect()
}

fn inline(node: &Value) -> String {
    let ty = node.get("type").and_then(Value::as_str).unwrap_or("");
    let attr = |k: &str| node.pointer(&format!("/attrs/{k}")).and_then(Value::as_str).unwrap_or("").to_string();
    match ty {
        "text" => marked(node),
        "hardBreak" => "\n".to_string(),
        "mention" => format!("[~accountid:{}]", attr("id")),
        "emoji" => attr("shortName"),
        "date" => attr("timestamp"),
        "status" => attr("text").to_uppercase(),
        "inlineCard" => format!("[{}|{}|smart-link]", attr("url"), attr("url")),
        _ => String::new(),
    }
}

/// Wraps text in the wiki symbols of its marks, links outermost.
fn marked(node: &Value) -> String {
    let mut text = node.get("text").and_then(Value::as_str).unwrap_or("").to_string();
    let marks = node.get("marks").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut href = None;
    for m in &marks {
        text = match m.get("type").and_then(Value::as_str).unwrap_or("") {
            "strong" => format!("*{text}*"),
            "em" => format!("_{text}_"),
            "strike" => format!("-{text}-"),
            "underline" => format!("+{text}+"),
            "code" => format!("{{{{{text}}}}}"),
            "subsup" if m.pointer("/attrs/type") == Some(&Value::from("sub")) => {
                format!("~{text}~")
            }
            "subsup" => format!("^{text}^"),
            "textColor" => {
                let c = m.pointer("/attrs/color").and_then(Value::as_str).unwrap_or("#000000");
                format!("{{color:{c}}}{text}{{color}}")
            }
            "link" => {
                href = m.pointer("/attrs/href").and_then(Value::as_str).map(str::to_string);
                text
            }
            _ => text,
        };
    }
    match href {
        Some(h) => format!("[{text}|{h}]"),
        None => text,
    }
}
