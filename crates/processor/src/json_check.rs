//! [`check`]: whether a text is one valid JSON value (RFC 8259), in one pass that
//! keeps a bit per nesting level and builds nothing, unless asked for an index of the
//! arrays and objects (for JSON Pointers).
//!
//! A record keeps a JSON body as its original text, so all processing needs to know is
//! that the text is valid and where its value starts and ends. serde_json answers that
//! by running its deserializer with every value ignored: on the bench's 1 KiB document
//! that took 1.6 × the instructions and 1.5 × the mispredicted branches of this scan
//! (cachegrind). It accepts what serde_json's `RawValue` accepts: a `\u` escape needs four
//! hex digits but need not pair its surrogates. The input is a `str`, so its bytes are
//! already valid UTF-8.

use std::ops::Range;

/// Why a text is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Arrays and objects nest deeper than the limit.
    TooDeep,
    /// Not valid JSON: what was wrong, and the byte offset where it was found.
    Invalid(&'static str, usize),
}

/// Containers deeper than this are refused however deep the caller allows: the open
/// containers' kinds are one bit each in a `u128`.
pub(crate) const DEPTH_LIMIT: usize = 127;

/// Checks that `text` is exactly one JSON value, with arrays and objects nested at
/// most `max_depth` deep (at most [`DEPTH_LIMIT`]), and returns the value's range:
/// the text without the whitespace around it. With `containers`, it also appends the
/// range of every array and object, in order of their starts.
pub(crate) fn check(
    text: &str,
    max_depth: usize,
    mut containers: Option<&mut Vec<(usize, usize)>>,
) -> Result<Range<usize>, JsonError> {
    let max_depth = max_depth.min(DEPTH_LIMIT);
    let b = text.as_bytes();
    let invalid = |what, at| Err(JsonError::Invalid(what, at));
    let start = skip_space(b, 0);
    let mut at = start;
    let mut depth = 0usize;
    // Bit `d` is set when the container at depth `d + 1` is an object; `in_object` is
    // the innermost one's bit, kept apart so that only a close shifts the stack.
    let mut objects = 0u128;
    let mut in_object = false;
    // With `containers`: the positions in it of the open containers, innermost last.
    let mut open = Vec::new();
    'value: loop {
        // A value starts at `at`.
        match b.get(at) {
            Some(b'{' | b'[') => {
                let object = b[at] == b'{';
                let container_start = at;
                if depth == max_depth {
                    return Err(JsonError::TooDeep);
                }
                let close = if object { b'}' } else { b']' };
                at = skip_space(b, at + 1);
                if b.get(at) == Some(&close) {
                    at += 1;
                    if let Some(containers) = containers.as_deref_mut() {
                        containers.push((container_start, at));
                    }
                } else {
                    if object {
                        objects |= 1 << depth;
                        at = member_name(b, at)?;
                    } else {
                        objects &= !(1 << depth);
                    }
                    depth += 1;
                    in_object = object;
                    if let Some(containers) = containers.as_deref_mut() {
                        open.push(containers.len());
                        containers.push((container_start, 0));
                    }
                    continue 'value;
                }
            }
            Some(b'"') => at = string_end(b, at)?,
            Some(b't') => at = literal_end(b, at, b"true")?,
            Some(b'f') => at = literal_end(b, at, b"false")?,
            Some(b'n') => at = literal_end(b, at, b"null")?,
            Some(b'-' | b'0'..=b'9') => at = number_end(b, at)?,
            _ => return invalid("expected a value", at),
        }
        // After a value: the end of the text, or what follows it in its container.
        loop {
            at = skip_space(b, at);
            if depth == 0 {
                return if at == b.len() {
                    Ok(start..text.trim_end_matches([' ', '\t', '\n', '\r']).len())
                } else {
                    invalid("trailing characters after the value", at)
                };
            }
            match (b.get(at), in_object) {
                (Some(b','), true) => {
                    at = member_name(b, skip_space(b, at + 1))?;
                    continue 'value;
                }
                (Some(b','), false) => {
                    at = skip_space(b, at + 1);
                    continue 'value;
                }
                (Some(b'}'), true) | (Some(b']'), false) => {
                    depth -= 1;
                    in_object = depth > 0 && objects & (1 << (depth - 1)) != 0;
                    at += 1;
                    if let (Some(containers), Some(i)) = (containers.as_deref_mut(), open.pop()) {
                        containers[i].1 = at;
                    }
                }
                (_, true) => return invalid("expected `,` or `}`", at),
                (_, false) => return invalid("expected `,` or `]`", at),
            }
        }
    }
}

/// The first index at or after `at` that is not JSON whitespace.
pub(crate) fn skip_space(b: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(at) {
        at += 1;
    }
    at
}

