//! The record of the contract (one per submitted URL) and the row the store keeps of it.

use std::collections::BTreeMap;
use std::fmt;
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
    pub links: Option<Vec<String>>,
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
    pub json: Option<Box<RawValue>>,
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
            json: serde_json::to_string(self).expect("a record always serializes"),
        }
    }
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
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "job_id",
            "seq",
            "url",
            "ref",
            "final_url",
            "status",
            "ok",
            "error",
            "attempts",
            "elapsed_ms",
            "fetched_at",
            "content_type",
            "bytes",
            "sha256",
            "redirects",
            "json",
            "html",
            "text",
            "headers",
            "body",
            "extract",
            "notes",
        ] {
            assert!(keys.contains(&key), "missing {key}");
        }
        assert_eq!(value["error"]["kind"], "invalid_url");
    }
}
