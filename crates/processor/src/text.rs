//! Text helpers shared by the HTML pass and the record: HTML character references
//! (lol_html hands out raw source text, entities included), whitespace collapsing with a
//! byte cap, the elements that break words, truncation on a char boundary, and a byte
//! search for short runs.

use std::borrow::Cow;

use memchr::memchr;

/// `s` with its HTML character references decoded: numeric ones and the named ones
/// that real pages use; an unknown or malformed reference is kept as written.
pub(crate) fn decode_entities(s: &str) -> Cow<'_, str> {
    if find_byte(b'&', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    decode_entities_into(s, &mut out);
    Cow::Owned(out)
}

/// Appends `s` to `out` with its character references decoded, as [`decode_entities`]
/// does: for a caller that reuses one buffer for many strings.
pub(crate) fn decode_entities_into(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(amp) = find_byte(b'&', rest.as_bytes()) {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match reference(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// The position of the first `byte` in `haystack`. Runs between tags and attribute
/// values are mostly short, shorter than what `memchr` needs to pay for its set-up: the
/// first 64 bytes are searched 16 at a time, the rest with `memchr`.
/// Out of line on purpose: inlined into the tokenizer's tag loop, it made that loop
/// slower (measured).
#[inline(never)]
pub(crate) fn find_byte(byte: u8, haystack: &[u8]) -> Option<usize> {
    const BY_BLOCKS: usize = 64;
    let head = &haystack[..haystack.len().min(BY_BLOCKS)];
    let mut blocks = head.chunks_exact(16);
    let mut searched = 0;
    for block in &mut blocks {
        let found = equal_bytes(block.try_into().expect("16 bytes"), byte);
        if found != 0 {
            return Some(searched + found.trailing_zeros() as usize);
        }
        searched += 16;
    }
    if searched < head.len() {
        if head.len() >= 16 {
            // The last 16 bytes, overlapping the blocks searched: one step, not a loop.
            let last = &head[head.len() - 16..];
            let found = equal_bytes(last.try_into().expect("16 bytes"), byte);
            if found != 0 {
                return Some(head.len() - 16 + found.trailing_zeros() as usize);
            }
        } else if let Some(p) = head.iter().position(|b| *b == byte) {
            return Some(p);
        }
    }
    if head.len() == haystack.len() {
        // Not `memchr` on nothing: its dispatch cost more than this whole search.
        return None;
    }
    memchr(byte, &haystack[head.len()..]).map(|p| head.len() + p)
}

/// One bit per byte of `block` that equals `byte`, the first byte lowest: two vector
/// instructions on x86_64, where the tokenizer spends a tenth of its time here.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn equal_bytes(block: &[u8; 16], byte: u8) -> u32 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    // SAFETY: SSE2 is part of x86_64, and the load reads the 16 bytes of `block`, with
    // no alignment required.
    let mask = unsafe {
        let bytes = _mm_loadu_si128(block.as_ptr().cast());
        _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(byte as i8)))
    };
    mask as u32
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) use portable_equal_bytes as equal_bytes;

/// One bit per byte of `block` that equals `byte`, the first byte lowest, without
/// vector instructions: [`equal_bytes`] on other architectures, and tested against the
/// vector version on x86_64.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
pub(crate) fn portable_equal_bytes(block: &[u8; 16], byte: u8) -> u32 {
    block
        .iter()
        .enumerate()
        .fold(0, |mask, (i, b)| mask | u32::from(*b == byte) << i)
}

/// The character a reference at the start of `s` (which starts with `&`) stands for, and
/// the reference's length including an optional `;`.
fn reference(s: &str) -> Option<(char, usize)> {
    // By far the most common reference, in URLs with a query.
    if s.starts_with("&amp;") {
        return Some(('&', 5));
    }
    let body = &s[1..];
    if let Some(num) = body.strip_prefix('#') {
        let (digits, radix, skip) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 3),
            None => (num, 10, 2),
        };
        let len = digits
            .bytes()
            .take_while(|b| (*b as char).is_digit(radix))
            .count();
        if len == 0 || len > 8 {
            return None;
        }
        let code = u32::from_str_radix(&digits[..len], radix).ok()?;
        let c = char::from_u32(code)
            .filter(|c| *c != '\0')
            .unwrap_or('\u{FFFD}');
        let semi = usize::from(digits[len..].starts_with(';'));
        return Some((c, skip + len + semi));
    }
    let len = body.bytes().take_while(u8::is_ascii_alphanumeric).count();
    let name = &body[..len];
    let c = match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "euro" => '€',
        "trade" => '™',
        "bull" => '•',
        _ => LATIN1
            .iter()
            .position(|n| *n == name)
            .and_then(|i| char::from_u32(0xA0 + i as u32))?,
    };
    let semi = usize::from(body[len..].starts_with(';'));
    Some((c, 1 + len + semi))
}

