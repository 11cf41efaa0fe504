//! The record of the contract (one per submitted URL) and the row the store keeps of it.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use actix::Message;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::job::JobKey;

/// Why no usable response came for a URL. Each failure maps to exactly one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL does not parse, is not http(s), or is longer than 8 KiB.
    InvalidUrl,
    /// The SSRF policy forbids the address.
    Blocked,
    /// The host name did not resolve.
    Dns,
    /// No TCP connection could be made.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// An attempt exceeded its deadline.
    Timeout,
    /// A redirect loop, too many redirects, or a redirect to a forbidden scheme.
    Redirect,
    /// The body exceeded `fetcher.max_body_bytes`.
    BodyTooLarge,
    /// The server broke HTTP: a reset, bad framing, a lying Content-Length.
    Protocol,
    /// The job was cancelled before this URL finished.
    Cancelled,
}

impl ErrorKind {
    /// Every kind, in the contract's order.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::InvalidUrl,
        ErrorKind::Blocked,
        ErrorKind::Dns,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Redirect,
        ErrorKind::BodyTooLarge,
        ErrorKind::Protocol,
        ErrorKind::Cancelled,
    ];

    /// The kind's name in records, filters and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::Blocked => "blocked",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Redirect => "redirect",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("unknown error kind `{s}`"))
    }
}

/// A record's `error`: what went wrong, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// The failure's kind.
    pub kind: ErrorKind,
    /// A human sentence.
    pub message: String,
}

/// One redirect hop followed: the URL requested and the status it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// The URL of the hop.
    pub url: String,
    /// Its 3xx status.
    pub status: u16,
}

/// Something odd that did not make the fetch fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// A stable snake_case code, such as `invalid_json`.
    pub code: String,
    /// A human sentence.
    pub message: String,
}

impl Note {
    /// A note with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Note {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// What an HTML page says about itself (`html` in a record).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HtmlSummary {
    /// The `<title>` text, whitespace-collapsed.
    pub title: Option<String>,
    /// `<meta name="description">`.
    pub description: Option<String>,
    /// `<link rel="canonical">`, absolute.
    pub canonical: Option<String>,
    /// `<html lang>`.
    pub lang: Option<String>,
    /// Absolute http(s) links, deduplicated, without fragments; null unless requested.
    pub links: Option<LinkList>,
}

/// A page's links, kept one after another in one buffer: a page has hundreds, and one
/// allocation for all of them instead of one each is a measurable part of processing a
/// page. Serialized as a JSON array of strings, exactly as a `Vec<String>` is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkList {
    /// Every link, one after another.
    text: String,
    /// Where each link ends in `text`.
    ends: Vec<usize>,
}

impl LinkList {
    /// An empty list with room for `links` links of `bytes` bytes in all.
    pub fn with_capacity(links: usize, bytes: usize) -> Self {
        LinkList {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(links),
        }
    }

    /// Appends one link written as the concatenation of `parts`.
    pub fn push(&mut self, parts: &[&str]) {
        for part in parts {
            self.text.push_str(part);
        }
        self.ends.push(self.text.len());
    }

    /// Appends the link that `write` appends to the list's text (it may only append);
    /// when `write` returns false, what it wrote is dropped and no link is added.
    /// Returns what `write` returned.
    pub fn push_with(&mut self, write: impl FnOnce(&mut String) -> bool) -> bool {
        let start = self.text.len();
        let keep = write(&mut self.text);
        assert!(self.text.len() >= start, "a link writer only appends");
        if keep {
            self.ends.push(self.text.len());
        } else {
            self.text.truncate(start);
        }
        keep
    }

    /// The number of links.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the list has no link.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The links, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.text[start..self.ends[i]]
        })
    }

    /// Keeps the links for which `keep` (called once per link, in order) is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let mut kept = LinkList::with_capacity(self.len(), self.text.len());
        for link in self.iter() {
            if keep(link) {
                kept.push(&[link]);
            }
        }
        *self = kept;
    }
}

impl<S: AsRef<str>> FromIterator<S> for LinkList {
    fn from_iter<I: IntoIterator<Item = S>>(links: I) -> Self {
        let mut list = LinkList::default();
        for link in links {
            list.push(&[link.as_ref()]);
        }
        list
    }
}

impl Serialize for LinkList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for LinkList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<String>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

