//! `GET /v1/jobs/{id}/results`: a JSON page (cursor paging over the committed prefix),
//! or every committed record streamed as NDJSON or CSV. Records are stored as their
//! JSON text, so pages and NDJSON copy text; nothing is re-serialized, and streams read
//! the store page by page so an export of a million records never sits in memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::stream;
use serde::Deserialize;
use trawl_core::job::JobKey;
use trawl_core::record::ErrorKind;
use trawl_store::{RecordFilter, Store, StoreError};

use crate::cursor;
use crate::error::ApiError;
use crate::jobs::{find_job, limit};
use crate::state::ApiState;

/// Records per JSON page by default, and at most.
const PAGE_DEFAULT: usize = 100;
const PAGE_MAX: usize = 1000;
/// Records read from the store per chunk of a stream.
const STREAM_CHUNK: usize = 1000;
/// Bytes reserved for a chunk up front: most records are 0.5–2 KiB.
const CHUNK_CAPACITY: usize = 1 << 20;

/// The fixed CSV columns, before one `extract.<name>` column per rule.
const CSV_COLUMNS: [&str; 15] = [
    "seq",
    "url",
    "ref",
    "final_url",
    "status",
    "ok",
    "error_kind",
    "error_message",
    "attempts",
    "elapsed_ms",
    "fetched_at",
    "content_type",
    "bytes",
    "sha256",
    "title",
];

enum Format {
    Page,
    Ndjson,
    Csv,
}

/// `GET /v1/jobs/{id}/results`.
pub(crate) async fn results(
    state: web::Data<ApiState>,
    request: HttpRequest,
    id: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let format = format(&request, &query)?;
    let filter = filter(&query)?;
    let job = find_job(&state, &id).await?;
    match format {
        Format::Page => {
            let limit = limit(&query, PAGE_DEFAULT, PAGE_MAX)?;
            let after = query
                .get("cursor")
                .map(|c| cursor::decode('r', c))
                .transpose()?
                .flatten();
            let store = state.store.clone();
            let page = web::block(move || {
                store.prefix_page(job.key, after.map(|s| s as u64), limit, &filter)
            })
            .await??;
            let active = job.view.state.is_active();
            let next = (active || !page.exhausted)
                .then(|| cursor::encode('r', page.scanned_through.map(|s| s as i64)));
            let mut body = String::with_capacity(
                page.items.iter().map(|r| r.json.len() + 1).sum::<usize>() + 64,
            );
            body.push_str("{\"items\":[");
            for (index, row) in page.items.iter().enumerate() {
                if index > 0 {
                    body.push(',');
                }
                body.push_str(&row.json);
            }
            body.push_str("],\"next\":");
            body.push_str(&serde_json::to_string(&next).expect("a cursor serializes"));
            body.push('}');
            Ok(HttpResponse::Ok()
                .content_type("application/json")
                .body(body))
        }
        Format::Ndjson => Ok(HttpResponse::Ok()
            .content_type("application/x-ndjson")
            .streaming(record_stream(
                state.store.clone(),
                job.key,
                filter,
                None,
                StreamFormat::Ndjson,
            ))),
        Format::Csv => {
            let rules: Arc<[String]> = job.options.extract.keys().cloned().collect();
            let mut head: Vec<String> = CSV_COLUMNS.iter().map(|c| c.to_string()).collect();
            head.extend(rules.iter().map(|name| format!("extract.{name}")));
            let header_row = csv_row(&head);
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}.csv\"", job.view.id),
                ))
                .streaming(record_stream(
                    state.store.clone(),
                    job.key,
                    filter,
                    Some(header_row),
                    StreamFormat::Csv(rules),
                )))
        }
    }
}

fn format(request: &HttpRequest, query: &HashMap<String, String>) -> Result<Format, ApiError> {
    match query.get("format").map(String::as_str) {
        Some("json") => Ok(Format::Page),
        Some("ndjson") => Ok(Format::Ndjson),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "format must be json, ndjson or csv, not {other:?}"
        ))),
        None => {
            let accept = request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Ok(if accept.contains("application/x-ndjson") {
                Format::Ndjson
            } else if accept.contains("text/csv") {
                Format::Csv
            } else {
                Format::Page
            })
        }
    }
}

fn filter(query: &HashMap<String, String>) -> Result<RecordFilter, ApiError> {
    let ok = match query.get("ok").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "ok must be true or false, not {other:?}"
            )))
        }
    };
    let error_kind = query
        .get("error")
        .map(|kind| {
            kind.parse::<ErrorKind>()
                .map_err(ApiError::invalid_parameter)
        })
        .transpose()?;
    Ok(RecordFilter { ok, error_kind })
}

/// How a stream renders records.
#[derive(Clone)]
enum StreamFormat {
    /// Each record's JSON text and a newline.
    Ndjson,
    /// One CSV row per record, with one column per extraction rule (these names).
    Csv(Arc<[String]>),
}

