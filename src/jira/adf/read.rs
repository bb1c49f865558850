//! Tolerant reading of ADF into a small block model shared by the Markdown
//! and wiki writers.
//!
//! Documents from Jira contain nodes we cannot express (panels, tables,
//! mentions, media…) and may be malformed. Reading goes through `Value::get`
//! and defaults only, so nothing here can panic; unknown nodes contribute
//! their text. Nesting depth is bounded by serde_json's parser limit (128).

use serde_json::Value;

use super::node::{Align, Mark, canonical_marks};

/// An inline run: text with canonical marks (a `\n` in it is a soft line
/// break), or a hard line break.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Piece {
    Text(String, Vec<Mark>),
    Break,
}

/// The blocks both writers know how to write.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Block {
    Para(Vec<Piece>),
    Heading(u8, Vec<Piece>),
    Code(Option<String>, String),
    List {
        ordered: bool,
        start: u64,
        items: Vec<Vec<Block>>,
    },
    Quote(Vec<Block>),
    Rule,
    /// A table with a header row whose every cell is one line of inline
    /// content (what GFM and wiki tables can hold).
    Table {
        header: Vec<Vec<Piece>>,
        rows: Vec<Vec<Vec<Piece>>>,
        align: Vec<Align>,
    },
    Tasks(Vec<TaskRead>),
    /// A panel, by its ADF `panelType`.
    Panel(String, Vec<Block>),
    /// An image from a URL.
    Image {
        url: String,
        alt: String,
    },
}

/// One task: done or not, its text, the tasks nested under it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TaskRead {
    pub done: bool,
    pub text: Vec<Piece>,
    pub children: Vec<TaskRead>,
}

fn kind(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or_default()
}

fn content(v: &Value) -> &[Value] {
    v.get("content").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn attr<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("attrs")?.get(key)?.as_str().filter(|s| !s.is_empty())
}

const INLINE_KINDS: &[&str] = &[
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
    "placeholder",
    "mediaInline",
    "inlineExtension",
];

/// The blocks inside a container node (doc, list item, quote, panel…).
pub(crate) fn blocks(node: &Value) -> Vec<Block> {
    let mut out = Vec::new();
    for child in content(node) {
        read_block(child, &mut out);
    }
    out
}

fn read_block(v: &Value, out: &mut Vec<Block>) {
    let para = |pieces: Vec<Piece>| (!pieces.is_empty()).then_some(Block::Para(pieces));
    let block = match kind(v) {
        "paragraph" => Some(Block::Para(pieces(content(v)))),
        "heading" => {
            let level = v.get("attrs").and_then(|a| a.get("level")).and_then(Value::as_u64);
            Some(Block::Heading(level.unwrap_or(1).clamp(1, 6) as u8, pieces(content(v))))
        }
        "codeBlock" => Some(Block::Code(attr(v, "language").map(str::to_owned), plain_text(v))),
        "bulletList" | "orderedList" => Some(list(v)),
        "taskList" => Some(Block::Tasks(tasks(v))),
        "decisionList" => Some(task_list(v)),
        "blockquote" => Some(Block::Quote(blocks(v))),
        "panel" => Some(Block::Panel(attr(v, "panelType").unwrap_or("info").to_owned(), blocks(v))),
        "rule" => Some(Block::Rule),
        "table" => match table(v) {
            Some(t) => Some(t),
            None => {
                content(v).iter().filter_map(|row| para(row_pieces(row))).for_each(|b| out.push(b));
                None
            }
        },
        "blockCard" | "embedCard" => attr(v, "url").and_then(|u| para(vec![link_piece(u)])),
        "mediaSingle" | "media" => match external_media(v) {
            Some((url, alt)) => Some(Block::Image { url, alt }),
            None => para(text_piece(&plain_text(v))),
        },
        "mediaGroup" => para(text_piece(&plain_text(v))),
        k if INLINE_KINDS.contains(&k) => para(pieces(std::slice::from_ref(v))),
        _ => {
            unknown_block(v, out);
            None
        }
    };
    out.extend(block);
}

/// Panels, expands, layouts, extensions…: a title if any, then the content
/// as blocks (or as one paragraph when the content is inline).
fn unknown_block(v: &Value, out: &mut Vec<Block>) {
    if let Some(title) = attr(v, "title") {
        out.push(Block::Para(text_piece(title)));
    }
    let children = content(v);
    if children.iter().any(|c| INLINE_KINDS.contains(&kind(c))) {
        let p = pieces(children);
        if !p.is_empty() {
            out.push(Block::Para(p));
        }
    } else {
        children.iter().for_each(|c| read_block(c, out));
    }
}

