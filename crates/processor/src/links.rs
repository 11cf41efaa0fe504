//! A page's links made absolute: [`resolve_links`] joins each href to the base URL,
//! keeps http(s) only, drops fragments and repeats.
//!
//! Most hrefs on real pages have one of a few plain forms (`/path`, `path`, `../path`,
//! `https://host/path`). [`PlainBase::join`] joins those by concatenation, which gives
//! exactly what the URL parser gives and costs a fraction of it; anything else (dot
//! segments inside a path, characters the parser would escape, ports, user info, IP or
//! international hosts, other schemes) goes to the `url` crate.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use foldhash::fast::RandomState;
use trawl_core::record::LinkList;
use url::{Position, Url};

use crate::text::{decode_entities_into, find_byte};

/// `hrefs`, as written in the page (character references not decoded), resolved
/// against `base`: http(s) only, without fragments, deduplicated in first-seen order.
/// Empty and fragment-only hrefs point at the page itself and are skipped.
pub(crate) fn resolve_links(hrefs: &[impl AsRef<str>], base: &Url) -> LinkList {
    let plain = PlainBase::of(base);
    let bytes = hrefs.iter().map(|h| h.as_ref().len()).sum::<usize>();
    let mut links = LinkList::with_capacity(hrefs.len(), bytes + bytes / 2 + 1024);
    // One buffer for every href with a character reference other than `&amp;`.
    let mut decoded = String::new();
    for raw in hrefs {
        let raw = raw.as_ref();
        if resolved_plainly(&mut links, plain.as_ref(), raw, References::Written) {
            continue;
        }
        let href = if find_byte(b'&', raw.as_bytes()).is_some() {
            decoded.clear();
            decode_entities_into(raw, &mut decoded);
            if resolved_plainly(&mut links, plain.as_ref(), &decoded, References::Decoded) {
                continue;
            }
            &decoded
        } else {
            raw
        };
        let Ok(mut url) = base.join(href.trim_ascii()) else {
            continue;
        };
        if matches!(url.scheme(), "http" | "https") {
            url.set_fragment(None);
            links.push(&[url.as_str()]);
        }
    }
    dedup_first_seen(&mut links);
    links
}

/// Whether `href` needs no URL parser: it points at the page itself (empty or
/// fragment-only once trimmed: skipped), or it has a plain form, joined to `plain` and
/// appended to `links`. Trimming before decoding is the same as after: a decoded
/// `&amp;` is no space, and the plain join leaves any other reference to the decoder.
fn resolved_plainly(
    links: &mut LinkList,
    plain: Option<&PlainBase<'_>>,
    href: &str,
    references: References,
) -> bool {
    let href = href.trim_ascii();
    href.is_empty()
        || href.starts_with('#')
        || plain.is_some_and(|plain| links.push_with(|out| plain.join(href, references, out)))
}

/// Whether an href still holds its character references, as written in the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum References {
    /// As written: `&amp;` stands for `&`, and any other `&` is left to the decoder.
    Written,
    /// Decoded: a `&` is a `&`.
    Decoded,
}

/// An http(s) base URL split for joining by concatenation.
struct PlainBase<'u> {
    /// `scheme://authority`.
    origin: &'u str,
    /// The base's path up to and including its last `/`.
    directory: &'u str,
}

impl<'u> PlainBase<'u> {
    /// The split of `base`; `None` unless it is http(s).
    fn of(base: &'u Url) -> Option<Self> {
        if !matches!(base.scheme(), "http" | "https") {
            return None;
        }
        let path = base.path();
        Some(PlainBase {
            origin: &base[..Position::BeforePath],
            directory: path.rfind('/').map_or("/", |slash| &path[..=slash]),
        })
    }

