//! Inline runs → wiki markup: `*strong*`, `_em_`, `-strike-`, `{{code}}`,
//! `[text|href]` and `[href]`.
//!
//! A delimiter next to a letter or digit would not be markup in Jira
//! (`un*believ*able` is literal), so there the braced form `{*}` is used.

use super::super::adf::node::Mark;
use super::super::adf::read::Piece;
use super::super::adf::runs::{Tok, tokens};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    Minimal,
    Full,
}

pub(super) fn inline(pieces: &[Piece], esc: Escape, brk: &str) -> String {
    let toks = tokens(pieces);
    let mut out = String::new();
    for (k, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Text(t) => out.push_str(&escape(t, esc)),
            Tok::Open(Mark::Link(..)) => out.push('['),
            Tok::Close(Mark::Link(href, _)) => {
                out.push('|');
                out.push_str(href);
                out.push(']');
            }
            Tok::Open(m) => {
                let braced = out.chars().last().is_some_and(char::is_alphanumeric);
                out.push_str(&delimiter(m, braced));
            }
            Tok::Close(m) => {
                let braced = next_char(&toks[k + 1..]).is_some_and(char::is_alphanumeric);
                out.push_str(&delimiter(m, braced));
            }
            Tok::Code(t) => {
                out.push_str("{{");
                out.push_str(t);
                out.push_str("}}");
            }
            Tok::Auto { text, href } if text == href => out.push_str(&format!("[{href}]")),
            Tok::Auto { text, href } => out.push_str(&format!("[{text}|{href}]")),
            Tok::Break => out.push_str(brk),
        }
    }
    out
}

fn delimiter(mark: &Mark, braced: bool) -> String {
    let c = match mark {
        Mark::Strong => '*',
        Mark::Em => '_',
        Mark::Strike => '-',
        Mark::Underline => '+',
        Mark::Sub => '~',
        Mark::Sup => '^',
        Mark::Link(..) | Mark::Code => return String::new(),
    };
    if braced { format!("{{{c}}}") } else { c.to_string() }
}

/// The first character that will follow, for deciding on a closer.
fn next_char(rest: &[Tok]) -> Option<char> {
    rest.iter().find_map(|t| match t {
        Tok::Text(s) => s.chars().next(),
        Tok::Break => Some('\n'),
        _ => Some('{'),
    })
}

/// Minimal escaping leaves everything alone; full escaping puts a backslash
/// before every delimiter that could open or close (one with a letter or
/// digit on both sides cannot) and before every `[`, `]`, `{` and `|`.
fn escape(text: &str, esc: Escape) -> String {
    if esc == Escape::Minimal {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let alnum = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphanumeric());
        let inside_word = alnum(i.checked_sub(1)) && alnum(Some(i + 1));
        if "[]{|!".contains(c) || ("*_-+~^".contains(c) && !inside_word) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
