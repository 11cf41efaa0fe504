//! A fast single pass over an HTML page for what every record takes from it: title,
//! description, canonical, lang, `<base href>` and link targets.
//!
//! It follows the HTML tokenizer where it matters for these values (comments, doctype
//! and bogus comments, quoted and unquoted attribute values, raw text of `script`,
//! `style` and friends, RCDATA of `title` and `textarea`, `plaintext`) and builds
//! nothing: it hands out slices of the page. lol_html does the same job several times
//! slower, because it tracks the open elements for its selectors and lexes every
//! attribute of every tag; it is still used for visible text and CSS rules, which need
//! that. Not modelled: script-data escape states (`<!--` inside a script) and foreign
//! content (`<svg><title>` is taken like an HTML title, a CDATA section as a bogus
//! comment): both rare before the head's title and the body's links.

use std::borrow::Cow;

use memchr::{memchr, memmem};

use crate::text::{decode_entities, Collapser};

/// What the pass found, borrowed from the page where no entity needed decoding.
#[derive(Debug, Default)]
pub(crate) struct Scanned<'a> {
    /// The first `<title>`'s text, entities decoded, whitespace collapsed, capped.
    pub title: Option<String>,
    /// The first `<meta name=description>`'s content, collapsed.
    pub description: Option<String>,
    /// The first `<link rel=canonical>`'s href, as written.
    pub canonical: Option<Cow<'a, str>>,
    /// The `<html lang>`, trimmed, when not empty.
    pub lang: Option<String>,
    /// The first `<base href>`.
    pub base: Option<Cow<'a, str>>,
    /// Every `<a href>` and `<area href>`, in document order.
    pub hrefs: Vec<Cow<'a, str>>,
}

/// What to gather: links cost a vector; the summary a few strings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanWants {
    pub summary: bool,
    pub links: bool,
}

/// Elements whose content is raw text up to their end tag.
const RAW_TEXT: [&[u8]; 7] = [
    b"script",
    b"style",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
];

/// Scans `html`. `max_text` caps the title, in bytes.
pub(crate) fn scan(html: &str, wants: ScanWants, max_text: usize) -> Scanned<'_> {
    let bytes = html.as_bytes();
    let mut found = Scanned::default();
    let mut tag = Tag::default();
    let mut at = 0;
    while let Some(lt) = memchr(b'<', &bytes[at..]) {
        let start = at + lt + 1;
        let Some(&next) = bytes.get(start) else { break };
        at = match next {
            b'!' => skip_markup_declaration(bytes, start + 1),
            b'?' => skip_past(bytes, start, b'>'),
            b'/' => match bytes.get(start + 1) {
                Some(b) if b.is_ascii_alphabetic() => {
                    // Attributes of an end tag are tokenized (quotes hide `>`) and dropped.
                    tag.clear();
                    read_tag(bytes, start + 1, &mut tag, false).unwrap_or(bytes.len())
                }
                Some(b'>') => start + 2,
                Some(_) => skip_past(bytes, start + 1, b'>'),
                None => bytes.len(),
            },
            b if b.is_ascii_alphabetic() => {
                tag.clear();
                // A tag cut off by the end of the page is dropped, as the tokenizer does.
                let Some(end) = read_tag(bytes, start, &mut tag, true) else {
                    break;
                };
                let name = &bytes[tag.name.0..tag.name.1];
                let mut after = end;
                if name.len() <= 9 {
                    let mut lower = [0u8; 9];
                    lower[..name.len()].copy_from_slice(name);
                    lower.make_ascii_lowercase();
                    let name = &lower[..name.len()];
                    on_start_tag(name, &tag, html, wants, &mut found);
                    if name == b"title" || name == b"textarea" {
                        let close = find_end_tag(bytes, end, name);
                        if name == b"title" && wants.summary && found.title.is_none() {
                            let mut title = Collapser::new(max_text);
                            title.push(&decode_entities(&html[end..close]));
                            found.title = Some(title.finish().0);
                        }
                        after = close;
                    } else if RAW_TEXT.contains(&name) {
                        after = find_end_tag(bytes, end, name);
                    } else if name == b"plaintext" {
                        break;
                    }
                }
                after
            }
            _ => start,
        };
    }
    found
}

