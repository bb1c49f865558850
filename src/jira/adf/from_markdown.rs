//! Markdown → ADF, driven by pulldown-cmark events.
//!
//! Only CommonMark plus strikethrough is enabled on purpose: with the table,
//! task-list and footnote extensions off, those constructs arrive as plain
//! text, which is exactly the "degrade to text" behaviour we want.

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::Value;

use super::node::{self, Container, Inlines, Mark};

pub(super) fn convert(md: &str) -> Value {
    let mut b = Builder::default();
    for event in Parser::new_ext(md, Options::ENABLE_STRIKETHROUGH) {
        b.event(event);
    }
    b.finish()
}

/// A block that is still receiving children.
enum Frame {
    Quote(Vec<Value>),
    List { ordered: bool, start: u64, items: Vec<Value> },
    Item(Vec<Value>),
}

/// Link or image being read: its target, and whether any text was seen
/// (an empty `[](url)` falls back to showing the URL).
struct Target {
    url: String,
    had_text: bool,
}

#[derive(Default)]
struct Builder {
    top: Vec<Value>,
    frames: Vec<Frame>,
    /// Open paragraph or heading (`Some(level)`), created lazily by text so
    /// that tight list items (text without a paragraph tag) still get one.
    para: Option<(Option<u8>, Inlines)>,
    code: Option<(Option<String>, String)>,
    marks: Vec<Mark>,
    targets: Vec<Target>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
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
            Event::Html(t) | Event::InlineHtml(t) => self.raw_lines(&t),
            Event::InlineMath(t) => self.text(&format!("${t}$"), None),
            Event::DisplayMath(t) => self.text(&format!("$${t}$$"), None),
            Event::FootnoteReference(t) => self.text(&format!("[^{t}]"), None),
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }, None),
            Event::SoftBreak | Event::HardBreak => self.hard_break(),
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
            Tag::BlockQuote(_) => self.open_frame(Frame::Quote(vec![])),
            Tag::List(start) => {
                self.open_frame(Frame::List { ordered: start.is_some(), start: start.unwrap_or(1), items: vec![] })
            }
            Tag::Item => self.open_frame(Frame::Item(vec![])),
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
            Tag::Link { link_type, dest_url, .. } => {
                let url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.to_string(),
                };
                self.marks.push(Mark::Link(url.clone()));
                self.targets.push(Target { url, had_text: false });
            }
            Tag::Image { dest_url, .. } => {
                self.targets.push(Target { url: dest_url.to_string(), had_text: false });
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::HtmlBlock => self.close_para(),
            TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item => self.close_frame(),
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
                self.end_target();
                self.pop_mark(|m| matches!(m, Mark::Link(_)));
            }
            TagEnd::Image => self.end_target(),
            _ => {}
        }
    }

    /// Shows the URL of a link or image that had no text of its own.
    fn end_target(&mut self) {
        match self.targets.pop() {
            Some(t) if !t.had_text => self.text(&t.url, None),
            _ => {}
        }
    }

    fn pop_mark(&mut self, is: impl Fn(&Mark) -> bool) {
        if let Some(i) = self.marks.iter().rposition(is) {
            self.marks.remove(i);
        }
    }

    /// Adds inline text with the current marks (and `extra`). Text inside an
    /// image is its alt text, kept as text with the surrounding marks.
    fn text(&mut self, text: &str, extra: Option<Mark>) {
        if text.is_empty() {
            return;
        }
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
        if let Some((level, inl)) = self.para.take() {
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
            Some(Frame::List { ordered, start, items }) => node::list(ordered, start, items),
            Some(Frame::Item(children)) => Some(node::list_item(children)),
            None => None,
        };
        if let Some(block) = block {
            self.push_block(block);
        }
    }

    /// Places a finished block into the innermost open container.
    fn push_block(&mut self, block: Value) {
        match self.frames.last_mut() {
            None => self.top.extend(node::fit(Container::Doc, block)),
            Some(Frame::Quote(children)) | Some(Frame::Item(children)) => {
                children.extend(node::fit(Container::Nested, block));
            }
            Some(Frame::List { items, .. }) if block["type"] == "listItem" => items.push(block),
            Some(Frame::List { items, .. }) => items.push(node::list_item(vec![block])),
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
