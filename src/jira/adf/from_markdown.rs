//! Markdown → ADF, driven by pulldown-cmark events.
//!
//! CommonMark with GitHub's extensions: strikethrough, tables (an ADF
//! table with a header row), task lists (an ADF task list), and alerts
//! (`> [!NOTE]` … an ADF panel). Images alone in their paragraph become an
//! image block (`mediaSingle` of an external `media`); `<u>`, `<sub>`,
//! `<sup>` become the underline and subsup marks, `<br>` a hard break.
//! Footnotes and math stay text.

use pulldown_cmark::{Alignment, BlockQuoteKind, CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::Value;

use super::node::{self, Align, Container, Inlines, Mark, Task};

/// CommonMark with GitHub's extensions, as this module reads it.
pub(super) const OPTIONS: Options = Options::ENABLE_STRIKETHROUGH
    .union(Options::ENABLE_TABLES)
    .union(Options::ENABLE_TASKLISTS)
    .union(Options::ENABLE_GFM);

pub(super) fn convert(md: &str) -> Value {
    let mut b = Builder::default();
    for event in Parser::new_ext(md, OPTIONS) {
        b.event(event);
    }
    b.finish()
}

/// A block that is still receiving children.
enum Frame {
    Quote(Vec<Value>),
    Panel(&'static str, Vec<Value>),
    List {
        ordered: bool,
        start: u64,
        items: Vec<(Value, Option<bool>)>,
    },
    /// A list item, with its task state once its `[ ]` / `[x]` was seen.
    Item(Vec<Value>, Option<bool>),
    Table {
        align: Vec<Align>,
        header: Vec<Inlines>,
        rows: Vec<Vec<Inlines>>,
        row: Vec<Inlines>,
        in_head: bool,
    },
}

/// Link or image being read: its target, and whether any text was seen
/// (an empty `[](url)` falls back to showing the URL).
struct Target {
    url: String,
    /// Whether ADF can hold the target as a link (see `node::safe_href`).
    safe: bool,
    had_text: bool,
    /// An image's alt text, collected apart from the paragraph.
    alt: Option<String>,
}

#[derive(Default)]
struct Builder {
    top: Vec<Value>,
    frames: Vec<Frame>,
    /// Open paragraph or heading (`Some(level)`), created lazily by text so
    /// that tight list items (text without a paragraph tag) still get one.
    para: Option<(Option<u8>, Inlines)>,
    /// An image that opened its paragraph: a block of its own if nothing
    /// else follows in the paragraph, else a link.
    lone_image: Option<(String, String)>,
    code: Option<(Option<String>, String)>,
    marks: Vec<Mark>,
    targets: Vec<Target>,
    /// `localId`s handed out (task lists need them).
    ids: u32,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        if let Some(alt) = self.targets.last_mut().and_then(|t| t.alt.as_mut()) {
            match &event {
                Event::Text(t) | Event::Code(t) => alt.push_str(t),
                Event::SoftBreak | Event::HardBreak => alt.push(' '),
                _ => {}
            }
            if !matches!(event, Event::End(TagEnd::Image)) {
                return;
            }
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) if self.code.is_some() => {
                if let Some((_, text)) = self.code.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::Text(t) => self.text(&t, None),
            Event::Code(t) => self.text(&t, Some(Mark::Code)),
            Event::InlineHtml(t) => self.inline_html(&t),
            Event::Html(t) => self.raw_lines(&t),
            Event::InlineMath(t) => self.text(&format!("${t}$"), None),
            Event::DisplayMath(t) => self.text(&format!("$${t}$$"), None),
            Event::FootnoteReference(t) => self.text(&format!("[^{t}]"), None),
            Event::TaskListMarker(done) => self.task_marker(done),
            Event::SoftBreak => {
                self.flush_image();
                let marks = self.marks.clone();
                self.ensure_para().soft_break(&marks);
            }
            Event::HardBreak => self.hard_break(),
            Event::Rule => {
                self.close_para();
                self.push_block(node::rule());
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.open_para(None),
            Tag::Heading { level, .. } => self.open_para(Some(level as u8)),
            Tag::BlockQuote(None) => self.open_frame(Frame::Quote(vec![])),
            Tag::BlockQuote(Some(kind)) => self.open_frame(Frame::Panel(panel_type(kind), vec![])),
            Tag::List(start) => {
                self.open_frame(Frame::List { ordered: start.is_some(), start: start.unwrap_or(1), items: vec![] })
            }
            Tag::Item => self.open_frame(Frame::Item(vec![], None)),
            Tag::Table(align) => self.open_frame(Frame::Table {
                align: align.iter().map(|a| align_of(*a)).collect(),
                header: vec![],
                rows: vec![],
                row: vec![],
                in_head: false,
            }),
            Tag::TableHead => self.in_table(|head, _| *head = true),
            Tag::TableRow => {}
            Tag::TableCell => self.open_para(None),
            Tag::CodeBlock(kind) => {
                self.close_para();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().map(str::to_owned),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some((lang, String::new()));
            }
            Tag::Emphasis => self.marks.push(Mark::Em),
            Tag::Strong => self.marks.push(Mark::Strong),
            Tag::Strikethrough => self.marks.push(Mark::Strike),
            Tag::Link { link_type, dest_url, title, .. } => {
                let title = (!title.is_empty()).then(|| title.to_string());
                let url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.to_string(),
                };
                let safe = node::safe_href(&url);
                if let Some(href) = &safe {
                    self.marks.push(Mark::Link(href.clone(), title.clone()));
                }
                self.targets.push(Target { url, safe: safe.is_some(), had_text: false, alt: None });
            }
            Tag::Image { dest_url, .. } => {
                let url = dest_url.to_string();
                self.targets.push(Target { url, safe: false, had_text: false, alt: Some(String::new()) });
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::HtmlBlock => self.close_para(),
            TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item | TagEnd::Table => self.close_frame(),
            TagEnd::TableHead => {
                self.in_table(|head, _| *head = false);
            }
            TagEnd::TableRow => self.in_table(|_, rows| rows.end_row()),
            TagEnd::TableCell => {
                self.flush_image();
                let inl = self.para.take().map(|(_, inl)| inl).unwrap_or_default();
                self.in_table(|head, rows| rows.cell(*head, inl));
            }
            TagEnd::CodeBlock => {
                if let Some((lang, mut text)) = self.code.take() {
                    if text.ends_with('\n') {
                        text.pop();
                    }
                    self.push_block(node::code_block(lang.as_deref(), &text));
                }
            }
            TagEnd::Emphasis => self.pop_mark(|m| *m == Mark::Em),
            TagEnd::Strong => self.pop_mark(|m| *m == Mark::Strong),
            TagEnd::Strikethrough => self.pop_mark(|m| *m == Mark::Strike),
            TagEnd::Link => {
                let target = self.targets.pop();
                if let Some(t) = &target
                    && t.safe
                {
                    if !t.had_text {
                        self.text(&t.url.clone(), None);
                    }
                    self.pop_mark(|m| matches!(m, Mark::Link(..)));
                } else if let Some(t) = target {
                    // No URL ADF can hold: the target is kept as text.
                    if t.had_text {
                        self.text(&format!(" ({})", t.url), None);
                    } else {
                        self.text(&t.url, None);
                    }
                }
            }
            TagEnd::Image => {
                if let Some(t) = self.targets.pop() {
                    self.image(t.url, t.alt.unwrap_or_default());
                }
            }
            _ => {}
        }
    }

    /// An image: a block when it opens its paragraph (kept back until the
    /// paragraph shows whether anything follows), else its alt text linked
    /// to the image; with no URL ADF can hold, its alt text.
    fn image(&mut self, url: String, alt: String) {
        let starts_para = self.para.as_ref().is_none_or(|(level, inl)| level.is_none() && inl.is_empty());
        let href = node::safe_href(&url);
        match href {
            Some(href) if starts_para && self.lone_image.is_none() => self.lone_image = Some((href, alt)),
            Some(href) => {
                self.flush_image();
                let shown = if alt.is_empty() { href.clone() } else { alt };
                self.text(&shown, Some(Mark::Link(href, None)));
            }
            None => {
                self.flush_image();
                self.text(if alt.is_empty() { &url } else { &alt }, None);
            }
        }
    }

    /// A kept-back image that turned out not to be alone: a link after all.
    fn flush_image(&mut self) {
        if let Some((href, alt)) = self.lone_image.take() {
            let shown = if alt.is_empty() { href.clone() } else { alt };
            let mut marks = self.marks.clone();
            marks.push(Mark::Link(href, None));
            self.ensure_para().text(&shown, &marks);
        }
    }

    fn task_marker(&mut self, done: bool) {
        match self.frames.last_mut() {
            Some(Frame::Item(_, task)) if self.para.as_ref().is_none_or(|(_, inl)| inl.is_empty()) => {
                *task = Some(done);
            }
            _ => self.text(if done { "[x] " } else { "[ ] " }, None),
        }
    }

    fn in_table(&mut self, f: impl FnOnce(&mut bool, &mut TableRows<'_>)) {
        if let Some(Frame::Table { header, rows, row, in_head, .. }) =
            self.frames.iter_mut().rev().find(|f| matches!(f, Frame::Table { .. }))
        {
            f(in_head, &mut TableRows { header, rows, row });
        }
    }

    /// `<u>`, `<sub>`, `<sup>` (and their closing tags) are marks, `<br>`
    /// a hard break; other inline HTML is text.
    fn inline_html(&mut self, html: &str) {
        let tag = html.trim().to_ascii_lowercase();
        let mark = |name: &str| match name {
            "u" | "ins" => Some(Mark::Underline),
            "sub" => Some(Mark::Sub),
            "sup" => Some(Mark::Sup),
            _ => None,
        };
        let inner = tag.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or_default();
        if let Some(m) = inner.strip_prefix('/').and_then(mark) {
            if self.marks.contains(&m) {
                return self.pop_mark(|x| *x == m);
            }
        } else if let Some(m) = mark(inner) {
            return self.marks.push(m);
        } else if matches!(inner.trim_end_matches('/').trim(), "br") {
            return self.hard_break();
        }
        self.text(html, None);
    }

    fn pop_mark(&mut self, is: impl Fn(&Mark) -> bool) {
        if let Some(i) = self.marks.iter().rposition(is) {
            self.marks.remove(i);
        }
    }

    /// Adds inline text with the current marks (and `extra`).
    fn text(&mut self, text: &str, extra: Option<Mark>) {
        if text.is_empty() {
            return;
        }
        self.flush_image();
        for t in &mut self.targets {
            t.had_text = true;
        }
        let mut marks = self.marks.clone();
        marks.extend(extra);
        self.ensure_para().text(text, &marks);
    }

    /// Raw HTML is kept verbatim as text, line by line.
    fn raw_lines(&mut self, html: &str) {
        let mut lines = html.trim_end_matches('\n').split('\n').peekable();
        while let Some(line) = lines.next() {
            self.text(line, None);
            if lines.peek().is_some() {
                self.hard_break();
            }
        }
    }

    fn hard_break(&mut self) {
        self.flush_image();
        self.ensure_para().hard_break();
    }

    fn ensure_para(&mut self) -> &mut Inlines {
        &mut self.para.get_or_insert_with(|| (None, Inlines::default())).1
    }

    fn open_para(&mut self, level: Option<u8>) {
        self.close_para();
        self.para = Some((level, Inlines::default()));
    }

    fn close_para(&mut self) {
        let image = self.lone_image.take();
        let para = self.para.take();
        if let Some((href, alt)) = image {
            match para {
                None => return self.push_block(node::image(&href, &alt)),
                Some((None, inl)) if inl.is_empty() => return self.push_block(node::image(&href, &alt)),
                other => {
                    self.para = other;
                    self.lone_image = Some((href, alt));
                    self.flush_image();
                    return self.close_para();
                }
            }
        }
        if let Some((level, inl)) = para {
            let block = match level {
                Some(l) => node::heading(l, inl),
                None => node::paragraph(inl),
            };
            self.push_block(block);
        }
    }

    fn open_frame(&mut self, frame: Frame) {
        self.close_para();
        self.frames.push(frame);
    }

    fn close_frame(&mut self) {
        self.close_para();
        let block = match self.frames.pop() {
            Some(Frame::Quote(children)) => node::blockquote(children),
            Some(Frame::Panel(kind, children)) => node::panel(kind, children),
            Some(Frame::List { ordered, start, items }) => self.list(ordered, start, items),
            Some(Frame::Item(children, task)) => {
                let item = node::list_item(children);
                match self.frames.last_mut() {
                    Some(Frame::List { items, .. }) => items.push((item, task)),
                    _ => self.push_block(item),
                }
                None
            }
            Some(Frame::Table { align, header, rows, .. }) => Some(node::table(Some(header), rows, &align)),
            None => None,
        };
        if let Some(block) = block {
            self.push_block(block);
        }
    }

    /// A list whose every item is a task, holding one paragraph and maybe
    /// nested task lists, is an ADF task list; any other list is a list,
    /// its tasks' state kept as a `[ ]` / `[x]` prefix.
    fn list(&mut self, ordered: bool, start: u64, items: Vec<(Value, Option<bool>)>) -> Option<Value> {
        if !ordered && !items.is_empty() && items.iter().all(|(_, t)| t.is_some()) {
            let tasks: Option<Vec<Task>> =
                items.iter().map(|(item, done)| as_task(item, done.unwrap_or(false))).collect();
            if let Some(tasks) = tasks {
                return Some(node::task_list(tasks, &mut self.ids));
            }
        }
        let items = items.into_iter().map(|(item, task)| with_task_prefix(item, task)).collect();
        node::list(ordered, start, items)
    }

    /// Places a finished block into the innermost open container.
    fn push_block(&mut self, block: Value) {
        match self.frames.last_mut() {
            None => self.top.extend(node::fit(Container::Doc, block)),
            Some(Frame::Quote(children)) | Some(Frame::Item(children, _)) | Some(Frame::Panel(_, children)) => {
                children.push(block);
            }
            Some(Frame::List { items, .. }) if block["type"] == "listItem" => items.push((block, None)),
            Some(Frame::List { items, .. }) => items.push((node::list_item(vec![block]), None)),
            Some(Frame::Table { .. }) => {} // tables hold only cells
        }
    }

    fn finish(mut self) -> Value {
        self.close_para();
        while !self.frames.is_empty() {
            self.close_frame();
        }
        node::doc(self.top)
    }
}

/// The rows of a table under construction.
struct TableRows<'a> {
    header: &'a mut Vec<Inlines>,
    rows: &'a mut Vec<Vec<Inlines>>,
    row: &'a mut Vec<Inlines>,
}

impl TableRows<'_> {
    fn cell(&mut self, head: bool, inl: Inlines) {
        if head { self.header.push(inl) } else { self.row.push(inl) }
    }

    fn end_row(&mut self) {
        if !self.row.is_empty() {
            self.rows.push(std::mem::take(self.row));
        }
    }
}

fn align_of(a: Alignment) -> Align {
    match a {
        Alignment::None => Align::None,
        Alignment::Left => Align::Left,
        Alignment::Center => Align::Center,
        Alignment::Right => Align::Right,
    }
}

/// GitHub's alert kinds and Jira's panel types, colour for colour.
pub(super) fn panel_type(kind: BlockQuoteKind) -> &'static str {
    match kind {
        BlockQuoteKind::Note => "info",
        BlockQuoteKind::Important => "note",
        BlockQuoteKind::Tip => "success",
        BlockQuoteKind::Warning => "warning",
        BlockQuoteKind::Caution => "error",
    }
}

