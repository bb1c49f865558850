//! Inline runs → Markdown: `**strong**`, `*em*`, `~~strike~~`, `` `code` ``,
//! `[text](href)` and `<autolink>`.

use super::node::Mark;
use super::read::Piece;
use super::runs::{Tok, tokens};

/// How much of the text to escape; see `to_markdown::verified`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    /// Only what is markup in (almost) any context.
    Minimal,
    /// Every character that can be markup.
    Full,
}

pub(super) fn inline(pieces: &[Piece], esc: Escape) -> String {
    let mut out = String::new();
    for tok in drop_unflanked(tokens(pieces)) {
        match tok {
            Tok::Text(t) => out.push_str(&escape(&t, esc)),
            Tok::Open(m) => {
                // `!` right before a link would turn it into an image.
                if matches!(m, Mark::Link(..)) && out.ends_with('!') && !out.ends_with("\\!") {
                    out.insert(out.len() - 1, '\\');
                }
                out.push_str(opener(&m));
            }
            Tok::Close(m) => out.push_str(&closer(&m)),
            Tok::Code(t) => out.push_str(&code_span(&t)),
            Tok::Auto { text, href } => {
                let link = autolink(&text, &href, esc);
                if link.starts_with('[') && out.ends_with('!') && !out.ends_with("\\!") {
                    out.insert(out.len() - 1, '\\');
                }
                out.push_str(&link);
            }
            // A hard break; a soft one is a `\n` inside the text.
            Tok::Break => out.push_str("\\\n"),
        }
    }
    out
}

/// Removes strong/em/strike pairs whose delimiters CommonMark would not
/// read as emphasis (`a**(b)**c`: an opener between a letter and
/// punctuation, or a closer between punctuation and a letter). Markdown has
/// no other spelling for them, and dropping the mark keeps the text intact
/// where writing it would add stray `*` or `~` to the text.
fn drop_unflanked(mut toks: Vec<Tok>) -> Vec<Tok> {
    let mut k = 0;
    while k < toks.len() {
        let mark = match &toks[k] {
            Tok::Open(m @ (Mark::Strong | Mark::Em | Mark::Strike)) => Some(m.clone()),
            _ => None,
        };
        if let Some(m) = mark {
            let close = (k + 1..toks.len()).find(|&j| toks[j] == Tok::Close(m.clone()));
            let flanked = close.is_some_and(|c| {
                let (before, after) = (edge(&toks, k, &m, false), edge(&toks, k, &m, true));
                let (inner, next) = (edge(&toks, c, &m, false), edge(&toks, c, &m, true));
                // pulldown-cmark lets `~~` open anywhere before a non-space,
                // and close after a `~`.
                let strike = m == Mark::Strike;
                let opens = strike || left_flanking(before, after);
                let closes = (strike && inner == Some('~')) || left_flanking(next, inner);
                opens && closes
            });
            if !flanked {
                if let Some(c) = close {
                    toks.remove(c);
                }
                toks.remove(k);
                continue;
            }
        }
        k += 1;
    }
    toks
}

/// The character class beside token `k`, looking past delimiters of the same
/// run (`***` is one run). `None` is a line edge, which counts as space.
fn edge(toks: &[Tok], k: usize, mark: &Mark, forward: bool) -> Option<char> {
    let family = |m: &Mark| match m {
        Mark::Strike => '~',
        Mark::Strong | Mark::Em => '*',
        _ => '<',
    };
    let indices: Box<dyn Iterator<Item = usize>> =
        if forward { Box::new(k + 1..toks.len()) } else { Box::new((0..k).rev()) };
    for j in indices {
        let c = match &toks[j] {
            Tok::Open(m) | Tok::Close(m) if !matches!(m, Mark::Link(..)) && family(m) == family(mark) => {
                continue;
            }
            Tok::Text(t) if forward => t.chars().next(),
            Tok::Text(t) => t.chars().last(),
            Tok::Break => None,
            _ => Some('['),
        };
        return c;
    }
    None
}

/// CommonMark's left-flanking rule, seen from `before` towards `after`
/// (called mirrored for right-flanking).
fn left_flanking(before: Option<char>, after: Option<char>) -> bool {
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let punct = |c: Option<char>| c.is_some_and(|c| !c.is_alphanumeric() && !c.is_whitespace());
    !space(after) && (!punct(after) || space(before) || punct(before))
}

