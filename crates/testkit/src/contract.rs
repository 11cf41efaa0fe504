//! The contract's fixed words (record keys, job keys, the CSV header) and checks that
//! many tests share: a record's shape, one record per seq, CSV parsing, hashes, times.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Every key a record always carries (DESIGN.md, "Record — contract").
pub const RECORD_KEYS: [&str; 22] = [
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
];

/// Every key of the job object (`GET /v1/jobs/{id}`).
pub const JOB_KEYS: [&str; 11] = [
    "id",
    "label",
    "state",
    "total",
    "done",
    "succeeded",
    "failed",
    "created_at",
    "started_at",
    "finished_at",
    "urls_per_sec",
];

/// The CSV header row, exactly, for a job without extraction rules.
pub const CSV_HEADER: &str = "seq,url,ref,final_url,status,ok,error_kind,error_message,attempts,\
                              elapsed_ms,fetched_at,content_type,bytes,sha256,title";

/// Asserts every contract key is present in `record` (values may be null).
#[track_caller]
pub fn assert_record_keys(record: &Value) {
    let object = record
        .as_object()
        .unwrap_or_else(|| panic!("a record is an object: {record}"));
    for key in RECORD_KEYS {
        assert!(
            object.contains_key(key),
            "record lacks key `{key}`: {record}"
        );
    }
}

/// Asserts every contract key is present in the job object.
#[track_caller]
pub fn assert_job_keys(job: &Value) {
    let object = job
        .as_object()
        .unwrap_or_else(|| panic!("a job is an object: {job}"));
    for key in JOB_KEYS {
        assert!(object.contains_key(key), "job lacks key `{key}`: {job}");
    }
}

/// The record's `error.kind`, or `None` when `error` is null.
pub fn error_kind(record: &Value) -> Option<&str> {
    record["error"].get("kind").and_then(Value::as_str)
}

/// Asserts `records` hold exactly one record per seq `0..total`, in seq order, and
/// returns them indexed by seq.
#[track_caller]
pub fn assert_one_record_per_seq(records: &[Value], total: u64) -> BTreeMap<u64, Value> {
    let mut by_seq = BTreeMap::new();
    let mut last: Option<u64> = None;
    for record in records {
        let seq = record["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("record without seq: {record}"));
        assert!(seq < total, "seq {seq} out of range 0..{total}");
        if let Some(last) = last {
            assert!(
                seq > last,
                "records out of seq order or duplicated: {last} then {seq}"
            );
        }
        last = Some(seq);
        assert!(
            by_seq.insert(seq, record.clone()).is_none(),
            "seq {seq} appears twice"
        );
    }
    assert_eq!(by_seq.len() as u64, total, "expected one record per URL");
    by_seq
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True when `text` is exactly 64 lowercase hex characters.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True when `text` is an RFC 3339 timestamp (`2026-11-25T10:00:00Z`).
pub fn is_rfc3339(text: &str) -> bool {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

/// A parsed CSV document: its header row and its data rows.
#[derive(Debug, Clone)]
pub struct Csv {
    /// The header row's cells.
    pub header: Vec<String>,
    /// Every data row's cells.
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Parses RFC 4180 CSV with a header row; panics on malformed input or ragged rows.
    pub fn parse(text: &str) -> Csv {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .unwrap_or_else(|e| panic!("CSV header row: {e}"))
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .enumerate()
            .map(|(i, row)| {
                row.unwrap_or_else(|e| panic!("CSV row {i}: {e}"))
                    .iter()
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        Csv { header, rows }
    }

    /// The cell of `row` under column `name`; panics when there is no such column.
    pub fn cell<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        let index = self
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no CSV column {name:?} in {:?}", self.header));
        &row[index]
    }
}
