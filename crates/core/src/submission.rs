//! Reading a submission body entry by entry, without building a list of its URLs: the
//! API reads it once to validate and count, the store writer once more to insert, so a
//! million-URL batch costs its body's bytes in memory and nothing per URL.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use url::Url;

/// Longest URL accepted; a longer one becomes an `invalid_url` record.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// How a submission body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `{"urls": [...], "options": {...}, "label": "..."}`.
    Json,
    /// One URL per line; blank lines and lines starting with `#` are skipped.
    Lines,
}

/// One entry of a submission, borrowed from the body where it can be.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Entry<'a> {
    /// A bare URL string.
    #[serde(borrow)]
    Plain(Cow<'a, str>),
    /// `{"url", "ref"}`.
    WithRef {
        /// The URL string.
        #[serde(borrow)]
        url: Cow<'a, str>,
        /// The caller's reference.
        #[serde(borrow, rename = "ref", default)]
        reference: Option<Cow<'a, str>>,
    },
}

impl Entry<'_> {
    /// The URL as submitted.
    pub fn url(&self) -> &str {
        match self {
            Entry::Plain(url) | Entry::WithRef { url, .. } => url,
        }
    }

    /// The caller's reference.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Entry::Plain(_) => None,
            Entry::WithRef { reference, .. } => reference.as_deref(),
        }
    }
}

/// The fields of a JSON submission other than `urls`, as given.
#[derive(Debug, Default)]
pub struct Head {
    /// `options`, checked later by the API.
    pub options: Option<serde_json::Value>,
    /// `label`.
    pub label: Option<String>,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmissionError {
    /// Not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    /// JSON of the wrong shape, or an entry the visitor refused.
    #[error("{0}")]
    Shape(String),
    /// A text/plain body that is not UTF-8.
    #[error("the text/plain body is not UTF-8")]
    NotUtf8,
}

/// Why a URL string is `invalid_url`, or `None` when it is a fetchable http(s) URL.
pub fn url_problem(url: &str) -> Option<String> {
    if url.len() > MAX_URL_BYTES {
        return Some(format!("the URL is longer than {MAX_URL_BYTES} bytes"));
    }
    match Url::parse(url) {
        Err(e) => Some(format!("the URL does not parse: {e}")),
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
            Some(format!("scheme {:?} is not http or https", parsed.scheme()))
        }
        Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
            Some("the URL has no host".into())
        }
        Ok(_) => None,
    }
}

/// Calls `visit` with every entry of `body`, in order, and returns the other fields.
/// `visit` may refuse an entry with a message, which ends the read as a
/// [`SubmissionError::Shape`].
pub fn read_entries(
    body: &[u8],
    format: BodyFormat,
    mut visit: impl FnMut(Entry<'_>) -> Result<(), String>,
) -> Result<Head, SubmissionError> {
    match format {
        BodyFormat::Lines => {
            let text = std::str::from_utf8(body).map_err(|_| SubmissionError::NotUtf8)?;
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                visit(Entry::Plain(Cow::Borrowed(line))).map_err(SubmissionError::Shape)?;
            }
            Ok(Head::default())
        }
        BodyFormat::Json => {
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            let head = SubmissionSeed { visit: &mut visit }
                .deserialize(&mut deserializer)
                .and_then(|head| deserializer.end().map(|()| head))
                .map_err(|e| match e.classify() {
                    serde_json::error::Category::Data => {
                        SubmissionError::Shape(format!("the submission is not valid: {e}"))
                    }
                    _ => SubmissionError::Syntax(e.to_string()),
                })?;
            Ok(head)
        }
    }
}

/// Reads the top-level object, handing each `urls` entry to `visit`.
struct SubmissionSeed<'v, F> {
    visit: &'v mut F,
}

