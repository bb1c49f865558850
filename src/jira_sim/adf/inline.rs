//! Inline nodes and marks of ADF (text with its mark sets, mentions,
//! emoji, dates, status lozenges, inline cards, hard breaks, placeholders,
//! inline media and inline extensions).

use serde_json::{Map, Value};

use super::{ANY_NUM, Attr, AttrSpec, LOCAL_ID, check_attrs, node_type, only_keys};

/// Inline nodes: text (with marks) and the atom nodes.
pub(super) fn inline(node: &Value, path: &str) -> Result<(), String> {
    let obj = node.as_object().ok_or_else(|| format!("{path}: a node must be an object"))?;
    let ty = node_type(obj, path)?;
    let specs: &[AttrSpec] = match ty {
        "text" => return text(node, path, false),
        "inlineCard" => return inline_card(obj, path),
        "hardBreak" => &[("text", Attr::Enum(&["\n"]), false), LOCAL_ID],
        "mention" => &[
            ("id", Attr::Str, true),
            LOCAL_ID,
            ("text", Attr::Str, false),
            ("accessLevel", Attr::Str, false),
            ("userType", Attr::Enum(&["DEFAULT", "SPECIAL", "APP"]), false),
        ],
        "emoji" => &[("shortName", Attr::Str, true), ("id", Attr::Str, false), ("text", Attr::Str, false), LOCAL_ID],
        "date" => &[("timestamp", Attr::NonEmpty, true), LOCAL_ID],
        "status" => {
            &[("text", Attr::NonEmpty, true), ("color", Attr::StatusColor, true), LOCAL_ID, ("style", Attr::Str, false)]
        }
        "placeholder" => &[("text", Attr::Str, true), LOCAL_ID],
        "mediaInline" => return with_marks(obj, MEDIA_INLINE, &["dataConsumer", "link", "annotation", "border"], path),
        "inlineExtension" => return with_marks(obj, INLINE_EXTENSION, &["dataConsumer", "fragment"], path),
        other => return Err(format!("{path}: unsupported inline node type \"{other}\"")),
    };
    only_keys(obj, &["type", "attrs"], path)?;
    check_attrs(obj, specs, ty != "hardBreak", path)
}

const MEDIA_INLINE: &[AttrSpec] = &[
    ("type", Attr::Enum(&["link", "file", "image"]), false),
    LOCAL_ID,
    ("id", Attr::NonEmpty, true),
    ("alt", Attr::Str, false),
    ("collection", Attr::Str, true),
    ("occurrenceKey", Attr::NonEmpty, false),
    ("width", ANY_NUM, false),
    ("height", ANY_NUM, false),
    ("data", Attr::Any, false),
];

const INLINE_EXTENSION: &[AttrSpec] = &[
    ("extensionKey", Attr::NonEmpty, true),
    ("extensionType", Attr::NonEmpty, true),
    ("parameters", Attr::Any, false),
    ("text", Attr::Str, false),
    ("localId", Attr::NonEmpty, false),
];

/// An inline atom that may carry marks from `allowed`.
fn with_marks(obj: &Map<String, Value>, specs: &[AttrSpec], allowed: &[&str], path: &str) -> Result<(), String> {
    only_keys(obj, &["type", "attrs", "marks"], path)?;
    check_attrs(obj, specs, true, path)?;
    let marks = match obj.get("marks") {
        None => return Ok(()),
        Some(m) => m.as_array().ok_or_else(|| format!("{path}.marks must be an array"))?,
    };
    match mark_names(marks, path)?.into_iter().find(|n| !allowed.contains(n)) {
        Some(n) => Err(format!("{path}: mark \"{n}\" is not allowed here")),
        None => Ok(()),
    }
}