/// The record of one submitted URL, exactly as the contract lists its keys. Every key is
/// always serialized; what does not apply is null.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The job's public id.
    pub job_id: String,
    /// Position in the submission, from 0.
    pub seq: u64,
    /// The URL as submitted.
    pub url: String,
    /// The caller's reference.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The URL of the final response, after redirects.
    pub final_url: Option<String>,
    /// The final response's status, whenever a response arrived.
    pub status: Option<u16>,
    /// `error` is null and `status` is 2xx.
    pub ok: bool,
    /// Set when no usable response came.
    pub error: Option<RecordError>,
    /// Requests actually made.
    pub attempts: u32,
    /// Duration of the final attempt with all its hops.
    pub elapsed_ms: Option<u64>,
    /// When the final attempt started.
    pub fetched_at: Option<String>,
    /// The final response's Content-Type.
    pub content_type: Option<String>,
    /// Decoded body size.
    pub bytes: Option<u64>,
    /// Hex SHA-256 of the decoded body.
    pub sha256: Option<String>,
    /// Redirect hops followed.
    pub redirects: Vec<Redirect>,
    /// The parsed JSON body, kept as its original text.
    pub json: Option<JsonText>,
    /// What an HTML page says about itself.
    pub html: Option<HtmlSummary>,
    /// Visible text, when requested.
    pub text: Option<String>,
    /// Response headers, when requested (repeated names joined with ", ").
    pub headers: Option<BTreeMap<String, String>>,
    /// The raw body, when requested.
    pub body: Option<String>,
    /// Values of the job's extraction rules.
    pub extract: serde_json::Map<String, serde_json::Value>,
    /// Oddities that did not fail the fetch.
    pub notes: Vec<Note>,
}

/// The text of one valid JSON value, kept and written into records as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Box<RawValue>", into = "Box<RawValue>")]
pub struct JsonText(String);

impl JsonText {
    /// `text`, which the caller has checked is exactly one valid JSON value without
    /// whitespace around it: records write it as it is, so anything else would make
    /// them invalid JSON.
    pub fn from_checked(text: String) -> Self {
        JsonText(text)
    }

    /// The value's text.
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl From<Box<RawValue>> for JsonText {
    fn from(raw: Box<RawValue>) -> Self {
        JsonText(Box::<str>::from(raw).into())
    }
}

impl From<JsonText> for Box<RawValue> {
    fn from(text: JsonText) -> Self {
        RawValue::from_string(text.0).expect("a JsonText holds valid JSON")
    }
}

impl Record {
    /// A record of a URL with nothing known yet: `ok` false, every optional key null.
    pub fn new(job_id: &str, seq: u64, url: &str, reference: Option<&str>) -> Self {
        Record {
            job_id: job_id.to_owned(),
            seq,
            url: url.to_owned(),
            reference: reference.map(str::to_owned),
            final_url: None,
            status: None,
            ok: false,
            error: None,
            attempts: 0,
            elapsed_ms: None,
            fetched_at: None,
            content_type: None,
            bytes: None,
            sha256: None,
            redirects: Vec::new(),
            json: None,
            html: None,
            text: None,
            headers: None,
            body: None,
            extract: serde_json::Map::new(),
            notes: Vec::new(),
        }
    }

    /// A record for a URL that produced no response: `error` set, everything else null.
    pub fn failed(
        job_id: &str,
        seq: u64,
        url: &str,
        reference: Option<&str>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Record {
            error: Some(RecordError {
                kind,
                message: message.into(),
            }),
            ..Record::new(job_id, seq, url, reference)
        }
    }

    /// The row the store keeps of this record, serialized once here.
    pub fn to_stored(&self, job: JobKey) -> StoredRecord {
        StoredRecord {
            job,
            seq: self.seq,
            ok: self.ok,
            error_kind: self.error.as_ref().map(|e| e.kind),
            json: self.to_json(),
        }
    }