impl<'de, F: FnMut(Entry<'_>) -> Result<(), String>> DeserializeSeed<'de>
    for SubmissionSeed<'_, F>
{
    type Value = Head;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Head, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Entry<'_>) -> Result<(), String>> Visitor<'de> for SubmissionSeed<'_, F> {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"urls": [...], "options": {...}, "label": "..."}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut head = Head::default();
        let mut saw_urls = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "urls" if !saw_urls => {
                    saw_urls = true;
                    map.next_value_seed(EntriesSeed {
                        visit: &mut *self.visit,
                    })?;
                }
                "options" if head.options.is_none() => head.options = Some(map.next_value()?),
                "label" if head.label.is_none() => head.label = map.next_value()?,
                "urls" | "options" | "label" => {
                    return Err(de::Error::custom(format!("duplicate field `{key}`")))
                }
                other => {
                    map.next_value::<IgnoredAny>()?;
                    return Err(de::Error::unknown_field(
                        other,
                        &["urls", "options", "label"],
                    ));
                }
            }
        }
        if !saw_urls {
            return Err(de::Error::missing_field("urls"));
        }
        Ok(head)
    }
}

/// Reads the `urls` array entry by entry.
struct EntriesSeed<'v, F> {
    visit: &'v mut F,
}

impl<'de, F: FnMut(Entry<'_>) -> Result<(), String>> DeserializeSeed<'de> for EntriesSeed<'_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Entry<'_>) -> Result<(), String>> Visitor<'de> for EntriesSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an array of URL strings or {"url", "ref"} objects"#)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while let Some(entry) = seq.next_element::<Entry<'de>>()? {
            (self.visit)(entry)
                .map_err(|message| de::Error::custom(format!("urls[{index}]: {message}")))?;
            index += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each entry's URL and ref, in order.
    type Seen = Vec<(String, Option<String>)>;

    fn collect(body: &str, format: BodyFormat) -> Result<(Seen, Head), SubmissionError> {
        let mut seen = Vec::new();
        let head = read_entries(body.as_bytes(), format, |entry| {
            seen.push((entry.url().to_owned(), entry.reference().map(str::to_owned)));
            Ok(())
        })?;
        Ok((seen, head))
    }

    #[test]
    fn json_entries_in_order_with_refs_and_head() {
        let (seen, head) = collect(
            r#"{"label": "l", "urls": ["http://a/", {"url": "http://b/\u00e9", "ref": "r"}], "options": {"retries": 1}}"#,
            BodyFormat::Json,
        )
        .unwrap();
        assert_eq!(
            seen,
            [
                ("http://a/".into(), None),
                ("http://b/é".into(), Some("r".into()))
            ]
        );
        assert_eq!(head.label.as_deref(), Some("l"));
        assert_eq!(head.options.unwrap()["retries"], 1);
    }

    #[test]
    fn lines_skip_blanks_and_comments() {
        let (seen, _) = collect("http://a/\n\n  # no\n http://b/ \r\n", BodyFormat::Lines).unwrap();
        assert_eq!(
            seen.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
            ["http://a/", "http://b/"]
        );
    }

    #[test]
    fn shape_and_syntax_errors_are_told_apart() {
        assert!(matches!(
            collect("{\"urls\": [", BodyFormat::Json),
            Err(SubmissionError::Syntax(_))
        ));
        assert!(matches!(
            collect("{\"urls\": 3}", BodyFormat::Json),
            Err(SubmissionError::Shape(_))
        ));
        assert!(matches!(
            collect("{\"nope\": 1, \"urls\": []}", BodyFormat::Json),
            Err(SubmissionError::Shape(_))
        ));
        assert!(matches!(
            collect("{}", BodyFormat::Json),
            Err(SubmissionError::Shape(_))
        ));
        let refused = read_entries(br#"{"urls": ["a", "b"]}"#, BodyFormat::Json, |e| {
            if e.url() == "b" {
                Err("no b".into())
            } else {
                Ok(())
            }
        });
        assert!(matches!(refused, Err(SubmissionError::Shape(m)) if m.contains("urls[1]: no b")));
    }

    #[test]
    fn url_problems() {
        assert_eq!(url_problem("https://example.com/x"), None);
        assert!(url_problem("ftp://x").unwrap().contains("scheme"));
        assert!(url_problem("not a url").unwrap().contains("does not parse"));
        assert!(
            url_problem(&format!("http://a/{}", "x".repeat(MAX_URL_BYTES)))
                .unwrap()
                .contains("longer")
        );
    }
}
