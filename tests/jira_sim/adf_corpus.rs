//! Good and bad ADF documents on which our validator and the official
//! schema must agree. Written by us, in the shape of the schema.

use serde_json::{Value, json};

use super::support::adf_text;

/// Documents both validators must judge alike: (document, valid?).
pub fn adf_corpus(rich_doc: Value) -> Vec<(Value, bool)> {
    let p = |content: Value| json!({ "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": content }] });
    let block = |b: Value| json!({ "type": "doc", "version": 1, "content": [b] });
    vec![
        (rich_doc, true),
        (adf_text("plain"), true),
        (json!({ "type": "doc", "version": 1, "content": [] }), true),
        (
            p(
                json!([{ "type": "text", "text": "x", "marks": [{ "type": "em" }, { "type": "strike" }, { "type": "textColor", "attrs": { "color": "#ff0000" } }] }]),
            ),
            true,
        ),
        (
            p(
                json!([{ "type": "text", "text": "x", "marks": [{ "type": "code" }, { "type": "link", "attrs": { "href": "/a" } }] }]),
            ),
            true,
        ),
        (
            p(
                json!([{ "type": "emoji", "attrs": { "shortName": ":smile:" } }, { "type": "date", "attrs": { "timestamp": "1700000000000" } }, { "type": "status", "attrs": { "text": "OK", "color": "green" } }, { "type": "inlineCard", "attrs": { "url": "https://x" } }]),
            ),
            true,
        ),
        (
            block(json!({ "type": "panel", "attrs": { "panelType": "info" }, "content": [{ "type": "paragraph" }] })),
            true,
        ),
        (
            block(
                json!({ "type": "blockquote", "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": "q" }] }] }),
            ),
            true,
        ),
        (
            block(
                json!({ "type": "orderedList", "attrs": { "order": 3 }, "content": [{ "type": "listItem", "content": [{ "type": "paragraph" }, { "type": "bulletList", "content": [{ "type": "listItem", "content": [{ "type": "paragraph" }] }] }] }] }),
            ),
            true,
        ),
        (
            block(
                json!({ "type": "table", "content": [{ "type": "tableRow", "content": [{ "type": "tableHeader", "content": [{ "type": "paragraph" }] }, { "type": "tableCell", "attrs": { "colspan": 2 }, "content": [{ "type": "paragraph" }] }] }] }),
            ),
            true,
        ),
        (
            block(
                json!({ "type": "paragraph", "marks": [{ "type": "alignment", "attrs": { "align": "center" } }], "content": [{ "type": "text", "text": "c" }] }),
            ),
            true,
        ),
        (block(json!({ "type": "heading", "attrs": { "level": 6 } })), true),
        (
            block(json!({ "type": "layoutSection", "marks": [{ "type": "breakout", "attrs": { "mode": "wide" } }],
                          "content": [
                              { "type": "layoutColumn", "attrs": { "width": 50 }, "content": [{ "type": "paragraph" }] },
                              { "type": "layoutColumn", "attrs": { "width": 50 }, "content": [{ "type": "rule" }] }] })),
            true,
        ),
        (
            block(json!({ "type": "layoutSection", "content": [
                              { "type": "layoutColumn", "attrs": { "width": 100 }, "content": [{ "type": "paragraph" }] }] })),
            false,
        ),
        (
            block(json!({ "type": "layoutSection", "content": [
                              { "type": "layoutColumn", "attrs": {}, "content": [{ "type": "paragraph" }] },
                              { "type": "layoutColumn", "attrs": { "width": 50 }, "content": [{ "type": "paragraph" }] }] })),
            false,
        ),
        (
            block(
                json!({ "type": "extension", "attrs": { "extensionKey": "toc", "extensionType": "com.atlassian.macro",
                                                         "parameters": { "x": 1 } } }),
            ),
            true,
        ),
        (block(json!({ "type": "extension", "attrs": { "extensionType": "com.atlassian.macro" } })), false),
        (
            block(json!({ "type": "bodiedExtension", "attrs": { "extensionKey": "k", "extensionType": "t" },
                          "content": [{ "type": "paragraph" }] })),
            true,
        ),
        (
            block(json!({ "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
                              { "type": "media", "attrs": { "type": "external", "url": "https://x/i.png" } },
                              { "type": "caption", "content": [{ "type": "text", "text": "c" }] }] })),
            true,
        ),
        (
            block(json!({ "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
                              { "type": "caption", "content": [{ "type": "text", "text": "c" }] },
                              { "type": "media", "attrs": { "type": "external", "url": "https://x/i.png" } }] })),
            false,
        ),
        (block(json!({ "type": "embedCard", "attrs": { "url": "https://x", "layout": "center" } })), true),
        (block(json!({ "type": "embedCard", "attrs": { "url": "https://x" } })), false),
        (
            p(json!([{ "type": "placeholder", "attrs": { "text": "Type here" } },
                     { "type": "mediaInline", "attrs": { "id": "a1", "collection": "c" } },
                     { "type": "inlineExtension", "attrs": { "extensionKey": "k", "extensionType": "t" } }])),
            true,
        ),
        (p(json!([{ "type": "mediaInline", "attrs": { "id": "a1" } }])), false),
        (p(json!([{ "type": "placeholder", "attrs": {} }])), false),
        (json!({ "type": "doc", "version": 2, "content": [] }), false),
        (json!({ "type": "doc", "content": [] }), false),
        (json!({ "type": "paragraph", "version": 1, "content": [] }), false),
        (json!({ "type": "doc", "version": 1, "content": [], "extra": 1 }), false),
        (p(json!([{ "type": "text", "text": "" }])), false),
        (p(json!([{ "type": "text" }])), false),
        (p(json!([{ "type": "text", "text": "x", "marks": [{ "type": "code" }, { "type": "strong" }] }])), false),
        (p(json!([{ "type": "text", "text": "x", "marks": [{ "type": "link" }] }])), false),
        (
            p(
                json!([{ "type": "text", "text": "x", "marks": [{ "type": "textColor", "attrs": { "color": "red" } }] }]),
            ),
            false,
        ),
        (p(json!([{ "type": "text", "text": "x", "marks": [{ "type": "bogus" }] }])), false),
        (p(json!([{ "type": "mention", "attrs": {} }])), false),
        (p(json!([{ "type": "status", "attrs": { "text": "x", "color": "pink" } }])), false),
        (p(json!([{ "type": "paragraph" }])), false),
        (block(json!({ "type": "text", "text": "top-level text" })), false),
        (block(json!({ "type": "heading", "attrs": { "level": 7 } })), false),
        (block(json!({ "type": "heading" })), false),
        (block(json!({ "type": "bulletList", "content": [] })), false),
        (block(json!({ "type": "bulletList", "content": [{ "type": "paragraph" }] })), false),
        (
            block(json!({ "type": "panel", "attrs": { "panelType": "purple" }, "content": [{ "type": "paragraph" }] })),
            false,
        ),
        (
            block(
                json!({ "type": "codeBlock", "content": [{ "type": "text", "text": "x", "marks": [{ "type": "strong" }] }] }),
            ),
            false,
        ),
        (block(json!({ "type": "rule", "content": [] })), false),
        (
            block(
                json!({ "type": "table", "content": [{ "type": "tableRow", "content": [{ "type": "tableCell", "content": [] }] }] }),
            ),
            false,
        ),
        (
            block(
                json!({ "type": "blockquote", "content": [{ "type": "paragraph", "marks": [{ "type": "alignment", "attrs": { "align": "end" } }] }] }),
            ),
            false,
        ),
        (block(json!({ "type": "paragraph", "attrs": { "color": "red" } })), false),
        (json!("not an object"), false),
    ]
}