/// A list item as a task: its first block a paragraph, anything after it
/// task lists (nested tasks).
fn as_task(item: &Value, done: bool) -> Option<Task> {
    let blocks = item["content"].as_array()?;
    let (first, rest) = blocks.split_first()?;
    if first["type"] != "paragraph" {
        return None;
    }
    let mut children = Vec::new();
    for nested in rest {
        if nested["type"] != "taskList" {
            return None;
        }
        children.extend(node::tasks_of(nested)?);
    }
    Some(Task { done, text: first["content"].as_array().cloned().unwrap_or_default(), children })
}

/// A list item whose task marker cannot be a task: `[ ]` / `[x]` before
/// its text.
fn with_task_prefix(mut item: Value, task: Option<bool>) -> Value {
    let Some(done) = task else { return item };
    let prefix = serde_json::json!({"type": "text", "text": if done { "[x] " } else { "[ ] " }});
    match item["content"].get_mut(0).filter(|b| b["type"] == "paragraph") {
        Some(para) => match para["content"].as_array_mut() {
            Some(content) => content.insert(0, prefix),
            None => para["content"] = serde_json::json!([prefix]),
        },
        None => {
            if let Some(content) = item["content"].as_array_mut() {
                content.insert(0, serde_json::json!({"type": "paragraph", "content": [prefix]}));
            }
        }
    }
    item
}
