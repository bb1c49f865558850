//! One line of wiki markup → ADF inline content.
//!
//! Jira's rule, which keeps `2*3`, `snake_case_name` and `well-known` plain:
//! a delimiter (`*` strong, `_` em, `-` strike, `+` underline, `~` sub,
//! `^` sup) opens only at
//! the start or after a non-alphanumeric character and before a
//! non-space, and closes only after a non-space and before a
//! non-alphanumeric character or the end; a doubled delimiter is literal. The braced form `{*}` opens and
//! closes anywhere (Jira's spelling for markup inside a word). URLs are
//! copied verbatim so `http://x/_a_` stays a URL.

use super::super::adf::node::{Inlines, Mark};

pub(super) fn parse_line(line: &str, inl: &mut Inlines) {
    let chars: Vec<char> = line.chars().collect();
    let mut p = Parser { inl, marks: Vec::new(), buf: String::new(), unclosed: [usize::MAX; SLOTS] };
    p.run(&chars);
}

struct Parser<'a> {
    inl: &'a mut Inlines,
    marks: Vec<Mark>,
    buf: String,
    /// Per closer (a delimiter of `DELIMITERS`, then `]`, then `}}`), the
    /// position from which a search for it already failed in the current
    /// slice, so a line full of unmatched `*` or `[` is scanned once
    /// instead of once per opener.
    unclosed: [usize; SLOTS],
}

const DELIMITERS: &str = "*_-+~^";
const SLOTS: usize = 8;
const BRACKET: usize = 6;
const BRACES: usize = 7;

impl Parser<'_> {
    fn run(&mut self, s: &[char]) {
        let outer = std::mem::replace(&mut self.unclosed, [usize::MAX; SLOTS]);
        let mut i = 0;
        while i < s.len() {
            i = self.step(s, i);
        }
        self.flush();
        self.unclosed = outer;
    }

    fn step(&mut self, s: &[char], i: usize) -> usize {
        let c = s[i];
        let next = s.get(i + 1).copied();
        match c {
            '\\' if next == Some('\\') => {
                self.flush();
                self.inl.hard_break();
                return i + 2;
            }
            '\\' if next.is_some_and(|n| n.is_ascii_punctuation()) => {
                self.buf.extend(next);
                return i + 2;
            }
            '{' if next == Some('{') => {
                let closing = |j: usize| s[j..].starts_with(&['}', '}']);
                if let Some(end) = self.search(BRACES, i + 2, s.len(), closing).filter(|&e| e > i + 2) {
                    self.flush();
                    let mut marks = self.marks.clone();
                    marks.push(Mark::Code);
                    self.inl.text(&s[i + 2..end].iter().collect::<String>(), &marks);
                    return end + 2;
                }
            }
            '{' if braced(s, i).is_some() => {
                if let Some(end) = self.span(s, i, 3) {
                    return end;
                }
            }
            '[' => {
                if let Some(end) = self.link(s, i) {
                    return end;
                }
            }
            _ if DELIMITERS.contains(c) && opens(s, i) => {
                if let Some(end) = self.span(s, i, 1) {
                    return end;
                }
            }
            _ if url_len(s, i) > 0 => {
                let len = url_len(s, i);
                self.buf.extend(&s[i..i + len]);
                return i + len;
            }
            _ => {}
        }
        self.buf.push(c);
        i + 1
    }

    /// A delimited span starting at `i` (opener `open_len` chars long);
    /// returns the index after its closer, or `None` if it never closes.
    fn span(&mut self, s: &[char], i: usize, open_len: usize) -> Option<usize> {
        let ch = if open_len == 3 { s[i + 1] } else { s[i] };
        let from = i + open_len;
        let slot = DELIMITERS.find(ch).unwrap_or_default();
        let close = self.search(slot, from + 1, s.len(), |j| closes(s, j, ch).is_some())?;
        let close_len = closes(s, close, ch).map_or(1, |(_, len)| len);
        let inner = &s[from..close];
        if ch == '-' && inner.iter().all(|&c| c == '-') {
            return None;
        }
        self.flush();
        let mark = match ch {
            '*' => Some(Mark::Strong),
            '_' => Some(Mark::Em),
            '-' => Some(Mark::Strike),
            '+' => Some(Mark::Underline),
            '~' => Some(Mark::Sub),
            '^' => Some(Mark::Sup),
            _ => None,
        };
        self.marks.extend(mark.clone());
        self.run(inner);
        if mark.is_some() {
            self.marks.pop();
        }
        Some(close + close_len)
    }

    /// `[text|url]`, `[url]`, `[~user]`, `[^attachment]`; anything else in
    /// brackets stays literal.
    fn link(&mut self, s: &[char], i: usize) -> Option<usize> {
        // `\]` and `\|` inside the brackets are text, not structure.
        let unescaped = |j: usize, c: char| s[j] == c && s[j - 1] != '\\';
        let close = self.search(BRACKET, i + 1, s.len(), |j| unescaped(j, ']'))?;
        let inner: String = s[i + 1..close].iter().collect();
        let end = Some(close + 1);
        if let Some(bar) = (i + 1..close).find(|&j| unescaped(j, '|')) {
            let rest: String = s[bar + 1..close].iter().collect();
            let url = rest.split('|').next().unwrap_or_default().trim();
            // A target ADF cannot hold as a link (a bare word, a relative
            // path) leaves the brackets as text.
            let href = super::super::adf::node::safe_href(url).filter(|_| !url.is_empty())?;
            self.flush();
            self.marks.push(Mark::Link(href.clone(), None));
            let text = &s[i + 1..bar];
            if text.iter().all(|c| c.is_whitespace()) {
                self.inl.text(&href, &self.marks);
            } else {
                self.run(text);
            }
            self.marks.pop();
            return end;
        }
        if let Some(user) = inner.strip_prefix('~') {
            self.buf.push('@');
            self.buf.push_str(user);
            return end;
        }
        if let Some(file) = inner.strip_prefix('^') {
            self.buf.push_str(file);
            return end;
        }
        let chars: Vec<char> = inner.chars().collect();
        if url_len(&chars, 0) != chars.len() || chars.is_empty() {
            return None;
        }
        self.flush();
        let mut marks = self.marks.clone();
        marks.push(Mark::Link(inner.clone(), None));
        self.inl.text(&inner, &marks);
        end
    }

    /// The first `j` in `from..to` where `found(j)`, remembering failures.
    fn search(&mut self, slot: usize, from: usize, to: usize, found: impl Fn(usize) -> bool) -> Option<usize> {
        if from >= self.unclosed[slot] {
            return None;
        }
        let hit = (from..to).find(|&j| found(j));
        if hit.is_none() {
            self.unclosed[slot] = from;
        }
        hit
    }

    fn flush(&mut self) {
        self.inl.text(&self.buf, &self.marks);
        self.buf.clear();
    }
}