fn opener(mark: &Mark) -> &'static str {
    match mark {
        Mark::Link(..) => "[",
        Mark::Strong => "**",
        Mark::Em => "*",
        Mark::Strike => "~~",
        Mark::Underline => "<u>",
        Mark::Sub => "<sub>",
        Mark::Sup => "<sup>",
        Mark::Code => "",
    }
}

fn closer(mark: &Mark) -> String {
    match mark {
        Mark::Link(href, None) => format!("]({})", destination(href)),
        Mark::Link(href, Some(title)) => format!("]({} {})", destination(href), link_title(title)),
        Mark::Underline => "</u>".to_owned(),
        Mark::Sub => "</sub>".to_owned(),
        Mark::Sup => "</sup>".to_owned(),
        other => opener(other).to_owned(),
    }
}

/// A link title in quotes, its quotes and backslashes escaped.
fn link_title(title: &str) -> String {
    let mut out = String::from("\"");
    for c in title.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Text with every character that can be markup escaped (an image's alt).
pub(super) fn escape_text(text: &str) -> String {
    escape(&text.replace('\n', " "), Escape::Full)
}

/// `<url>` when CommonMark would read it back as the same autolink,
/// otherwise an ordinary `[text](href)` link.
fn autolink(text: &str, href: &str, esc: Escape) -> String {
    let plain = !href.contains(|c: char| c.is_whitespace() || "<>".contains(c));
    let scheme = href.split_once(':').map_or("", |(s, _)| s);
    let uri = (2..=32).contains(&scheme.len())
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    if (text == href && uri && plain) || (text != href && is_email(text)) {
        format!("<{text}>")
    } else {
        format!("[{}]({})", escape(text, esc), destination(href))
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = |c: char| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c);
    !local.is_empty()
        && local.chars().all(local_ok)
        && domain.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// A link destination: bare when safe, otherwise in angle brackets.
pub(super) fn destination(href: &str) -> String {
    let href = escape_backslashes(href, Escape::Minimal);
    if href.is_empty() || href.contains(|c: char| c.is_whitespace() || "<>()".contains(c)) {
        let safe = href.replace('<', "\\<").replace('>', "\\>").replace('\n', "%0A");
        format!("<{safe}>")
    } else {
        href
    }
}

/// A code span whose fence is longer than any backtick run inside, padded
/// with spaces where CommonMark would otherwise strip or merge them.
fn code_span(text: &str) -> String {
    let text = text.replace('\n', " ");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest + 1);
    let all_space = text.chars().all(|c| c == ' ');
    let pad =
        text.starts_with('`') || text.ends_with('`') || (!all_space && text.starts_with(' ') && text.ends_with(' '));
    let pad = if pad { " " } else { "" };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

fn escape(text: &str, esc: Escape) -> String {
    let text = escape_backslashes(text, esc);
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let needed = match c {
            '`' => true,
            '&' => esc == Escape::Full || entity_follows(&chars[i + 1..]),
            // At the end of a run, what follows is not known: escaped.
            '<' => esc == Escape::Full || next.is_none_or(|n| n.is_ascii_alphabetic() || "/!?".contains(n)),
            '*' | '_' | '[' | ']' | '~' => esc == Escape::Full,
            _ => false,
        };
        if needed {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Doubles a backslash where it would otherwise escape what follows (or
/// join with a backslash that the next run starts with).
fn escape_backslashes(text: &str, esc: Escape) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' && (esc == Escape::Full || chars.peek().is_none_or(|n| n.is_ascii_punctuation() || *n == '\n')) {
            out.push('\\');
        }
    }
    out
}

/// Whether `&` is followed by something an HTML entity parser would eat.
fn entity_follows(rest: &[char]) -> bool {
    let end = rest.iter().position(|&c| c == ';');
    let Some(end) = end.filter(|&e| e > 0 && e <= 32) else {
        return false;
    };
    let name = &rest[..end];
    match name {
        ['#', 'x' | 'X', hex @ ..] => !hex.is_empty() && hex.iter().all(char::is_ascii_hexdigit),
        ['#', dec @ ..] => !dec.is_empty() && dec.iter().all(char::is_ascii_digit),
        _ => name.iter().all(char::is_ascii_alphanumeric),
    }
}
