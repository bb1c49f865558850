//! Builders that can only produce schema-valid ADF.
//!
//! Every producer of ADF in this crate (the Markdown parser and the wiki
//! parser) goes through these functions, so the rules of the ADF schema
//! (`adf-schema` `full.json`) are enforced in one place instead of being
//! remembered at every call site:
//! * text nodes are never empty;
//! * the `code` mark combines only with `link`;
//! * a `listItem` starts with a paragraph or a code block and is never empty;
//! * `blockquote` and `listItem` hold no headings, rules or quotes (they are
//!   degraded to paragraphs or unwrapped, never dropped).

use serde_json::{Value, json};

/// An inline mark. The derive order is the canonical nesting order used by
/// both writers: a link is outermost, code innermost.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mark {
    Link(String),
    Strong,
    Em,
    Strike,
    Code,
}

impl Mark {
    fn to_json(&self) -> Value {
        match self {
            Mark::Link(href) => json!({"type": "link", "attrs": {"href": href}}),
            Mark::Strong => json!({"type": "strong"}),
            Mark::Em => json!({"type": "em"}),
            Mark::Strike => json!({"type": "strike"}),
            Mark::Code => json!({"type": "code"}),
        }
    }
}

/// Sorts, de-duplicates and applies the "code only with link" rule, so two
/// spellings of the same formatting compare equal and merge.
pub(crate) fn canonical_marks(marks: &[Mark]) -> Vec<Mark> {
    // ADF text carries one link; the innermost (last opened) one wins.
    let link = marks.iter().rev().find(|m| matches!(m, Mark::Link(_)));
    let mut out: Vec<Mark> = marks.iter().filter(|m| !matches!(m, Mark::Link(_))).chain(link).cloned().collect();
    if out.contains(&Mark::Code) {
        out.retain(|m| matches!(m, Mark::Code | Mark::Link(_)));
    }
    out.sort();
    out.dedup();
    out
}

/// Inline content of one paragraph or heading under construction.
#[derive(Debug, Default)]
pub(crate) struct Inlines {
    nodes: Vec<Value>,
    /// Marks of the last node when it is text, so adjacent runs can merge.
    last_marks: Option<Vec<Mark>>,
}

impl Inlines {
    /// Appends text; empty text is ignored because ADF forbids it.
    pub(crate) fn text(&mut self, text: &str, marks: &[Mark]) {
        let marks = canonical_marks(marks);
        let line_start = self.nodes.last().is_none_or(|n| n["type"] == "hardBreak");
        let text = if line_start && !marks.contains(&Mark::Code) { text.trim_start() } else { text };
        if text.is_empty() {
            return;
        }
        if self.last_marks.as_ref() == Some(&marks)
            && let Some(Value::String(s)) = self.nodes.last_mut().and_then(|n| n.get_mut("text"))
        {
            s.push_str(text);
            return;
        }
        let mut node = json!({"type": "text", "text": text});
        if !marks.is_empty() {
            node["marks"] = Value::Array(marks.iter().map(Mark::to_json).collect());
        }
        self.nodes.push(node);
        self.last_marks = Some(marks);
    }

    pub(crate) fn hard_break(&mut self) {
        self.trim_line_end();
        self.nodes.push(json!({"type": "hardBreak"}));
        self.last_marks = None;
    }

    /// Whitespace at the start or end of a line is dropped (unless it is
    /// code): both Markdown and wiki parsers strip it, so keeping it would
    /// make round trips unstable.
    fn trim_line_end(&mut self) {
        while let Some(last) = self.nodes.last_mut() {
            let is_code = last["marks"].as_array().is_some_and(|m| m.iter().any(|m| m["type"] == "code"));
            let Some(Value::String(text)) = last.get_mut("text").filter(|_| !is_code) else {
                return;
            };
            let trimmed = text.trim_end().len();
            if trimmed > 0 {
                text.truncate(trimmed);
                return;
            }
            self.nodes.pop();
            self.last_marks = None;
        }
    }

    /// Leading and trailing breaks are dropped: neither Markdown nor wiki
    /// markup can express them, so keeping them would break round trips.
    fn finish(mut self) -> Vec<Value> {
        let is_break = |n: &Value| n["type"] == "hardBreak";
        loop {
            self.trim_line_end();
            if !self.nodes.last().is_some_and(is_break) {
                break;
            }
            self.nodes.pop();
        }
        let lead = self.nodes.iter().take_while(|n| is_break(n)).count();
        self.nodes.drain(..lead);
        self.nodes
    }
}

pub(crate) fn paragraph(inl: Inlines) -> Value {
    json!({"type": "paragraph", "content": inl.finish()})
}

