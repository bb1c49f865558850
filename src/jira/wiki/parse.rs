//! Wiki markup blocks → ADF: paragraphs, `hN.` headings, `bq.` and
//! `{quote}`, `{code}` / `{noformat}`, `----`, and `*` / `#` / `-` lists.
//! Everything else (tables, panels, unknown macros) stays as text.

use serde_json::Value;

use super::super::adf::node::{self, Inlines};
use super::inline::parse_line;

pub(super) fn parse(wiki: &str) -> Value {
    let text = wiki.replace("\r\n", "\n").replace('\r', "\n");
    node::doc(blocks(&text))
}

fn blocks(text: &str) -> Vec<Value> {
    let mut p = Parser { rest: text, out: Vec::new(), para: Vec::new() };
    while !p.rest.is_empty() {
        p.step();
    }
    p.flush();
    p.out
}

struct Parser<'a> {
    /// Unread text, always at the start of a line.
    rest: &'a str,
    out: Vec<Value>,
    /// Lines of the paragraph being read.
    para: Vec<&'a str>,
}

impl<'a> Parser<'a> {
    fn step(&mut self) {
        let line = self.peek_line();
        let t = line.trim();
        if t.is_empty() {
            self.flush();
            self.take_line();
        } else if let Some((name, params)) = macro_start(t) {
            self.flush();
            self.rest = self.rest.trim_start();
            self.macro_block(name, params);
        } else if let Some(block) = line_block(t) {
            self.flush();
            self.take_line();
            self.out.push(block);
        } else if list_marker(line).is_some() {
            self.flush();
            self.list();
        } else {
            self.para.push(t);
            self.take_line();
        }
    }

    fn peek_line(&self) -> &'a str {
        self.rest.split_once('\n').map_or(self.rest, |(line, _)| line)
    }

    fn take_line(&mut self) -> &'a str {
        let (line, rest) = self.rest.split_once('\n').unwrap_or((self.rest, ""));
        self.rest = rest;
        line
    }

    /// `{code…}`, `{noformat…}` or `{quote}`, up to the closing tag (or the
    /// end of the text); text after the closing tag starts a new line.
    fn macro_block(&mut self, name: &'static str, params: &str) {
        let header = self.rest.find('}').map_or(self.rest.len(), |i| i + 1);
        let body_and_rest = &self.rest[header..];
        let close = format!("{{{name}}}");
        let (body, rest) = match body_and_rest.find(&close) {
            Some(i) => (&body_and_rest[..i], &body_and_rest[i + close.len()..]),
            None => (body_and_rest, ""),
        };
        self.rest = rest.strip_prefix('\n').unwrap_or(rest);
        if name == "quote" {
            self.out.extend(node::blockquote(blocks(body)));
            return;
        }
        let body = body.strip_prefix('\n').unwrap_or(body);
        let body = body.strip_suffix('\n').unwrap_or(body);
        let lang = if name == "code" { language(params) } else { None };
        self.out.push(node::code_block(lang, body));
    }

    fn list(&mut self) {
        let mut items = Vec::new();
        while let Some((markers, text)) = list_marker(self.peek_line()) {
            let mut inl = Inlines::default();
            parse_line(text, &mut inl);
            items.push(Item { markers: markers.chars().collect(), inl: Some(inl) });
            self.take_line();
        }
        let mut pos = 0;
        self.out.extend(lists(&mut items, &[], &mut pos));
    }

    fn flush(&mut self) {
        if self.para.is_empty() {
            return;
        }
        let mut inl = Inlines::default();
        for (i, line) in self.para.drain(..).enumerate() {
            if i > 0 {
                inl.hard_break();
            }
            parse_line(line, &mut inl);
        }
        self.out.push(node::paragraph(inl));
    }
}

/// `{code}`, `{code:java}`, `{code:title=A.java|language=java}`,
/// `{noformat}` and `{quote}` at the start of a line.
fn macro_start(t: &str) -> Option<(&'static str, &str)> {
    for name in ["code", "noformat", "quote"] {
        let Some(after) = t.strip_prefix('{').and_then(|r| r.strip_prefix(name)) else {
            continue;
        };
        if after.starts_with('}') {
            return Some((name, ""));
        }
        if let Some(params) = after.strip_prefix(':') {
            let end = params.find('}')?;
            return Some((name, &params[..end]));
        }
    }
    None
}

/// The language of `{code:java}` or `{code:language=java|title=…}`.
fn language(params: &str) -> Option<&str> {
    params.split('|').find_map(|p| match p.split_once('=') {
        Some(("language" | "lang", v)) => Some(v.trim()),
        Some(_) => None,
        None => Some(p.trim()),
    })
}

/// One-line blocks: `h1.`–`h6.`, `bq.` and `----`.
fn line_block(t: &str) -> Option<Value> {
    if t.len() >= 4 && t.chars().all(|c| c == '-') {
        return Some(node::rule());
    }
    let mut inl = Inlines::default();
    if let Some(rest) = t.strip_prefix("bq.").filter(|r| r.is_empty() || r.starts_with(' ')) {
        parse_line(rest.trim(), &mut inl);
        return node::blockquote(vec![node::paragraph(inl)]);
    }
    let level = t.strip_prefix('h')?.chars().next()?.to_digit(10)?;
    let rest = t[2..].strip_prefix('.')?;
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    parse_line(rest.trim(), &mut inl);
    Some(node::heading(level as u8, inl))
}

/// `* text`, `# text`, `*#* text` or `- text` (the dash only alone).
pub(super) fn list_marker(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    let end = line.find(|c| !matches!(c, '*' | '#' | '-'))?;
    let markers = &line[..end];
    let valid = !markers.is_empty() && (markers == "-" || !markers.contains('-'));
    let text = line[end..].strip_prefix(' ')?;
    valid.then_some((markers, text.trim()))
}

struct Item {
    markers: Vec<char>,
    inl: Option<Inlines>,
}

/// Builds the lists below marker prefix `prefix` from flat items; an item
/// whose marker is longer owns the nested lists, and a change of marker
/// starts a new list.
fn lists(items: &mut [Item], prefix: &[char], pos: &mut usize) -> Vec<Value> {
    let depth = prefix.len();
    let below = |item: &Item| item.markers.len() > depth && item.markers.starts_with(prefix);
    let mut out = Vec::new();
    while *pos < items.len() && below(&items[*pos]) {
        let kind = items[*pos].markers[depth];
        let mut list_items = Vec::new();
        while *pos < items.len() && below(&items[*pos]) && items[*pos].markers[depth] == kind {
            let mut blocks = Vec::new();
            if items[*pos].markers.len() == depth + 1 {
                blocks.extend(items[*pos].inl.take().map(node::paragraph));
                *pos += 1;
            }
            let nested: Vec<char> = prefix.iter().copied().chain([kind]).collect();
            blocks.extend(lists(items, &nested, pos));
            list_items.push(node::list_item(blocks));
        }
        out.extend(node::list(kind == '#', 1, list_items));
    }
    out
}
