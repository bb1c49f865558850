//! ADF → wiki markup blocks.
//!
//! What wiki markup cannot hold degrades without losing text: an ordered
//! list's start number is dropped, extra paragraphs of a list item join its
//! line with `\\`, and a code block inside a list item ends the list.

use serde_json::Value;

use super::super::adf::read::{self, Block, Piece};
use super::parse::{list_marker, parse};
use super::write_inline::{Escape, inline};

pub(super) fn render(doc: &Value) -> String {
    let body = blocks(&read::blocks(doc));
    if body.is_empty() { body } else { body + "\n" }
}

fn blocks(blocks: &[Block]) -> String {
    let parts: Vec<String> = blocks.iter().map(block).filter(|s| !s.is_empty()).collect();
    parts.join("\n\n")
}

fn block(block: &Block) -> String {
    match block {
        Block::Para(p) => verified(p, "", "\n"),
        Block::Heading(level, p) => verified(&spaced(p), &format!("h{level}. "), " "),
        Block::Code(lang, text) => code(lang.as_deref(), text),
        Block::List { ordered, items, .. } => list(*ordered, items, ""),
        Block::Quote(children) => quote(children),
        Block::Rule => "----".to_owned(),
    }
}

/// Line breaks as spaces, for one-line contexts.
fn spaced(pieces: &[Piece]) -> Vec<Piece> {
    let space = || Piece::Text(" ".to_owned(), vec![]);
    pieces.iter().map(|p| if *p == Piece::Break { space() } else { p.clone() }).collect()
}

/// The least-escaped spelling that parses back like the fully escaped one
/// (same idea as the Markdown writer).
fn verified(pieces: &[Piece], prefix: &str, brk: &str) -> String {
    let spell = |esc| {
        let text = inline(pieces, esc, brk);
        if prefix.is_empty() { paragraph_lines(&text) } else { format!("{prefix}{text}") }
    };
    let (minimal, full) = (spell(Escape::Minimal), spell(Escape::Full));
    if minimal == full || parse(&minimal) == parse(&full) { minimal } else { full }
}

/// Trims lines, escapes what would start a block, and turns runs of breaks
/// (which would be blank lines, ending the paragraph) into `\\`.
fn paragraph_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.trim_matches('\n').split('\n').map(str::trim) {
        if line.is_empty() {
            out.push_str("\\\\");
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&escape_line_start(line));
    }
    out
}

fn escape_line_start(line: &str) -> String {
    let dashes = line.len() >= 4 && line.chars().all(|c| c == '-');
    let macro_like = ["{code", "{noformat", "{quote"].iter().any(|m| line.starts_with(m));
    if list_marker(line).is_some() || dashes || macro_like {
        return format!("\\{line}");
    }
    let b = line.as_bytes();
    let heading = b.len() >= 3 && b[0] == b'h' && (b'1'..=b'6').contains(&b[1]) && b[2] == b'.';
    if heading || line.starts_with("bq.") {
        let dot = line.find('.').unwrap_or_default();
        return format!("{}\\{}", &line[..dot], &line[dot..]);
    }
    line.to_owned()
}

fn code(lang: Option<&str>, text: &str) -> String {
    if text.contains("{code}") && !text.contains("{noformat}") {
        return format!("{{noformat}}\n{text}\n{{noformat}}");
    }
    let lang: String =
        lang.unwrap_or_default().chars().filter(|c| !c.is_whitespace() && !"{}|:=".contains(*c)).collect();
    let open = if lang.is_empty() { "{code}".to_owned() } else { format!("{{code:{lang}}}") };
    format!("{open}\n{text}\n{{code}}")
}

fn quote(children: &[Block]) -> String {
    if let [Block::Para(p)] = children {
        let line = verified(p, "bq. ", "\\\\");
        if !line.contains('\n') {
            return line;
        }
    }
    let body = blocks(children);
    if body.is_empty() { body } else { format!("{{quote}}\n{body}\n{{quote}}") }
}

/// One line per item; nested lists extend the marker (`*#`, `**`).
fn list(ordered: bool, items: &[Vec<Block>], outer: &str) -> String {
    let marker = format!("{outer}{}", if ordered { '#' } else { '*' });
    let mut lines = Vec::new();
    for item in items {
        let mut text: Vec<Piece> = Vec::new();
        let mut after = Vec::new();
        for b in item {
            match b {
                Block::Para(p) => {
                    if !text.is_empty() && !p.is_empty() {
                        text.push(Piece::Break);
                    }
                    text.extend(p.iter().cloned());
                }
                Block::List { ordered, items, .. } => after.push(list(*ordered, items, &marker)),
                other => after.push(block(other)),
            }
        }
        lines.push(verified(&text, &format!("{marker} "), "\\\\"));
        lines.extend(after.into_iter().filter(|s| !s.is_empty()));
    }
    lines.join("\n")
}