fn list(v: &Value) -> Block {
    let start = v.get("attrs").and_then(|a| a.get("order")).and_then(Value::as_u64);
    let items = content(v)
        .iter()
        .map(|item| match kind(item) {
            "listItem" => blocks(item),
            _ => {
                let mut out = Vec::new();
                read_block(item, &mut out);
                out
            }
        })
        .collect();
    Block::List { ordered: kind(v) == "orderedList", start: start.unwrap_or(1), items }
}

/// Task and decision lists become bullet lists; a task's state is kept as
/// a `[ ]` / `[x]` prefix, the usual plain-text spelling.
fn task_list(v: &Value) -> Block {
    let items = content(v)
        .iter()
        .map(|item| match kind(item) {
            "taskItem" | "decisionItem" => {
                let mut p = Vec::new();
                if kind(item) == "taskItem" {
                    let done = attr(item, "state") == Some("DONE");
                    p.extend(text_piece(if done { "[x] " } else { "[ ] " }));
                }
                p.extend(pieces(content(item)));
                vec![Block::Para(p)]
            }
            _ => {
                let mut out = Vec::new();
                read_block(item, &mut out);
                out
            }
        })
        .collect();
    Block::List { ordered: false, start: 1, items }
}

/// A task list's tasks; a nested task list belongs to the task before it.
fn tasks(v: &Value) -> Vec<TaskRead> {
    let mut out: Vec<TaskRead> = Vec::new();
    for node in content(v) {
        match kind(node) {
            "taskItem" | "blockTaskItem" => out.push(TaskRead {
                done: attr(node, "state") == Some("DONE"),
                text: task_text(node),
                children: vec![],
            }),
            "taskList" => {
                let nested = tasks(node);
                match out.last_mut() {
                    Some(last) => last.children.extend(nested),
                    None => out.push(TaskRead { done: false, text: vec![], children: nested }),
                }
            }
            _ => {}
        }
    }
    out
}

/// A task's inline content (a block task item's paragraphs, joined by
/// breaks).
fn task_text(item: &Value) -> Vec<Piece> {
    let children = content(item);
    if children.iter().all(|c| INLINE_KINDS.contains(&kind(c))) {
        return pieces(children);
    }
    let mut out = Vec::new();
    for child in children {
        if !out.is_empty() {
            out.push(Piece::Break);
        }
        out.extend(pieces(content(child)));
    }
    out
}

/// A table GFM can hold: a header row first, then rows of cells holding at
/// most one paragraph each, no cell spanning others.
fn table(v: &Value) -> Option<Block> {
    let rows = content(v);
    let (head, body) = rows.split_first()?;
    let cells = |row: &Value, header: bool| -> Option<Vec<(Vec<Piece>, Align)>> {
        content(row)
            .iter()
            .map(|cell| {
                let is_header = kind(cell) == "tableHeader";
                let spans = ["colspan", "rowspan"]
                    .iter()
                    .any(|k| cell.get("attrs").and_then(|a| a.get(*k)).and_then(Value::as_u64).is_some_and(|n| n > 1));
                if (header && !is_header) || spans {
                    return None;
                }
                match content(cell) {
                    [] => Some((vec![], Align::None)),
                    [p] if kind(p) == "paragraph" => {
                        let align = p.get("marks").and_then(Value::as_array).and_then(|marks| {
                            marks.iter().find(|m| kind(m) == "alignment").and_then(|m| attr(m, "align"))
                        });
                        let align = match align {
                            Some("center") => Align::Center,
                            Some("end") => Align::Right,
                            _ => Align::None,
                        };
                        Some((pieces(content(p)), align))
                    }
                    _ => None,
                }
            })
            .collect()
    };
    let head = cells(head, true)?;
    let body: Vec<Vec<(Vec<Piece>, Align)>> = body.iter().map(|r| cells(r, false)).collect::<Option<_>>()?;
    if head.is_empty() {
        return None;
    }
    // A column's alignment is the one its body cells agree on.
    let align = (0..head.len())
        .map(|i| {
            let mut seen = body.iter().filter_map(|r| r.get(i)).filter(|(p, _)| !p.is_empty()).map(|(_, a)| *a);
            let first = seen.next().unwrap_or(head[i].1);
            if seen.all(|a| a == first) { first } else { Align::None }
        })
        .collect();
    Some(Block::Table {
        header: head.into_iter().map(|(p, _)| p).collect(),
        rows: body.into_iter().map(|r| r.into_iter().map(|(p, _)| p).collect()).collect(),
        align,
    })
}

