//! JSON bodies: validated and kept as their original text ([`RawValue`]), which is much
//! cheaper than parsing into a tree and serializing it again.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::value::RawValue;
use serde_json::Value;
use trawl_core::record::Note;

/// The deepest nesting kept. The record puts a body two levels down and an API page
/// (`{"items": [record]}`) two more, so readers using serde_json's default recursion
/// limit of 128 can still parse every record and page that holds it.
pub(crate) const MAX_DEPTH: usize = 120;

/// `text` as a raw JSON value, or the note saying why it is not kept.
pub(crate) fn parse_raw(text: &str) -> Result<Box<RawValue>, Note> {
    if exceeds_depth(text.as_bytes(), MAX_DEPTH) {
        return Err(too_deep());
    }
    serde_json::from_str::<Box<RawValue>>(text).map_err(|e| {
        if e.to_string().contains("recursion limit") {
            too_deep()
        } else {
            Note::new("invalid_json", format!("the body is not valid JSON: {e}"))
        }
    })
}

/// The value a JSON Pointer names in `raw` (already validated), or null. It walks the
/// text: members and elements off the path are skipped, not built, and only the value
/// found becomes a tree, so a pointer costs a fraction of parsing the whole document.
pub(crate) fn pointer(raw: &RawValue, pointer: &str) -> Value {
    let mut current = raw;
    if !pointer.is_empty() {
        for token in pointer[1..].split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            let mut de = serde_json::Deserializer::from_str(current.get());
            match (Step { token: &token }).deserialize(&mut de) {
                Ok(Some(next)) => current = next,
                _ => return Value::Null,
            }
        }
    }
    serde_json::from_str(current.get()).unwrap_or(Value::Null)
}

/// One pointer step: the member named `token` of an object, or the element at index
/// `token` of an array; `None` when there is none.
struct Step<'t> {
    token: &'t str,
}

impl<'de> DeserializeSeed<'de> for Step<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Step<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A repeated key: the last one wins, as in a parsed tree.
        let mut found = None;
        while let Some(key) = map.next_key_seed(KeyIs(self.token))? {
            if key {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // RFC 6901: an index is `0` or digits without a leading zero.
        let index = match self.token.parse::<usize>() {
            Ok(i) if self.token == "0" || !self.token.starts_with(['0', '+']) => i,
            _ => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(None);
            }
        };
        for _ in 0..index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(None);
            }
        }
        let found = seq.next_element::<&'de RawValue>()?;
        // The parser wants the whole array read.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(found)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// An object key compared with a pointer token (keys with escapes arrive unescaped).
struct KeyIs<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

fn too_deep() -> Note {
    Note::new(
        "json_too_deep",
        format!("the JSON body nests deeper than {MAX_DEPTH} levels"),
    )
}

/// Whether arrays and objects in `json` nest deeper than `max` (brackets inside strings
/// do not count). A cheap byte scan: it runs before parsing so a hostile body never
/// reaches a recursive parser.
fn exceeds_depth(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
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