    /// The record as compact JSON, byte for byte what `serde_json::to_string` gives,
    /// written directly: one buffer sized up front and strings escaped in bulk (a
    /// page's links make most of a record, and serde_json escapes byte by byte).
    fn to_json(&self) -> String {
        let html = self.html.as_ref();
        let links = html.and_then(|h| h.links.as_ref());
        let strings = [&self.url, &self.job_id]
            .into_iter()
            .map(String::len)
            .sum::<usize>()
            + [&self.final_url, &self.text, &self.body]
                .into_iter()
                .flatten()
                .map(String::len)
                .sum::<usize>()
            + links.map_or(0, |l| l.text.len() + 3 * l.len())
            + self.json.as_ref().map_or(0, |j| j.get().len())
            + self.extract.values().map(len_hint).sum::<usize>();
        let mut out = JsonOut(String::with_capacity(strings + strings / 16 + 512));
        out.0.push('{');
        out.key("job_id", true).str(&self.job_id);
        out.key("seq", false).uint(self.seq);
        out.key("url", false).str(&self.url);
        out.key("ref", false).opt_str(self.reference.as_deref());
        out.key("final_url", false)
            .opt_str(self.final_url.as_deref());
        out.key("status", false)
            .opt_uint(self.status.map(u64::from));
        out.key("ok", false).boolean(self.ok);
        out.key("error", false);
        match &self.error {
            Some(error) => {
                out.0.push('{');
                out.key("kind", true).str(error.kind.as_str());
                out.key("message", false).str(&error.message);
                out.0.push('}');
            }
            None => out.null(),
        }
        out.key("attempts", false).uint(self.attempts.into());
        out.key("elapsed_ms", false).opt_uint(self.elapsed_ms);
        out.key("fetched_at", false)
            .opt_str(self.fetched_at.as_deref());
        out.key("content_type", false)
            .opt_str(self.content_type.as_deref());
        out.key("bytes", false).opt_uint(self.bytes);
        out.key("sha256", false).opt_str(self.sha256.as_deref());
        out.key("redirects", false)
            .list(&self.redirects, |out, hop| {
                out.0.push('{');
                out.key("url", true).str(&hop.url);
                out.key("status", false).uint(hop.status.into());
                out.0.push('}');
            });
        out.key("json", false);
        match &self.json {
            Some(text) => out.0.push_str(text.get()),
            None => out.null(),
        }
        out.key("html", false);
        match html {
            Some(h) => {
                out.0.push('{');
                out.key("title", true).opt_str(h.title.as_deref());
                out.key("description", false)
                    .opt_str(h.description.as_deref());
                out.key("canonical", false).opt_str(h.canonical.as_deref());
                out.key("lang", false).opt_str(h.lang.as_deref());
                out.key("links", false);
                match links {
                    Some(links) => out.links(links),
                    None => out.null(),
                }
                out.0.push('}');
            }
            None => out.null(),
        }
        out.key("text", false).opt_str(self.text.as_deref());
        out.key("headers", false);
        match &self.headers {
            Some(headers) => out.object(headers, |out, value| out.str(value)),
            None => out.null(),
        }
        out.key("body", false).opt_str(self.body.as_deref());
        out.key("extract", false)
            .object(&self.extract, JsonOut::value);
        out.key("notes", false).list(&self.notes, |out, note| {
            out.0.push('{');
            out.key("code", true).str(&note.code);
            out.key("message", false).str(&note.message);
            out.0.push('}');
        });
        out.0.push('}');
        out.0
    }
}

/// About how many bytes `value` takes as JSON, to size the buffer up front.
fn len_hint(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::String(s) => s.len() + 3,
        Value::Array(items) => items.iter().map(len_hint).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 4 + len_hint(v))
                .sum::<usize>()
                + 2
        }
        _ => 8,
    }
}

/// Compact JSON written into a string, formatted exactly as serde_json formats it.
struct JsonOut(String);

impl JsonOut {
    /// `"name":` for one of the record's own keys, plain ASCII with nothing to escape,
    /// after a comma unless it is the object's `first` key.
    fn key(&mut self, name: &'static str, first: bool) -> &mut Self {
        if !first {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(name);
        self.0.push_str("\":");
        self
    }

    fn null(&mut self) {
        self.0.push_str("null");
    }

    /// A scalar of an extracted value, as serde_json prints it.
    fn display(&mut self, value: impl fmt::Display) {
        write!(self.0, "{value}").expect("writing to a String cannot fail");
    }

    /// An unsigned integer, without the formatting machinery `display` goes through.
    fn uint(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.0
            .push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
    }

    fn opt_uint(&mut self, value: Option<u64>) {
        match value {
            Some(value) => self.uint(value),
            None => self.null(),
        }
    }

    fn boolean(&mut self, value: bool) {
        self.0.push_str(if value { "true" } else { "false" });
    }

    fn opt_str(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.str(value),
            None => self.null(),
        }
    }

