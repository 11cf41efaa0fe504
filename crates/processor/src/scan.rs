//! A fast single pass over an HTML page: a tokenizer that hands start tags, end tags and
//! text to a [`Visitor`] and builds nothing but slices of the page.
//!
//! It follows the HTML tokenizer where it matters for what a record takes from a page
//! (comments, doctype and bogus comments, quoted and unquoted attribute values, raw text
//! of `script`, `style` and friends with the script-data escape states, RCDATA of
//! `title` and `textarea`, `plaintext`), and the foreign content of `<svg>` and `<math>`
//! as lol_html follows it (`namespace`).
//! lol_html does the same job several times slower, because it lexes every attribute of
//! every tag for its selector engine; this tokenizer reads the attributes of a tag only
//! when a visitor asks for them ([`Visitor::wants_attributes`]) or in foreign content,
//! and otherwise only looks for the tag's end.

use std::borrow::Cow;

use memchr::{memchr, memmem};

use crate::namespace::{Namespace, Namespaces};
use crate::text::{decode_entities, equal_bytes, find_byte};

/// How the text of a run is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    /// Data or RCDATA (`title`, `textarea`): character references are decoded.
    Data,
    /// Raw text (`script`, `style`, `plaintext` and friends): taken as written.
    Raw,
}

/// What receives the tokens of a page, in document order.
pub(crate) trait Visitor<'a> {
    /// A start tag. Its raw text or RCDATA content, if it has any, is in
    /// [`Tag::content`] and also follows as a [`Visitor::text`] call; a CDATA section
    /// in foreign content is a [`TextKind::Raw`] text call.
    fn start_tag(&mut self, tag: &Tag<'a>);
    /// An end tag, with its name as written.
    fn end_tag(&mut self, name: &'a str);
    /// A run of text between tags (never empty), when [`Visitor::wants_text`].
    fn text(&mut self, text: &'a str, kind: TextKind);
    /// Whether the next run of text is of use: most visitors want none, or only inside
    /// some elements, and the tokenizer skips handing on the runs nobody wants.
    fn wants_text(&self) -> bool;
    /// Whether the attributes of the start tag being read, named `name` (lower case),
    /// are of use: when no visitor reads them, the tokenizer only looks for the tag's
    /// end, and [`Tag::raw`] finds none of them.
    fn wants_attributes(&self, name: &[u8]) -> bool;
}

// The two impls below only dispatch: they are always inlined, because the tokenizer is
// too large for the compiler to inline them on its own, and a call for every token
// cost 4 % of the page's analysis (measured side by side).
impl<'a, V: Visitor<'a>> Visitor<'a> for Option<V> {
    #[inline(always)]
    fn start_tag(&mut self, tag: &Tag<'a>) {
        if let Some(v) = self {
            v.start_tag(tag);
        }
    }

    #[inline(always)]
    fn end_tag(&mut self, name: &'a str) {
        if let Some(v) = self {
            v.end_tag(name);
        }
    }

    #[inline(always)]
    fn text(&mut self, text: &'a str, kind: TextKind) {
        if let Some(v) = self {
            v.text(text, kind);
        }
    }

    #[inline(always)]
    fn wants_text(&self) -> bool {
        self.as_ref().is_some_and(V::wants_text)
    }

    #[inline(always)]
    fn wants_attributes(&self, name: &[u8]) -> bool {
        self.as_ref().is_some_and(|v| v.wants_attributes(name))
    }
}

impl<'a, A: Visitor<'a>, B: Visitor<'a>> Visitor<'a> for (A, B) {
    #[inline(always)]
    fn start_tag(&mut self, tag: &Tag<'a>) {
        self.0.start_tag(tag);
        self.1.start_tag(tag);
    }

    #[inline(always)]
    fn end_tag(&mut self, name: &'a str) {
        self.0.end_tag(name);
        self.1.end_tag(name);
    }

    #[inline(always)]
    fn text(&mut self, text: &'a str, kind: TextKind) {
        if self.0.wants_text() {
            self.0.text(text, kind);
        }
        if self.1.wants_text() {
            self.1.text(text, kind);
        }
    }

    #[inline(always)]
    fn wants_text(&self) -> bool {
        self.0.wants_text() || self.1.wants_text()
    }

    #[inline(always)]
    fn wants_attributes(&self, name: &[u8]) -> bool {
        self.0.wants_attributes(name) || self.1.wants_attributes(name)
    }
}

/// Tokenizes `html` into `visitor`.
pub(crate) fn tokenize<'a>(html: &'a str, visitor: &mut impl Visitor<'a>) {
    tokenize_until(html, Cursor::default(), visitor, |_| false);
}