/// After a `{` or a `,` in an object (and whitespace): a member's name and its `:`;
/// returns where its value starts.
fn member_name(b: &[u8], at: usize) -> Result<usize, JsonError> {
    if b.get(at) != Some(&b'"') {
        return Err(JsonError::Invalid("expected a member name", at));
    }
    let at = skip_space(b, string_end(b, at)?);
    if b.get(at) != Some(&b':') {
        return Err(JsonError::Invalid("expected `:`", at));
    }
    Ok(skip_space(b, at + 1))
}

/// The index past the string whose `"` is at `at`. Eight bytes at a time: the first
/// byte that needs a look (a quote, a backslash, a control character) is found
/// without a branch per byte, so a short string ends without a mispredicted loop exit.
#[inline(always)]
pub(crate) fn string_end(b: &[u8], mut at: usize) -> Result<usize, JsonError> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte that is zero, exact up to the first such byte (a borrow
    // only marks bytes above it).
    let zeros = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    at += 1;
    loop {
        if let Some(word) = b.get(at..at + 8) {
            let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            let special = zeros(x ^ (ONES * u64::from(b'"')))
                | zeros(x ^ (ONES * u64::from(b'\\')))
                | zeros(x & (ONES * 0xE0));
            if special == 0 {
                at += 8;
                continue;
            }
            at += special.trailing_zeros() as usize / 8;
        } else {
            while b
                .get(at)
                .is_some_and(|byte| !STRING_SPECIAL[usize::from(*byte)])
            {
                at += 1;
            }
        }
        at = match b.get(at) {
            Some(b'"') => return Ok(at + 1),
            Some(b'\\') => match b.get(at + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at + 2,
                Some(b'u')
                    if b.get(at + 2..at + 6)
                        .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) =>
                {
                    at + 6
                }
                _ => return Err(JsonError::Invalid("invalid escape in a string", at)),
            },
            Some(_) => return Err(JsonError::Invalid("control character in a string", at)),
            None => return Err(JsonError::Invalid("unterminated string", at)),
        };
    }
}

/// The bytes a string cannot hold as they are: `"`, `\` and control characters.
static STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

fn literal_end(b: &[u8], at: usize, literal: &[u8]) -> Result<usize, JsonError> {
    if b[at..].starts_with(literal) {
        Ok(at + literal.len())
    } else {
        Err(JsonError::Invalid("expected a value", at))
    }
}

