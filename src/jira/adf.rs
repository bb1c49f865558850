//! Markdown ⇄ Atlassian Document Format (Jira Cloud REST v3).
//!
//! Guarantees:
//! * [`markdown_to_adf`] always returns a document that validates against
//!   the ADF JSON schema (`adf-schema` `full.json`); whatever ADF cannot hold
//!   (HTML, tables, images, footnotes, task lists…) arrives as plain text.
//! * [`adf_to_markdown`] never panics and keeps the text of nodes it does
//!   not understand (mentions, emoji, cards, panels, expands, tables…).
//! * Round trip. Markdown in canonical form (what [`adf_to_markdown`]
//!   writes: `-` bullets, `**strong**`, `*em*`, `~~strike~~`, a link outside
//!   other marks, fenced code, ATX headings, `---`, one blank line between
//!   blocks, tight lists, line breaks as bare newlines, no trailing spaces)
//!   comes back byte for byte: `adf_to_markdown(&markdown_to_adf(md)) == md`.
//!   Any other Markdown comes back in canonical form with the same text and
//!   block structure, and a second round trip changes nothing. Marks survive
//!   as well, except where CommonMark has no spelling for them after
//!   re-escaping (a `**` run between punctuation and a letter): those are
//!   dropped rather than written as stray `*`. Image syntax is replaced by
//!   its alt text on the way in.
//!
//! Line breaks: a soft break (a plain newline inside a paragraph) becomes a
//! `hardBreak`, like a hard break. Work-item text is written line by line
//! and the tools our users come from (GitHub, Jira itself) show those lines;
//! joining them with spaces would reflow acceptance criteria into one blob.

mod canonical;
mod from_markdown;
mod inline_md;
pub(crate) mod keep;
pub(crate) mod node;
pub(crate) mod read;
pub(crate) mod runs;
mod to_markdown;

use serde_json::Value;

/// Whether Atlassian's validator accepts `url` as a link target (an
/// allowed scheme, a path from the root or a fragment).
pub fn is_safe_url(url: &str) -> bool {
    node::is_safe_url(url)
}

/// Converts Markdown to an ADF `doc` node (`{"type":"doc","version":1,…}`).
pub fn markdown_to_adf(md: &str) -> Value {
    from_markdown::convert(md)
}

/// Converts an ADF document (or any ADF node) to canonical Markdown, ending
/// with a newline unless empty.
pub fn adf_to_markdown(doc: &Value) -> String {
    to_markdown::convert(doc)
}

/// Converts an ADF document to Markdown, keeping the source of every
/// top-level block of `before` (the field's Markdown until now) that the
/// document still holds unchanged; see `keep`. Means what
/// [`adf_to_markdown`] means.
pub fn adf_to_markdown_keeping(doc: &Value, before: &str) -> String {
    keep::convert(doc, before, &|adf| adf)
}

/// Jira rich text (an ADF document or wiki markup) in canonical form: two
/// values say the same when their forms are equal. Key order, Jira's
/// `localId`s, empty `attrs`/`marks`/`content` and line-ending or
/// trailing-space differences in wiki text do not count, and an empty
/// document, an empty string and null are one value (nothing).
pub fn canonical(value: &Value) -> String {
    canonical::canonical(value)
}