/// Where a pass stopped, just after a tag: another pass, with other visitors, goes on
/// from there.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    /// Where the next token (or text) starts.
    at: usize,
    /// The foreign content entered and not yet left.
    namespaces: Namespaces,
}

/// Tokenizes `html` from `cursor` into `visitor` until, after a tag, `done(visitor)`;
/// returns where it stopped then, or `None` at the end of the page. A visitor that
/// needs nothing more of the page (a rule matcher whose rules all have their values)
/// thus leaves the rest to a pass without it, which tests nothing for it at each tag.
pub(crate) fn tokenize_until<'a, V: Visitor<'a>>(
    html: &'a str,
    cursor: Cursor,
    visitor: &mut V,
    done: impl Fn(&V) -> bool,
) -> Option<Cursor> {
    let bytes = html.as_bytes();
    let Cursor {
        mut at,
        mut namespaces,
    } = cursor;
    let mut text_start = at;
    let mut tag = Tag::new(html);
    // Hands on the text before a token that starts at `lt`.
    let flush = |visitor: &mut _, text_start: usize, lt: usize| {
        if text_start < lt && Visitor::wants_text(visitor) {
            Visitor::text(visitor, &html[text_start..lt], TextKind::Data);
        }
    };
    while let Some(lt) = next_lt(bytes, at) {
        let start = lt + 1;
        let Some(&next) = bytes.get(start) else { break };
        let token_end = match next {
            b'!' if bytes[start + 1..].starts_with(b"[CDATA[")
                && namespaces.current() != Namespace::Html =>
            {
                flush(visitor, text_start, lt);
                let text = start + b"![CDATA[".len();
                let (text_end, end) = memmem::find(&bytes[text..], b"]]>")
                    .map_or((bytes.len(), bytes.len()), |p| (text + p, text + p + 3));
                if text < text_end && visitor.wants_text() {
                    visitor.text(&html[text..text_end], TextKind::Raw);
                }
                at = end;
                text_start = end;
                continue;
            }
            b'!' => skip_markup_declaration(bytes, start + 1),
            b'?' => skip_past(bytes, start, b'>'),
            b'/' => match bytes.get(start + 1) {
                Some(b) if b.is_ascii_alphabetic() => {
                    // Attributes of an end tag are skipped (a quoted value may hide a `>`).
                    let Some(end) = read_tag(bytes, start + 1, &mut tag, false, |_| false) else {
                        // A tag cut off by the end of the page is dropped.
                        flush(visitor, text_start, lt);
                        return None;
                    };
                    flush(visitor, text_start, lt);
                    if namespaces.entered_any() {
                        namespaces.end_tag(tag.name());
                    }
                    visitor.end_tag(tag.name());
                    if done(visitor) {
                        return Some(Cursor {
                            at: end,
                            namespaces,
                        });
                    }
                    at = end;
                    text_start = end;
                    continue;
                }
                Some(b'>') => start + 2,
                Some(_) => skip_past(bytes, start + 1, b'>'),
                // `</` at the end of the page is text.
                None => break,
            },
            b if b.is_ascii_alphabetic() => {
                // Outside HTML content the tokenizer reads every tag's attributes:
                // `/>` and `<font color>` change what follows.
                let outside_html = namespaces.entered_any();
                let wants = |name: &[u8]| outside_html || visitor.wants_attributes(name);
                let Some(end) = read_tag(bytes, start, &mut tag, true, wants) else {
                    flush(visitor, text_start, lt);
                    return None;
                };
                flush(visitor, text_start, lt);
                // Most pages are HTML content from start to end: there the name is
                // looked at once, and only `<svg>` and `<math>` take the foreign path.
                let in_html = if outside_html {
                    foreign_start_tag(bytes, end, &mut tag, &mut namespaces)
                } else {
                    tag.namespace = Namespace::Html;
                    tag.self_closing = false;
                    true
                };
                let mut after = end;
                let mut text = None;
                match tag.lower() {
                    _ if !in_html => {}
                    name @ (b"title" | b"textarea") => {
                        after = find_end_tag(bytes, end, name);
                        text = Some(TextKind::Data);
                    }
                    name @ (b"script" | b"style" | b"xmp" | b"iframe" | b"noembed"
                    | b"noframes" | b"noscript") => {
                        after = find_end_tag(bytes, end, name);
                        text = Some(TextKind::Raw);
                        // Only a `<!--` can hide an end tag from a script (in the rare
                        // double-escaped state): the careful scan runs after one only.
                        if name == b"script" && memmem::find(&bytes[end..after], b"<!--").is_some()
                        {
                            after = escaped_script_end(bytes, end);
                        }
                    }
                    b"plaintext" => {
                        after = bytes.len();
                        text = Some(TextKind::Raw);
                    }
                    b"svg" | b"math" => {
                        foreign_start_tag(bytes, end, &mut tag, &mut namespaces);
                    }
                    _ => {}
                }
                tag.text = text;
                tag.content = None;
                if after > end {
                    tag.content = Some(&html[end..after]);
                }
                visitor.start_tag(&tag);
                if let Some(content) = tag.content {
                    if visitor.wants_text() {
                        visitor.text(content, text.unwrap_or(TextKind::Data));
                    }
                }
                if done(visitor) {
                    return Some(Cursor {
                        at: after,
                        namespaces,
                    });
                }
                at = after;
                text_start = after;
                continue;
            }
            // A `<` that starts no token is text.
            _ => {
                at = start;
                continue;
            }
        };
        flush(visitor, text_start, lt);
        at = token_end;
        text_start = token_end;
    }
    flush(visitor, text_start, bytes.len());
    None
}