/// An image given by URL (`media` of type `external`), with its alt text.
fn external_media(v: &Value) -> Option<(String, String)> {
    let media = if kind(v) == "media" { v } else { content(v).iter().find(|c| kind(c) == "media")? };
    if attr(media, "type") != Some("external") {
        return None;
    }
    Some((attr(media, "url")?.to_owned(), attr(media, "alt").unwrap_or_default().to_owned()))
}

fn row_pieces(row: &Value) -> Vec<Piece> {
    let cells: Vec<String> = content(row)
        .iter()
        .map(|c| plain_text(c).split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .collect();
    text_piece(&cells.join(" | "))
}

fn text_piece(text: &str) -> Vec<Piece> {
    if text.is_empty() { vec![] } else { vec![Piece::Text(text.to_owned(), vec![])] }
}

fn link_piece(url: &str) -> Piece {
    Piece::Text(url.to_owned(), vec![Mark::Link(url.to_owned(), None)])
}

/// All text below a node, for nodes we can only show as text.
fn plain_text(v: &Value) -> String {
    let mut out = String::new();
    for p in pieces(std::slice::from_ref(v)) {
        match p {
            Piece::Text(t, _) => out.push_str(&t),
            Piece::Break => out.push('\n'),
        }
    }
    if out.is_empty() {
        out = alt_text(v).unwrap_or_default().to_owned();
    }
    out
}

/// The first `alt` attribute at or below a (media) node.
fn alt_text(v: &Value) -> Option<&str> {
    attr(v, "alt").or_else(|| content(v).iter().find_map(alt_text))
}

/// Inline runs of a list of inline nodes.
pub(crate) fn pieces(nodes: &[Value]) -> Vec<Piece> {
    let mut out = Vec::new();
    for n in nodes {
        read_inline(n, &mut out);
    }
    out
}

fn read_inline(v: &Value, out: &mut Vec<Piece>) {
    let plain = |t: &str| Piece::Text(t.to_owned(), vec![]);
    match kind(v) {
        "text" => {
            let text = v.get("text").and_then(Value::as_str).unwrap_or_default().replace("\r\n", "\n");
            // A newline inside ADF text is a soft line break, kept in the text.
            if !text.is_empty() {
                out.push(Piece::Text(text, marks(v)));
            }
        }
        "hardBreak" => out.push(Piece::Break),
        "mention" => out.extend(attr(v, "text").or(attr(v, "id")).map(plain)),
        "emoji" => out.extend(attr(v, "text").or(attr(v, "shortName")).map(plain)),
        "status" => out.extend(attr(v, "text").map(plain)),
        "inlineCard" => out.extend(attr(v, "url").map(link_piece)),
        "date" => out.extend(date(v).map(|d| plain(&d))),
        "placeholder" | "mediaInline" | "inlineExtension" => {}
        _ => match v.get("text").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => out.push(plain(t)),
            _ => content(v).iter().for_each(|c| read_inline(c, out)),
        },
    }
}

fn marks(v: &Value) -> Vec<Mark> {
    let list = v.get("marks").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let marks: Vec<Mark> = list
        .iter()
        .filter_map(|m| match kind(m) {
            "strong" => Some(Mark::Strong),
            "em" => Some(Mark::Em),
            "strike" => Some(Mark::Strike),
            "underline" => Some(Mark::Underline),
            "subsup" if attr(m, "type") == Some("sub") => Some(Mark::Sub),
            "subsup" => Some(Mark::Sup),
            "code" => Some(Mark::Code),
            "link" => attr(m, "href").map(|h| Mark::Link(h.to_owned(), attr(m, "title").map(str::to_owned))),
            _ => None,
        })
        .collect();
    canonical_marks(&marks)
}

/// A `date` node's timestamp (milliseconds since the epoch, as a string or
/// a number) as `YYYY-MM-DD`, UTC.
fn date(v: &Value) -> Option<String> {
    let ts = v.get("attrs")?.get("timestamp")?;
    let ms = ts.as_i64().or_else(|| ts.as_str()?.trim().parse().ok())?;
    let days = ms.div_euclid(86_400_000);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's notes.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!("{year:04}-{month:02}-{day:02}"))
}
