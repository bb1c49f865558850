//! Wiki markup blocks → ADF: paragraphs, `hN.` headings, `bq.` and
//! `{quote}`, `{code}` / `{noformat}`, `{info}` / `{note}` / `{tip}` /
//! `{warning}` / `{panel}` panels, `----`, `*` / `#` / `-` lists (a `*` list
//! whose every item starts `[ ]` or `[x]` is a task list), `||head||` /
//! `|cell|` tables and images alone on their line (`!url!`). Everything
//! else (unknown macros) stays as text.

use serde_json::Value;

use super::super::adf::node::{self, Inlines, Task};
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
        } else if is_table_row(t) {
            self.flush();
            self.table();
        } else if let Some((url, alt)) = lone_image(t) {
            self.flush();
            self.take_line();
            self.out.push(node::image(&url, &alt));
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
        if let Some(kind) = panel_type(name) {
            self.out.extend(node::panel(kind, blocks(body)));
            return;
        }
        let body = body.strip_prefix('\n').unwrap_or(body);
        let body = body.strip_suffix('\n').unwrap_or(body);
        let lang = if name == "code" { language(params) } else { None };
        self.out.push(node::code_block(lang, body));
    }

    fn list(&mut self) {
        let mut lines = Vec::new();
        while let Some((markers, text)) = list_marker(self.peek_line()) {
            lines.push((markers, text));
            self.take_line();
        }
        let mut items: Vec<Item> = lines
            .into_iter()
            .map(|(markers, text)| {
                let mut inl = Inlines::default();
                parse_line(text, &mut inl);
                Item { markers: markers.chars().collect(), inl: Some(inl) }
            })
            .collect();
        let mut pos = 0;
        self.out.extend(lists(&mut items, &[], &mut pos));
    }

    /// Consecutive `|…|` lines; a first row of `||` cells is the header.
    fn table(&mut self) {
        let mut rows: Vec<(bool, Vec<&str>)> = Vec::new();
        while is_table_row(self.peek_line().trim()) {
            let line = self.take_line().trim();
            rows.push((line.starts_with("||"), cells(line)));
        }
        let parse = |cells: Vec<&str>| -> Vec<Inlines> {
            cells
                .into_iter()
                .map(|c| {
                    let mut inl = Inlines::default();
                    parse_line(&code_bars(c.trim()), &mut inl);
                    inl
                })
                .collect()
        };
        let mut rows = rows.into_iter();
        let Some((is_header, first)) = rows.next() else { return };
        let body: Vec<Vec<Inlines>> = rows.map(|(_, cells)| parse(cells)).collect();
        if is_header {
            self.out.push(node::table(Some(parse(first)), body, &[]));
        } else {
            let mut all = vec![parse(first)];
            all.extend(body);
            self.out.push(node::table(None, all, &[]));
        }
    }

    fn flush(&mut self) {
        if self.para.is_empty() {
            return;
        }
        let mut inl = Inlines::default();
        for (i, line) in self.para.drain(..).enumerate() {
            if i > 0 {
                inl.soft_break(&[]);
            }
            parse_line(line, &mut inl);
        }
        self.out.push(node::paragraph(inl));
    }
}

/// `{code}`, `{code:java}`, `{code:title=A.java|language=java}`,
/// `{noformat}` and `{quote}` at the start of a line.
fn macro_start(t: &str) -> Option<(&'static str, &str)> {
    for name in ["code", "noformat", "quote", "info", "note", "tip", "warning", "panel"] {
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
        out.extend(tasks_or_list(kind, list_items));
    }
    out
}

/// The ADF panel type of a panel macro.
fn panel_type(name: &str) -> Option<&'static str> {
    match name {
        "info" | "panel" => Some("info"),
        "note" => Some("note"),
        "tip" => Some("success"),
        "warning" => Some("warning"),
        _ => None,
    }
}

/// `|a|b|` or `||a||b||`: a line that starts and ends with a bar.
fn is_table_row(t: &str) -> bool {
    t.len() >= 2 && t.starts_with('|') && t.ends_with('|') && !t.ends_with("\\|")
}

/// The cells of a table row, split at `|` (or `||`) outside links, code
/// and escapes.
fn cells(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let (mut out, mut start, mut depth, mut i) = (Vec::new(), 0, 0i32, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' => depth += 1,
            b']' => depth = (depth - 1).max(0),
            b'{' if bytes.get(i + 1) == Some(&b'{') => {
                let end = line[i + 2..].find("}}").map_or(bytes.len(), |e| i + 2 + e + 1);
                i = end;
            }
            b'|' if depth == 0 => {
                out.push(&line[start..i]);
                if bytes.get(i + 1) == Some(&b'|') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&line[start.min(line.len())..]);
    // The row's leading and trailing bars leave an empty first and last.
    let first = usize::from(out.first().is_some_and(|c| c.trim().is_empty()));
    let last = out.len() - usize::from(out.len() > first && out.last().is_some_and(|c| c.trim().is_empty()));
    out[first..last.max(first)].to_vec()
}

/// A cell's `\|` inside `{{code}}` as the bar it stands for (outside code
/// the inline parser reads the escape).
fn code_bars(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut rest = cell;
    while let Some(open) = rest.find("{{") {
        let (before, code) = rest.split_at(open);
        out.push_str(before);
        let end = code[2..].find("}}").map_or(code.len(), |e| e + 4);
        out.push_str(&code[..end].replace("\\|", "|"));
        rest = &code[end..];
    }
    out.push_str(rest);
    out
}

/// `!url!` or `!url|alt=text!` alone on its line.
fn lone_image(t: &str) -> Option<(String, String)> {
    let inner = t.strip_prefix('!')?.strip_suffix('!')?;
    let (url, params) = inner.split_once('|').unwrap_or((inner, ""));
    let href = node::safe_href(url).filter(|_| !url.is_empty() && !url.contains(char::is_whitespace))?;
    let alt = params.split(',').find_map(|p| p.trim().strip_prefix("alt=")).unwrap_or_default();
    Some((href, alt.trim().to_owned()))
}

/// A `*` list whose every item starts `[ ]` or `[x]` (and holds only task
/// lists besides) is a task list; any other is a list.
fn tasks_or_list(kind: char, items: Vec<Value>) -> Option<Value> {
    let task = |item: &Value| -> Option<Task> {
        let blocks = item["content"].as_array()?;
        let (first, rest) = blocks.split_first()?;
        let content = first["content"].as_array()?;
        let text = content.first()?["text"].as_str()?;
        let marked = content.first()?.get("marks").is_none();
        let (done, rest_text) = match text.get(..4) {
            Some("[ ] ") if marked => (false, &text[4..]),
            Some("[x] " | "[X] ") if marked => (true, &text[4..]),
            _ => return None,
        };
        let mut text_nodes = content.clone();
        match rest_text.trim_start() {
            "" => drop(text_nodes.remove(0)),
            t => text_nodes[0]["text"] = Value::String(t.to_owned()),
        }
        let mut children = Vec::new();
        for nested in rest {
            if nested["type"] != "taskList" {
                return None;
            }
            children.extend(node::tasks_of(nested)?);
        }
        Some(Task { done, text: text_nodes, children })
    };
    if kind == '*'
        && let Some(tasks) = items.iter().map(task).collect::<Option<Vec<Task>>>()
        && !tasks.is_empty()
    {
        let mut ids = 0;
        return Some(node::task_list(tasks, &mut ids));
    }
    node::list(kind == '#', 1, items)
}
