//! ADF → Markdown (CommonMark plus `~~strike~~`).
//!
//! The output is canonical: `-` bullets, `*em*`, `**strong**`, fenced code,
//! `---` rules, one blank line between blocks, tight lists. Line breaks are
//! bare newlines (the Markdown parser reads every newline inside a paragraph
//! as a break), so Markdown → ADF → Markdown is stable.

use serde_json::Value;

use super::from_markdown;
use super::inline_md::{self, Escape, inline};
use super::node::Align;
use super::read::{self, Block, Piece, TaskRead};

pub(super) fn convert(doc: &Value) -> String {
    let body = write_blocks(&read::blocks(doc));
    if body.is_empty() { body } else { body + "\n" }
}

/// Whether a block is written as a list, and of which kind (ordered or not).
fn list_kind(block: &Block) -> Option<bool> {
    match block {
        Block::List { ordered, .. } => Some(*ordered),
        Block::Tasks(_) => Some(false),
        _ => None,
    }
}

fn write_blocks(blocks: &[Block]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut prev: Option<(&Block, bool)> = None;
    for block in blocks {
        // Two adjacent lists of one kind would merge in Markdown; switching
        // the marker (`-`/`*`, `.`/`)`) keeps them apart.
        let alt = match (prev.and_then(|(b, alt)| Some((list_kind(b)?, alt))), list_kind(block)) {
            (Some((a, alt)), Some(b)) => a == b && !alt,
            _ => false,
        };
        let text = write_block(block, alt);
        if !text.is_empty() {
            parts.push(text);
            prev = Some((block, alt));
        }
    }
    parts.join("\n\n")
}

fn write_block(block: &Block, alt: bool) -> String {
    match block {
        Block::Para(p) => verified(p, ""),
        Block::Heading(level, p) => heading(*level, p),
        Block::Code(lang, text) => fence(lang.as_deref(), text),
        Block::List { ordered, start, items } => list(*ordered, *start, items, alt),
        Block::Quote(children) => prefix_lines(&write_blocks(children), "> ", "> "),
        Block::Rule => "---".to_owned(),
        Block::Table { header, rows, align } => table(header, rows, align),
        Block::Tasks(tasks) => task_list(tasks, alt),
        Block::Panel(kind, children) => panel(kind, children),
        Block::Image { url, alt } => format!("![{}]({})", inline_md::escape_text(alt), inline_md::destination(url)),
    }
}

