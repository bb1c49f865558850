//! Markdown ⇄ Jira wiki markup (Jira Data Center REST v2, and the
//! `description` of every Jira webhook payload, Cloud included).
//!
//! Both directions go through ADF (see [`super::adf`]): wiki markup is
//! parsed into ADF and written from ADF. Markdown ↔ ADF is therefore the
//! single place where Markdown is read and written, and whatever the wiki
//! parser accepts is, by construction, valid ADF too.
//!
//! Round trip: for Markdown in the canonical form written by
//! `adf_to_markdown` that uses only what wiki markup can hold (no ordered
//! list starting elsewhere than 1, one paragraph per list item, code blocks
//! outside lists), `wiki_to_markdown(&markdown_to_wiki(md)) == md`. For any
//! wiki input, `markdown_to_adf(&wiki_to_markdown(w))` has the same text and
//! structure as `wiki_to_adf(w)`; marks agree except where CommonMark has no
//! spelling for them (see [`super::adf`]).
//!
//! Markup characters that are not markup (`2*3`, `snake_case_name`,
//! `a - b`, `well-known`, `http://x/a_b_`) follow Jira's rule that a
//! delimiter opens only after a non-letter and closes only before one, and
//! URLs are never searched for markup.

mod inline;
mod parse;
mod render;
mod write_inline;

use serde_json::Value;

use super::adf;

/// Converts Jira wiki markup to canonical Markdown.
pub fn wiki_to_markdown(wiki: &str) -> String {
    adf::adf_to_markdown(&wiki_to_adf(wiki))
}

/// Converts Jira wiki markup to Markdown, keeping the source of every
/// top-level block of `before` that the markup still holds unchanged (see
/// [`adf::adf_to_markdown_keeping`]).
pub fn wiki_to_markdown_keeping(wiki: &str, before: &str) -> String {
    adf::keep::convert(&wiki_to_adf(wiki), before, &|adf| wiki_to_adf(&adf_to_wiki(&adf)))
}

/// Converts Markdown to Jira wiki markup.
pub fn markdown_to_wiki(md: &str) -> String {
    adf_to_wiki(&adf::markdown_to_adf(md))
}

/// Converts Jira wiki markup to a schema-valid ADF document.
pub fn wiki_to_adf(wiki: &str) -> Value {
    parse::parse(wiki)
}

/// Converts an ADF document (or any ADF node) to Jira wiki markup.
pub fn adf_to_wiki(doc: &Value) -> String {
    render::render(doc)
}
