//! JSON bodies: checked (`json_check`) and kept as their original text ([`JsonText`]),
//! which is much cheaper than parsing into a tree and serializing it again, and JSON
//! Pointers evaluated on that text.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::Value;
use trawl_core::record::{JsonText, Note};

use crate::json_check::{check, skip_space, string_end, JsonError};

/// The deepest nesting kept. The record puts a body two levels down and an API page
/// (`{"items": [record]}`) two more, so readers using serde_json's default recursion
/// limit of 128 can still parse every record and page that holds it.
pub(crate) const MAX_DEPTH: usize = 120;

/// A checked JSON body: its text, and, when it was parsed for pointers, where each of
/// its arrays and objects ends.
#[derive(Debug)]
pub(crate) struct Document {
    /// The value's text.
    pub text: JsonText,
    /// (start, end) of every array and object in the text, by start, when the document
    /// was parsed with `index`.
    containers: Option<Vec<(usize, usize)>>,
}

/// `text` as a checked JSON document (with its containers indexed when `index`, for
/// [`Document::pointer`]), or the note saying why it is not kept.
pub(crate) fn parse(text: &str, index: bool) -> Result<Document, Note> {
    // Documents hold about one array or object in 64 bytes: room for that (up to a
    // bound, whatever the body) saves the index's first few growths.
    let room = if index {
        (text.len() / 64 + 4).min(4096)
    } else {
        0
    };
    let mut containers = Vec::with_capacity(room);
    match check(text, MAX_DEPTH, index.then_some(&mut containers)) {
        Ok(value) => {
            // Positions in the value's text, without the whitespace before it.
            for (start, end) in &mut containers {
                *start -= value.start;
                *end -= value.start;
            }
            Ok(Document {
                text: JsonText::from_checked(text[value].to_owned()),
                containers: index.then_some(containers),
            })
        }
        Err(JsonError::TooDeep) => Err(Note::new(
            "json_too_deep",
            format!("the JSON body nests deeper than {MAX_DEPTH} levels"),
        )),
        Err(JsonError::Invalid(what, at)) => {
            let before = &text.as_bytes()[..at];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = at
                - before
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |nl| nl + 1)
                + 1;
            Err(Note::new(
                "invalid_json",
                format!("the body is not valid JSON: {what} at line {line} column {column}"),
            ))
        }
    }
}

impl Document {
    /// The value a JSON Pointer names, or null. Panics (a bug, which the processor
    /// turns into a `processing_failed` note) unless the document was parsed with
    /// `index`. It walks the text: a member or element off the path is skipped
    /// with one look-up in the container index (the text is known to be valid, so
    /// nothing is checked again), and only the value found becomes a tree, so a
    /// pointer costs a small fraction of parsing the document.
    pub(crate) fn pointer(&self, pointer: &str) -> Value {
        let containers = self
            .containers
            .as_deref()
            .expect("a document for pointers is parsed with its containers indexed");
        let text = self.text.get();
        let mut current = 0..text.len();
        if !pointer.is_empty() {
            for token in pointer[1..].split('/') {
                let token = if token.contains('~') {
                    Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
                } else {
                    Cow::Borrowed(token)
                };
                match step(text, containers, current.start, &token) {
                    Some(next) => current = next,
                    None => return Value::Null,
                }
            }
        }
        serde_json::from_str(&text[current]).unwrap_or(Value::Null)
    }
}

/// One pointer step in the value at `at`: the member named `token` of an object
/// (the last one, as in a parsed tree, when a key repeats), or the element at index
/// `token` of an array; `None` when there is none.
fn step(
    text: &str,
    containers: &[(usize, usize)],
    mut at: usize,
    token: &str,
) -> Option<Range<usize>> {
    let b = text.as_bytes();
    match b.get(at)? {
        b'{' => {
            let mut found = None;
            at = skip_space(b, at + 1);
            while b.get(at)? == &b'"' {
                let key_end = string_end(b, at).ok()?;
                let key = &text[at..key_end];
                let value_start = skip_space(b, skip_space(b, key_end) + 1);
                let value_end = value_end(b, containers, value_start)?;
                if key_is(key, token) {
                    found = Some(value_start..value_end);
                }
                at = skip_space(b, value_end);
                if b.get(at) == Some(&b',') {
                    at = skip_space(b, at + 1);
                }
            }
            found
        }
        b'[' => {
            // RFC 6901: an index is `0` or digits without a leading zero.
            let index = match token.parse::<usize>() {
                Ok(i) if token == "0" || !token.starts_with(['0', '+']) => i,
                _ => return None,
            };
            at = skip_space(b, at + 1);
            for _ in 0..index {
                if b.get(at)? == &b']' {
                    return None;
                }
                at = skip_space(b, value_end(b, containers, at)?);
                if b.get(at) == Some(&b',') {
                    at = skip_space(b, at + 1);
                }
            }
            if b.get(at)? == &b']' {
                return None;
            }
            Some(at..value_end(b, containers, at)?)
        }
        _ => None,
    }
}