/// The named references of U+00A0..=U+00FF, in code point order.
const LATIN1: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// [`BLOCK_ELEMENTS`] and [`is_block`] from one list.
macro_rules! block_elements {
    ($($name:literal),* $(,)?) => {
        /// The elements whose start and end separate words (in the visible text and in
        /// the text a CSS rule captures), as a browser starts a line there; lower case.
        pub(crate) const BLOCK_ELEMENTS: &[&[u8]] = &[$($name),*];

        /// Whether an element of this lower-case name is one of [`BLOCK_ELEMENTS`]: a
        /// match, not a search, since every start tag asks; in line, as it was in the
        /// one module that asked before the rule matcher did too (4.5k instructions on
        /// the bench's text record out of line, measured).
        #[inline(always)]
        pub(crate) fn is_block(name: &[u8]) -> bool {
            matches!(name, $($name)|*)
        }
    };
}

block_elements![
    b"p",
    b"div",
    b"br",
    b"li",
    b"dt",
    b"dd",
    b"tr",
    b"td",
    b"th",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"section",
    b"article",
    b"header",
    b"footer",
    b"nav",
    b"aside",
    b"main",
    b"blockquote",
    b"pre",
    b"ul",
    b"ol",
    b"table",
    b"form",
    b"hr",
    b"option",
];

/// Builds whitespace-collapsed, trimmed text from pieces, stopping at a byte cap.
#[derive(Debug)]
pub(crate) struct Collapser {
    out: String,
    /// Whitespace was seen since the last word: a space goes before the next one.
    pending_space: bool,
    cap: usize,
    truncated: bool,
}

impl Collapser {
    /// An empty collapser that keeps at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        Self::with_capacity(cap, 0)
    }

    /// An empty collapser that keeps at most `cap` bytes, with room for `capacity`.
    pub(crate) fn with_capacity(cap: usize, capacity: usize) -> Self {
        Collapser {
            out: String::with_capacity(capacity.min(cap)),
            pending_space: false,
            cap,
            truncated: false,
        }
    }

    /// Appends `piece`, collapsing whitespace runs (across pieces too) to one space.
    pub(crate) fn push(&mut self, piece: &str) {
        if self.truncated {
            return;
        }
        // ASCII text (most of it) needs only the ASCII whitespace test (with U+000B);
        // a captured value or a title is often one run of single-spaced words.
        if is_single_spaced_ascii(piece.as_bytes()) {
            self.word(piece);
        } else if piece.is_ascii() {
            self.push_ascii(piece);
        } else {
            self.words(piece.split(char::is_whitespace));
        }
    }

    /// Appends an ASCII `piece`. Words that a single space separates stay as they are
    /// and are copied together: a captured value or a title is often one such run.
    fn push_ascii(&mut self, piece: &str) {
        let bytes = piece.as_bytes();
        let is_space = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
        let mut at = 0;
        loop {
            let spaces = at;
            while bytes.get(at).is_some_and(is_space) {
                at += 1;
            }
            self.pending_space |= at > spaces;
            if at == bytes.len() {
                return;
            }
            let words = at;
            loop {
                while bytes.get(at).is_some_and(|b| !is_space(b)) {
                    at += 1;
                }
                if bytes.get(at) == Some(&b' ') && bytes.get(at + 1).is_some_and(|b| !is_space(b)) {
                    at += 1;
                } else {
                    break;
                }
            }
            self.word(&piece[words..at]);
        }
    }

    /// Appends the words of a piece split at every whitespace character.
    fn words<'p>(&mut self, mut words: impl Iterator<Item = &'p str>) {
        let first = words.next().unwrap_or_default();
        self.word(first);
        for word in words {
            self.pending_space = true;
            self.word(word);
        }
    }

    /// How many bytes the text holds so far.
    pub(crate) fn len(&self) -> usize {
        self.out.len()
    }

    /// Marks a word boundary (a block element), as whitespace would.
    pub(crate) fn separate(&mut self) {
        self.pending_space = true;
    }

    /// Appends a word (or words with single spaces between them), after a space when
    /// whitespace came before it; at the cap, as much of it as fits, without a space
    /// at its end.
    fn word(&mut self, word: &str) {
        if word.is_empty() || self.truncated {
            return;
        }
        let space = self.pending_space && !self.out.is_empty();
        let needed = word.len() + usize::from(space);
        if self.out.len() + needed > self.cap {
            self.truncated = true;
            let room = self.cap.saturating_sub(self.out.len() + usize::from(space));
            let kept = word[..floor_char_boundary(word, room)].trim_end_matches(' ');
            if !kept.is_empty() {
                if space {
                    self.out.push(' ');
                }
                self.out.push_str(kept);
            }
            return;
        }
        if space {
            self.out.push(' ');
        }
        self.out.push_str(word);
        self.pending_space = false;
    }

    /// The text, and whether the cap cut it.
    pub(crate) fn finish(self) -> (String, bool) {
        (self.out, self.truncated)
    }
}

