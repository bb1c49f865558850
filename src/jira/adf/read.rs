//! Tolerant reading of ADF into a small block model shared by the Markdown
//! and wiki writers.
//!
//! Documents from Jira contain nodes we cannot express (panels, tables,
//! mentions, media…) and may be malformed. Reading goes through `Value::get`
//! and defaults only, so nothing here can panic; unknown nodes contribute
//! their text. Nesting depth is bounded by serde_json's parser limit (128).

use serde_json::Value;

use super::node::{Mark, canonical_marks};

/// An inline run: text with canonical marks, or a line break.
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
    List { ordered: bool, start: u64, items: Vec<Vec<Block>> },
    Quote(Vec<Block>),
    Rule,
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
        "taskList" | "decisionList" => Some(task_list(v)),
        "blockquote" => Some(Block::Quote(blocks(v))),
        "rule" => Some(Block::Rule),
        "table" => {
            content(v).iter().filter_map(|row| para(row_pieces(row))).for_each(|b| out.push(b));
            None
        }
        "blockCard" | "embedCard" => attr(v, "url").and_then(|u| para(vec![link_piece(u)])),
        "media" | "mediaSingle" | "mediaGroup" => para(text_piece(&plain_text(v))),
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
    Piece::Text(url.to_owned(), vec![Mark::Link(url.to_owned())])
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
            let text = v.get("text").and_then(Value::as_str).unwrap_or_default();
            // A raw newline inside ADF text is shown as a line break.
            let marks = marks(v);
            for (i, line) in text.split('\n').enumerate() {
                if i > 0 {
                    out.push(Piece::Break);
                }
                if !line.is_empty() {
                    out.push(Piece::Text(line.to_owned(), marks.clone()));
                }
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
            "code" => Some(Mark::Code),
            "link" => attr(m, "href").map(|h| Mark::Link(h.to_owned())),
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