fn inline_card(obj: &Map<String, Value>, path: &str) -> Result<(), String> {
    only_keys(obj, &["type", "attrs"], path)?;
    let attrs = obj.get("attrs").and_then(Value::as_object).ok_or_else(|| format!("{path}: inlineCard needs attrs"))?;
    let url_form = check_attrs(obj, &[("url", Attr::Str, true), LOCAL_ID], true, path);
    let data_form = attrs.contains_key("data")
        && attrs.keys().all(|k| k == "data" || k == "localId")
        && attrs.get("localId").is_none_or(Value::is_string);
    if url_form.is_ok() || data_form {
        Ok(())
    } else {
        Err(format!("{path}: inlineCard needs attrs.url or attrs.data"))
    }
}

const FORMATTED: &[&str] =
    &["link", "em", "strong", "strike", "subsup", "underline", "textColor", "annotation", "backgroundColor"];
const CODE: &[&str] = &["code", "link", "annotation"];

pub(super) fn text(node: &Value, path: &str, plain: bool) -> Result<(), String> {
    let obj = node.as_object().ok_or_else(|| format!("{path}: a node must be an object"))?;
    if node_type(obj, path)? != "text" {
        return Err(format!("{path}: only text nodes are allowed here"));
    }
    only_keys(obj, &["type", "text", "marks"], path)?;
    if obj.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(format!("{path}: text must be a non-empty string"));
    }
    let Some(marks) = obj.get("marks") else {
        return Ok(());
    };
    let marks = marks.as_array().ok_or_else(|| format!("{path}.marks must be an array"))?;
    let names = mark_names(marks, path)?;
    let ok = if plain {
        names.is_empty()
    } else {
        [FORMATTED, CODE].iter().any(|set| names.iter().all(|n| set.contains(n)))
    };
    if ok { Ok(()) } else { Err(format!("{path}: marks {names:?} cannot be combined here")) }
}

/// Checks each mark's own shape and returns the mark type names.
pub(super) fn mark_names<'a>(marks: &'a [Value], path: &str) -> Result<Vec<&'a str>, String> {
    marks.iter().enumerate().map(|(i, m)| mark(m, &format!("{path}.marks[{i}]"))).collect()
}

fn mark<'a>(m: &'a Value, path: &str) -> Result<&'a str, String> {
    let obj = m.as_object().ok_or_else(|| format!("{path}: a mark must be an object"))?;
    let ty = node_type(obj, path)?;
    let specs: &[AttrSpec] = match ty {
        "strong" | "em" | "strike" | "underline" | "code" => {
            only_keys(obj, &["type"], path)?;
            return Ok(ty);
        }
        "link" => &[
            ("href", Attr::Str, true),
            ("title", Attr::Str, false),
            ("id", Attr::Str, false),
            ("collection", Attr::Str, false),
            ("occurrenceKey", Attr::Str, false),
        ],
        "subsup" => &[("type", Attr::Enum(&["sub", "sup"]), true)],
        "textColor" | "backgroundColor" => &[("color", Attr::Hex6, true)],
        "annotation" => &[("id", Attr::Str, true), ("annotationType", Attr::Enum(&["inlineComment"]), true)],
        "alignment" => &[("align", Attr::Enum(&["center", "end"]), true)],
        "indentation" => &[("level", Attr::Num(1.0, 6.0), true)],
        "fontSize" => &[("fontSize", Attr::Enum(&["small"]), true)],
        "breakout" => &[("mode", Attr::Enum(&["wide", "full-width"]), true), ("width", ANY_NUM, false)],
        "border" => &[("size", Attr::Num(1.0, 3.0), true), ("color", Attr::HexColor, true)],
        "dataConsumer" => &[("sources", Attr::StrList, true)],
        "fragment" => &[("localId", Attr::NonEmpty, true), ("name", Attr::Str, false)],
        other => return Err(format!("{path}: unsupported mark \"{other}\"")),
    };
    only_keys(obj, &["type", "attrs"], path)?;
    check_attrs(obj, specs, true, path)?;
    if ty == "link" {
        let href = obj["attrs"]["href"].as_str().unwrap_or_default();
        if !href.trim().is_empty() && !crate::jira::adf::is_safe_url(href.trim()) {
            return Err(format!("{path}.attrs.href: {href:?} is not a URL Jira accepts"));
        }
    }
    Ok(ty)
}