/// Acts on one start tag of a lower-cased `name`.
fn on_start_tag<'a>(
    name: &[u8],
    tag: &Tag,
    html: &'a str,
    wants: ScanWants,
    found: &mut Scanned<'a>,
) {
    let value = |attr: &[u8]| tag.get(html, attr);
    match name {
        b"a" | b"area" if wants.links => {
            if let Some(href) = value(b"href") {
                found.hrefs.push(href);
            }
        }
        b"base" if found.base.is_none() => found.base = value(b"href"),
        b"meta" if wants.summary && found.description.is_none() => {
            let is_description =
                value(b"name").is_some_and(|n| n.trim().eq_ignore_ascii_case("description"));
            if is_description {
                found.description = value(b"content").map(|c| crate::text::collapse(&c));
            }
        }
        b"link" if wants.summary && found.canonical.is_none() => {
            let canonical = value(b"rel").is_some_and(|rel| {
                rel.split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("canonical"))
            });
            if canonical {
                found.canonical = value(b"href");
            }
        }
        b"html" if wants.summary && found.lang.is_none() => {
            found.lang = value(b"lang")
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty());
        }
        _ => {}
    }
}

/// One tag's name and attributes, as byte ranges of the page.
#[derive(Default)]
struct Tag {
    name: (usize, usize),
    /// (name start, name end, value start, value end); a value-less attribute has an
    /// empty value range.
    attrs: Vec<(usize, usize, usize, usize)>,
}

impl Tag {
    fn clear(&mut self) {
        self.attrs.clear();
    }

    /// The first attribute named `name` (lower case), entities decoded.
    fn get<'a>(&self, html: &'a str, name: &[u8]) -> Option<Cow<'a, str>> {
        let bytes = html.as_bytes();
        self.attrs
            .iter()
            .find(|(ns, ne, _, _)| bytes[*ns..*ne].eq_ignore_ascii_case(name))
            .map(|(_, _, vs, ve)| decode_entities(&html[*vs..*ve]))
    }
}

/// Reads a tag whose name starts at `at`, filling `tag` (attributes only when `attrs`),
/// and returns the index just past its `>`, or `None` when the page ends inside it.
fn read_tag(bytes: &[u8], mut at: usize, tag: &mut Tag, attrs: bool) -> Option<usize> {
    let name_start = at;
    while at < bytes.len()
        && !matches!(
            bytes[at],
            b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>'
        )
    {
        at += 1;
    }
    tag.name = (name_start, at);
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
                    let len = memchr(quote, &bytes[vs..])?;
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
        if attrs {
            tag.attrs.push((ns, ne, vs, ve));
        }
    }
}

/// After `<!`: a comment, a doctype or a bogus comment; returns the index past its end.
fn skip_markup_declaration(bytes: &[u8], at: usize) -> usize {
    if bytes[at..].starts_with(b"--") {
        let body = at + 2;
        // `<!-->` and `<!--->` end at once.
        if bytes[body..].starts_with(b">") {
            return body + 1;
        }
        if bytes[body..].starts_with(b"->") {
            return body + 2;
        }
        return memmem::find(&bytes[body..], b"-->").map_or(bytes.len(), |p| body + p + 3);
    }
    skip_past(bytes, at, b'>')
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: ScanWants = ScanWants {
        summary: true,
        links: true,
    };

    fn hrefs(html: &str) -> Vec<String> {
        scan(html, ALL, 1024)
            .hrefs
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    #[test]
    fn reads_quoted_unquoted_and_valueless_attributes() {
        assert_eq!(
            hrefs("<a x y = 'q>' href = \"/1\">1</a><A HREF=/2?a=1&amp;b=2>2</a><a disabled href>3</a><area href=/4 />"),
            ["/1", "/2?a=1&b=2", "", "/4"]
        );
    }

    #[test]
    fn skips_comments_raw_text_and_rcdata() {
        let page = "<!-- <a href=/c1> --><!--><a href=/1><!doctype html><? <a href=/pi> >\
            <script>var a = '<a href=/s>'; '</scriptx>'</SCRIPT ><a href=/2>\
            <textarea><a href=/t></textarea><style>a{}</style><noscript><a href=/n></noscript>\
            </a href='>'><a href=/3><a href=/cut";
        assert_eq!(hrefs(page), ["/1", "/2", "/3"]);
    }

    #[test]
    fn summary_takes_first_values() {
        let page = "<html lang=' fr '><head><title> A &amp;\n B </title><title>2</title>\
            <meta name=Description content='Some  text'><meta name=description content=x>\
            <link rel='Stylesheet canonical' href='/c'><base href=/b/><base href=/x/>";
        let s = scan(page, ALL, 1024);
        assert_eq!(s.title.as_deref(), Some("A & B"));
        assert_eq!(s.lang.as_deref(), Some("fr"));
        assert_eq!(s.description.as_deref(), Some("Some text"));
        assert_eq!(s.canonical.as_deref(), Some("/c"));
        assert_eq!(s.base.as_deref(), Some("/b/"));
    }

    #[test]
    fn unclosed_title_runs_to_the_end() {
        let s = scan("<title>Broken <b>page", ALL, 1024);
        assert_eq!(s.title.as_deref(), Some("Broken <b>page"));
    }
}
