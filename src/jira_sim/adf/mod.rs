//! A structural validator for Atlassian Document Format, written from the
//! official JSON schema (`@atlaskit/adf-schema` full.json) because the
//! shipped binary cannot read that schema at run time.
//!
//! It covers the nodes and marks a work-item sync produces and a person
//! typically writes in Jira (paragraphs, headings, lists, code, quotes,
//! panels, tables, rules, task and decision lists, images, expands, block
//! cards, mentions, emoji, dates, status lozenges, inline cards, layouts,
//! extensions, embed cards, captions, placeholders, inline media and every
//! mark). Nodes outside that set (sync blocks, multi-bodied extensions) are
//! rejected with a message naming the node: stricter than Jira, never
//! looser. A link's `href` must be a URL Atlassian's validator accepts
//! (`crate::jira::adf::is_safe_url`). The contract test checks agreement
//! with the official schema on a corpus of good and bad documents.

use serde_json::{Map, Value};

mod inline;

use inline::{inline, mark_names, text};

/// Validates a whole document (`{"type":"doc","version":1,"content":[…]}`).
pub fn validate(doc: &Value) -> Result<(), String> {
    let obj = doc.as_object().ok_or("the document must be a JSON object")?;
    only_keys(obj, &["type", "version", "content"], "doc")?;
    if obj.get("type").and_then(Value::as_str) != Some("doc") {
        return Err("the root node must have type \"doc\"".into());
    }
    if obj.get("version").and_then(Value::as_i64) != Some(1) || !is_int(obj.get("version")) {
        return Err("doc.version must be 1".into());
    }
    let content = obj.get("content").and_then(Value::as_array).ok_or("doc.content must be an array")?;
    for (i, child) in content.iter().enumerate() {
        block(child, "doc", &format!("content[{i}]"))?;
    }
    Ok(())
}

fn is_int(v: Option<&Value>) -> bool {
    v.is_some_and(|v| v.is_i64() || v.is_u64())
}

/// The schema's `block_content`: what a layout column holds (and, with
/// layout sections, the document).
const BLOCK_CONTENT: &[&str] = &[
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
    "table",
    "taskList",
    "decisionList",
    "mediaSingle",
    "mediaGroup",
    "expand",
    "blockCard",
    "embedCard",
    "extension",
    "bodiedExtension",
];

/// The schema's `non_nestable_block_content`: what a bodied extension holds
/// (and, with nested expands, an expand).
const NON_NESTABLE: &[&str] = &[
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
    "table",
    "taskList",
    "decisionList",
    "mediaSingle",
    "mediaGroup",
    "blockCard",
    "embedCard",
    "extension",
];

/// Whether block node `child` may sit inside block container `parent`.
fn allows(parent: &str, child: &str) -> bool {
    let children: &[&str] = match parent {
        "doc" => return child == "layoutSection" || BLOCK_CONTENT.contains(&child),
        "expand" => return child == "nestedExpand" || NON_NESTABLE.contains(&child),
        "layoutColumn" => BLOCK_CONTENT,
        "bodiedExtension" => NON_NESTABLE,
        "listItem" => &["paragraph", "bulletList", "orderedList", "codeBlock", "taskList", "mediaSingle", "extension"],
        "bulletList" | "orderedList" => &["listItem"],
        "blockquote" => {
            &["paragraph", "orderedList", "bulletList", "codeBlock", "mediaSingle", "mediaGroup", "extension"]
        }
        "layoutSection" => &["layoutColumn"],
        "panel" => &[
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "codeBlock",
            "rule",
            "mediaSingle",
            "mediaGroup",
            "taskList",
            "decisionList",
            "blockCard",
        ],
        "table" => &["tableRow"],
        "tableRow" => &["tableCell", "tableHeader"],
        "tableCell" | "tableHeader" => &[
            "paragraph",
            "panel",
            "blockquote",
            "orderedList",
            "bulletList",
            "rule",
            "heading",
            "codeBlock",
            "mediaSingle",
            "mediaGroup",
            "taskList",
            "decisionList",
            "nestedExpand",
            "blockCard",
        ],
        "taskList" => &["taskItem", "taskList"],
        "decisionList" => &["decisionItem"],
        "mediaSingle" => &["media", "caption"],
        "mediaGroup" => &["media"],
        "nestedExpand" => &[
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "codeBlock",
            "blockquote",
            "rule",
            "panel",
            "taskList",
            "decisionList",
            "mediaSingle",
            "mediaGroup",
        ],
        _ => &[],
    };
    children.contains(&child)
}