/// One start or end tag: its name and attributes, as byte ranges of the page.
pub(crate) struct Tag<'a> {
    html: &'a str,
    /// The name as written, sliced once: visitors ask for it several times a tag.
    name: &'a str,
    /// Where the name ends in the page.
    name_end: usize,
    /// The name in lower case, when it is written with upper-case letters.
    lower: Option<Vec<u8>>,
    /// A value-less attribute has an empty value range. Empty when no visitor wanted
    /// them ([`Visitor::wants_attributes`]).
    attrs: Attributes,
    /// How the element's content is read when it is text, not markup: RCDATA
    /// ([`TextKind::Data`]) for `title` and `textarea`, raw text for `script`, `style`
    /// and friends; `None` for other elements, and for these in foreign content.
    pub text: Option<TextKind>,
    /// That text, up to the element's end tag (or the end of the page), when not empty.
    pub content: Option<&'a str>,
    /// The namespace of the content the tag opens, as lol_html gives it: SVG or MathML
    /// for a tag in foreign content (and for `<svg>` and `<math>`), HTML for one that
    /// breaks out of it or opens an integration point (`<svg><title>`).
    pub namespace: Namespace,
    /// The tag ends with `/>`, which makes an element of foreign content empty; read
    /// only for a tag in foreign content or opening it (`<svg/>`), false for others,
    /// where the slash means nothing.
    pub self_closing: bool,
}

impl<'a> Tag<'a> {
    fn new(html: &'a str) -> Self {
        Tag {
            html,
            name: "",
            name_end: 0,
            lower: None,
            attrs: Vec::new(),
            text: None,
            content: None,
            namespace: Namespace::Html,
            self_closing: false,
        }
    }

    /// The tag name as written.
    pub(crate) fn name(&self) -> &'a str {
        self.name
    }

    /// The tag name in lower case (of a start tag only).
    pub(crate) fn lower(&self) -> &[u8] {
        self.lower.as_deref().unwrap_or(self.name.as_bytes())
    }

    /// The first attribute named `name` (lower case), as written: character references
    /// not decoded, a value-less attribute empty.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a str> {
        let (bytes, name) = (self.html.as_bytes(), name.as_bytes());
        // Names are short and mostly differ in length: a byte loop, not a call; and
        // mostly written in lower case, so bytes are compared as they are first.
        let is_name = |&&(ns, ne, _, _): &&(usize, usize, usize, usize)| {
            ne - ns == name.len()
                && bytes[ns..ne]
                    .iter()
                    .zip(name)
                    .all(|(b, n)| b == n || b.to_ascii_lowercase() == *n)
        };
        self.attrs
            .iter()
            .find(is_name)
            .map(|&(_, _, vs, ve)| &self.html[vs..ve])
    }

    /// Whether the element stays open after its start tag, as lol_html's stack of open
    /// elements has it: not a void element (`br`, `img`, ...) in HTML content, not a
    /// self-closing one in foreign content.
    #[inline]
    pub(crate) fn stays_open(&self) -> bool {
        match self.namespace {
            Namespace::Html => !is_void(self.lower()),
            Namespace::Svg | Namespace::MathMl => !self.self_closing,
        }
    }

    /// Every attribute, name and value as written, in order.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.attrs
            .iter()
            .map(|&(ns, ne, vs, ve)| (&self.html[ns..ne], &self.html[vs..ve]))
    }

    /// The first attribute named `name` (lower case), character references decoded.
    pub(crate) fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.raw(name).map(decode_entities)
    }
}

