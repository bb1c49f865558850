//! ADF → wiki markup blocks.
//!
//! What wiki markup cannot hold degrades without losing text: an ordered
//! list's start number is dropped, extra paragraphs of a list item join its
//! line with `\\`, and a code block inside a list item ends the list.

use serde_json::Value;

use super::super::adf::read::{self, Block, Piece, TaskRead};
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
        Block::Para(p) => verified(p, "", "\\\\"),
        Block::Heading(level, p) => verified(&spaced(p), &format!("h{level}. "), " "),
        Block::Code(lang, text) => code(lang.as_deref(), text),
        Block::List { ordered, items, .. } => list(*ordered, items, ""),
        Block::Quote(children) => quote(children),
        Block::Rule => "----".to_owned(),
        Block::Table { header, rows, .. } => table(header, rows),
        Block::Tasks(tasks) => task_lines(tasks, "*").join("\n"),
        Block::Panel(kind, children) => panel(kind, children),
        Block::Image { url, alt } => image(url, alt),
    }
}

/// Line breaks as spaces, for one-line contexts.
fn spaced(pieces: &[Piece]) -> Vec<Piece> {
    let space = || Piece::Text(" ".to_owned(), vec![]);
    pieces
        .iter()
        .map(|p| match p {
            Piece::Break => space(),
            Piece::Text(t, m) => Piece::Text(t.replace('\n', " "), m.clone()),
        })
        .collect()
}

/// `||head||head||` then `|cell|cell|`; a cell's line breaks are `\\`.
fn table(header: &[Vec<Piece>], rows: &[Vec<Vec<Piece>>]) -> String {
    let line = |cells: &[Vec<Piece>], bar: &str| {
        let cells: Vec<String> = (0..header.len()).map(|i| cell(cells.get(i).map_or(&[][..], Vec::as_slice))).collect();
        format!("{bar}{}{bar}", cells.join(bar))
    };
    let mut out = vec![line(header, "||")];
    out.extend(rows.iter().map(|r| line(r, "|")));
    out.join("\n")
}

/// A cell's wiki text, one line, its bars escaped where one would end the
/// cell (outside links, as `parse::cells` reads a row).
fn cell(pieces: &[Piece]) -> String {
    if pieces.is_empty() {
        return " ".to_owned();
    }
    let text = verified(&spaced_soft(pieces), "", "\\\\").replace('\n', " ");
    let mut out = String::with_capacity(text.len());
    let (mut escaped, mut depth, mut in_code) = (false, 0usize, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_code {
            // Jira splits a row at a bar inside code too: escaped there
            // (`parse::cell` reads it back).
            if c == '|' {
                out.push('\\');
            }
            in_code = !(c == '}' && chars.peek() == Some(&'}'));
            out.push(c);
            if !in_code {
                out.push(chars.next().unwrap_or('}'));
            }
            continue;
        }
        match c {
            '|' if !escaped && depth == 0 => out.push('\\'),
            '[' if !escaped => depth += 1,
            ']' if !escaped => depth = depth.saturating_sub(1),
            '{' if !escaped && chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(chars.next().unwrap_or('{'));
                in_code = true;
                continue;
            }
            _ => {}
        }
        escaped = c == '\\' && !escaped;
        out.push(c);
    }
    if escaped {
        out.push(' '); // a trailing backslash would escape the closing bar
    }
    if out.trim().is_empty() { " ".to_owned() } else { out }
}

/// Soft breaks as spaces (a wiki table row is one line); hard ones stay.
fn spaced_soft(pieces: &[Piece]) -> Vec<Piece> {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t, m) => Piece::Text(t.replace('\n', " "), m.clone()),
            other => other.clone(),
        })
        .collect()
}

/// Tasks as list items starting `[ ]` or `[x]`, nested tasks one marker
/// deeper.
fn task_lines(tasks: &[TaskRead], marker: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for t in tasks {
        let check = if t.done { "[x] " } else { "[ ] " };
        lines.push(format!("{marker} {check}{}", verified(&spaced_soft(&t.text), "", "\\\\").replace('\n', " ")));
        lines.extend(task_lines(&t.children, &format!("{marker}*")));
    }
    lines
}

/// Jira's panel macros: `{info}`, `{note}`, `{tip}`, `{warning}`; an error
/// panel has no macro of its own and is a warning.
fn panel(kind: &str, children: &[Block]) -> String {
    let name = match kind {
        "note" => "note",
        "success" | "tip" => "tip",
        "warning" | "error" => "warning",
        _ => "info",
    };
    let body = blocks(children);
    if body.is_empty() { body } else { format!("{{{name}}}\n{body}\n{{{name}}}") }
}

/// `!url!`, or `!url|alt=text!`.
fn image(url: &str, alt: &str) -> String {
    let alt: String = alt.chars().filter(|c| !"!|,=\n".contains(*c)).collect();
    if alt.trim().is_empty() { format!("!{url}!") } else { format!("!{url}|alt={}!", alt.trim()) }
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
                Block::Tasks(tasks) => after.push(task_lines(tasks, &format!("{marker}*")).join("\n")),
                other => after.push(block(other)),
            }
        }
        // An item is one line: its soft breaks are written as hard ones.
        let text: Vec<Piece> = text.iter().flat_map(hard_breaks).collect();
        lines.push(verified(&text, &format!("{marker} "), "\\\\"));
        lines.extend(after.into_iter().filter(|s| !s.is_empty()));
    }
    lines.join("\n")
}

/// A piece with its soft breaks (`\n` in the text) made hard breaks.
fn hard_breaks(piece: &Piece) -> Vec<Piece> {
    match piece {
        Piece::Text(t, marks) if t.contains('\n') => {
            let mut out = Vec::new();
            for (i, line) in t.split('\n').enumerate() {
                if i > 0 {
                    out.push(Piece::Break);
                }
                if !line.is_empty() {
                    out.push(Piece::Text(line.to_owned(), marks.clone()));
                }
            }
            out
        }
        other => vec![other.clone()],
    }
}
