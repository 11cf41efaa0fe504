//! What a body is (from its Content-Type) and how to turn its bytes into text: the
//! charset of the Content-Type, then a byte-order mark, then (for HTML) a declaration in
//! the first 1024 bytes as the HTML standard's prescan finds it (a `<meta>`, or an XML
//! declaration), else UTF-8. Undecodable bytes become U+FFFD.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252, X_USER_DEFINED};

/// How far into an HTML body an encoding declaration is looked for, as the HTML
/// standard advises.
const PRESCAN_BYTES: usize = 1024;

/// The MIME essence of a Content-Type (`text/html` of `text/html; charset=utf-8`).
fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// `application/json`, `text/json` or any `*/*+json`.
pub(crate) fn is_json(content_type: &str) -> bool {
    let mime = essence(content_type);
    mime.eq_ignore_ascii_case("application/json")
        || mime.eq_ignore_ascii_case("text/json")
        || ends_with_ignore_case(mime, "+json")
}

/// `text/html` or `application/xhtml+xml`.
pub(crate) fn is_html(content_type: &str) -> bool {
    let mime = essence(content_type);
    mime.eq_ignore_ascii_case("text/html") || mime.eq_ignore_ascii_case("application/xhtml+xml")
}

/// Whether a body is HTML although its Content-Type says nothing: missing, or one of
/// the types that say "unknown" (`unknown/unknown`, `application/unknown`, `*/*`).
/// Browsers then sniff it, and so does this, with the MIME Sniffing standard's HTML
/// patterns: after leading whitespace, `<!DOCTYPE HTML`, `<html`, `<head`, `<body`,
/// `<p` and a few other tags, or `<!--`, each followed by a space or `>`.
pub(crate) fn sniffs_as_html(content_type: Option<&str>, body: &[u8]) -> bool {
    const PATTERNS: [&[u8]; 17] = [
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    /// The standard looks at the first 1,445 bytes (its "resource header").
    const SNIFFED_BYTES: usize = 1445;
    let unknown = content_type.is_none_or(|ct| {
        let mime = essence(ct);
        ["unknown/unknown", "application/unknown", "*/*"]
            .iter()
            .any(|t| mime.eq_ignore_ascii_case(t))
    });
    if !unknown {
        return false;
    }
    let head = &body[..body.len().min(SNIFFED_BYTES)];
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    PATTERNS.iter().any(|pattern| {
        starts_with_ignore_case(&head[start..], pattern)
            && matches!(head.get(start + pattern.len()), Some(b' ' | b'>'))
    })
}

/// Whether a body of this type is text (kept as a string) rather than binary.
pub(crate) fn is_text(content_type: &str) -> bool {
    let mime = essence(content_type);
    starts_with_ignore_case(mime.as_bytes(), b"text/")
        || is_json(content_type)
        || ends_with_ignore_case(mime, "+xml")
        || [
            "application/xml",
            "application/javascript",
            "application/ecmascript",
        ]
        .iter()
        .any(|t| mime.eq_ignore_ascii_case(t))
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// A body turned into text.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    /// The text, borrowed from the body when it already was valid UTF-8.
    pub text: Cow<'a, str>,
    /// The encoding used.
    pub encoding: &'static Encoding,
    /// Some bytes were not valid in `encoding` and became U+FFFD.
    pub lossy: bool,
}

/// Decodes `body`; the encoding an HTML body declares ([`prescan`]) counts only when
/// `html`.
pub(crate) fn decode<'a>(body: &'a [u8], content_type: Option<&str>, html: bool) -> Decoded<'a> {
    let bom = Encoding::for_bom(body);
    let (encoding, skip) = match content_type.and_then(charset_param) {
        // A BOM of the declared encoding is not part of the text.
        Some(declared) => match bom {
            Some((found, len)) if found == declared => (declared, len),
            _ => (declared, 0),
        },
        None => match bom {
            Some(found) => found,
            None if html => (
                prescan(&body[..body.len().min(PRESCAN_BYTES)]).unwrap_or(UTF_8),
                0,
            ),
            None => (UTF_8, 0),
        },
    };
    let bytes = &body[skip..];
    if encoding == UTF_8 {
        // simdutf8 (already in the tree, through encoding_rs) checks 32 bytes at a time
        // where the standard library checks a word: 0.3 µs for the bench's 30 KiB page
        // instead of 1.2 µs, of an HTML record's 45.
        return match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => Decoded {
                text: Cow::Borrowed(text),
                encoding,
                lossy: false,
            },
            Err(_) => Decoded {
                text: String::from_utf8_lossy(bytes),
                encoding,
                lossy: true,
            },
        };
    }
    let (text, lossy) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text,
        encoding,
        lossy,
    }
}

