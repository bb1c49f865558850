//! Text → `Query`: the tokenizer, the clause and ORDER BY parser, JQL's
//! field names, and JQL dates resolved against the simulator's clock.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::{Clause, Op, Query};
use crate::jira_sim::catalog;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(String),
    Open,
    Close,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    _ => Tok::Comma,
                });
                i += 1;
            }
            '"' | '\'' => {
                let end =
                    chars[i + 1..].iter().position(|&d| d == c).ok_or("Error in the JQL Query: unterminated string")?;
                out.push(Tok::Quoted(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '=' | '!' | '~' | '<' | '>' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = if ["!=", "!~", ">=", "<="].contains(&two.as_str()) { two } else { c.to_string() };
                i += op.len();
                out.push(Tok::Op(op));
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"()=,!~<>\"'".contains(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn jql_error(msg: impl std::fmt::Display) -> String {
    format!("Error in the JQL Query: {msg}")
}

/// Parses `jql`; `now` resolves relative dates such as `-5m`.
pub fn parse(jql: &str, now: DateTime<Utc>) -> Result<Query, String> {
    let toks = tokenize(jql)?;
    let mut pos = 0;
    let mut clauses = Vec::new();
    while pos < toks.len() && !is_kw(toks.get(pos), "order") {
        if !clauses.is_empty() {
            if is_kw(toks.get(pos), "or") {
                return Err(jql_error("OR is not supported by this simulator; use IN"));
            }
            if !is_kw(toks.get(pos), "and") {
                return Err(jql_error(format!("Expecting either 'OR' or 'AND' at position {pos}")));
            }
            pos += 1;
        }
        clauses.push(parse_clause(&toks, &mut pos, now)?);
    }
    let order = parse_order(&toks, &mut pos)?;
    Ok(Query { clauses, order })
}

fn parse_clause(toks: &[Tok], pos: &mut usize, now: DateTime<Utc>) -> Result<Clause, String> {
    let (field, written) = match toks.get(*pos) {
        Some(Tok::Word(w) | Tok::Quoted(w)) => (canonical_field(w)?, w.clone()),
        _ => return Err(jql_error("Expecting a field name")),
    };
    *pos += 1;
    let op = match toks.get(*pos) {
        Some(Tok::Op(o)) => match o.as_str() {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "~" => Op::Like,
            "!~" => Op::NotLike,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            _ => Op::Le,
        },
        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") && is_kw(toks.get(*pos + 1), "in") => {
            *pos += 1;
            Op::NotIn
        }
        _ => return Err(jql_error(format!("Expecting an operator after '{field}'"))),
    };
    *pos += 1;
    check_operator(&field, &written, op)?;
    let values = if matches!(op, Op::In | Op::NotIn) { parse_list(toks, pos)? } else { vec![parse_value(toks, pos)?] };
    let values = if matches!(field.as_str(), "updated" | "created") {
        values.iter().map(|v| resolve_date(v, now)).collect::<Result<_, _>>()?
    } else {
        values
    };
    Ok(Clause { field, op, values })
}

/// Text fields are searched only with `~` and `!~` (`summary = "x"` is an
/// error in Jira, not an exact match), and only text fields take them.
fn check_operator(field: &str, written: &str, op: Op) -> Result<(), String> {
    let text = matches!(field, "summary" | "description" | "environment")
        || catalog::custom_field(field)
            .is_some_and(|f| matches!(f.kind, catalog::Kind::Text | catalog::Kind::RichText));
    let like = matches!(op, Op::Like | Op::NotLike);
    if text == like {
        return Ok(());
    }
    let symbol = match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Like => "~",
        Op::NotLike => "!~",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::In => "in",
        Op::NotIn => "not in",
    };
    Err(format!("The operator '{symbol}' is not supported by the '{written}' field."))
}

fn parse_value(toks: &[Tok], pos: &mut usize) -> Result<String, String> {
    let v = match toks.get(*pos) {
        Some(Tok::Word(w) | Tok::Quoted(w)) => w.clone(),
        _ => return Err(jql_error("Expecting a value")),
    };
    *pos += 1;
    Ok(v)
}

fn parse_list(toks: &[Tok], pos: &mut usize) -> Result<Vec<String>, String> {
    if toks.get(*pos) != Some(&Tok::Open) {
        return Err(jql_error("Expecting '(' after IN"));
    }
    *pos += 1;
    let mut values = vec![parse_value(toks, pos)?];
    while toks.get(*pos) == Some(&Tok::Comma) {
        *pos += 1;
        values.push(parse_value(toks, pos)?);
    }
    if toks.get(*pos) != Some(&Tok::Close) {
        return Err(jql_error("Expecting ')' to close the list"));
    }
    *pos += 1;
    Ok(values)
}

fn parse_order(toks: &[Tok], pos: &mut usize) -> Result<Vec<(String, bool)>, String> {
    if *pos >= toks.len() {
        return Ok(Vec::new());
    }
    if !is_kw(toks.get(*pos + 1), "by") {
        return Err(jql_error("Expecting 'BY' after 'ORDER'"));
    }
    *pos += 2;
    let mut order = Vec::new();
    loop {
        let field = canonical_field(&parse_value(toks, pos)?)?;
        let desc = if is_kw(toks.get(*pos), "desc") || is_kw(toks.get(*pos), "asc") {
            *pos += 1;
            is_kw(toks.get(*pos - 1), "desc")
        } else {
            false
        };
        order.push((field, desc));
        if toks.get(*pos) != Some(&Tok::Comma) {
            break;
        }
        *pos += 1;
    }
    if *pos < toks.len() {
        return Err(jql_error("Unexpected text after ORDER BY"));
    }
    Ok(order)
}

/// Maps a JQL field name to the issue field id it searches.
fn canonical_field(name: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    let system = match lower.as_str() {
        "project" => "project",
        "key" | "issuekey" | "id" => "key",
        "updated" | "updateddate" => "updated",
        "created" | "createddate" => "created",
        "issuetype" | "type" => "issuetype",
        "status" => "status",
        "labels" => "labels",
        "parent" => "parent",
        "summary" => "summary",
        "priority" => "priority",
        "\"epic link\"" | "epic link" => catalog::EPIC_LINK,
        _ => "",
    };
    if !system.is_empty() {
        return Ok(system.to_string());
    }
    let by_number = lower.strip_prefix("cf[").and_then(|s| s.strip_suffix(']')).map(|n| format!("customfield_{n}"));
    let found = catalog::CUSTOM_FIELDS.iter().find(|f| {
        by_number.as_deref() == Some(f.id)
            || lower == f.id
            || lower == f.name.to_ascii_lowercase()
            || lower == format!("{}[{}]", f.name, f.jql_type).to_ascii_lowercase()
    });
    found
        .map(|f| f.id.to_string())
        .ok_or_else(|| format!("Field '{name}' does not exist or you do not have permission to view it."))
}

/// JQL dates are minute-precision in the user's zone (UTC here):
/// `"2024-10-08 16:38"`, `"2024/10/08"`, or relative `-5m`, `-2h`, `-1d`, `-1w`.
fn resolve_date(v: &str, now: DateTime<Utc>) -> Result<String, String> {
    let bad = || {
        format!(
            "Date value '{v}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
        )
    };
    let norm = v.replace('/', "-");
    if let Ok(t) = NaiveDateTime::parse_from_str(&norm, "%Y-%m-%d %H:%M") {
        return Ok(t.and_utc().to_rfc3339());
    }
    if let Ok(d) = NaiveDate::parse_from_str(&norm, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc().to_rfc3339());
    }
    // The unit is the last character, which need not be one byte long.
    let unit = v.chars().last().ok_or_else(bad)?;
    let n: i64 = v[..v.len() - unit.len_utf8()].trim().parse().map_err(|_| bad())?;
    let d = match unit {
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => None,
    };
    let t = d.and_then(|d| now.checked_add_signed(d)).ok_or_else(bad)?;
    Ok(t.to_rfc3339())
}