    fn list<T>(&mut self, items: impl IntoIterator<Item = T>, mut item: impl FnMut(&mut Self, T)) {
        self.0.push('[');
        for (i, each) in items.into_iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            item(self, each);
        }
        self.0.push(']');
    }

    /// A page's links as a JSON array. Links are URLs, which almost never hold a byte
    /// to escape: one check over all their text lets each be copied as it is.
    fn links(&mut self, links: &LinkList) {
        if any_escape(links.text.as_bytes()) {
            self.list(links.iter(), |out, link| out.str(link));
            return;
        }
        self.0.push('[');
        for (i, link) in links.iter().enumerate() {
            self.0.push_str(if i > 0 { ",\"" } else { "\"" });
            self.0.push_str(link);
            self.0.push('"');
        }
        self.0.push(']');
    }

    fn object<'v, V: 'v>(
        &mut self,
        entries: impl IntoIterator<Item = (&'v String, &'v V)>,
        mut value: impl FnMut(&mut Self, &V),
    ) {
        self.0.push('{');
        for (i, (name, each)) in entries.into_iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.str(name);
            self.0.push(':');
            value(self, each);
        }
        self.0.push('}');
    }

    /// Any JSON value; strings and containers here, scalars as serde_json prints them.
    fn value(&mut self, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => self.str(s),
            Value::Array(items) => self.list(items, JsonOut::value),
            Value::Object(map) => self.object(map, JsonOut::value),
            scalar => self.display(scalar),
        }
    }

    /// `s` as a JSON string, escaped as serde_json escapes: `"`, `\\` and control
    /// characters, with the short forms for backspace, tab, newline, form feed and
    /// carriage return. Runs without such bytes are found 32, then eight bytes at a time
    /// (the last eight bytes of a string overlapping the words before them) and copied
    /// whole.
    fn str(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = s.as_bytes();
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight"));
        self.0.push('"');
        // Shorter than a word (a captured name or number, a status): one test, not the
        // byte path below (172 instructions for a seven-byte value, measured).
        if bytes.len() < 8 && !any_escape(bytes) {
            self.0.push_str(s);
            self.0.push('"');
            return;
        }
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            if at + 32 <= bytes.len()
                && (escapes(word(at))
                    | escapes(word(at + 8))
                    | escapes(word(at + 16))
                    | escapes(word(at + 24)))
                    == 0
            {
                at += 32;
                continue;
            }
            if at + 8 <= bytes.len() && escapes(word(at)) == 0 {
                at += 8;
                continue;
            }
            if at + 8 > bytes.len() && bytes.len() >= 8 && escapes(word(bytes.len() - 8)) == 0 {
                // The tail is within the last eight bytes, which need no escape.
                at = bytes.len();
                continue;
            }
            let byte = bytes[at];
            let short = match byte {
                b'"' => Some('"'),
                b'\\' => Some('\\'),
                0x08 => Some('b'),
                0x0C => Some('f'),
                b'\n' => Some('n'),
                b'\r' => Some('r'),
                b'\t' => Some('t'),
                0x00..=0x1F => None,
                _ => {
                    at += 1;
                    continue;
                }
            };
            // `at` is an ASCII byte: a char boundary.
            self.0.push_str(&s[copied..at]);
            self.0.push('\\');
            match short {
                Some(c) => self.0.push(c),
                None => {
                    self.0.push_str("u00");
                    self.0.push(char::from(HEX[usize::from(byte >> 4)]));
                    self.0.push(char::from(HEX[usize::from(byte & 0xF)]));
                }
            }
            at += 1;
            copied = at;
        }
        self.0.push_str(&s[copied..]);
        self.0.push('"');
    }
}

/// Not zero when any of the eight bytes of `word` must be escaped in a JSON string:
/// below 0x20, `"` or `\\`. (Exact for "any", the classic has-zero-byte test; the
/// results of several words can be or-ed and tested once.)
fn escapes(word: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v;
    (word.wrapping_sub(ONES * 0x20) & !word
        | zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\'))))
        & HIGHS
}

/// Whether any byte of `bytes` must be escaped in a JSON string. Written without an
/// early exit, so that the compiler checks 16 bytes per step.
fn any_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |any, &b| {
        any | u8::from(b < 0x20 || b == b'"' || b == b'\\')
    }) != 0
}

/// A record as the store keeps it: the indexed columns and the record's JSON text, so
/// exports copy text instead of re-serializing.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The job's store key.
    pub job: JobKey,
    /// Position in the submission.
    pub seq: u64,
    /// The record's `ok`.
    pub ok: bool,
    /// The record's error kind, if any.
    pub error_kind: Option<ErrorKind>,
    /// The record as contract JSON.
    pub json: String,
}

