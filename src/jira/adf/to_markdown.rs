//! ADF → Markdown (CommonMark plus `~~strike~~`).
//!
//! The output is canonical: `-` bullets, `*em*`, `**strong**`, fenced code,
//! `---` rules, one blank line between blocks, tight lists. Line breaks are
//! bare newlines (the Markdown parser reads every newline inside a paragraph
//! as a break), so Markdown → ADF → Markdown is stable.

use serde_json::Value;

use super::from_markdown;
use super::inline_md::{Escape, inline};
use super::read::{self, Block, Piece};

pub(super) fn convert(doc: &Value) -> String {
    let body = write_blocks(&read::blocks(doc));
    if body.is_empty() { body } else { body + "\n" }
}

fn write_blocks(blocks: &[Block]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut prev: Option<(&Block, bool)> = None;
    for block in blocks {
        // Two adjacent lists of one kind would merge in Markdown; switching
        // the marker (`-`/`*`, `.`/`)`) keeps them apart.
        let alt = match (prev, block) {
            (Some((Block::List { ordered: a, .. }, alt)), Block::List { ordered: b, .. }) => a == b && !alt,
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
    }
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
            other => other.clone(),
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
    let Block::List { ordered, start, .. } = block else {
        return false;
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
