//! `GET /v1/jobs/{id}/results`: a JSON page (cursor paging over the committed prefix),
//! or every committed record streamed as NDJSON or CSV. Records are stored as their
//! JSON text, so pages and NDJSON copy text; nothing is re-serialized, and streams read
//! the store page by page so an export of a million records never sits in memory.

use std::borrow::Cow;
use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::stream;
use serde::Deserialize;
use trawl_core::job::JobKey;
use trawl_core::record::ErrorKind;
use trawl_store::{RecordFilter, RecordRow, Store};

use crate::cursor;
use crate::error::ApiError;
use crate::jobs::{find_job, limit};
use crate::state::ApiState;

/// Records per JSON page by default, and at most.
const PAGE_DEFAULT: usize = 100;
const PAGE_MAX: usize = 1000;
/// Records read from the store per chunk of a stream.
const STREAM_CHUNK: usize = 1000;

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
                ndjson_chunk,
            ))),
        Format::Csv => {
            let rules: Vec<String> = job.options.extract.keys().cloned().collect();
            let mut head: Vec<String> = CSV_COLUMNS.iter().map(|c| c.to_string()).collect();
            head.extend(rules.iter().map(|name| format!("extract.{name}")));
            let header_row = csv_row(&head);
            let render = move |rows: &[RecordRow]| csv_chunk(rows, &rules);
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
                    render,
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

/// Streams every committed record of `job` matching `filter`, `STREAM_CHUNK` rows per
/// store read, each chunk rendered by `render`, after an optional `first` chunk.
fn record_stream(
    store: Store,
    job: JobKey,
    filter: RecordFilter,
    first: Option<Bytes>,
    render: impl Fn(&[RecordRow]) -> Bytes + 'static,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let head = stream::iter(first.map(Ok));
    let body = stream::unfold(Some(None::<u64>), move |position| {
        let store = store.clone();
        async move {
            let after = position?;
            let rows =
                web::block(move || store.records_after(job, after, STREAM_CHUNK, &filter)).await;
            match rows {
                Ok(Ok(rows)) if rows.is_empty() => None,
                Ok(Ok(rows)) => {
                    let next = (rows.len() == STREAM_CHUNK).then(|| rows.last().map(|r| r.seq));
                    Some((Ok(rows), next))
                }
                Ok(Err(e)) => Some((Err(ApiError::from(e).into()), None)),
                Err(e) => Some((Err(ApiError::from(e).into()), None)),
            }
        }
    });
    let body = futures_util::StreamExt::map(
        body,
        move |rows: Result<Vec<RecordRow>, actix_web::Error>| rows.map(|rows| render(&rows)),
    );
    futures_util::StreamExt::chain(head, body)
}

fn ndjson_chunk(rows: &[RecordRow]) -> Bytes {
    let mut out = Vec::with_capacity(rows.iter().map(|r| r.json.len() + 1).sum());
    for row in rows {
        out.extend_from_slice(row.json.as_bytes());
        out.push(b'\n');
    }
    Bytes::from(out)
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

fn csv_chunk(rows: &[RecordRow], rules: &[String]) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256));
    for row in rows {
        let Ok(record) = serde_json::from_str::<CsvRecord<'_>>(&row.json) else {
            tracing::error!(
                seq = row.seq,
                "a stored record does not read back; left out of the CSV"
            );
            continue;
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
    Bytes::from(
        writer
            .into_inner()
            .expect("flushing CSV to memory cannot fail"),
    )
}