/// Commit these records in one transaction. Sent by fetchers to the store writer; the
/// answer arrives after the commit, so a record counts as done only once durable.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StoreRecords {
    /// The records to commit; a (job, seq) already stored is ignored.
    pub records: Vec<StoredRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_record_has_every_contract_key() {
        let record = Record::failed("j", 3, "ftp://x", None, ErrorKind::InvalidUrl, "not http");
        let value: serde_json::Value = serde_json::from_str(&record.to_stored(1).json).unwrap();
        trawl_testkit::assert_record_keys(&value);
        assert_eq!(value["error"]["kind"], "invalid_url");
    }

    /// Strings that stress escaping: every control character, quotes, backslashes,
    /// DEL, non-ASCII, and runs longer than a word on both sides of an escape.
    fn tricky_strings() -> Vec<String> {
        let controls: String = (0u8..0x20).map(char::from).collect();
        vec![
            String::new(),
            "plain ascii text longer than eight bytes".to_owned(),
            controls.clone(),
            format!("a{controls}b\"c\\d\u{7f}e"),
            "\"quoted\" and \\back\\slashed\\".to_owned(),
            "Grüße, 日本語, emoji 🦀, \u{2028}\u{2029} and \u{FEFF}".to_owned(),
            "12345678\"12345678\\12345678\n1234567\t".to_owned(),
            "x".repeat(8) + "\u{1}" + &"y".repeat(15),
        ]
    }

    #[test]
    fn stored_json_is_what_serde_json_writes() {
        use serde_json::json;

        let strings = tricky_strings();
        let mut full = Record::new(&strings[1], 7, &strings[3], Some(&strings[4]));
        full.final_url = Some(strings[5].clone());
        full.status = Some(404);
        full.error = Some(RecordError {
            kind: ErrorKind::BodyTooLarge,
            message: strings[6].clone(),
        });
        full.attempts = 3;
        full.elapsed_ms = Some(u64::MAX);
        full.fetched_at = Some("2026-11-25T10:00:00Z".into());
        full.content_type = Some(strings[2].clone());
        full.bytes = Some(0);
        full.sha256 = Some("ab".repeat(32));
        full.redirects = strings
            .iter()
            .map(|url| Redirect {
                url: url.clone(),
                status: 301,
            })
            .collect();
        full.json = Some(JsonText::from_checked(
            r#"{"a": [1, 2.50, "x\"y"],  "b":null}"#.to_owned(),
        ));
        full.html = Some(HtmlSummary {
            title: Some(strings[5].clone()),
            description: None,
            canonical: Some(strings[7].clone()),
            lang: Some(String::new()),
            links: Some(strings.iter().collect()),
        });
        full.text = Some(strings[3].clone());
        full.headers = Some(strings.iter().map(|s| (s.clone(), s.clone())).collect());
        full.body = Some(strings[2].clone());
        full.extract = json!({
            "z": null, "a": true, "n": -12, "f": 1.5e300, "u": u64::MAX, "s": strings[3],
            "list": strings, "nested": {"k\"": [{"x": 0.1}, [], {}], "e": ""},
        })
        .as_object()
        .unwrap()
        .clone();
        full.notes = strings
            .iter()
            .map(|s| Note::new("code", s.clone()))
            .collect();

        let mut bare = Record::new("j", 0, "u", None);
        bare.html = Some(HtmlSummary {
            // Links without a byte to escape are copied as they are.
            links: Some(
                ["https://a.example/", "https://a.example/b?c=d&e"]
                    .into_iter()
                    .collect(),
            ),
            ..HtmlSummary::default()
        });
        bare.headers = Some(BTreeMap::new());
        for record in [
            full,
            bare,
            Record::failed("j", 1, "x", None, ErrorKind::Dns, ""),
        ] {
            let stored = record.to_stored(1).json;
            assert_eq!(stored, serde_json::to_string(&record).unwrap());
            let back: Record = serde_json::from_str(&stored).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), stored);
        }
    }

    #[test]
    fn link_list_serializes_as_a_list_of_strings() {
        let strings = tricky_strings();
        let mut list: LinkList = strings.iter().collect();
        assert_eq!(list.len(), strings.len());
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, serde_json::to_string(&strings).unwrap());
        assert_eq!(serde_json::from_str::<LinkList>(&json).unwrap(), list);

        let mut position = 0;
        list.retain(|_| {
            position += 1;
            position % 2 == 0
        });
        let odd: Vec<&String> = strings.iter().skip(1).step_by(2).collect();
        assert_eq!(list.iter().collect::<Vec<_>>(), odd);
        assert!(LinkList::default().is_empty());
    }

    #[test]
    fn every_string_escapes_like_serde_json() {
        let mut strings = tricky_strings();
        // Each escapable byte at each position of a 32-byte block, of a word after it,
        // and of a tail shorter than a word, in strings of every length up to 41.
        for byte in (0u8..0x20).chain([b'"', b'\\', 0x7F]) {
            for len in 0..41 {
                for at in 0..=len {
                    let mut s = "a".repeat(len);
                    s.insert(at, char::from(byte));
                    strings.push(s);
                }
            }
        }
        for s in strings {
            let mut out = JsonOut(String::new());
            out.str(&s);
            assert_eq!(out.0, serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }
}