/// The index past the value that starts at `at`, containers looked up in `containers`.
fn value_end(b: &[u8], containers: &[(usize, usize)], at: usize) -> Option<usize> {
    match b.get(at)? {
        b'"' => string_end(b, at).ok(),
        b'{' | b'[' => containers
            .binary_search_by_key(&at, |(start, _)| *start)
            .ok()
            .map(|i| containers[i].1),
        _ => Some(
            at + b[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - at),
        ),
    }
}

/// Whether `key`, an object key as written (quotes and escapes included), is `token`.
fn key_is(key: &str, token: &str) -> bool {
    let inner = &key[1..key.len() - 1];
    if inner.contains('\\') {
        serde_json::from_str::<String>(key).is_ok_and(|key| key == token)
    } else {
        inner == token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_cases;

    #[test]
    fn keeps_the_original_text() {
        let doc = parse("{\"b\": 1,  \"a\": [1.50, \"x\"]}", false).unwrap();
        assert_eq!(doc.text.get(), "{\"b\": 1,  \"a\": [1.50, \"x\"]}");
    }

    #[test]
    fn pointers_walk_the_raw_text_like_the_tree() {
        let text = r#"{"a": {"b/c": [10, {"d": null}, "x"], "m~n": 1, "": 2},
            "esc\"k": 3, "z": 1, "z": [4]}"#;
        let raw = parse(text, true).unwrap();
        let doc: Value = serde_json::from_str(text).unwrap();
        for p in [
            "",
            "/a/b~1c/0",
            "/a/b~1c/1",
            "/a/b~1c/1/d",
            "/a/b~1c/2",
            "/a/b~1c/3",
            "/a/b~1c/01",
            "/a/b~1c/-",
            "/a/b~1c/+1",
            "/a/m~0n",
            "/a/",
            "/esc\"k",
            "/z/0",
            "/a/b~1c/0/x",
            "/nope",
            "/a/b~1c",
        ] {
            let by_tree = doc.pointer(p).cloned().unwrap_or(Value::Null);
            assert_eq!(raw.pointer(p), by_tree, "{p}");
        }
        assert_eq!(raw.pointer("/z/0"), 4);
        assert_eq!(raw.pointer("/a/b~1c/1/d"), Value::Null);
    }

    /// Every pointer into `value`, with a miss below each container.
    fn every_pointer(value: &Value, prefix: &str, out: &mut Vec<String>) {
        out.push(prefix.to_owned());
        let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
        match value {
            Value::Object(map) => {
                out.push(format!("{prefix}/missing"));
                for (key, child) in map {
                    every_pointer(child, &format!("{prefix}/{}", escape(key)), out);
                }
            }
            Value::Array(items) => {
                out.push(format!("{prefix}/{}", items.len()));
                out.push(format!("{prefix}/x"));
                for (i, child) in items.iter().enumerate() {
                    every_pointer(child, &format!("{prefix}/{i}"), out);
                }
            }
            _ => out.push(format!("{prefix}/0")),
        }
    }

    #[test]
    fn every_pointer_walks_like_the_tree() {
        let texts = [
            r#" { "a" : [ 1 , -2.5e+3 , true , null , "s" , { } , [ ] ] ,
                "str\"ing" : "with \\ \" ] } { [ , : inside" ,
                "\u0061\u00e9" : { "k" : [ [ [ 0 ] ] , { "z" : "last" } ] } ,
                "" : 0 , "~/" : { "x" : "y" } , "n" : 1E2 , "e" : "\u20ac" }
            "#,
            "[[],{},[{}],\"]\",\"\\\\\",0,[1,[2,[3]]]]",
            "\"top\"",
            "  42 ",
            "{\"dup\": {\"a\": 1}, \"dup\": {\"b\": [2]}}",
        ];
        for text in texts {
            let raw = parse(text, true).unwrap();
            let doc: Value = serde_json::from_str(text).unwrap();
            let mut pointers = Vec::new();
            every_pointer(&doc, "", &mut pointers);
            for p in pointers {
                let by_tree = doc.pointer(&p).cloned().unwrap_or(Value::Null);
                assert_eq!(raw.pointer(&p), by_tree, "{p} in {text}");
            }
        }
    }

    /// A random JSON text of nesting at most `depth`: numbers in their several forms,
    /// strings with escapes, and objects whose keys repeat and are written escaped or
    /// not (`"a"` and `"\u0061"` are one key), with random whitespace.
    fn random_json(rng: &mut fastrand::Rng, depth: usize, out: &mut String) {
        const SCALARS: [&str; 12] = [
            "0",
            "-2.5e+3",
            "1E2",
            "10",
            "true",
            "false",
            "null",
            "\"s\"",
            "\"\\\" ]}\"",
            "\"\\u20ac\"",
            "\"\"",
            "\"~/\"",
        ];
        const KEYS: [&str; 8] = [
            "\"a\"",
            "\"\\u0061\"",
            "\"b\"",
            "\"~\"",
            "\"/\"",
            "\"\"",
            "\"a~1b\"",
            "\"\\\"q\"",
        ];
        const SPACE: [&str; 4] = ["", " ", "\n  ", "\t"];
        let space = |rng: &mut fastrand::Rng, out: &mut String| {
            out.push_str(SPACE[rng.usize(..SPACE.len())]);
        };
        space(rng, out);
        match if depth == 0 { 0 } else { rng.u8(0..3) } {
            0 => out.push_str(SCALARS[rng.usize(..SCALARS.len())]),
            1 => {
                out.push('[');
                for i in 0..rng.usize(0..4) {
                    if i > 0 {
                        out.push(',');
                    }
                    random_json(rng, depth - 1, out);
                }
                space(rng, out);
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..rng.usize(0..4) {
                    if i > 0 {
                        out.push(',');
                    }
                    space(rng, out);
                    out.push_str(KEYS[rng.usize(..KEYS.len())]);
                    space(rng, out);
                    out.push(':');
                    random_json(rng, depth - 1, out);
                }
                space(rng, out);
                out.push('}');
            }
        }
        space(rng, out);
    }

    #[test]
    fn every_pointer_walks_like_the_tree_in_random_documents() {
        let mut rng = random_cases::rng(2);
        for _ in 0..random_cases::scaled(RANDOM_DOCUMENTS) {
            let mut text = String::new();
            random_json(&mut rng, 4, &mut text);
            let raw = parse(&text, true).unwrap();
            let doc: Value = serde_json::from_str(&text).unwrap();
            let mut pointers = Vec::new();
            every_pointer(&doc, "", &mut pointers);
            for p in pointers {
                let by_tree = doc.pointer(&p).cloned().unwrap_or(Value::Null);
                assert_eq!(raw.pointer(&p), by_tree, "{p} in {text}");
            }
        }
    }

    /// Documents [`every_pointer_walks_like_the_tree_in_random_documents`] walks: a
    /// fraction of a second in a debug build. Two runs of 300,000 with other seeds
    /// (release build) found no difference.
    const RANDOM_DOCUMENTS: usize = 2000;

    #[test]
    fn invalid_json_is_a_note() {
        assert_eq!(parse("{\"a\": ", false).unwrap_err().code, "invalid_json");
        assert_eq!(parse("", false).unwrap_err().code, "invalid_json");
    }

    #[test]
    fn depth_limit_is_a_note_not_a_panic() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok, false).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep, false).unwrap_err().code, "json_too_deep");
        let huge = "[".repeat(100_000);
        assert_eq!(parse(&huge, false).unwrap_err().code, "json_too_deep");
        let quoted = format!("[\"{}\"]", "[".repeat(1000));
        assert!(parse(&quoted, false).is_ok());
    }

    #[test]
    fn a_record_holding_the_deepest_body_still_parses() {
        let body = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let page = format!("{{\"items\":[{{\"json\":{body}}}]}}");
        assert!(serde_json::from_str::<serde_json::Value>(&page).is_ok());
    }
}
