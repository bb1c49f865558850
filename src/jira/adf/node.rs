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
    /// A link: its target and title.
    Link(String, Option<String>),
    Strong,
    Em,
    Strike,
    Underline,
    Sub,
    Sup,
    Code,
}

impl Mark {
    fn to_json(&self) -> Value {
        match self {
            Mark::Link(href, title) => match title {
                Some(t) => json!({"type": "link", "attrs": {"href": href, "title": t}}),
                None => json!({"type": "link", "attrs": {"href": href}}),
            },
            Mark::Strong => json!({"type": "strong"}),
            Mark::Em => json!({"type": "em"}),
            Mark::Strike => json!({"type": "strike"}),
            Mark::Underline => json!({"type": "underline"}),
            Mark::Sub => json!({"type": "subsup", "attrs": {"type": "sub"}}),
            Mark::Sup => json!({"type": "subsup", "attrs": {"type": "sup"}}),
            Mark::Code => json!({"type": "code"}),
        }
    }
}

/// The link target as ADF may hold it: characters a URL cannot contain are
/// percent-encoded, and `None` when Atlassian's validator would refuse it
/// (its `isSafeUrl`: an allowed scheme, or a path from the root, or a
/// fragment), so the caller shows it as text instead. A relative path
/// (`./target.md`), a bare word or `javascript:` is no link in Jira.
pub(crate) fn safe_href(url: &str) -> Option<String> {
    let url = url.trim();
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '\\' | '^' => out.push_str(&format!("%{:02X}", c as u32)),
            c if c.is_control() || c.is_whitespace() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    is_safe_url(&out).then_some(out)
}

/// Atlassian's list of URL beginnings a link may have (`adf-schema`'s
/// `isSafeUrl`), compared without regard to case.
pub(crate) fn is_safe_url(url: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "http://",
        "https://",
        "ftp://",
        "ftps://",
        "gopher://",
        "integrity://",
        "file://",
        "smb://",
        "dynamicsnav://",
        "jamfselfservice://",
        "/",
        "#",
        "mailto:",
        "skype:",
        "callto:",
        "facetime:",
        "git:",
        "irc:",
        "irc6:",
        "news:",
        "nntp:",
        "feed:",
        "cvs:",
        "svn:",
        "mvn:",
        "ssh:",
        "scp://",
        "sftp://",
        "itms:",
        "notes:",
        "hipchat://",
        "sourcetree:",
        "urn:",
        "tel:",
        "xmpp:",
        "telnet:",
        "vnc:",
        "rdp:",
        "whatsapp:",
        "slack:",
        "sip:",
        "sips:",
        "magnet:",
    ];
    let lower = url.to_ascii_lowercase();
    PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Sorts, de-duplicates and applies the "code only with link" rule, so two