    /// Appends `href` (trimmed, not empty, not fragment-only) joined to the base, without
    /// its fragment, to `out`, when it has a plain form; `false` (with something maybe
    /// appended) means "use the URL parser".
    fn join(&self, href: &str, references: References, out: &mut String) -> bool {
        if let Some(rest) = href
            .strip_prefix("https://")
            .or_else(|| href.strip_prefix("http://"))
        {
            return join_absolute(href, rest, references, out);
        }
        if href.starts_with("//") {
            return false;
        }
        if href.starts_with('/') {
            out.push_str(self.origin);
            return push_plain_path(href, references, out);
        }
        // A relative path: leading `./` and `../` steps, then plain segments.
        let mut directory = self.directory;
        let mut rest = href;
        loop {
            if let Some(after) = rest.strip_prefix("./") {
                rest = after;
            } else if let Some(after) = rest.strip_prefix("../") {
                rest = after;
                directory = parent(directory);
            } else {
                break;
            }
        }
        if rest.starts_with(['.', '/', '?']) {
            return false;
        }
        out.push_str(self.origin);
        out.push_str(directory);
        push_plain_path(rest, references, out)
    }
}

/// Appends `href`, an absolute http(s) URL whose part after `scheme://` is `rest`,
/// without its fragment, to `out`, when the URL parser would keep it as written: a
/// lower-case DNS name without port or user info, then a plain path (or none: the
/// parser adds `/`).
fn join_absolute(href: &str, rest: &str, references: References, out: &mut String) -> bool {
    let host_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let path = &rest[host_end..];
    if !is_plain_host(&rest[..host_end]) {
        return false;
    }
    out.push_str(&href[..href.len() - path.len()]);
    if !path.starts_with('/') {
        out.push('/');
    }
    push_plain_path(path, references, out)
}

/// A host the parser keeps as written: dot-separated labels of lower-case letters,
/// digits and inner hyphens, not punycode, the last one starting with a letter (so it
/// is not taken for an IPv4 address), within DNS lengths; or an IPv4 address in its
/// canonical form.
fn is_plain_host(host: &str) -> bool {
    is_plain_domain(host) || is_canonical_ipv4(host)
}

/// Four decimal numbers of 0 to 255 without leading zeros (`127.0.0.1`), which the
/// parser writes back as they are; any other IPv4 spelling (`127.1`, `0x7f.0.0.1`,
/// `127.000.0.1`) it rewrites.
fn is_canonical_ipv4(host: &str) -> bool {
    let parts = host.split('.');
    parts.clone().count() == 4
        && parts.into_iter().all(|part| {
            part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'))
                && part.parse::<u8>().is_ok()
        })
}

/// A domain name the parser keeps as written (see [`is_plain_host`]). On bytes, which
/// split faster than a `str` by a `char`: a page's absolute links all come here.
fn is_plain_domain(host: &str) -> bool {
    let labels = host.as_bytes().split(|b| *b == b'.');
    host.len() <= 253
        && labels.clone().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label[0] != b'-'
                && label[label.len() - 1] != b'-'
                && !label.starts_with(b"xn--")
                && label
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        })
        && labels
            .clone()
            .next_back()
            .is_some_and(|last| last[0].is_ascii_lowercase())
}

/// Appends `path` (a path, maybe with a query, maybe with a fragment) up to its fragment
/// to `out`, when the parser keeps that part as written: only characters it never
/// escapes, valid `%` escapes, no dot segment that it would remove (any `/.` or `%2e`),
/// and no `:` before the first `/` or `?` (in a relative path the parser would read a
/// scheme). With [`References::Written`], `&amp;` is appended as `&` and any other `&`
/// makes the path not plain. A look at the first segment, then one pass that stops only
/// at the few bytes that need a look, which also finds the fragment.
fn push_plain_path(path: &str, references: References, out: &mut String) -> bool {
    let bytes = path.as_bytes();
    // A `:` counts only before the first `/`, `?` or `#`: a few bytes of a relative
    // path, and none of any other.
    let first_segment = bytes
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(bytes.len());
    if bytes[..first_segment].contains(&b':') {
        return false;
    }
    // `path[copied..at]` is still to append.
    let mut copied = 0;
    let mut at = 0;
    loop {
        at = next_special(bytes, at);
        let Some(&byte) = bytes.get(at) else { break };
        match byte {
            b'#' => break,
            // The byte before a decoded `&amp;` is `;` as written and `&` decoded:
            // neither is the `/` that the dot-segment test looks for.
            b'.' if at > 0 && bytes[at - 1] == b'/' => return false,
            // A valid escape, except `%2e`: a dot to the parser's dot-segment rules
            // (`/%2e%2e/` goes up).
            b'%' if bytes.get(at + 1..at + 3).is_some_and(|hex| {
                hex.iter().all(u8::is_ascii_hexdigit) && !hex.eq_ignore_ascii_case(b"2e")
            }) =>
            {
                at += 2;
            }
            b'&' if references == References::Written => {
                if !bytes[at..].starts_with(b"&amp;") {
                    return false;
                }
                out.push_str(&path[copied..=at]);
                at += "&amp;".len();
                copied = at;
                continue;
            }
            b'.' | b'&' => {}
            _ => return false,
        }
        at += 1;
    }
    out.push_str(&path[copied..at]);
    true
}