/// Whether `bytes` are words of ASCII bytes above the space, separated by single
/// spaces: nothing to collapse. Eight bytes at a time (in a `u64`, each byte's test
/// in its top bit, no carry crossing bytes): a byte at a time, it cost 4–5
/// instructions a byte, and eight at a time took 22.6k instructions off the bench
/// page's visible-text record (16 KB of text). A control byte or any other whitespace
/// sends the piece to the full path.
fn is_single_spaced_ascii(bytes: &[u8]) -> bool {
    const LOW_BITS: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const TOP_BITS: u64 = 0x8080_8080_8080_8080;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    match (bytes.first(), bytes.last()) {
        (Some(b' '), _) | (_, Some(b' ')) | (None, _) => return false,
        _ => {}
    }
    let mut words = bytes.chunks_exact(8);
    let mut space_before = false;
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // Top bit set where the byte is 0x21..=0x7F: its low seven bits plus 0x5F
        // reach 0x80 from 0x21 up, and its own top bit is clear.
        let printable = ((w & LOW_BITS) + 0x5F5F_5F5F_5F5F_5F5F) & !w & TOP_BITS;
        // Top bit set where the byte is a space: where `w ^ SPACES` has a zero byte.
        let x = w ^ SPACES;
        let spaces = !(((x & LOW_BITS) + LOW_BITS) | x) & TOP_BITS;
        let doubled = spaces & (spaces >> 8) != 0 || (space_before && spaces & 0x80 != 0);
        if printable | spaces != TOP_BITS || doubled {
            return false;
        }
        space_before = spaces >> 63 != 0;
    }
    let mut after_space = space_before;
    for &byte in words.remainder() {
        if byte <= b' ' || byte >= 0x80 {
            if byte != b' ' || after_space {
                return false;
            }
            after_space = true;
        } else {
            after_space = false;
        }
    }
    true
}

/// The largest index `<= at` that is a char boundary of `s`.
pub(crate) fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0)
}