/// A GFM table; a cell's line breaks are `<br>`, its pipes escaped.
fn table(header: &[Vec<Piece>], rows: &[Vec<Vec<Piece>>], align: &[Align]) -> String {
    let line = |cells: &[Vec<Piece>]| {
        let cells: Vec<String> = (0..header.len()).map(|i| cell(cells.get(i).map_or(&[][..], Vec::as_slice))).collect();
        format!("| {} |", cells.join(" | "))
    };
    let rule: Vec<&str> = (0..header.len())
        .map(|i| match align.get(i).copied().unwrap_or(Align::None) {
            Align::None => "---",
            Align::Left => ":---",
            Align::Center => ":---:",
            Align::Right => "---:",
        })
        .collect();
    let mut out = vec![line(header), format!("| {} |", rule.join(" | "))];
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

/// One table cell's Markdown: the least escaping that reads back the same.
fn cell(pieces: &[Piece]) -> String {
    let spell = |esc| {
        let text = inline(pieces, esc).replace("\\\n", "<br>").replace('\n', " ");
        text.trim().replace('|', "\\|")
    };
    let (minimal, full) = (spell(Escape::Minimal), spell(Escape::Full));
    let parse = |c: &str| from_markdown::convert(&format!("| {c} |\n| --- |\n"));
    if minimal == full || parse(&minimal) == parse(&full) { minimal } else { full }
}

/// A GFM task list, nested tasks indented under their task.
fn task_list(tasks: &[TaskRead], alt: bool) -> String {
    let marker = if alt { "* " } else { "- " };
    let lines: Vec<String> = tasks
        .iter()
        .map(|t| {
            let check = if t.done { "[x] " } else { "[ ] " };
            let text = verified(&t.text, "");
            let mut body = format!("{check}{}", text.trim_start());
            if !t.children.is_empty() {
                body.push('\n');
                body.push_str(&task_list(&t.children, false));
            }
            prefix_lines(&body, marker, "  ")
        })
        .collect();
    lines.join("\n")
}

/// A panel as a GitHub alert: `> [!NOTE]` and its blocks, quoted.
fn panel(kind: &str, children: &[Block]) -> String {
    let alert = match kind {
        "note" => "IMPORTANT",
        "success" | "tip" => "TIP",
        "warning" => "WARNING",
        "error" => "CAUTION",
        _ => "NOTE",
    };
    let body = write_blocks(children);
    if body.is_empty() {
        return String::new();
    }
    prefix_lines(&format!("[!{alert}]\n{body}"), "> ", "> ")
}

/// Writes inline content with as little escaping as possible, but only if
/// it parses back to the same ADF as the fully escaped spelling; otherwise
/// the fully escaped one is used. This keeps `snake_case`, `2*3` or
/// `[draft]` readable without ever changing the meaning.
fn verified(pieces: &[Piece], prefix: &str) -> String {
    let full = finish_lines(prefix, &inline(pieces, Escape::Full));
    let minimal = finish_lines(prefix, &inline(pieces, Escape::Minimal));
    if minimal == full || from_markdown::convert(&minimal) == from_markdown::convert(&full) { minimal } else { full }
}

fn heading(level: u8, pieces: &[Piece]) -> String {
    let flat: Vec<Piece> = pieces
        .iter()
        .map(|p| match p {
            Piece::Break => Piece::Text(" ".to_owned(), vec![]),
            Piece::Text(t, marks) => Piece::Text(t.replace('\n', " "), marks.clone()),
        })
        .collect();
    let hashes = "#".repeat(usize::from(level.clamp(1, 6)));
    let text = verified(&flat, &format!("{hashes} "));
    // A trailing run of `#` after a space would be read as the optional
    // closing sequence of the heading.
    let body = text.trim_end_matches('#');
    if body.len() < text.len() && body.len() > hashes.len() && body.ends_with([' ', '\t']) {
        format!("{body}\\{}", &text[body.len()..])
    } else {
        text
    }
}

/// Trims each line, escapes what would start a block, and spells empty
/// inner lines (consecutive breaks) as a lone `\`, a hard break.
fn finish_lines(prefix: &str, text: &str) -> String {
    let text = text.trim_matches('\n');
    let lines: Vec<String> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.trim();
            let line = match line {
                "" => "\\".to_owned(),
                // Inside a heading nothing can start a block.
                _ if !prefix.is_empty() => line.to_owned(),
                _ => escape_line_start(line),
            };
            if i == 0 { format!("{prefix}{line}") } else { line }
        })
        .collect();
    if text.is_empty() { prefix.trim_end().to_owned() } else { lines.join("\n") }
}

/// Escapes the start of a paragraph line that Markdown would otherwise read
/// as a heading, quote, list item, rule, setext underline, fence, HTML block
/// or link reference definition.
fn escape_line_start(line: &str) -> String {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let rest = &line[digits..];
        let after = rest.chars().nth(1);
        if rest.starts_with(['.', ')']) && after.is_none_or(|c| c == ' ' || c == '\t') {
            return format!("{}\\{}", &line[..digits], rest);
        }
        return line.to_owned();
    }
    if starts_block(line) { format!("\\{line}") } else { line.to_owned() }
}

fn starts_block(line: &str) -> bool {
    let mut chars = line.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    let spaced = |c: Option<char>| c.is_none_or(|c| c == ' ' || c == '\t');
    let hashes = line.chars().take_while(|&c| c == '#').count();
    match first {
        '#' => hashes <= 6 && spaced(line[hashes..].chars().next()),
        '>' => true,
        '-' | '+' | '*' if spaced(second) => true,
        // Our own inline tags (`<u>…`) followed by text open no HTML block.
        '<' if ["<u>", "<sub>", "<sup>"].iter().any(|t| line.starts_with(t) && !line[t.len()..].trim().is_empty()) => {
            false
        }
        '<' => html_block_start(&line[1..]),
        '[' => line.contains("]:"),
        // A line starting with backticks is a code span or escaped text
        // (its closing backticks would be in the info string): no fence.
        '~' => line.starts_with("~~~"),
        _ => rule_or_underline(line),
    }
}

