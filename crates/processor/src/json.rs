//! JSON bodies: checked (`json_check`) and kept as their original text ([`JsonText`]),
//! which is much cheaper than parsing into a tree and serializing it again.

use serde_json::Value;
use trawl_core::record::{JsonText, Note};

use crate::json_check::{check, string_end, JsonError};

/// The deepest nesting kept. The record puts a body two levels down and an API page
/// (`{"items": [record]}`) two more, so readers using serde_json's default recursion
/// limit of 128 can still parse every record and page that holds it.
pub(crate) const MAX_DEPTH: usize = 120;

/// `text` as a JSON value's text, or the note saying why it is not kept.
pub(crate) fn parse_raw(text: &str) -> Result<JsonText, Note> {
    match check(text, MAX_DEPTH) {
        Ok(value) => Ok(JsonText::from_checked(text[value].to_owned())),
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

/// The value a JSON Pointer names in `json` (already checked), or null. It walks the
/// text: members and elements off the path are skipped by a byte scan (the text is
/// known to be valid, so nothing is checked again), and only the value found becomes
/// a tree, so a pointer costs a fraction of parsing the whole document.
pub(crate) fn pointer(json: &JsonText, pointer: &str) -> Value {
    let mut current = json.get();
    if !pointer.is_empty() {
        for token in pointer[1..].split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            match step(current, &token) {
                Some(next) => current = next,
                None => return Value::Null,
            }
        }
    }
    serde_json::from_str(current).unwrap_or(Value::Null)
}

/// One pointer step in `value`, the text of a valid JSON value: the member named
/// `token` of an object (the last one, as in a parsed tree, when a key repeats), or the
/// element at index `token` of an array; `None` when there is none.
fn step<'t>(value: &'t str, token: &str) -> Option<&'t str> {
    let text = Text(value.as_bytes());
    let mut at = text.skip_space(0);
    match text.0.get(at)? {
        b'{' => {
            let mut found = None;
            at = text.skip_space(at + 1);
            while text.0.get(at)? == &b'"' {
                let key_end = text.string_end(at)?;
                let key = &value[at..key_end];
                let value_start = text.skip_space(text.skip_space(key_end) + 1);
                let value_end = text.value_end(value_start)?;
                if key_is(key, token) {
                    found = Some(&value[value_start..value_end]);
                }
                at = text.skip_space(value_end);
                if text.0.get(at) == Some(&b',') {
                    at = text.skip_space(at + 1);
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
            at = text.skip_space(at + 1);
            for _ in 0..index {
                if text.0.get(at)? == &b']' {
                    return None;
                }
                at = text.skip_space(text.value_end(at)?);
                if text.0.get(at) == Some(&b',') {
                    at = text.skip_space(at + 1);
                }
            }
            if text.0.get(at)? == &b']' {
                return None;
            }
            Some(&value[at..text.value_end(at)?])
        }
        _ => None,
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

/// The bytes of valid JSON text, scanned without checking it again.
struct Text<'t>(&'t [u8]);

impl Text<'_> {
    /// The first index at or after `at` that is not JSON whitespace.
    fn skip_space(&self, mut at: usize) -> usize {
        while matches!(self.0.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            at += 1;
        }
        at
    }

    /// The index past the string that starts (with its `"`) at `at`.
    fn string_end(&self, at: usize) -> Option<usize> {
        string_end(self.0, at).ok()
    }

    /// The index past the value that starts at `at`.
    fn value_end(&self, at: usize) -> Option<usize> {
        match self.0.get(at)? {
            b'"' => self.string_end(at),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut i = at;
                loop {
                    match self.0.get(i)? {
                        b'"' => {
                            i = self.string_end(i)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(i + 1);
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => Some(
                at + self.0[at..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(self.0.len() - at),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_original_text() {
        let raw = parse_raw("{\"b\": 1,  \"a\": [1.50, \"x\"]}").unwrap();
        assert_eq!(raw.get(), "{\"b\": 1,  \"a\": [1.50, \"x\"]}");
    }

    #[test]
    fn pointers_walk_the_raw_text_like_the_tree() {
        let text = r#"{"a": {"b/c": [10, {"d": null}, "x"], "m~n": 1, "": 2},
            "esc\"k": 3, "z": 1, "z": [4]}"#;
        let raw = parse_raw(text).unwrap();
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
            assert_eq!(pointer(&raw, p), by_tree, "{p}");
        }
        assert_eq!(pointer(&raw, "/z/0"), 4);
        assert_eq!(pointer(&raw, "/a/b~1c/1/d"), Value::Null);
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
            let raw = parse_raw(text).unwrap();
            let doc: Value = serde_json::from_str(text).unwrap();
            let mut pointers = Vec::new();
            every_pointer(&doc, "", &mut pointers);
            for p in pointers {
                let by_tree = doc.pointer(&p).cloned().unwrap_or(Value::Null);
                assert_eq!(pointer(&raw, &p), by_tree, "{p} in {text}");
            }
        }
    }

    #[test]
    fn invalid_json_is_a_note() {
        assert_eq!(parse_raw("{\"a\": ").unwrap_err().code, "invalid_json");
        assert_eq!(parse_raw("").unwrap_err().code, "invalid_json");
    }

    #[test]
    fn depth_limit_is_a_note_not_a_panic() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_raw(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_raw(&deep).unwrap_err().code, "json_too_deep");
        let huge = "[".repeat(100_000);
        assert_eq!(parse_raw(&huge).unwrap_err().code, "json_too_deep");
        let quoted = format!("[\"{}\"]", "[".repeat(1000));
        assert!(parse_raw(&quoted).is_ok());
    }

    #[test]
    fn a_record_holding_the_deepest_body_still_parses() {
        let body = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let page = format!("{{\"items\":[{{\"json\":{body}}}]}}");
        assert!(serde_json::from_str::<serde_json::Value>(&page).is_ok());
    }
}