/// Mark sets a block node may carry, by parent; a node's marks must all
/// fall in one of the sets (the schema's `*_with_alignment`, … variants).
fn block_mark_sets(node: &str, parent: &str) -> &'static [&'static [&'static str]] {
    match (node, parent) {
        ("mediaSingle", _) => &[&["link"]],
        ("media", _) => &[&["link", "annotation", "border"]],
        ("expand", "doc") => &[&["breakout"]],
        ("paragraph", "doc") => &[&["fontSize", "alignment"], &["fontSize", "indentation"]],
        ("paragraph", "listItem" | "panel") => &[&["fontSize"]],
        ("paragraph", "tableCell" | "tableHeader") => &[&["fontSize", "alignment"]],
        ("heading", "doc" | "tableCell" | "tableHeader") => &[&["alignment"], &["indentation"]],
        ("codeBlock", "doc") => &[&["breakout"]],
        ("layoutSection", "doc") => &[&["breakout"]],
        ("extension" | "bodiedExtension", _) => &[&["dataConsumer", "fragment"]],
        _ => &[],
    }
}

#[derive(Clone, Copy)]
enum Attr {
    Str,
    NonEmpty,
    Num(f64, f64),
    Bool,
    NumArray,
    Enum(&'static [&'static str]),
    Hex6,
    /// `#rrggbb` or `#rrggbbaa`.
    HexColor,
    /// A non-empty array of strings.
    StrList,
    StatusColor,
    Any,
}