/// A thematic break (three or more of one of `-*_`, spaces allowed) or a
/// setext underline (only `=` or only `-`).
fn rule_or_underline(line: &str) -> bool {
    let marks: Vec<char> = line.chars().filter(|c| !c.is_whitespace()).collect();
    let same = |c: char| !marks.is_empty() && marks.iter().all(|&m| m == c);
    let rule = marks.len() >= 3 && (same('-') || same('*') || same('_'));
    let underline = same('=') || same('-');
    rule || (underline && !line.trim().contains(char::is_whitespace))
}

/// Whether `<` followed by `rest` opens an HTML block (a tag, closing tag,
/// comment, declaration or processing instruction); autolinks do not.
fn html_block_start(rest: &str) -> bool {
    if rest.starts_with(['!', '?']) {
        return true;
    }
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let name = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').count();
    let starts_alpha = rest.starts_with(|c: char| c.is_ascii_alphabetic());
    starts_alpha && rest[name..].chars().next().is_none_or(|c| c.is_whitespace() || "/>".contains(c))
}

/// A fenced code block. Backtick fences unless the language itself holds
/// a backtick (only tilde fences allow that); the fence is longer than any
/// run of its character inside.
fn fence(lang: Option<&str>, text: &str) -> String {
    // Info strings take backslash escapes and entities, so `\` and `&` are
    // escaped to come back unchanged.
    let mut info = String::new();
    for c in lang.unwrap_or_default().chars().filter(|c| !c.is_whitespace()) {
        if c == '\\' || c == '&' {
            info.push('\\');
        }
        info.push(c);
    }
    let lang = info;
    let mark = if lang.contains('`') { '~' } else { '`' };
    let longest = text.split(|c| c != mark).map(str::len).max().unwrap_or(0);
    let mut fence = mark.to_string().repeat(longest.max(2) + 1);
    if lang.starts_with(mark) {
        fence.push(' ');
    }
    if text.is_empty() {
        format!("{fence}{lang}\n{}", fence.trim_end())
    } else {
        format!("{fence}{lang}\n{text}\n{}", fence.trim_end())
    }
}

fn list(ordered: bool, start: u64, items: &[Vec<Block>], alt: bool) -> String {
    // CommonMark list numbers have at most nine digits.
    let start = start.min(999_999_999 - items.len() as u64);
    let lines: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let marker = match (ordered, alt) {
                (true, false) => format!("{}. ", start + i as u64),
                (true, true) => format!("{}) ", start + i as u64),
                (false, false) => "- ".to_owned(),
                (false, true) => "* ".to_owned(),
            };
            let indent = " ".repeat(marker.len());
            match item_body(item) {
                body if body.is_empty() => marker.trim_end().to_owned(),
                body => prefix_lines(&body, &marker, &indent),
            }
        })
        .collect();
    lines.join("\n")
}

/// An item's blocks; a nested list follows its paragraph directly (tight),
/// and an item that opens with an empty paragraph starts on the next line.
fn item_body(blocks: &[Block]) -> String {
    let mut out = String::new();
    for (i, block) in blocks.iter().enumerate() {
        let text = write_block(block, false);
        if text.is_empty() {
            if i == 0 {
                out.push('\n');
            }
            continue;
        }
        if !out.trim_matches('\n').is_empty() {
            let tight = i > 0 && interrupts_paragraph(block, &text);
            out.push_str(if tight { "\n" } else { "\n\n" });
        }
        out.push_str(&text);
    }
    if out.trim_matches('\n').is_empty() { String::new() } else { out.trim_end_matches('\n').to_owned() }
}

/// Whether a nested list may follow its item's paragraph directly: only a
/// bullet list or a list starting at 1, whose first item has text, can
/// interrupt a paragraph in CommonMark.
fn interrupts_paragraph(block: &Block, text: &str) -> bool {
    let (ordered, start) = match block {
        Block::List { ordered, start, .. } => (ordered, start),
        Block::Tasks(_) => (&false, &1),
        _ => return false,
    };
    let first_has_text = text.lines().next().is_some_and(|l| l.trim_end().contains(' '));
    (!ordered || *start == 1) && first_has_text
}

/// Prefixes the first line with `first` and the others with `rest`; blank
/// lines get the prefix without its trailing spaces.
fn prefix_lines(body: &str, first: &str, rest: &str) -> String {
    if body.is_empty() {
        return String::new();
    }
    body.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let p = if i == 0 { first } else { rest };
            if line.is_empty() { p.trim_end().to_owned() } else { format!("{p}{line}") }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