/// The encoding named by a Content-Type's `charset` parameter, if it names a known one.
fn charset_param(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        Encoding::for_label(value.trim().trim_matches(['"', '\'']).as_bytes())
    })
}

/// The encoding the first bytes of an HTML body declare, by the HTML standard's prescan:
/// the bytes of a UTF-16 XML declaration, else a `<meta>`, else the `encoding` of an XML
/// declaration (`<?xml version="1.0" encoding="iso-8859-1"?>`, which XHTML pages
/// served as HTML carry).
fn prescan(head: &[u8]) -> Option<&'static Encoding> {
    match head {
        [0x3C, 0, 0x3F, 0, 0x78, 0, ..] => Some(UTF_16LE),
        [0, 0x3C, 0, 0x3F, 0, 0x78, ..] => Some(UTF_16BE),
        _ => meta_charset(head).or_else(|| xml_encoding(head)),
    }
}

/// The standard's "get an XML encoding": the label in the `encoding` of an XML
/// declaration that starts `head`, quoted and without spaces or controls.
fn xml_encoding(head: &[u8]) -> Option<&'static Encoding> {
    let declaration = head[..memchr::memchr(b'>', head)?].strip_prefix(b"<?xml")?;
    let after_name = memchr::memmem::find(declaration, b"encoding")? + b"encoding".len();
    // Spaces and controls are skipped around the `=`.
    fn skip(bytes: &[u8]) -> Option<&[u8]> {
        bytes.iter().position(|b| *b > b' ').map(|at| &bytes[at..])
    }
    let rest = skip(skip(&declaration[after_name..])?.strip_prefix(b"=")?)?;
    let (&quote, rest) = rest.split_first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let label = &rest[..memchr::memchr(quote, rest)?];
    if label.iter().any(|b| *b <= b' ') {
        return None;
    }
    Encoding::for_label(label).map(|e| {
        if e == UTF_16LE || e == UTF_16BE {
            UTF_8
        } else {
            e
        }
    })
}

/// The charset a `<meta>` declares in `head`, found as the HTML standard's prescan finds
/// it: comments and the attributes of other tags are stepped over (a `<meta>` inside
/// them declares nothing), `content="…; charset=…"` counts only beside
/// `http-equiv="content-type"`, and a UTF-16 declaration in an ASCII-compatible
/// document means UTF-8, `x-user-defined` windows-1252. The standard's whitespace here
/// (tab, line feed, form feed, carriage return, space) is `u8::is_ascii_whitespace`'s.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let mut at = 0;
    while at < head.len() {
        let rest = &head[at..];
        if rest.starts_with(b"<!--") {
            // To the `>` of the first `-->`, whose dashes may be the `<!--`'s.
            at += 2 + memchr::memmem::find(&rest[2..], b"-->")? + 2;
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest
                .get(5)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'/')
        {
            at += 5;
            if let Some(encoding) = meta_declaration(head, &mut at)? {
                return Some(match encoding {
                    e if e == UTF_16LE || e == UTF_16BE => UTF_8,
                    e if e == X_USER_DEFINED => WINDOWS_1252,
                    e => e,
                });
            }
        } else if rest.starts_with(b"<") && starts_tag_name(&rest[1..]) {
            // Another tag: its name, then its attributes, whose quoted values may hold
            // a `>` or a `<meta`.
            at += rest
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == b'>')?;
            loop {
                match attribute(head, &mut at) {
                    Attribute::Found(..) => {}
                    Attribute::TagEnd => break,
                    Attribute::HeadEnd => return None,
                }
            }
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            at += memchr::memchr(b'>', rest)?;
        }
        at += 1;
    }
    None
}

/// The attributes of a `<meta>` from `at` (just past its name) to its end: the
/// encoding they declare, if they declare one the prescan accepts; `None` when the
/// head ends inside the tag.
fn meta_declaration(head: &[u8], at: &mut usize) -> Option<Option<&'static Encoding>> {
    let mut got_pragma = false;
    // Whether the charset came from `content` (true) or `charset` (false).
    let mut need_pragma = None;
    let mut charset = None;
    // Only the first attribute of a name counts, and only these three names matter:
    // a flag each, not a list of every name (a page could repeat hundreds).
    const NAMES: [&[u8]; 3] = [b"http-equiv", b"content", b"charset"];
    let mut seen = [false; NAMES.len()];
    loop {
        let (name, value) = match attribute(head, at) {
            Attribute::Found(name, value) => (name, value),
            Attribute::TagEnd => break,
            Attribute::HeadEnd => return None,
        };
        let Some(which) = NAMES.iter().position(|n| name.eq_ignore_ascii_case(n)) else {
            continue;
        };
        if std::mem::replace(&mut seen[which], true) {
            continue;
        }
        match which {
            0 => got_pragma = value.eq_ignore_ascii_case(b"content-type"),
            1 => {
                let declared = charset_in_content(value).and_then(Encoding::for_label);
                if let (None, Some(encoding)) = (charset, declared) {
                    charset = Some(Some(encoding));
                    need_pragma = Some(true);
                }
            }
            _ => {
                charset = Some(Encoding::for_label(value));
                need_pragma = Some(false);
            }
        }
    }
    Some(match need_pragma {
        Some(true) if !got_pragma => None,
        Some(_) => charset.flatten(),
        None => None,
    })
}