/// The index past the number that starts at `at`: `-`, an integer part without a
/// leading zero, then an optional fraction and exponent.
fn number_end(b: &[u8], mut at: usize) -> Result<usize, JsonError> {
    let digits = |from: usize| {
        from + b.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|d| d.is_ascii_digit()).count()
        })
    };
    let invalid = |at| Err(JsonError::Invalid("invalid number", at));
    if b[at] == b'-' {
        at += 1;
    }
    match b.get(at) {
        Some(b'0') => at += 1,
        Some(b'1'..=b'9') => at = digits(at + 1),
        _ => return invalid(at),
    }
    if b.get(at) == Some(&b'.') {
        let end = digits(at + 1);
        if end == at + 1 {
            return invalid(end);
        }
        at = end;
    }
    if let Some(b'e' | b'E') = b.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = b.get(at) {
            at += 1;
        }
        let end = digits(at);
        if end == at {
            return invalid(end);
        }
        at = end;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;
    use crate::random_cases;

    /// What serde_json's `RawValue` makes of `text`: the value's text, or none.
    fn by_serde(text: &str) -> Option<String> {
        serde_json::from_str::<Box<RawValue>>(text)
            .ok()
            .map(|raw| raw.get().to_owned())
    }

    fn by_check(text: &str) -> Option<String> {
        check(text, 100, None)
            .ok()
            .map(|range| text[range].to_owned())
    }

    #[rustfmt::skip]
    const CASES: [&str; 70] = [
        "", " ", "0", "-0", "01", "-", "1.", "1.5", ".5", "1e5", "1E+5", "1e-5", "1e", "1e+",
        "-1.25e-3", "00", "1.5.2", "+1", "0x10", "Infinity", "NaN", "true", "tru", "truex",
        "false", "null", "nul", "\"\"", "\"a\"", "\"a", "\"\\\"\"", "\"\\u00e9\"",
        "\"\\ud800\"", "\"\\u12\"", "\"\\uXYZW\"", "\"\\x\"", "\"\\/\\b\\f\\n\\r\\t\"",
        "\"tab\there\"", "\"nl\nhere\"", "\"\u{7f}\u{e9}\u{1F600}\"",
        "\"eight by eight, a long string with a \\\" quote in the middle of it\"",
        "[]", "[ ]", "[1,]", "[,1]", "[1 2]", "[1,2]", "[[[]]]", "[", "]", "{}", "{ }",
        "{\"a\":1}", "{\"a\" : 1 , \"b\" : [true, null]}", "{\"a\"}", "{\"a\":}", "{a:1}",
        "{\"a\":1,}", "{,}", "{\"a\":1 \"b\":2}", "{\"a\":1]", "[1}", "1 2", " {} ",
        "\t[1]\r\n", "{}x", "\"a\"\"b\"", "[\"\\u0000\", -0.0E-0]", "[1,{\"k\":[{},{\"z\":\"\"}]}]",
        "\u{feff}1",
    ];

    #[test]
    fn accepts_and_rejects_what_serde_json_does() {
        for text in CASES {
            assert_eq!(by_check(text), by_serde(text), "{text:?}");
        }
    }

    #[test]
    fn agrees_with_serde_json_on_every_cut_and_byte_change() {
        // Every prefix, and every single-byte change to a structural byte, of documents
        // that use every construct.
        let documents = [
            r#"{"a": [1, -2.5e+3, true, false, null, "s\"\\\/\b\f\n\r\t\u00E9", {}, []], "b": {"c": 0}}"#,
            r#"[0.5E-1, "long strings are checked eight bytes at a time \u2028", [[[{"k": "v"}]]]]"#,
        ];
        let changes = b"{}[],:\"\\ 0-+.eEtfnu1a\x01";
        let mut compared = 0;
        for document in documents {
            for cut in 0..=document.len() {
                let text = &document[..cut];
                assert_eq!(by_check(text), by_serde(text), "{text:?}");
                compared += 1;
            }
            for at in 0..document.len() {
                for &byte in changes {
                    let mut bytes = document.as_bytes().to_vec();
                    bytes[at] = byte;
                    let text = String::from_utf8(bytes).expect("ASCII documents");
                    assert_eq!(by_check(&text), by_serde(&text), "{text:?}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 3000, "{compared}");
    }

    #[test]
    fn agrees_with_serde_json_on_random_edits() {
        // One to four random byte edits (change, insert, delete) of documents with
        // escapes, surrogates, big numbers and non-ASCII text. A longer run of the same
        // loop (400,000 edits) found no disagreement.
        let documents = [
            r#"{"a": [1, -2.5e+3, true, false, null, "s\"\\\/\b\f\n\r\t\u00E9", {}, []]}"#,
            "{\"x\":\"\u{e9}\u{1F600}\",\"y\":[1e10,0,-0.0,12345678901234567890123]}",
            " [ { \"a\" : \"\\ud83d\\ude00\" } , \"\\u00\" ] ",
        ];
        let alphabet = b"{}[],:\"\\ \t\n\r0123456789-+.eEtrufalsn/bx\x01\x1f";
        let mut rng = random_cases::rng(0x9E37_79B9_7F4A_7C15);
        let mut random = |below: usize| rng.usize(..below);
        let rounds = random_cases::scaled(20_000);
        let mut compared = 0;
        for round in 0..rounds {
            let mut bytes = documents[round % documents.len()].as_bytes().to_vec();
            for _ in 0..=random(4) {
                let (edit, at, byte) = (
                    random(3),
                    random(bytes.len() + 1),
                    alphabet[random(alphabet.len())],
                );
                match edit {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                assert_eq!(by_check(&text), by_serde(&text), "{text:?}");
                compared += 1;
            }
        }
        assert!(compared > rounds * 3 / 4, "{compared}");
    }

    #[test]
    fn containers_are_listed_by_start_with_their_ends() {
        let text = r#" [1, {}, {"a": []}]"#;
        let mut containers = Vec::new();
        assert_eq!(check(text, 10, Some(&mut containers)), Ok(1..19));
        assert_eq!(containers, [(1, 19), (5, 7), (9, 18), (15, 17)]);
        for (start, end) in containers {
            assert_eq!(
                by_serde(&text[start..end]).as_deref(),
                Some(&text[start..end])
            );
        }
    }

    #[test]
    fn depth_is_limited_without_recursion() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(check(&nested(5), 5, None).is_ok());
        assert_eq!(check(&nested(6), 5, None), Err(JsonError::TooDeep));
        assert!(check(&nested(DEPTH_LIMIT), usize::MAX, None).is_ok());
        assert_eq!(
            check(&nested(DEPTH_LIMIT + 1), usize::MAX, None),
            Err(JsonError::TooDeep)
        );
        assert_eq!(
            check(&"{\"a\":".repeat(10), 5, None),
            Err(JsonError::TooDeep)
        );
        assert!(check(&format!("[\"{}\"]", "[".repeat(1000)), 5, None).is_ok());
    }
}
