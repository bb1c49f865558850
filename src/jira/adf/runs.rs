//! Inline runs → a flat token stream of text and mark open/close events,
//! shared by the Markdown and wiki writers.
//!
//! Marks are kept on a stack in canonical order (link, strong, em, strike);
//! moving to the next run closes what is no longer wanted and opens what is
//! new. Whitespace at the edge of a run is moved outside the delimiters,
//! because neither `** bold **` nor `* bold *` is markup.

use super::node::Mark;
use super::read::Piece;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// Plain text, still to be escaped by the writer.
    Text(String),
    Open(Mark),
    Close(Mark),
    /// Text with the `code` mark (inside any open link).
    Code(String),
    /// A run that is exactly its own link target: `text == href`, or
    /// `href == "mailto:" + text`.
    Auto {
        text: String,
        href: String,
    },
    Break,
}

pub(crate) fn tokens(pieces: &[Piece]) -> Vec<Tok> {
    let mut w = Runs::default();
    for piece in pieces {
        match piece {
            Piece::Break => {
                w.close_to(0);
                w.ws.clear();
                w.out.push(Tok::Break);
            }
            Piece::Text(text, marks) => w.text(text, marks),
        }
    }
    w.close_to(0);
    w.out
}

#[derive(Default)]
struct Runs {
    out: Vec<Tok>,
    open: Vec<Mark>,
    /// Trailing whitespace of the previous run, written after any closers.
    ws: String,
}

impl Runs {
    fn text(&mut self, text: &str, marks: &[Mark]) {
        let code = marks.contains(&Mark::Code);
        let wanted: Vec<Mark> = marks.iter().filter(|m| **m != Mark::Code).cloned().collect();
        let link = wanted.iter().find_map(|m| match m {
            Mark::Link(href, None) => Some(href.clone()),
            _ => None,
        });
        let auto = link.filter(|href| !code && (text == href || href.strip_prefix("mailto:") == Some(text)));
        if let Some(href) = auto {
            // The autolink sits inside whatever other marks the run has.
            let others: Vec<Mark> = wanted.into_iter().filter(|m| !matches!(m, Mark::Link(..))).collect();
            let keep = self.open.iter().take_while(|m| others.contains(m)).count();
            self.close_to(keep);
            self.flush_ws();
            for m in others {
                if !self.open.contains(&m) {
                    self.out.push(Tok::Open(m.clone()));
                    self.open.push(m);
                }
            }
            self.out.push(Tok::Auto { text: text.to_owned(), href });
            return;
        }
        let (lead, core, trail) = if code { ("", text, "") } else { split_ws(text) };
        let keep = self.open.iter().take_while(|m| wanted.contains(m)).count();
        self.close_to(keep);
        if core.is_empty() {
            // Whitespace alone cannot carry a mark; it only closes marks.
            self.ws.push_str(text);
            return;
        }
        self.ws.push_str(lead);
        self.flush_ws();
        for m in wanted {
            if !self.open.contains(&m) {
                self.out.push(Tok::Open(m.clone()));
                self.open.push(m);
            }
        }
        self.out.push(if code { Tok::Code(core.to_owned()) } else { Tok::Text(core.to_owned()) });
        self.ws = trail.to_owned();
    }

    fn flush_ws(&mut self) {
        if !self.ws.is_empty() {
            self.out.push(Tok::Text(std::mem::take(&mut self.ws)));
        }
    }

    fn close_to(&mut self, keep: usize) {
        while self.open.len() > keep {
            if let Some(m) = self.open.pop() {
                self.out.push(Tok::Close(m));
            }
        }
    }
}

fn split_ws(text: &str) -> (&str, &str, &str) {
    let core = text.trim();
    let start = text.len() - text.trim_start().len();
    (&text[..start], core, &text[start + core.len()..])
}