/// A heading; its line breaks become spaces, since neither Markdown nor wiki
/// headings can hold a break.
pub(crate) fn heading(level: u8, inl: Inlines) -> Value {
    let content = spaces_for_breaks(inl.finish());
    json!({"type": "heading", "attrs": {"level": level.clamp(1, 6)}, "content": content})
}

/// Replaces each break by a space, joined to its neighbours the way a
/// writer would spell it: inside the mark both sides share, else unmarked.
fn spaces_for_breaks(nodes: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut space = false;
    for node in nodes {
        if node["type"] == "hardBreak" {
            space = true;
            continue;
        }
        let gap = if std::mem::take(&mut space) { " " } else { "" };
        let is_text = |n: &Value| n["type"] == "text";
        match out.last_mut() {
            Some(prev) if is_text(prev) && is_text(&node) && prev.get("marks") == node.get("marks") => {
                prev["text"] = json!(format!(
                    "{}{gap}{}",
                    prev["text"].as_str().unwrap_or_default(),
                    node["text"].as_str().unwrap_or_default()
                ));
                continue;
            }
            Some(prev) if !gap.is_empty() && is_text(prev) && prev.get("marks").is_none() => {
                prev["text"] = json!(format!("{}{gap}", prev["text"].as_str().unwrap_or_default()));
            }
            _ if !gap.is_empty() => out.push(json!({"type": "text", "text": gap})),
            _ => {}
        }
        out.push(node);
    }
    out
}

/// A code block; its text never carries marks and is omitted when empty.
pub(crate) fn code_block(language: Option<&str>, text: &str) -> Value {
    let mut node = json!({"type": "codeBlock", "content": []});
    if let Some(lang) = language.map(str::trim).filter(|l| !l.is_empty()) {
        node["attrs"] = json!({"language": lang});
    }
    if !text.is_empty() {
        node["content"] = json!([{"type": "text", "text": text}]);
    }
    node
}

pub(crate) fn rule() -> Value {
    json!({"type": "rule"})
}

/// A list, or `None` when it has no items (ADF requires at least one).
pub(crate) fn list(ordered: bool, start: u64, items: Vec<Value>) -> Option<Value> {
    if items.is_empty() {
        return None;
    }
    let kind = if ordered { "orderedList" } else { "bulletList" };
    let mut node = json!({"type": kind, "content": items});
    if ordered && start != 1 {
        node["attrs"] = json!({"order": start});
    }
    Some(node)
}

/// A list item whose children are fitted to what `listItem` accepts; an
/// empty paragraph is put first when the item would otherwise start with a
/// nested list or be empty.
pub(crate) fn list_item(blocks: Vec<Value>) -> Value {
    let mut content: Vec<Value> = blocks.into_iter().flat_map(|b| fit(Container::Nested, b)).collect();
    let starts_well = content.first().is_some_and(|b| b["type"] == "paragraph" || b["type"] == "codeBlock");
    if !starts_well {
        content.insert(0, json!({"type": "paragraph", "content": []}));
    }
    json!({"type": "listItem", "content": content})
}

/// A block quote, or `None` when nothing is left to quote.
pub(crate) fn blockquote(blocks: Vec<Value>) -> Option<Value> {
    let content: Vec<Value> = blocks.into_iter().flat_map(|b| fit(Container::Nested, b)).collect();
    (!content.is_empty()).then(|| json!({"type": "blockquote", "content": content}))
}

pub(crate) fn doc(blocks: Vec<Value>) -> Value {
    let content: Vec<Value> = blocks.into_iter().flat_map(|b| fit(Container::Doc, b)).collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// Where a block is being placed. `blockquote` and `listItem` accept the same
/// subset of our blocks (paragraph, lists, code block), so one variant serves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Doc,
    Nested,
}

/// Adapts one block to its container: empty paragraphs vanish, and inside a
/// quote or list item headings become paragraphs, rules become the text
/// `---` and nested quotes are unwrapped.
pub(crate) fn fit(container: Container, block: Value) -> Vec<Value> {
    let kind = block["type"].as_str().unwrap_or_default().to_owned();
    let empty = block["content"].as_array().is_none_or(Vec::is_empty);
    match kind.as_str() {
        "paragraph" if empty => vec![],
        _ if container == Container::Doc => vec![block],
        "heading" if empty => vec![],
        "heading" => vec![json!({"type": "paragraph", "content": block["content"]})],
        "rule" => {
            let mut inl = Inlines::default();
            inl.text("---", &[]);
            vec![paragraph(inl)]
        }
        "blockquote" => match block {
            Value::Object(mut map) => match map.remove("content") {
                Some(Value::Array(children)) => children,
                _ => vec![],
            },
            _ => vec![],
        },
        _ => vec![block],
    }
}
