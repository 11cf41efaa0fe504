//! A page's visible text, gathered during the [`tokenize`] pass: the text of the page
//! outside `template` elements that is neither raw text (`script`, `style`, ...), RCDATA
//! (`title`, `textarea`) nor CDATA, character references decoded, whitespace collapsed,
//! with a word break where a block element (`p`, `div`, `li`, ...) starts or ends, as a
//! browser starts a line there (`<h1>Title</h1>Text` is `Title Text`).
//!
//! It gives what the lol_html pass gives (the differential test in `html` compares
//! them): an element is inside a `template` while the template is on lol_html's stack of
//! open elements, which an end tag pops up to the nearest open element of its name.
//!
//! [`tokenize`]: crate::scan::tokenize

use crate::capture::{same_name, MAX_OPEN_ELEMENTS};
use crate::scan::{Tag, TextKind, Visitor};
use crate::text::{decode_entities, is_block, Collapser};

/// A [`Visitor`] that gathers the visible text.
pub(crate) struct VisibleText<'a> {
    text: Collapser,
    /// The open elements, outermost first.
    stack: Vec<OpenElement<'a>>,
    /// How many `template`s are on the stack: text is visible only when none is.
    templates: usize,
    /// The next text run is the RCDATA or raw text of the element just started.
    element_text_next: bool,
    /// The page opened more than [`MAX_OPEN_ELEMENTS`] elements: the visitor stopped,
    /// and lol_html, linear on such pages, takes the text.
    gave_up: bool,
}

/// An element on a [`VisibleText`]'s stack.
struct OpenElement<'a> {
    /// Its name, as written.
    name: &'a str,
    /// It is a `template`: its content is not visible.
    template: bool,
    /// It is a block element ([`is_block`]): its end separates words.
    block: bool,
}

impl<'a> VisibleText<'a> {
    /// A visitor whose text is capped at `max_text` bytes.
    pub(crate) fn new(max_text: usize) -> Self {
        VisibleText {
            text: Collapser::new(max_text),
            stack: Vec::new(),
            templates: 0,
            element_text_next: false,
            gave_up: false,
        }
    }

    /// The text and whether the cap cut it; `None` when the visitor gave up on the page.
    pub(crate) fn finish(self) -> Option<(String, bool)> {
        (!self.gave_up).then(|| self.text.finish())
    }
}

impl<'a> Visitor<'a> for VisibleText<'a> {
    fn start_tag(&mut self, tag: &Tag<'a>) {
        if self.gave_up {
            return;
        }
        let name = tag.lower();
        let block = is_block(name);
        if block {
            self.text.separate();
        }
        self.element_text_next = tag.content.is_some();
        if tag.stays_open() {
            if self.stack.len() == MAX_OPEN_ELEMENTS {
                self.gave_up = true;
                self.stack = Vec::new();
                return;
            }
            let template = name == b"template";
            self.templates += usize::from(template);
            self.stack.push(OpenElement {
                name: tag.name(),
                template,
                block,
            });
        }
    }

    fn end_tag(&mut self, name: &'a str) {
        let Some(depth) = self
            .stack
            .iter()
            .rposition(|open| same_name(open.name, name))
        else {
            return;
        };
        // Mostly one element, the one the tag names; more when it closes others.
        let (mut block, mut templates) = (false, 0);
        for open in &self.stack[depth..] {
            block |= open.block;
            templates += usize::from(open.template);
        }
        if block {
            self.text.separate();
        }
        self.templates -= templates;
        self.stack.truncate(depth);
    }

    fn text(&mut self, text: &'a str, kind: TextKind) {
        if std::mem::take(&mut self.element_text_next) || self.gave_up {
            return;
        }
        if kind == TextKind::Data && self.templates == 0 {
            self.text.push(&decode_entities(text));
        }
    }

    fn wants_text(&self) -> bool {
        !self.gave_up
    }

    fn wants_attributes(&self, _: &[u8]) -> bool {
        false
    }
}
