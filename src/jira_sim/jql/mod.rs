//! A bounded subset of JQL: clauses joined by `AND` over `project`, `key`,
//! `issuetype`, `status`, `labels`, `parent`, `created`, `updated`, custom
//! fields by name (`"ARKHITEKTON ID[Short text]"`) or number (`cf[10001]`),
//! with `= != ~ > >= < <= in / not in`, then `ORDER BY`. Anything else is a
//! 400 in Jira's words, so a client never silently relies on a query the
//! simulator half-understood.
//!
//! `parse` turns text into a `Query` (tokenizer, parser, field names,
//! dates); `eval` runs it against issues (matching and ORDER BY).

mod eval;
mod parse;

pub use parse::parse;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
}

#[derive(Debug, Clone)]
struct Clause {
    field: String,
    op: Op,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Query {
    clauses: Vec<Clause>,
    order: Vec<(String, bool)>,
}