type AttrSpec = (&'static str, Attr, bool);

const LOCAL_ID: AttrSpec = ("localId", Attr::Str, false);
const ANY_NUM: Attr = Attr::Num(f64::MIN, f64::MAX);

/// Attributes per block node: (allowed attrs, whether `attrs` is required).
fn block_attrs(node: &str) -> Option<(&'static [AttrSpec], bool)> {
    Some(match node {
        "paragraph" | "bulletList" | "listItem" | "blockquote" | "rule" | "tableRow" => (&[LOCAL_ID], false),
        "heading" => (&[("level", Attr::Num(1.0, 6.0), true), LOCAL_ID], true),
        "orderedList" => (&[("order", Attr::Num(0.0, f64::MAX), false), LOCAL_ID], false),
        "codeBlock" => (
            &[
                ("language", Attr::Str, false),
                ("uniqueId", Attr::Str, false),
                LOCAL_ID,
                ("wrap", Attr::Bool, false),
                ("hideLineNumbers", Attr::Bool, false),
            ],
            false,
        ),
        "panel" => (
            &[
                ("panelType", Attr::Enum(&["info", "note", "tip", "warning", "error", "success", "custom"]), true),
                ("panelIcon", Attr::Str, false),
                ("panelIconId", Attr::Str, false),
                ("panelIconText", Attr::Str, false),
                ("panelColor", Attr::Str, false),
                LOCAL_ID,
            ],
            true,
        ),
        "table" => (
            &[
                ("displayMode", Attr::Enum(&["default", "fixed"]), false),
                ("isNumberColumnEnabled", Attr::Bool, false),
                ("layout", Attr::Enum(&["wide", "full-width", "center", "align-end", "align-start", "default"]), false),
                ("localId", Attr::NonEmpty, false),
                ("width", ANY_NUM, false),
            ],
            false,
        ),
        "tableCell" | "tableHeader" => (
            &[
                ("colspan", ANY_NUM, false),
                ("rowspan", ANY_NUM, false),
                ("colwidth", Attr::NumArray, false),
                ("background", Attr::Str, false),
                LOCAL_ID,
                ("valign", Attr::Enum(&["top", "middle", "bottom"]), false),
            ],
            false,
        ),
        "taskList" | "decisionList" => (&[("localId", Attr::Str, true)], true),
        "taskItem" => (&[("localId", Attr::Str, true), ("state", Attr::Enum(&["TODO", "DONE"]), true)], true),
        "decisionItem" => (&[("localId", Attr::Str, true), ("state", Attr::Str, true)], true),
        "mediaSingle" => (
            &[
                ("layout", Attr::Enum(MEDIA_LAYOUTS), true),
                ("width", ANY_NUM, false),
                ("widthType", Attr::Enum(&["percentage", "pixel"]), false),
                LOCAL_ID,
            ],
            false,
        ),
        "mediaGroup" => (&[LOCAL_ID], false),
        "media" => (
            &[
                ("type", Attr::Enum(&["file", "link", "external"]), true),
                ("id", Attr::NonEmpty, false),
                ("collection", Attr::Str, false),
                ("url", Attr::Str, false),
                ("alt", Attr::Str, false),
                ("width", ANY_NUM, false),
                ("height", ANY_NUM, false),
                ("occurrenceKey", Attr::NonEmpty, false),
                LOCAL_ID,
            ],
            true,
        ),
        "expand" | "nestedExpand" => (&[("title", Attr::Str, false), LOCAL_ID], false),
        "blockCard" => (&[("url", Attr::Str, false), ("data", Attr::Any, false), LOCAL_ID], true),
        "embedCard" => (
            &[
                ("url", Attr::Str, true),
                ("layout", Attr::Enum(MEDIA_LAYOUTS), true),
                ("width", Attr::Num(0.0, 100.0), false),
                ("originalHeight", ANY_NUM, false),
                ("originalWidth", ANY_NUM, false),
                LOCAL_ID,
            ],
            true,
        ),
        "layoutSection" | "caption" => (&[LOCAL_ID], false),
        "layoutColumn" => (
            &[
                ("width", Attr::Num(0.0, 100.0), true),
                LOCAL_ID,
                ("valign", Attr::Enum(&["top", "middle", "bottom"]), false),
            ],
            true,
        ),
        "extension" | "bodiedExtension" => (EXTENSION_ATTRS, true),
        _ => return None,
    })
}

/// Attributes of `extension` and `bodiedExtension` (the inline kind has no
/// `layout`).
const EXTENSION_ATTRS: &[AttrSpec] = &[
    ("extensionKey", Attr::NonEmpty, true),
    ("extensionType", Attr::NonEmpty, true),
    ("parameters", Attr::Any, false),
    ("text", Attr::Str, false),
    ("layout", Attr::Enum(&["wide", "full-width", "default"]), false),
    ("localId", Attr::NonEmpty, false),
];

const MEDIA_LAYOUTS: &[&str] = &["wide", "full-width", "center", "wrap-right", "wrap-left", "align-end", "align-start"];

/// Content rule per block node: (child kind, minimum count, required).
fn block_content(node: &str) -> (Option<&'static str>, usize, bool) {
    match node {
        "paragraph" | "heading" => (Some("inline"), 0, false),
        "taskItem" | "decisionItem" => (Some("inline"), 0, false),
        "codeBlock" => (Some("plain-text"), 0, false),
        "rule" | "media" | "blockCard" | "embedCard" | "extension" => (None, 0, false),
        "caption" => (Some("inline"), 0, false),
        // As the document holds it (`layoutSection_full`): two or three columns.
        "layoutSection" => (Some("block"), 2, true),
        "tableRow" => (Some("block"), 0, true),
        _ => (Some("block"), 1, true),
    }
}

fn block(node: &Value, parent: &str, path: &str) -> Result<(), String> {
    let obj = node.as_object().ok_or_else(|| format!("{path}: a node must be an object"))?;
    let ty = node_type(obj, path)?;
    if !allows(parent, ty) {
        return Err(format!("{path}: node type \"{ty}\" is not allowed in \"{parent}\""));
    }
    let (attrs, attrs_required) = block_attrs(ty).ok_or_else(|| format!("{path}: unsupported node type \"{ty}\""))?;
    let (child_kind, min, content_required) = block_content(ty);
    let mut keys = vec!["type", "attrs"];
    if child_kind.is_some() {
        keys.push("content");
    }
    if !matches!(
        ty,
        "bulletList"
            | "orderedList"
            | "listItem"
            | "blockquote"
            | "rule"
            | "panel"
            | "tableRow"
            | "tableCell"
            | "tableHeader"
            | "taskList"
            | "taskItem"
            | "decisionList"
            | "decisionItem"
            | "mediaGroup"
            | "nestedExpand"
            | "blockCard"
            | "embedCard"
            | "layoutColumn"
            | "caption"
    ) {
        keys.push("marks");
    }
    only_keys(obj, &keys, path)?;
    check_attrs(obj, attrs, attrs_required, path)?;
    check_block_marks(obj, ty, parent, path)?;
    let Some(kind) = child_kind else {
        return Ok(());
    };
    let children = match obj.get("content") {
        None if content_required => return Err(format!("{path}: \"{ty}\" requires content")),
        None => return Ok(()),
        Some(c) => c.as_array().ok_or_else(|| format!("{path}.content must be an array"))?,
    };
    if children.len() < min {
        return Err(format!("{path}: \"{ty}\" needs at least {min} child node(s)"));
    }
    let max = match ty {
        "layoutSection" => 3,
        "mediaSingle" => 2,
        _ => usize::MAX,
    };
    if children.len() > max {
        return Err(format!("{path}: \"{ty}\" takes at most {max} child node(s)"));
    }
    if ty == "mediaSingle" && children.iter().skip(1).any(|c| c["type"] == "media") {
        return Err(format!("{path}: \"mediaSingle\" holds one media, then an optional caption"));
    }
    if ty == "mediaSingle" && children.first().is_some_and(|c| c["type"] == "caption") {
        return Err(format!("{path}: a caption follows the media of \"mediaSingle\""));
    }
    for (i, child) in children.iter().enumerate() {
        let p = format!("{path}.content[{i}]");
        match kind {
            "inline" => inline(child, &p)?,
            "plain-text" => text(child, &p, true)?,
            _ => block(child, ty, &p)?,
        }
    }
    Ok(())
}

fn check_block_marks(obj: &Map<String, Value>, ty: &str, parent: &str, path: &str) -> Result<(), String> {
    let Some(marks) = obj.get("marks") else {
        return Ok(());
    };
    let marks = marks.as_array().ok_or_else(|| format!("{path}.marks must be an array"))?;
    if marks.is_empty() {
        return Ok(());
    }
    let names = mark_names(marks, path)?;
    let sets = block_mark_sets(ty, parent);
    if !sets.iter().any(|set| names.iter().all(|n| set.contains(n))) {
        return Err(format!("{path}: marks {names:?} are not allowed on \"{ty}\" inside \"{parent}\""));
    }
    Ok(())
}

fn node_type<'a>(obj: &'a Map<String, Value>, path: &str) -> Result<&'a str, String> {
    obj.get("type").and_then(Value::as_str).ok_or_else(|| format!("{path}: a node needs a string \"type\""))
}