/// What [`attribute`] found.
enum Attribute<'h> {
    /// An attribute: its name and value, as written.
    Found(&'h [u8], &'h [u8]),
    /// The tag's `>`.
    TagEnd,
    /// The end of the prescanned bytes, inside the tag.
    HeadEnd,
}

/// The prescan's "get an attribute": the attribute at `at`, which it moves past it.
/// Names and values are compared ignoring ASCII case, as the standard lower-cases them.
fn attribute<'h>(head: &'h [u8], at: &mut usize) -> Attribute<'h> {
    let byte = |at: usize| head.get(at).copied();
    while byte(*at).is_some_and(|b| b.is_ascii_whitespace() || b == b'/') {
        *at += 1;
    }
    match byte(*at) {
        None => return Attribute::HeadEnd,
        Some(b'>') => return Attribute::TagEnd,
        Some(_) => {}
    }
    // The name: to `=` (not its first byte), whitespace, `/` or `>`.
    let name_start = *at;
    loop {
        match byte(*at) {
            None => return Attribute::HeadEnd,
            Some(b'=') if *at > name_start => break,
            Some(b) if b.is_ascii_whitespace() || b == b'/' || b == b'>' => break,
            Some(_) => *at += 1,
        }
    }
    let name = &head[name_start..*at];
    if byte(*at).is_some_and(|b| b == b'/' || b == b'>') {
        return Attribute::Found(name, &[]);
    }
    while byte(*at).is_some_and(|b| b.is_ascii_whitespace()) {
        *at += 1;
    }
    match byte(*at) {
        None => return Attribute::HeadEnd,
        Some(b'=') => *at += 1,
        Some(_) => return Attribute::Found(name, &[]),
    }
    while byte(*at).is_some_and(|b| b.is_ascii_whitespace()) {
        *at += 1;
    }
    match byte(*at) {
        None => Attribute::HeadEnd,
        Some(quote @ (b'"' | b'\'')) => {
            let value_start = *at + 1;
            match memchr::memchr(quote, &head[value_start..]) {
                Some(len) => {
                    *at = value_start + len + 1;
                    Attribute::Found(name, &head[value_start..value_start + len])
                }
                None => Attribute::HeadEnd,
            }
        }
        Some(b'>') => Attribute::Found(name, &[]),
        Some(_) => {
            let value_start = *at;
            while let Some(b) = byte(*at) {
                if b.is_ascii_whitespace() || b == b'>' {
                    return Attribute::Found(name, &head[value_start..*at]);
                }
                *at += 1;
            }
            Attribute::HeadEnd
        }
    }
}

/// The standard's "extract a character encoding from a meta element": the label after
/// a `charset=` in a `content` value.
fn charset_in_content(content: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    loop {
        let found = from + find_ignore_case(&content[from..], b"charset")?;
        from = found + b"charset".len();
        let rest = content[from..].trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b"=") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        return match rest.first() {
            Some(quote @ (b'"' | b'\'')) => {
                let len = memchr::memchr(*quote, &rest[1..])?;
                Some(&rest[1..1 + len])
            }
            Some(_) => {
                let len = rest
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || *b == b';')
                    .unwrap_or(rest.len());
                Some(&rest[..len])
            }
            None => None,
        };
    }
}