/// Whether an HTML element of this lower-case name has no content (lol_html's list).
/// In line: every visitor's start tag asks, and the compiler left it out of line in the
/// rule matcher's (5.5k instructions a record with `all`, measured).
#[inline(always)]
fn is_void(name: &[u8]) -> bool {
    matches!(
        name,
        b"area"
            | b"base"
            | b"basefont"
            | b"bgsound"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"keygen"
            | b"link"
            | b"meta"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
    )
}

/// Reads a tag whose name starts at `at`, filling `tag` (for a `start` tag, its
/// lower-case name, and its attributes when `wants_attributes` of that name), and
/// returns the index just past its `>`, or `None` when the page ends inside it.
/// Inlined into [`tokenize`], which calls it once per tag: as a call it cost about a
/// seventh of the pass (measured).
#[inline(always)]
fn read_tag(
    bytes: &[u8],
    mut at: usize,
    tag: &mut Tag<'_>,
    start: bool,
    wants_attributes: impl FnOnce(&[u8]) -> bool,
) -> Option<usize> {
    tag.attrs.clear();
    let name_start = at;
    let mut upper = false;
    while at < bytes.len()
        && !matches!(
            bytes[at],
            b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>'
        )
    {
        upper |= bytes[at].is_ascii_uppercase();
        at += 1;
    }
    // The name runs from a letter to an ASCII byte or the page's end: whole characters.
    tag.name = &tag.html[name_start..at];
    tag.name_end = at;
    // Most names are written in lower case already: they are borrowed, not copied.
    tag.lower = (start && upper).then(|| bytes[name_start..at].to_ascii_lowercase());
    // Most end tags and many start tags end right after their name.
    if bytes.get(at) == Some(&b'>') {
        return Some(at + 1);
    }
    if start && wants_attributes(tag.lower()) {
        read_attributes(bytes, at, Some(&mut tag.attrs))
    } else {
        skip_attributes(bytes, at)
    }
}

/// The attributes of a tag as (name start, name end, value start, value end).
type Attributes = Vec<(usize, usize, usize, usize)>;