fn only_keys(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{path}: unexpected property \"{k}\"")),
        None => Ok(()),
    }
}

fn check_attrs(obj: &Map<String, Value>, specs: &[AttrSpec], required: bool, path: &str) -> Result<(), String> {
    let attrs = match obj.get("attrs") {
        None if required => return Err(format!("{path}: attrs are required")),
        None => return Ok(()),
        Some(a) => a.as_object().ok_or_else(|| format!("{path}.attrs must be an object"))?,
    };
    for (k, v) in attrs {
        let (_, ty, _) =
            specs.iter().find(|(n, ..)| n == k).ok_or_else(|| format!("{path}.attrs: unexpected attribute \"{k}\""))?;
        if !attr_ok(*ty, v) {
            return Err(format!("{path}.attrs.{k}: invalid value {v}"));
        }
    }
    match specs.iter().find(|(n, _, req)| *req && !attrs.contains_key(*n)) {
        Some((n, ..)) => Err(format!("{path}.attrs: \"{n}\" is required")),
        None => Ok(()),
    }
}

fn attr_ok(ty: Attr, v: &Value) -> bool {
    match ty {
        Attr::Str => v.is_string(),
        Attr::NonEmpty => v.as_str().is_some_and(|s| !s.is_empty()),
        Attr::Num(lo, hi) => v.as_f64().is_some_and(|n| n >= lo && n <= hi),
        Attr::Bool => v.is_boolean(),
        Attr::NumArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_number)),
        Attr::Enum(options) => v.as_str().is_some_and(|s| options.contains(&s)),
        Attr::Hex6 => v.as_str().is_some_and(is_hex6),
        Attr::HexColor => v.as_str().is_some_and(|s| {
            (s.len() == 7 || s.len() == 9) && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
        }),
        Attr::StrList => v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
        Attr::Any => true,
        Attr::StatusColor => v
            .as_str()
            .is_some_and(|s| ["neutral", "purple", "blue", "red", "yellow", "green"].contains(&s) || is_hex6(s)),
    }
}

fn is_hex6(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}
