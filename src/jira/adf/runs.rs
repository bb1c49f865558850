//! Inline runs → a flat token stream of text and mark open/close events,
//! shared by the Markdown and wiki writers.
//!
//! Marks are kept on a stack, the longest-lasting outermost (canonical
//! order, link first, among equals); moving to the next run closes what is
//! no longer wanted and opens what is new. Whitespace at the edge of a run
//! is moved outside the delimiters, because neither `** bold **` nor
//! `* bold *` is markup.

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
    let pieces = code_inside_marks(pieces);
    let mut w = Runs::default();
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Break => {
                w.close_to(0);
                w.ws.clear();
                w.out.push(Tok::Break);
            }
            Piece::Text(text, marks) => {
                // A mark that lasts longer opens first (outside), so it
                // need not close when a shorter one ends: `*a **b** c*`.
                let mut marks = marks.clone();
                marks.sort_by_key(|m| std::cmp::Reverse(extent(&pieces[i..], m)));
                w.text(text, &marks);
            }
        }
    }
    w.close_to(0);
    w.out
}

/// How many runs from the first of `pieces` on carry `mark`.
fn extent(pieces: &[Piece], mark: &Mark) -> usize {
    pieces.iter().take_while(|p| matches!(p, Piece::Text(_, marks) if marks.contains(mark))).count()
}

/// ADF's code mark cannot combine with strong, em or strike, so
/// `**a `c` b**` arrives as three runs; a code run between two runs that
/// share such a mark is written inside it, as it was most likely written.
/// (Read back, the code run again drops the mark, so nothing changes.)
fn code_inside_marks(pieces: &[Piece]) -> Vec<Piece> {
    let mut out = pieces.to_vec();
    for i in 1..pieces.len().saturating_sub(1) {
        let (Piece::Text(_, before), Piece::Text(_, after)) = (&pieces[i - 1], &pieces[i + 1]) else {
            continue;
        };
        if let Piece::Text(_, marks) = &mut out[i]
            && marks.contains(&Mark::Code)
        {
            let shared =
                before.iter().filter(|m| matches!(m, Mark::Strong | Mark::Em | Mark::Strike) && after.contains(m));
            let shared: Vec<Mark> = shared.filter(|m| !marks.contains(m)).cloned().collect();
            marks.extend(shared);
        }
    }
    out
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