/// Reads the attributes of a tag from `at` (just past its name) into `attrs`, if
/// given, and returns the index just past the tag's `>`, or `None` when the page ends
/// inside the tag.
#[inline(always)]
fn read_attributes(
    bytes: &[u8],
    mut at: usize,
    mut attrs: Option<&mut Attributes>,
) -> Option<usize> {
    loop {
        // Before an attribute name: whitespace and `/` are skipped.
        while at < bytes.len() && matches!(bytes[at], b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/')
        {
            at += 1;
        }
        if *bytes.get(at)? == b'>' {
            return Some(at + 1);
        }
        // An attribute name runs to whitespace, `/`, `>` or `=`; a leading `=` belongs to it.
        let ns = at;
        at += 1;
        while at < bytes.len()
            && !matches!(
                bytes[at],
                b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>' | b'='
            )
        {
            at += 1;
        }
        let ne = at;
        while at < bytes.len() && matches!(bytes[at], b'\t' | b'\n' | b'\x0C' | b'\r' | b' ') {
            at += 1;
        }
        let (vs, ve) = if bytes.get(at) == Some(&b'=') {
            at += 1;
            while at < bytes.len() && matches!(bytes[at], b'\t' | b'\n' | b'\x0C' | b'\r' | b' ') {
                at += 1;
            }
            match *bytes.get(at)? {
                quote @ (b'"' | b'\'') => {
                    let vs = at + 1;
                    let len = find_byte(quote, &bytes[vs..])?;
                    at = vs + len + 1;
                    (vs, vs + len)
                }
                b'>' => (at, at),
                _ => {
                    let vs = at;
                    while at < bytes.len()
                        && !matches!(bytes[at], b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'>')
                    {
                        at += 1;
                    }
                    (vs, at)
                }
            }
        } else {
            (at, at)
        };
        if let Some(attrs) = &mut attrs {
            attrs.push((ns, ne, vs, ve));
        }
    }
}

/// Follows a start tag that stands outside HTML content or opens foreign content,
/// setting [`Tag::namespace`] and [`Tag::self_closing`] (and reading the tag's
/// attributes, if nobody wanted them). Returns whether the tag stood in HTML content.
#[cold]
#[inline(never)]
fn foreign_start_tag(
    bytes: &[u8],
    end: usize,
    tag: &mut Tag<'_>,
    namespaces: &mut Namespaces,
) -> bool {
    let name_end = tag.name_end;
    if tag.attrs.is_empty() && bytes[name_end] != b'>' {
        read_attributes(bytes, name_end, Some(&mut tag.attrs));
    }
    tag.self_closing = ends_self_closing(bytes, end, tag);
    let in_html = namespaces.start_tag(tag);
    tag.namespace = namespaces.current();
    in_html
}

/// Whether the tag read into `tag`, which ends just before `end`, ends with `/>`: a
/// slash that is not the end of an unquoted value (`<a href=/x/>` is not, `<a x/>` and
/// `<a x='y'/>` are). The tag's attributes must have been read.
fn ends_self_closing(bytes: &[u8], end: usize, tag: &Tag<'_>) -> bool {
    let slash = end - 2;
    bytes[slash] == b'/'
        && slash >= tag.name_end
        && !tag
            .attrs
            .last()
            .is_some_and(|&(_, _, vs, ve)| vs <= slash && slash < ve)
}

/// [`read_attributes`] for a tag whose attributes nobody reads: only a quoted value can
/// hide a `>`, so when a `>` comes before any quote, it is the tag's end.
#[inline(always)]
fn skip_attributes(bytes: &[u8], at: usize) -> Option<usize> {
    match find_tag_end_or_quote(&bytes[at..]) {
        Some(p) if bytes[at + p] == b'>' => Some(at + p + 1),
        Some(_) => read_attributes(bytes, at, None),
        None => None,
    }
}

/// The position of the first `>`, `"` or `'` in `haystack`, sixteen bytes at a time.
/// Not `memchr::memchr3`: on these short runs its set-up took the tokenizer from 232.5k
/// to 249.9k instructions a page, all that skipping the attributes had saved.
fn find_tag_end_or_quote(haystack: &[u8]) -> Option<usize> {
    let mut blocks = haystack.chunks_exact(16);
    let mut searched = 0;
    for block in &mut blocks {
        let block = block.try_into().expect("16 bytes");
        let found = equal_bytes(block, b'>') | equal_bytes(block, b'"') | equal_bytes(block, b'\'');
        if found != 0 {
            return Some(searched + found.trailing_zeros() as usize);
        }
        searched += 16;
    }
    let rest = blocks.remainder();
    rest.iter()
        .position(|b| matches!(b, b'>' | b'"' | b'\''))
        .map(|p| searched + p)
}

/// The index of the first `<` at or after `at`. Tags often follow one another, at most
/// a newline apart, so the next two bytes are tried before a search.
fn next_lt(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at..)? {
        [b'<', ..] => Some(at),
        [_, b'<', ..] => Some(at + 1),
        rest => find_byte(b'<', rest).map(|p| at + p),
    }
}

/// After `<!`: a comment, a doctype or a bogus comment; returns the index past its end.
fn skip_markup_declaration(bytes: &[u8], at: usize) -> usize {
    if !bytes[at..].starts_with(b"--") {
        return skip_past(bytes, at, b'>');
    }
    let body = at + 2;
    // `<!-->` and `<!--->` end at once.
    if bytes[body..].starts_with(b">") {
        return body + 1;
    }
    if bytes[body..].starts_with(b"->") {
        return body + 2;
    }
    // A comment ends at the first `-->` or `--!>`.
    let mut from = body;
    while let Some(p) = memmem::find(&bytes[from..], b"--") {
        let dashes = from + p;
        match bytes.get(dashes + 2) {
            Some(b'>') => return dashes + 3,
            Some(b'!') if bytes.get(dashes + 3) == Some(&b'>') => return dashes + 4,
            _ => from = dashes + 1,
        }
    }
    bytes.len()
}