/// The first byte at or after `at` that [`push_plain_path`] must look at ([`SPECIAL`]),
/// or the end. Sixteen bytes at a time: the runs between such bytes are tens of bytes
/// long, and a byte loop took a third of the time of resolving a page's links.
fn next_special(bytes: &[u8], mut at: usize) -> usize {
    while let Some(block) = bytes.get(at..at + 16) {
        let plain = plain_bytes(block.try_into().expect("16 bytes"));
        if plain == 0xFFFF {
            at += 16;
            continue;
        }
        at += (!plain).trailing_zeros() as usize;
        // `plain_bytes` knows the most common plain bytes, not all of them.
        if SPECIAL[usize::from(bytes[at])] {
            return at;
        }
        at += 1;
    }
    while bytes.get(at).is_some_and(|b| !SPECIAL[usize::from(*b)]) {
        at += 1;
    }
    at
}

/// One bit per byte of `block`, the first byte lowest, set for bytes that are not
/// [`SPECIAL`]: on x86_64 for the letters, digits and `/-=?_` (most of a link), in a
/// few vector instructions.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn plain_bytes(block: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    // SAFETY: SSE2 is part of x86_64, and the load reads the 16 bytes of `block`, with
    // no alignment required.
    let mask = unsafe {
        let bytes = _mm_loadu_si128(block.as_ptr().cast());
        let splat = |byte: u8| _mm_set1_epi8(byte as i8);
        // `lo..=hi` as `byte - lo <= hi - lo`, unsigned.
        let within = |v: __m128i, lo: u8, hi: u8| {
            let offset = _mm_sub_epi8(v, splat(lo));
            _mm_cmpeq_epi8(_mm_min_epu8(offset, splat(hi - lo)), offset)
        };
        let equal = |byte: u8| _mm_cmpeq_epi8(bytes, splat(byte));
        // Or-ing 0x20 lower-cases the letters and takes no other byte into `a..=z`.
        let letters = within(_mm_or_si128(bytes, splat(0x20)), b'a', b'z');
        let plain = _mm_or_si128(
            _mm_or_si128(
                _mm_or_si128(letters, within(bytes, b'0', b'9')),
                equal(b'/'),
            ),
            _mm_or_si128(
                _mm_or_si128(equal(b'-'), equal(b'=')),
                _mm_or_si128(equal(b'?'), equal(b'_')),
            ),
        );
        _mm_movemask_epi8(plain)
    };
    mask as u32
}

#[cfg(not(target_arch = "x86_64"))]
use portable_plain_bytes as plain_bytes;

/// One bit per byte of `block`, the first byte lowest, set for every byte that is not
/// [`SPECIAL`], without vector instructions: [`plain_bytes`] on other architectures,
/// and tested against the vector version on x86_64.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn portable_plain_bytes(block: &[u8; 16]) -> u32 {
    block.iter().enumerate().fold(0, |mask, (i, b)| {
        mask | u32::from(!SPECIAL[usize::from(*b)]) << i
    })
}

/// The bytes [`push_plain_path`] must look at: all but those the parser copies as they
/// are in a path or query of an http(s) URL and that say nothing about dot segments
/// (`.` does; `%` starts an escape that is checked on its own; `#` starts the fragment;
/// `&` may start a character reference).
static SPECIAL: [bool; 256] = {
    let mut table = [true; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = !matches!(byte as u8,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
            | b'-' | b'_' | b'~' | b'!' | b'$' | b'(' | b')' | b'*' | b'+' | b','
            | b';' | b'=' | b'@' | b'/' | b'?' | b':');
        byte += 1;
    }
    table
};