impl StreamFormat {
    /// Reads up to [`STREAM_CHUNK`] records of `job` after seq `after` and renders them
    /// as one chunk; also returns where the next chunk starts, `None` after the last.
    fn read_chunk(
        &self,
        store: &Store,
        job: JobKey,
        after: Option<u64>,
        filter: &RecordFilter,
    ) -> Result<(Bytes, Option<u64>), StoreError> {
        let mut last = None;
        let (chunk, read) = match self {
            StreamFormat::Ndjson => {
                let mut out = Vec::with_capacity(CHUNK_CAPACITY);
                let read =
                    store.visit_records_after(job, after, STREAM_CHUNK, filter, |seq, json| {
                        out.extend_from_slice(json.as_bytes());
                        out.push(b'\n');
                        last = Some(seq);
                    })?;
                (out, read)
            }
            StreamFormat::Csv(rules) => {
                let mut writer = csv::Writer::from_writer(Vec::with_capacity(CHUNK_CAPACITY));
                let read =
                    store.visit_records_after(job, after, STREAM_CHUNK, filter, |seq, json| {
                        write_csv_record(&mut writer, seq, json, rules);
                        last = Some(seq);
                    })?;
                let out = writer
                    .into_inner()
                    .expect("flushing CSV to memory cannot fail");
                (out, read)
            }
        };
        let next = if read == STREAM_CHUNK { last } else { None };
        Ok((Bytes::from(chunk), next))
    }
}

/// Streams every committed record of `job` matching `filter`, read and rendered
/// [`STREAM_CHUNK`] records at a time on the blocking pool, after an optional `first`
/// chunk. The next chunk is read while the current one is being sent, so the store
/// and the socket work at the same time.
fn record_stream(
    store: Store,
    job: JobKey,
    filter: RecordFilter,
    first: Option<Bytes>,
    format: StreamFormat,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    // `web::block` starts the read at once; the returned future only collects it.
    let read = move |after: Option<u64>| {
        let (store, format) = (store.clone(), format.clone());
        web::block(move || format.read_chunk(&store, job, after, &filter))
    };
    let head = stream::iter(first.map(Ok));
    let body = stream::unfold(Some(read(None)), move |reading| {
        let read = read.clone();
        async move {
            let mut reading = reading?;
            loop {
                match reading.await {
                    Ok(Ok((chunk, next))) => {
                        let reading_next = next.map(|after| read(Some(after)));
                        // An empty chunk (every record in it left out of a CSV) is
                        // not sent: an empty chunk would end a chunked response.
                        if !chunk.is_empty() {
                            return Some((Ok(chunk), reading_next));
                        }
                        reading = reading_next?;
                    }
                    Ok(Err(e)) => return Some((Err(ApiError::from(e).into()), None)),
                    Err(e) => return Some((Err(ApiError::from(e).into()), None)),
                }
            }
        }
    });
    futures_util::StreamExt::chain(head, body)
}

/// The fields of a stored record that CSV shows.
#[derive(Deserialize)]
struct CsvRecord<'a> {
    seq: u64,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(borrow, rename = "ref")]
    reference: Option<Cow<'a, str>>,
    #[serde(borrow)]
    final_url: Option<Cow<'a, str>>,
    status: Option<u16>,
    ok: bool,
    #[serde(borrow)]
    error: Option<CsvError<'a>>,
    attempts: u32,
    elapsed_ms: Option<u64>,
    #[serde(borrow)]
    fetched_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content_type: Option<Cow<'a, str>>,
    bytes: Option<u64>,
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
    #[serde(borrow)]
    html: Option<CsvHtml<'a>>,
    #[serde(default)]
    extract: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct CsvError<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

#[derive(Deserialize)]
struct CsvHtml<'a> {
    #[serde(borrow)]
    title: Option<Cow<'a, str>>,
}

fn csv_row<S: AsRef<[u8]>>(fields: &[S]) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(fields)
        .expect("writing CSV to memory cannot fail");
    Bytes::from(
        writer
            .into_inner()
            .expect("flushing CSV to memory cannot fail"),
    )
}

/// Writes the CSV row of one stored record; a record that does not read back is left
/// out, with an error in the log.
fn write_csv_record(writer: &mut csv::Writer<Vec<u8>>, seq: u64, json: &str, rules: &[String]) {
    let Ok(record) = serde_json::from_str::<CsvRecord<'_>>(json) else {
        tracing::error!(
            seq,
            "a stored record does not read back; left out of the CSV"
        );
        return;
    };
    let text = |value: Option<u64>| value.map(|n| n.to_string()).unwrap_or_default();
    let mut fields: Vec<Cow<'_, str>> = vec![
        record.seq.to_string().into(),
        record.url,
        record.reference.unwrap_or_default(),
        record.final_url.unwrap_or_default(),
        text(record.status.map(u64::from)).into(),
        record.ok.to_string().into(),
    ];
    let (kind, message) = record
        .error
        .map(|e| (e.kind, e.message))
        .unwrap_or_default();
    fields.extend([
        kind,
        message,
        record.attempts.to_string().into(),
        text(record.elapsed_ms).into(),
        record.fetched_at.unwrap_or_default(),
        record.content_type.unwrap_or_default(),
        text(record.bytes).into(),
        record.sha256.unwrap_or_default(),
        record.html.and_then(|h| h.title).unwrap_or_default(),
    ]);
    for rule in rules {
        fields.push(match record.extract.get(rule) {
            None | Some(serde_json::Value::Null) => Cow::Borrowed(""),
            Some(serde_json::Value::String(s)) => Cow::Owned(s.clone()),
            Some(other) => Cow::Owned(other.to_string()),
        });
    }
    writer
        .write_record(fields.iter().map(|f| f.as_bytes()))
        .expect("writing CSV to memory cannot fail");
}