/// The index past the first `byte` at or after `at`, or the end.
fn skip_past(bytes: &[u8], at: usize, byte: u8) -> usize {
    memchr(byte, &bytes[at..]).map_or(bytes.len(), |p| at + p + 1)
}

/// Where the end tag `</name` (any case, followed by whitespace, `/` or `>`) starts at or
/// after `at`, or the end of the page: the extent of raw text or RCDATA.
fn find_end_tag(bytes: &[u8], mut at: usize, name: &[u8]) -> usize {
    while let Some(p) = memchr(b'<', &bytes[at..]) {
        let lt = at + p;
        let rest = &bytes[lt + 1..];
        if rest.first() == Some(&b'/')
            && rest.len() > name.len()
            && rest[1..=name.len()].eq_ignore_ascii_case(name)
            && matches!(
                rest.get(name.len() + 1),
                Some(b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>')
            )
        {
            return lt;
        }
        at = lt + 1;
    }
    bytes.len()
}

/// Where the `</script` that ends a script whose content starts at `at` starts, or the
/// end of the page, through the script-data escape states as lol_html follows them: after
/// `<!--` a `<script` (double-escaped) hides the next `</script>`, and `-->` ends that.
fn escaped_script_end(bytes: &[u8], mut at: usize) -> usize {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        Data,
        Escaped,
        EscapedDashDash,
        DoubleEscaped,
        DoubleEscapedDashDash,
    }
    use State::*;
    let script_then = |at: usize| {
        bytes.len() > at + 6
            && bytes[at..at + 6].eq_ignore_ascii_case(b"script")
            && matches!(
                bytes[at + 6],
                b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>'
            )
    };
    let mut state = Data;
    while let Some(&byte) = bytes.get(at) {
        let rest = &bytes[at..];
        state = match (state, byte) {
            (Data | Escaped | EscapedDashDash, b'<') if rest.get(1) == Some(&b'/') => {
                if script_then(at + 2) {
                    return at;
                }
                at += 2;
                if state == Data {
                    Data
                } else {
                    Escaped
                }
            }
            (Data, b'<') if rest.starts_with(b"<!--") => {
                at += 4;
                EscapedDashDash
            }
            (Escaped | EscapedDashDash, b'<') if script_then(at + 1) => {
                at += 8;
                DoubleEscaped
            }
            (DoubleEscaped | DoubleEscapedDashDash, b'<')
                if rest.get(1) == Some(&b'/') && script_then(at + 2) =>
            {
                at += 9;
                Escaped
            }
            (Escaped | DoubleEscaped, b'-') if rest.starts_with(b"--") => {
                at += 2;
                if state == Escaped {
                    EscapedDashDash
                } else {
                    DoubleEscapedDashDash
                }
            }
            (EscapedDashDash | DoubleEscapedDashDash, b'-') => {
                at += 1;
                state
            }
            (EscapedDashDash | DoubleEscapedDashDash, b'>') => {
                at += 1;
                Data
            }
            (EscapedDashDash, _) => {
                at += 1;
                Escaped
            }
            (DoubleEscapedDashDash, _) => {
                at += 1;
                DoubleEscaped
            }
            (Data | Escaped | DoubleEscaped, _) => {
                at += 1;
                state
            }
        };
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token as a line: `<name`, `</name`, `"text"` or `raw"text"`; a start tag
    /// with its `href` when the log reads attributes, and the namespace it opens when
    /// not HTML (` svg`, ` math`), and `/` when it is self-closing.
    struct Log {
        lines: Vec<String>,
        attributes: bool,
    }

    impl<'a> Visitor<'a> for Log {
        fn start_tag(&mut self, tag: &Tag<'a>) {
            let href = tag.get("href").map(|h| format!(" href={h}"));
            let namespace = match tag.namespace {
                Namespace::Html => "",
                Namespace::Svg => " svg",
                Namespace::MathMl => " math",
            };
            let slash = if tag.self_closing { "/" } else { "" };
            self.lines.push(format!(
                "<{}{}{namespace}{slash}",
                tag.name(),
                href.unwrap_or_default()
            ));
        }

        fn end_tag(&mut self, name: &'a str) {
            self.lines.push(format!("</{name}"));
        }

        fn text(&mut self, text: &'a str, kind: TextKind) {
            let prefix = if kind == TextKind::Raw { "raw" } else { "" };
            self.lines.push(format!("{prefix}{text:?}"));
        }

        fn wants_text(&self) -> bool {
            true
        }

        fn wants_attributes(&self, _: &[u8]) -> bool {
            self.attributes
        }
    }

    fn tokens_reading_attributes(html: &str, attributes: bool) -> Vec<String> {
        let mut log = Log {
            lines: Vec::new(),
            attributes,
        };
        tokenize(html, &mut log);
        log.lines
    }

    fn tokens(html: &str) -> Vec<String> {
        tokens_reading_attributes(html, true)
    }

    /// A pass stopped after any tag, and a pass with another visitor from where it
    /// stopped, hand on the tokens that one pass does: the namespaces entered and the
    /// text after the tag carry over.
    #[test]
    fn a_pass_stopped_after_any_tag_goes_on_where_it_stopped() {
        const PIECES: [&str; 15] = [
            "<svg>",
            "</svg>",
            "<svg/>",
            "<math><mi>",
            "</mi>",
            "<title>T</title>",
            "<p>",
            "</p>",
            "text ",
            "&amp; ",
            "<![CDATA[ c ]]>",
            "<script><!--<script></script>x</script>",
            "<a href=/x/>",
            "<!-- c -->",
            "<font color=red>",
        ];
        let is_tag = |line: &String| line.starts_with('<');
        let log = || Log {
            lines: Vec::new(),
            attributes: true,
        };
        let mut rng = crate::random_cases::rng(11);
        for _ in 0..crate::random_cases::scaled(300) {
            let page: String = (0..rng.usize(1..16))
                .map(|_| PIECES[rng.usize(..PIECES.len())])
                .collect();
            let whole = tokens(&page);
            for stop_after in 1..=whole.iter().filter(|l| is_tag(l)).count() {
                let (mut first, mut second) = (log(), log());
                let at_stop =
                    |log: &Log| log.lines.iter().filter(|l| is_tag(l)).count() == stop_after;
                let rest = tokenize_until(&page, Cursor::default(), &mut first, at_stop)
                    .expect("a stop after the tag");
                tokenize_until(&page, rest, &mut second, |_| false);
                first.lines.append(&mut second.lines);
                assert_eq!(
                    first.lines, whole,
                    "stopped after tag {stop_after} of {page}"
                );
            }
        }
    }

    #[test]
    fn tags_whose_attributes_nobody_reads_end_where_they_do_when_read() {
        let long = "x".repeat(40);
        let pages = [
            "<div title='a>b' x=\">\">t</div><p class=\"q\">u".to_owned(),
            "<div a\"b>c<div a=b\"c>d<div a=b'>e'>f".to_owned(),
            "<div a = 'x>y' >z<div\na\t=\n\"x>\">w<DIV CLASS='>'>v".to_owned(),
            "<p/><br/ >a<div/ a='>'>b</p a='>' b>c</div x=\">\">d".to_owned(),
            format!(
                "<div data-{long}={long}>a<div {long} a=\"{long}>\">b<div{}>c",
                " ".repeat(40)
            ),
            "<a href=/1>x</a><div a='x>".to_owned(),
            "<div a=x".to_owned(),
            "<div a=x ".to_owned(),
        ];
        for page in &pages {
            let read = tokens_reading_attributes(page, true);
            let without_hrefs: Vec<String> = read
                .iter()
                .map(|line| line.split(" href=").next().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(
                tokens_reading_attributes(page, false),
                without_hrefs,
                "{page}"
            );
        }
        // The pages do have tags that end only past a quoted `>`.
        assert_eq!(
            tokens(&pages[0]),
            ["<div", r#""t""#, "</div", "<p", r#""u""#]
        );
    }

    #[test]
    fn reads_quoted_unquoted_and_valueless_attributes() {
        let log = tokens(
            "<a x y = 'q>' href = \"/1\"><A HREF=/2?a=1&amp;b=2><a disabled href><area href=/4 />",
        );
        assert_eq!(
            log,
            [
                "<a href=/1",
                "<A href=/2?a=1&b=2",
                "<a href=",
                "<area href=/4"
            ]
        );
    }

    #[test]
    fn skips_comments_and_declarations_and_reads_raw_text() {
        let page = "a<!-- <b> --!>b<!-->c<!doctype html><? <i> >d\
            <script>x = '<a>'; '</scriptx>'</SCRIPT >\
            <textarea>&lt;t</textarea></a href='>'>e < f</>g<a href=/cut";
        let log = tokens(page);
        assert_eq!(
            log,
            [
                r#""a""#,
                r#""b""#,
                r#""c""#,
                r#"" >d""#,
                "<script",
                r#"raw"x = '<a>'; '</scriptx>'""#,
                "</SCRIPT",
                "<textarea",
                r#""&lt;t""#,
                "</textarea",
                "</a",
                r#""e < f""#,
                r#""g""#,
            ]
        );
    }

    #[test]
    fn plaintext_and_a_trailing_lt_are_text() {
        assert_eq!(tokens("x<"), [r#""x<""#]);
        assert_eq!(tokens("x</"), [r#""x</""#]);
        assert_eq!(
            tokens("<plaintext></plaintext><b>"),
            ["<plaintext", r#"raw"</plaintext><b>""#]
        );
    }

    #[test]
    fn a_script_ends_where_its_escape_states_say() {
        // (content, where the script's text ends)
        let cases = [
            // Escaped, not double-escaped: the first `</script>` ends it.
            ("<!-- a </script> b --></script>", "<!-- a "),
            // `<script` inside `<!--` hides the next `</script>`; `-->` ends that.
            (
                "<!-- <script> x </script> y --></script>",
                "<!-- <script> x </script> y -->",
            ),
            (
                "<!--<SCRIPT/></SCRIPT>--></script>",
                "<!--<SCRIPT/></SCRIPT>-->",
            ),
            // Double-escaped until `</script>` takes it back to escaped only.
            ("<!--<script></script></script>", "<!--<script></script>"),
            ("<!-->x</script>", "<!-->x"),
            ("<!-x<script></script>", "<!-x<script>"),
            ("<!-- <scripts> </script>", "<!-- <scripts> "),
            (
                "<!-- --->>-- <script>-->--></script>",
                "<!-- --->>-- <script>-->-->",
            ),
            ("<!-- <script> never ends", "<!-- <script> never ends"),
        ];
        for (content, text) in cases {
            let page = format!("<script>{content}");
            let mut expected = vec!["<script".to_owned(), format!("raw{text:?}")];
            if text.len() < content.len() {
                expected.push("</script".to_owned());
            }
            let log = tokens(&page);
            assert_eq!(log[..expected.len()], expected, "{page}");
        }
    }

    #[test]
    fn svg_holds_markup_where_html_holds_text_and_cdata_is_text() {
        let log = tokens(
            "<svg><style>s<tspan>t</tspan></style><path d='M0/'/><g/ ><x y=z/>\
             <![CDATA[<i>c</i>]]></svg><style><b></style><![CDATA[d]]>e",
        );
        assert_eq!(
            log,
            [
                "<svg svg",
                "<style svg",
                r#""s""#,
                "<tspan svg",
                r#""t""#,
                "</tspan",
                "</style",
                "<path svg/",
                "<g svg",
                "<x svg",
                r#"raw"<i>c</i>""#,
                "</svg",
                "<style",
                r#"raw"<b>""#,
                "</style",
                r#""e""#,
            ]
        );
    }

    #[test]
    fn html_tags_break_out_of_foreign_content_and_integration_points_hold_html() {
        let log = tokens(
            "<svg><p><title>a<i>b</i></title><svg/><desc>c<title>d</title></desc>\
             <desc/><font size=1><math><mi><title>e</title></mi><font><font color=red>",
        );
        assert_eq!(
            log,
            [
                "<svg svg",
                // `<p>` leaves the SVG: the title is HTML's, RCDATA.
                "<p",
                "<title",
                r#""a<i>b</i>""#,
                "</title",
                // `<svg/>` opens SVG content all the same, as lol_html has it.
                "<svg svg/",
                // An integration point: HTML inside, until its end tag.
                "<desc",
                r#""c""#,
                "<title",
                r#""d""#,
                // Any `</title>` ends the integration point (lol_html's simplification).
                "</title",
                "</desc",
                "<desc svg/",
                "<font",
                "<math math",
                "<mi",
                "<title",
                r#""e""#,
                "</title",
                "</mi",
                "<font math",
                "<font",
            ]
        );
    }
}