/// The directory above `directory` (which ends with `/`); the root is its own parent.
fn parent(directory: &str) -> &str {
    let without_slash = &directory[..directory.len() - 1];
    without_slash
        .rfind('/')
        .map_or(directory, |slash| &directory[..=slash])
}

/// Removes repeated links, keeping each one's first occurrence, with a set of borrowed
/// strings under a cheap word-at-a-time hash (links are short and many share a long
/// prefix, which makes sorting them compare the same bytes again and again). Most
/// pages' links are already unique once resolved: a first pass only checks that.
fn dedup_first_seen(links: &mut LinkList) {
    if links.len() < 2 {
        return;
    }
    // foldhash, hashbrown's own default: as fast here as a plain multiply-rotate hash,
    // and seeded at random, so that no page can be written whose links all collide (with
    // an unseeded hash, a 10 MiB page of such links would take quadratic time).
    let set = || -> HashSet<Link<'_>, RandomState> {
        HashSet::with_capacity_and_hasher(links.len(), RandomState::default())
    };
    let mut seen = set();
    if links.iter().all(|link| seen.insert(Link(link))) {
        return;
    }
    let keep: Vec<bool> = {
        let mut seen = set();
        links.iter().map(|link| seen.insert(Link(link))).collect()
    };
    let mut position = 0;
    links.retain(|_| {
        position += 1;
        keep[position - 1]
    });
}

/// A link in a set: hashed as its bytes alone (a `str` also hashes a terminator, one
/// more hasher step per link).
#[derive(PartialEq, Eq)]
struct Link<'a>(&'a str);