/// `s` collapsed and trimmed, without a cap.
pub(crate) fn collapse(s: &str) -> String {
    let mut collapser = Collapser::new(usize::MAX);
    collapser.push(s);
    collapser.finish().0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_agrees_with_its_portable_version() {
        // Every byte value, at every position, among neighbours that are equal or not.
        for byte in 0..=255u8 {
            for position in 0..16 {
                for filler in [byte, byte.wrapping_add(1), 0x80, b'<'] {
                    let mut block = [filler; 16];
                    block[position] = byte;
                    for needle in [byte, filler, byte ^ 0x80] {
                        assert_eq!(
                            equal_bytes(&block, needle),
                            portable_equal_bytes(&block, needle),
                            "{needle} in {block:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn entities_decode_named_and_numeric_and_keep_unknown() {
        assert_eq!(
            decode_entities("a &amp; b &lt;&#65;&#x42;&#x43 &bogus; & x"),
            "a & b <ABC &bogus; & x"
        );
        assert_eq!(decode_entities("&amp;&amp&ampx;&AMP;&"), "&&&ampx;&&");
        assert!(matches!(decode_entities("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn find_byte_finds_the_first_occurrence_at_any_length_and_offset() {
        let page: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for needle in [b'<', b'&', 0x00, 0x80, 0xFF, page[150]] {
            for start in 0..40 {
                for end in start..page.len() {
                    let haystack = &page[start..end];
                    let expected = haystack.iter().position(|b| *b == needle);
                    assert_eq!(
                        find_byte(needle, haystack),
                        expected,
                        "{needle} in {start}..{end}"
                    );
                }
            }
        }
    }

    /// Pieces of bytes that the word test treats differently (letters, DEL, space,
    /// other whitespace, control and non-ASCII bytes), at lengths of up to five words of
    /// eight: the test says "nothing to collapse" exactly when the piece is words of
    /// ASCII bytes above the space with single spaces between them.
    #[test]
    fn single_spaced_ascii_is_found_at_any_length_and_alignment() {
        const BYTES: [u8; 9] = [b'a', b'!', 0x7F, b' ', b' ', b'\t', 0x1F, 0x80, 0xC3];
        let mut rng = crate::random_cases::rng(5);
        for _ in 0..crate::random_cases::scaled(20_000) {
            let len = rng.usize(0..40);
            // Mostly words and spaces, so that the answer is often yes.
            let odd = rng.usize(0..4) == 0;
            let piece: Vec<u8> = (0..len)
                .map(|_| BYTES[rng.usize(..if odd { BYTES.len() } else { 5 })])
                .collect();
            let expected = !piece.is_empty()
                && piece
                    .split(|b| *b == b' ')
                    .all(|word| !word.is_empty() && word.iter().all(|b| (0x21..0x80).contains(b)));
            assert_eq!(is_single_spaced_ascii(&piece), expected, "{piece:?}");
        }
    }

    #[test]
    fn collapser_collapses_across_pieces_and_trims() {
        let mut c = Collapser::new(100);
        c.push("  Hello \n");
        c.push("\tworld");
        c.push("!  ");
        assert_eq!(c.finish(), ("Hello world!".to_owned(), false));
    }

    #[test]
    fn collapser_splits_where_unicode_sees_whitespace() {
        for piece in [
            " a\tb\nc\x0Bd\x0Ce\rf  g ",
            "x\u{A0}y\u{2003}z\u{3000}w é\u{85}q",
            "\x1Fa\x1Cb",
            "",
            " \t ",
        ] {
            let expected = piece.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(collapse(piece), expected, "{piece:?}");
        }
    }

    #[test]
    fn collapser_copies_runs_of_words_as_joining_the_words_would() {
        // Every piece of up to five bytes from this alphabet, in pairs, under every cap;
        // U+001F is no whitespace, but it is no plain word byte either.
        let alphabet = [b'a', b' ', b'\t', b'\x0B', b'\x1F'];
        let pieces: Vec<String> = (0..5u32)
            .flat_map(|len| {
                (0..5usize.pow(len)).map(move |mut n| {
                    (0..len)
                        .map(|_| {
                            let c = char::from(alphabet[n % 5]);
                            n /= 5;
                            c
                        })
                        .collect()
                })
            })
            .collect();
        for (i, first) in pieces.iter().enumerate().step_by(7) {
            for second in pieces.iter().skip(i % 3).step_by(11) {
                let text = [first.as_str(), second.as_str()].concat();
                let words: Vec<&str> = text
                    .split(|c| matches!(c, '\t'..='\r' | ' '))
                    .filter(|w| !w.is_empty())
                    .collect();
                let joined = words.join(" ");
                for cap in 0..=joined.len() + 1 {
                    let mut c = Collapser::new(cap);
                    c.push(first);
                    c.push(second);
                    let expected = if joined.len() <= cap {
                        (joined.clone(), false)
                    } else {
                        (joined[..cap].trim_end().to_owned(), true)
                    };
                    assert_eq!(c.finish(), expected, "{first:?} {second:?} cap {cap}");
                }
            }
        }
    }

    #[test]
    fn collapser_cuts_on_a_char_boundary() {
        let mut c = Collapser::new(7);
        c.push("ab ééé");
        let (text, truncated) = c.finish();
        assert!(truncated);
        assert_eq!(text, "ab éé");
    }
}
