//! JSON bodies: validated and kept as their original text ([`RawValue`]), which is much
//! cheaper than parsing into a tree and serializing it again.

use serde_json::value::RawValue;
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