/// spellings of the same formatting compare equal and merge.
pub(crate) fn canonical_marks(marks: &[Mark]) -> Vec<Mark> {
    // ADF text carries one link; the innermost (last opened) one wins.
    let link = marks.iter().rev().find(|m| matches!(m, Mark::Link(..)));
    let mut out: Vec<Mark> = marks.iter().filter(|m| !matches!(m, Mark::Link(..))).chain(link).cloned().collect();
    if out.contains(&Mark::Code) {
        out.retain(|m| matches!(m, Mark::Code | Mark::Link(..)));
    }
    // One `subsup` mark: sub or sup, the innermost one wins.
    if let Some(last) = marks.iter().rev().find(|m| matches!(m, Mark::Sub | Mark::Sup)) {
        let other = if *last == Mark::Sub { Mark::Sup } else { Mark::Sub };
        out.retain(|m| *m != other);
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
        let line_start = self
            .nodes
            .last()
            .is_none_or(|n| n["type"] == "hardBreak" || n["text"].as_str().is_some_and(|t| t.ends_with('\n')));
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

    /// A soft line break (a newline inside a paragraph): kept in the text
    /// as `\n`, so Markdown reads it back as the same soft break.
    pub(crate) fn soft_break(&mut self, marks: &[Mark]) {
        if self.nodes.is_empty() || self.nodes.last().is_some_and(|n| n["type"] == "hardBreak") {
            return;
        }
        self.trim_line_end();
        let marks = canonical_marks(marks);
        let marks = if marks.contains(&Mark::Code) { vec![] } else { marks };
        let is_text = self.nodes.last().is_some_and(|n| n["type"] == "text");
        if is_text && self.last_marks.as_ref() == Some(&marks) {
            if let Some(Value::String(s)) = self.nodes.last_mut().and_then(|n| n.get_mut("text")) {
                s.push('\n');
            }
            return;
        }
        let mut node = json!({"type": "text", "text": "\n"});
        if !marks.is_empty() {
            node["marks"] = Value::Array(marks.iter().map(Mark::to_json).collect());
        }
        self.nodes.push(node);
        self.last_marks = Some(marks);
    }

    /// Whether nothing has been added yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
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
    let mut content = spaces_for_breaks(inl.finish());
    for node in &mut content {
        if let Some(Value::String(t)) = node.get_mut("text") {
            *t = t.replace('\n', " ");
        }
    }
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
    let content: Vec<Value> = blocks.into_iter().flat_map(|b| fit(Container::Quote, b)).collect();
    (!content.is_empty()).then(|| json!({"type": "blockquote", "content": content}))
}

/// A panel (`info`, `note`, `success`, `warning`, `error`…), or `None` when
/// nothing is left to show in it.
pub(crate) fn panel(kind: &str, blocks: Vec<Value>) -> Option<Value> {
    let content: Vec<Value> = blocks.into_iter().flat_map(|b| fit(Container::Panel, b)).collect();
    (!content.is_empty()).then(|| json!({"type": "panel", "attrs": {"panelType": kind}, "content": content}))
}

/// An image from a URL, as its own block.
pub(crate) fn image(url: &str, alt: &str) -> Value {
    let mut media = json!({"type": "media", "attrs": {"type": "external", "url": url}});
    if !alt.is_empty() {
        media["attrs"]["alt"] = json!(alt);
    }
    json!({"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [media]})
}

/// Column alignment of a table, as GFM writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    None,
    Left,
    Center,
    Right,
}

/// A table, its first row a header row when `header` is given (wiki markup
/// can make one without); each cell is one paragraph (its alignment kept as
/// an `alignment` mark where ADF has one), rows padded to the widest.
pub(crate) fn table(header: Option<Vec<Inlines>>, rows: Vec<Vec<Inlines>>, align: &[Align]) -> Value {
    let header_width = header.as_ref().map_or(0, Vec::len);
    let width = header_width.max(rows.iter().map(Vec::len).max().unwrap_or(0)).max(1);
    let row = |cells: Vec<Inlines>, kind: &str| {
        let mut cells: Vec<Value> = cells
            .into_iter()
            .enumerate()
            .map(|(i, inl)| cell(kind, inl, align.get(i).copied().unwrap_or(Align::None)))
            .collect();
        while cells.len() < width {
            cells.push(cell(kind, Inlines::default(), Align::None));
        }
        cells.truncate(width);
        json!({"type": "tableRow", "content": cells})
    };
    let mut content: Vec<Value> = header.into_iter().map(|h| row(h, "tableHeader")).collect();
    content.extend(rows.into_iter().map(|r| row(r, "tableCell")));
    json!({"type": "table", "attrs": {"isNumberColumnEnabled": false, "layout": "default"}, "content": content})
}

fn cell(kind: &str, inl: Inlines, align: Align) -> Value {
    let mut para = paragraph(inl);
    let mark = match align {
        Align::Center => Some("center"),
        Align::Right => Some("end"),
        Align::None | Align::Left => None,
    };
    if let Some(a) = mark.filter(|_| !para["content"].as_array().is_none_or(Vec::is_empty)) {
        para["marks"] = json!([{"type": "alignment", "attrs": {"align": a}}]);
    }
    json!({"type": kind, "attrs": {}, "content": [para]})
}

/// One task of a task list: done or not, its text, and the tasks nested
/// under it.
#[derive(Debug, Default)]
pub(crate) struct Task {
    pub done: bool,
    pub text: Vec<Value>,
    pub children: Vec<Task>,
}

/// The tasks of a task list built by `node::task_list`, back as tasks.
pub(crate) fn tasks_of(list: &Value) -> Option<Vec<Task>> {
    let mut out: Vec<Task> = Vec::new();
    for node in list["content"].as_array()? {
        match node["type"].as_str()? {
            "taskItem" => out.push(Task {
                done: node["attrs"]["state"] == "DONE",
                text: node["content"].as_array().cloned().unwrap_or_default(),
                children: vec![],
            }),
            "taskList" => out.last_mut()?.children.extend(tasks_of(node)?),
            _ => return None,
        }
    }
    Some(out)
}

/// A task list; `ids` numbers the `localId`s ADF requires, per document.
pub(crate) fn task_list(tasks: Vec<Task>, ids: &mut u32) -> Value {
    *ids += 1;
    let list_id = format!("tasks-{ids}");
    let mut content = Vec::new();
    for task in tasks {
        *ids += 1;
        let state = if task.done { "DONE" } else { "TODO" };
        content.push(json!({"type": "taskItem", "attrs": {"localId": format!("task-{ids}"), "state": state},
                             "content": task.text}));
        if !task.children.is_empty() {
            content.push(task_list(task.children, ids));
        }
    }
    json!({"type": "taskList", "attrs": {"localId": list_id}, "content": content})
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
    /// A list item.
    Nested,
    /// A block quote: like a list item, but no task lists.
    Quote,
    /// A panel: like a quote, but headings are allowed.
    Panel,
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
        "heading" if container == Container::Panel => vec![block],
        "heading" => vec![json!({"type": "paragraph", "content": block["content"]})],
        "table" => table_as_paragraphs(&block),
        "panel" => match block {
            Value::Object(mut map) => match map.remove("content") {
                Some(Value::Array(children)) => children.into_iter().flat_map(|c| fit(container, c)).collect(),
                _ => vec![],
            },
            _ => vec![],
        },
        "taskList" if container == Container::Quote => task_list_as_bullets(block),
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

/// A table where ADF allows none (inside a quote or a list item): one
/// paragraph per row, its cells' text joined by ` | `.
fn table_as_paragraphs(table: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for row in table["content"].as_array().into_iter().flatten() {
        let mut inl = Inlines::default();
        for (i, cell) in row["content"].as_array().into_iter().flatten().enumerate() {
            if i > 0 {
                inl.text(" | ", &[]);
            }
            for para in cell["content"].as_array().into_iter().flatten() {
                for node in para["content"].as_array().into_iter().flatten() {
                    if node["type"] == "text" {
                        inl.nodes.push(node.clone());
                        inl.last_marks = None;
                    }
                }
            }
        }
        out.push(paragraph(inl));
    }
    out.into_iter().filter(|p| !p["content"].as_array().is_none_or(Vec::is_empty)).collect()
}

/// A task list inside a quote (which cannot hold one): a bullet list whose
/// items start with `[ ]` or `[x]`.
fn task_list_as_bullets(list: Value) -> Vec<Value> {
    let mut items = Vec::new();
    for node in list["content"].as_array().into_iter().flatten() {
        if node["type"] != "taskItem" {
            continue;
        }
        let mut content =
            vec![json!({"type": "text", "text": if node["attrs"]["state"] == "DONE" { "[x] " } else { "[ ] " }})];
        content.extend(node["content"].as_array().cloned().unwrap_or_default());
        items.push(json!({"type": "listItem", "content": [{"type": "paragraph", "content": content}]}));
    }
    list_of(items)
}

fn list_of(items: Vec<Value>) -> Vec<Value> {
    list(false, 1, items).into_iter().collect()
}