/// The delimiter of a braced `{*}`-style marker at `i`.
fn braced(s: &[char], i: usize) -> Option<char> {
    match (s.get(i), s.get(i + 1), s.get(i + 2)) {
        (Some('{'), Some(&c), Some('}')) if DELIMITERS.contains(c) => Some(c),
        _ => None,
    }
}

/// A plain delimiter opens after a non-alphanumeric and before a non-space;
/// doubled delimiters (`**`, `--`, `__`) are never markup (Jira shows `--`
/// as a dash).
fn opens(s: &[char], i: usize) -> bool {
    let ch = s[i];
    let after_ok = s.get(i + 1).is_some_and(|&c| !c.is_whitespace() && c != ch);
    let before_ok = i == 0 || !(s[i - 1].is_alphanumeric() || s[i - 1] == ch);
    after_ok && before_ok
}

/// Whether a closer for `ch` is at `j`; returns its position and length.
fn closes(s: &[char], j: usize, ch: char) -> Option<(usize, usize)> {
    if braced(s, j) == Some(ch) {
        return Some((j, 3));
    }
    let before_ok = !s[j - 1].is_whitespace() && s[j - 1] != ch;
    let after_ok = s.get(j + 1).is_none_or(|&c| !c.is_alphanumeric() && c != ch);
    (s[j] == ch && before_ok && after_ok).then_some((j, 1))
}

/// Length of a URL starting at `i` (`scheme://…` or `mailto:…`, up to
/// whitespace or a bracket/pipe), or 0.
fn url_len(s: &[char], i: usize) -> usize {
    if i > 0 && s[i - 1].is_alphanumeric() {
        return 0;
    }
    let scheme = s[i..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let rest = &s[i + scheme..];
    let sep = if rest.starts_with(&[':', '/', '/']) {
        3
    } else if s[i..i + scheme].iter().collect::<String>().eq_ignore_ascii_case("mailto") && rest.first() == Some(&':') {
        1
    } else {
        return 0;
    };
    if scheme < 2 {
        return 0;
    }
    let body = s[i + scheme + sep..].iter().take_while(|c| !c.is_whitespace() && !"|]\\".contains(**c)).count();
    if body == 0 { 0 } else { scheme + sep + body }
}
