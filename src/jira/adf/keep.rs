//! ADF → Markdown that keeps the Markdown people wrote where Jira still
//! holds it unchanged.
//!
//! A person who edits one paragraph of a description in Jira changes that
//! paragraph, not the spelling of the rest: `*` bullets, loose lists,
//! reference links, raw HTML, relative links (which ADF cannot hold as
//! links) and whatever else our canonical Markdown writes differently stay
//! as they were. Each top-level block of the previous Markdown is converted
//! on its own; where the new document holds exactly those ADF nodes, in
//! order, the block's own source is kept, and only what changed is
//! converted afresh.
//!
//! The result is accepted only when, written to Jira, it reads back as the
//! same ADF as the plain conversion would, or as exactly the document Jira
//! holds; otherwise the plain conversion is returned. It can therefore
//! differ from [`super::adf_to_markdown`] in spelling, never in meaning (as
//! far as ADF can tell).

use std::ops::Range;

use pulldown_cmark::{Event, Parser};
use serde_json::{Value, json};

use super::canonical::canonical;
use super::from_markdown::{self, OPTIONS};
use super::to_markdown;

/// `held` is what Jira holds of an ADF document we write: the document
/// itself on Cloud, what its wiki markup reads back as on Data Center.
pub(crate) fn convert(doc: &Value, before: &str, held: &dyn Fn(Value) -> Value) -> String {
    let plain = to_markdown::convert(doc);
    if before.trim().is_empty() || plain.is_empty() {
        return plain;
    }
    let Some(nodes) = doc.get("content").and_then(Value::as_array) else {
        return plain;
    };
    let (blocks, definitions) = blocks(before);
    let kept: Vec<(&str, Vec<String>)> = blocks
        .into_iter()
        .map(|r| {
            let source = before[r].trim_end();
            (source, top_nodes(&held(from_markdown::convert(&format!("{source}\n\n{definitions}")))))
        })
        .collect();
    let new: Vec<String> = nodes.iter().map(canonical).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut fresh: Vec<Value> = Vec::new();
    let (mut i, mut next_old) = (0, 0);
    while i < new.len() {
        let found = (next_old..kept.len()).find(|&k| !kept[k].1.is_empty() && new[i..].starts_with(&kept[k].1));
        match found {
            Some(k) => {
                flush(&mut fresh, &mut parts);
                parts.push(kept[k].0.to_owned());
                i += kept[k].1.len();
                next_old = k + 1;
            }
            None => {
                fresh.push(nodes[i].clone());
                i += 1;
            }
        }
    }
    flush(&mut fresh, &mut parts);
    let mut result = parts.join("\n\n");
    if !definitions.is_empty() {
        result = format!("{result}\n\n{definitions}");
    }
    let result = result.trim_end().to_owned() + "\n";
    // As faithful as the plain conversion, or exactly what Jira holds.
    let reads = |md: &str| canonical(&held(from_markdown::convert(md)));
    let ours = reads(&result);
    let same = ours == reads(&plain) || ours == canonical(doc);
    if same { result } else { plain }
}

/// Nodes not matched to a kept block, converted together (so adjacent lists
/// stay apart as the plain conversion keeps them).
fn flush(fresh: &mut Vec<Value>, parts: &mut Vec<String>) {
    if fresh.is_empty() {
        return;
    }
    let doc = json!({"type": "doc", "version": 1, "content": std::mem::take(fresh)});
    let text = to_markdown::convert(&doc);
    if !text.trim().is_empty() {
        parts.push(text.trim_end().to_owned());
    }
}

/// The top-level nodes of a converted document, in canonical form.
fn top_nodes(doc: &Value) -> Vec<String> {
    doc.get("content").and_then(Value::as_array).map_or_else(Vec::new, |n| n.iter().map(canonical).collect())
}

/// The source ranges of Markdown's top-level blocks, and its link reference
/// definitions (which any block may use), one per line.
fn blocks(md: &str) -> (Vec<Range<usize>>, String) {
    let mut parser = Parser::new_ext(md, OPTIONS).into_offset_iter();
    let mut ranges = Vec::new();
    let mut depth = 0usize;
    for (event, range) in &mut parser {
        match event {
            Event::Start(_) => {
                if depth == 0 {
                    ranges.push(range);
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ if depth == 0 => ranges.push(range),
            _ => {}
        }
    }
    let mut spans: Vec<Range<usize>> = parser.reference_definitions().iter().map(|(_, d)| d.span.clone()).collect();
    spans.sort_by_key(|s| s.start);
    let definitions: Vec<&str> = spans.into_iter().map(|s| md[s].trim()).collect();
    (ranges, definitions.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::super::{adf_to_markdown, markdown_to_adf};
    use super::*;

    fn same(doc: Value) -> Value {
        doc
    }

    /// The document Jira holds after a person changed the paragraph
    /// `which` (counted among top-level nodes) to `text`.
    fn edited(md: &str, which: usize, text: &str) -> Value {
        let mut doc = markdown_to_adf(md);
        doc["content"][which] = json!({"type": "paragraph", "content": [{"type": "text", "text": text}]});
        doc
    }

    #[test]
    fn blocks_nobody_edited_keep_their_spelling() {
        let before = "* one\n* two\n\nFirst paragraph.\n\n1) loose\n\n2) list\n\nSee [the doc](./doc.md) and [ref].\n\n<!-- note -->\n\n[ref]: https://x.example/r\n";
        let after = convert(&edited(before, 1, "Changed in Jira."), before, &same);
        assert_eq!(
            after,
            "* one\n* two\n\nChanged in Jira.\n\n1) loose\n\n2) list\n\nSee [the doc](./doc.md) and [ref].\n\n<!-- note -->\n\n[ref]: https://x.example/r\n"
        );
    }

    #[test]
    fn an_unchanged_document_comes_back_as_it_was_written() {
        let before = "Intro with <kbd>Ctrl</kbd>\n\n- a\n\n- b\n\n> quoted\n> > nested\n";
        assert_eq!(convert(&markdown_to_adf(before), before, &same), before);
    }

    #[test]
    fn added_and_removed_blocks_are_converted_and_dropped() {
        let before = "A\n\n* b\n\nC\n";
        let mut doc = markdown_to_adf(before);
        let content = doc["content"].as_array_mut().unwrap();
        content.remove(0);
        content.push(json!({"type": "paragraph", "content": [{"type": "text", "text": "D *literal*"}]}));
        assert_eq!(convert(&doc, before, &same), "* b\n\nC\n\nD \\*literal\\*\n");
    }

    #[test]
    fn a_result_that_would_read_differently_falls_back_to_the_plain_conversion() {
        // Kept `*` list followed by a new `*`-less list: joined, the two
        // would merge into one list, so nothing is kept.
        let before = "- a\n\nold\n";
        let mut doc = markdown_to_adf(before);
        doc["content"][1] = markdown_to_adf("- b\n")["content"][0].clone();
        let plain = adf_to_markdown(&doc);
        assert_eq!(convert(&doc, before, &same), plain);
        assert_eq!(markdown_to_adf(&plain)["content"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn nothing_before_is_the_plain_conversion() {
        let doc = markdown_to_adf("* x\n");
        assert_eq!(convert(&doc, "", &same), adf_to_markdown(&doc));
    }
}