impl Hash for Link<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_cases;

    #[test]
    fn plain_bytes_marks_only_bytes_that_are_not_special() {
        // The vector version may leave a plain byte unmarked (the byte loop after it
        // takes it), never mark a special one; the portable version marks exactly the
        // plain bytes.
        for byte in 0..=255u8 {
            let plain = !SPECIAL[usize::from(byte)];
            for position in 0..16 {
                for filler in [b'a', b'.', byte] {
                    let mut block = [filler; 16];
                    block[position] = byte;
                    let bit = 1 << position;
                    assert_eq!(portable_plain_bytes(&block) & bit != 0, plain, "{byte}");
                    assert!(plain || plain_bytes(&block) & bit == 0, "{byte} marked");
                }
            }
        }
    }

    #[test]
    fn dedup_keeps_first_occurrences_in_order() {
        let mut links: LinkList = ["b", "a", "b", "c", "a", "b"].into_iter().collect();
        dedup_first_seen(&mut links);
        assert_eq!(links.iter().collect::<Vec<_>>(), ["b", "a", "c"]);
    }

    /// Hrefs of the plain forms, and near misses that only the parser gets right.
    const HREFS: [&str; 78] = [
        "/a/b?x=1&y=2",
        "/a/%2e%2E/b",
        "%2e/x",
        "/a/%2e?q=%2e",
        "rel/one",
        "page2.html",
        "/p%20q",
        "a:b/c",
        "/a/./b",
        "../up",
        "x/../y",
        "/bad%zz",
        "/bad%2",
        "/sp ace",
        "?q=1",
        "/a#frag",
        "rel#f",
        "/q?a=b?c",
        "/~user/(x)",
        "é",
        "/a\\b",
        "./here",
        "./",
        "../",
        "../../../../x",
        "./../a/b",
        ".././c",
        "..",
        ".",
        "../.hidden",
        "..//x",
        "../?q",
        "../a:b",
        "...",
        ".../x",
        "https://other.example/abs/1",
        "http://other.example",
        "https://other.example?q=1",
        "https://other.example#f",
        "https://Other.example/x",
        "HTTPS://other.example/x",
        "https://other.example:443/x",
        "https://other.example:8443/x",
        "https://u@other.example/x",
        "https://127.0.0.1/x",
        "https://0x7f.1/x",
        "https://a.b.123/x",
        "https://a..b/x",
        "https://a.b./x",
        "https://-a.example/x",
        "https://xn--nxasmq6b.example/x",
        "https://xn--a.example/x",
        "https://xn--ls8h.example/x",
        "https://bücher.example/x",
        "https://other.example/a/../b",
        "https:relative",
        "ftp://other.example/x",
        "./#x",
        "../#x",
        "/#x",
        "/a%2#f",
        "/a.#/.",
        "?q#x",
        "//h.example#x",
        "https://other.example#f/x",
        "https://other.example/p?q#f/./x",
        "x:y#z",
        "http://127.0.0.1/abs/1",
        "http://10.0.0.255:8080/a?b",
        "http://0.0.0.0/",
        "http://127.1/short",
        "http://127.000.0.1/zeros",
        "http://127.0.0.01/zero",
        "http://0x7f.0.0.1/hex",
        "http://256.0.0.1/big",
        "http://1.2.3.4.5/five",
        "http://127.0.0.1./dot",
        "http://[::1]/v6",
    ];

    const BASES: [&str; 6] = [
        "https://h.example/dir/page?q",
        "http://h.example:8080",
        "https://u:p@h.example/a/b/",
        "https://h.example/a//b/page",
        "https://h.example/",
        "http://h.example/a/b/c/d/e",
    ];

    /// What the URL parser alone makes of `href`: the link [`resolve_links`] must give.
    fn parser_join(base: &Url, href: &str) -> Option<String> {
        let mut url = base.join(href).ok()?;
        url.set_fragment(None);
        url.scheme().starts_with("http").then(|| url.to_string())
    }

    #[test]
    fn joins_match_the_url_parser() {
        for base in BASES {
            let base = Url::parse(base).unwrap();
            for href in HREFS {
                let expected: Vec<String> = parser_join(&base, href).into_iter().collect();
                let links = resolve_links(&[href], &base);
                assert_eq!(
                    links.iter().collect::<Vec<_>>(),
                    expected,
                    "{base} + {href}"
                );
            }
        }
    }

    /// Asserts that `written` (an href as in the page) resolves against `base` to what
    /// the URL parser alone makes of `decoded`.
    fn assert_joins_as_parser(base: &Url, written: &str, decoded: &str) {
        let expected = parser_join(base, decoded.trim());
        let links = resolve_links(&[written], base);
        assert_eq!(links.iter().next(), expected.as_deref(), "{written:?}");
    }

    #[test]
    fn character_references_are_decoded_before_joining() {
        let base = Url::parse(BASES[0]).unwrap();
        for (written, decoded) in [
            ("/a?x=1&amp;y=2", "/a?x=1&y=2"),
            ("rel&#35;frag", "rel#frag"),
            ("&#47;abs", "/abs"),
            (
                "https://other.example/&lt;x&gt;",
                "https://other.example/<x>",
            ),
            ("&#32;/sp&amp;", "/sp&"),
            ("&amp", "&"),
            ("rel?a=1&amp;b=2&amp;c#f&amp;", "rel?a=1&b=2&c"),
            ("../p&amp;q", "../p&q"),
            ("/a&amp;amp;b", "/a&amp;b"),
            ("/a&amp;/./b", "/a&/./b"),
            ("/a/&amp;./b", "/a/&./b"),
            ("/x&ampy&lt;", "/x&ampy<"),
            ("/x&amp;&#38;", "/x&&"),
            ("https://other.example?q&amp;r", "https://other.example?q&r"),
            ("https://other.example&amp;/x", "https://other.example&/x"),
        ] {
            assert_joins_as_parser(&base, written, decoded);
        }
    }

    /// Every printable byte in short paths, and in long ones at every offset (the long
    /// ones are searched 16 bytes at a time), and the bytes that need a look next to
    /// one another across those blocks.
    #[test]
    fn every_ascii_byte_in_a_path_joins_as_the_url_parser_joins() {
        let base = Url::parse(BASES[0]).unwrap();
        for byte in 0x20u8..0x7F {
            let c = char::from(byte);
            let mut hrefs = vec![
                format!("/a{c}b"),
                format!("x{c}y/z"),
                format!("/p/{c}q?{c}"),
            ];
            for offset in 0..36 {
                let (before, after) = ("x".repeat(offset), "y".repeat(36 - offset));
                hrefs.extend([
                    format!("/{before}{c}{after}"),
                    format!("/{before}/{c}{after}"),
                    format!("rel{before}{c}/{after}"),
                ]);
            }
            for href in hrefs {
                assert_joins_as_parser(&base, &href, &href);
            }
        }
        for offset in 0..36 {
            let pad = "p".repeat(offset);
            assert_joins_as_parser(&base, &format!("/{pad}&amp;x"), &format!("/{pad}&x"));
            for href in [
                format!("/{pad}%2Fx%zz"),
                format!("/{pad}/./x"),
                format!("/{pad}#/../x"),
            ] {
                assert_joins_as_parser(&base, &href, &href);
            }
        }
    }

    /// Hrefs of one to eight random pieces: the plain forms' bytes and the ones that
    /// send an href to the parser (dot segments, escapes, references, schemes, hosts,
    /// whitespace, backslashes), in every order.
    #[test]
    fn random_hrefs_join_as_the_url_parser_joins() {
        const PIECES: [&str; 53] = [
            "a",
            "Z",
            "0",
            "-",
            "/",
            "./",
            "../",
            ".",
            "..",
            "?",
            "#",
            "=",
            ";",
            "~",
            "@",
            "&amp;",
            "&",
            "&#47;",
            "&lt",
            "%2e",
            "%2E",
            "%2F",
            "%zz",
            "%",
            ":",
            "//",
            "\\",
            " ",
            "\t",
            "\n",
            "\u{1}",
            "\u{7f}",
            "é",
            "|",
            "[",
            "\"",
            "https://other.example",
            "HTTP://O.example:80",
            "http://127.0.0.1",
            "https://xn--a.example",
            "https://a..b",
            "http:",
            "mailto:x",
            "javascript:",
            "https://ab-.example",
            "https://a_b.example",
            "https://1.2.3.4",
            "https://b\u{fc}cher.example",
            "https://a.b:0443",
            "http://[::1]",
            "https://a.123",
            "https://A.example",
            "https://a.b.",
        ];
        let mut rng = random_cases::rng(7);
        let bases: Vec<Url> = BASES.iter().map(|b| Url::parse(b).unwrap()).collect();
        for _ in 0..random_cases::scaled(RANDOM_HREFS) {
            let href: String = (0..rng.usize(1..=8))
                .map(|_| PIECES[rng.usize(..PIECES.len())])
                .collect();
            let decoded = crate::text::decode_entities(&href);
            let trimmed = decoded.trim_ascii();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                // The page itself: skipped, where the parser would give the base.
                assert_eq!(
                    resolve_links(&[&href], &bases[0]).iter().count(),
                    0,
                    "{href:?}"
                );
                continue;
            }
            for base in &bases {
                assert_joins_as_parser(base, &href, &decoded);
            }
        }
    }

    /// Hrefs [`random_hrefs_join_as_the_url_parser_joins`] tries, against every base: a
    /// second in a debug build. Nine runs of a million with other seeds (release build)
    /// found no difference after the `%2e` fix.
    const RANDOM_HREFS: usize = 20_000;

    #[test]
    fn common_forms_skip_the_parser() {
        let base = Url::parse(BASES[0]).unwrap();
        let plain = PlainBase::of(&base).unwrap();
        let join = |href: &str| {
            let mut out = String::new();
            plain
                .join(href, References::Decoded, &mut out)
                .then_some(out)
        };
        for href in [
            "/a/b?x=1&y=2",
            "rel/one",
            "./here",
            "../up",
            "../../../../x",
            "rel#f",
            "https://other.example/abs/1",
            "http://other.example",
            "https://other.example?q=1",
            "https://other.example#f",
            "/a#frag",
            "https://127.0.0.1/x",
        ] {
            let joined = join(href);
            let mut expected = base.join(href).unwrap();
            expected.set_fragment(None);
            assert_eq!(joined.as_deref(), Some(expected.as_str()), "{href}");
        }
        for href in [
            "../.hidden",
            "https://Other.example/x",
            "https://127.1/x",
            "https://127.000.0.1/x",
        ] {
            assert_eq!(join(href), None, "{href}");
        }
    }
}