/// Whether `bytes` (what follows a `<`) start a tag's name, after an optional `/`: an
/// ASCII letter.
fn starts_tag_name(bytes: &[u8]) -> bool {
    let name = bytes.strip_prefix(b"/").unwrap_or(bytes);
    name.first().is_some_and(u8::is_ascii_alphabetic)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/ld+JSON"));
        assert!(!is_json("text/html"));
        assert!(is_html("Text/HTML; charset=x"));
        assert!(is_html("application/xhtml+xml"));
        assert!(is_text("text/plain"));
        assert!(is_text("image/svg+xml"));
        assert!(!is_text("image/png"));
    }

    #[test]
    fn html_without_a_content_type_is_sniffed() {
        for body in [
            "<!doctype html><title>x</title>",
            "\n\t <HTML lang=en>",
            "<p>text",
            "<!-- generated --><div>",
            "<br>",
        ] {
            assert!(sniffs_as_html(None, body.as_bytes()), "{body}");
            assert!(sniffs_as_html(Some("*/*"), body.as_bytes()), "{body}");
            assert!(
                !sniffs_as_html(Some("text/plain"), body.as_bytes()),
                "{body}"
            );
        }
        for body in [
            "{\"a\": 1}",
            "<pre>x",
            "<html",
            "<p-x>",
            "\u{feff}<html>",
            "text <p>",
        ] {
            assert!(!sniffs_as_html(None, body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn header_charset_wins() {
        let body = b"caf\xe9";
        let d = decode(body, Some("text/plain; charset=ISO-8859-1"), false);
        assert_eq!(d.text, "café");
        assert!(!d.lossy);
    }

    #[test]
    fn bom_is_used_and_stripped() {
        let body: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let d = decode(&body, Some("text/plain"), false);
        assert_eq!(d.text, "hé");
        assert_eq!(d.encoding, UTF_16LE);
        let d = decode(b"\xEF\xBB\xBFok", None, false);
        assert_eq!(d.text, "ok");
    }

    #[test]
    fn meta_charset_is_sniffed_for_html_only() {
        let body = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\"></head>\x93\xfa";
        assert_eq!(
            decode(body, Some("text/html"), true).encoding.name(),
            "Shift_JIS"
        );
        assert_eq!(decode(body, Some("text/html"), false).encoding, UTF_8);
        let body = b"<meta charset='utf-16'><p>x";
        assert_eq!(decode(body, None, true).encoding, UTF_8);
    }

    #[test]
    fn the_prescan_reads_declarations_as_the_standard_does() {
        for (head, expected) in [
            // Comments hide declarations; `<!-->` is a whole comment.
            (
                "<!-- <meta charset=iso-8859-2> --><meta charset=koi8-r>",
                "KOI8-R",
            ),
            ("<!--><meta charset=koi8-r>", "KOI8-R"),
            ("<!-- <meta charset=koi8-r>", "UTF-8"),
            // So do other tags' attribute values, and an unclosed one ends the scan.
            (
                "<a title='<meta charset=iso-8859-2>'><meta charset=koi8-r>",
                "KOI8-R",
            ),
            ("<a title='x><meta charset=koi8-r>", "UTF-8"),
            ("</meta charset=koi8-r><metadata charset=koi8-r>", "UTF-8"),
            // `content` counts only beside `http-equiv=content-type`, in either order.
            ("<meta name=description content='charset=koi8-r'>", "UTF-8"),
            (
                "<meta content='text/html; charset=\"koi8-r\"' HTTP-EQUIV=Content-Type>",
                "KOI8-R",
            ),
            (
                "<meta http-equiv=content-type content='text/html;charset = koi8-r;x'>",
                "KOI8-R",
            ),
            // The first of repeated attributes; `charset` inside other names is no match.
            ("<meta charset=koi8-r charset=shift_jis>", "KOI8-R"),
            (
                "<meta http-equiv=content-type http-equiv=x content='charset=koi8-r'>",
                "KOI8-R",
            ),
            (
                "<meta http-equiv=x http-equiv=content-type content='charset=koi8-r'>",
                "UTF-8",
            ),
            ("<meta name='charset-test' charset='koi8-r'>", "KOI8-R"),
            ("<meta/charset = ' koi8-r '/>", "KOI8-R"),
            // An unknown label declares nothing; the next declaration still counts.
            ("<meta charset=bogus><p><meta charset=koi8-r>", "KOI8-R"),
            ("<meta charset=x-user-defined>", "windows-1252"),
            ("<meta charset=utf-16le>", "UTF-8"),
            // An XML declaration at the very start, when no `<meta>` declares one.
            (
                "<?xml version=\"1.0\" encoding=\"ISO-8859-2\"?><p>",
                "ISO-8859-2",
            ),
            ("<?xml version='1.0' encoding\t=\n'utf-16'?>", "UTF-8"),
            (
                "<?xml version=\"1.0\" encoding=\"iso-8859-2\"?><meta charset=koi8-r>",
                "KOI8-R",
            ),
            ("<?xml version=\"1.0\" encoding=\"koi8 r\"?>", "UTF-8"),
            ("<?xml version=\"1.0\" encoding=koi8-r?>", "UTF-8"),
            (" <?xml version=\"1.0\" encoding=\"iso-8859-2\"?>", "UTF-8"),
            ("<\0?\0x\0m\0l\0", "UTF-16LE"),
            ("\0<\0?\0x\0m\0l", "UTF-16BE"),
        ] {
            let body = format!("{head}<p>text");
            assert_eq!(
                decode(body.as_bytes(), None, true).encoding.name(),
                expected,
                "{head}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let d = decode(b"ok \xff\xfe end", None, false);
        assert!(d.lossy);
        assert_eq!(d.text, "ok \u{FFFD}\u{FFFD} end");
    }
}
