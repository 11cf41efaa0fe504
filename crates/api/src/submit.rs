//! `POST /v1/jobs`: read the body within its limit, parse JSON or text/plain, validate
//! options and URLs, commit the job with all its URLs, then tell the coordinator.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use trawl_core::job::{ExtractRule, JobAccepted, JobContext, JobOptions};
use trawl_processor::CompiledRules;
use trawl_store::{CreateJob, CreatedJob, NewEntry};
use url::Url;

use crate::error::ApiError;
use crate::jobs::job_body;
use crate::state::ApiState;

/// Longest URL accepted; a longer one becomes an `invalid_url` record.
const MAX_URL_BYTES: usize = 8 * 1024;
/// Longest `ref`.
const MAX_REF_CHARS: usize = 256;
/// Longest `label`.
const MAX_LABEL_CHARS: usize = 200;
/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A JSON submission.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Submission {
    urls: Vec<EntryIn>,
    #[serde(default)]
    options: Option<serde_json::Value>,
    #[serde(default)]
    label: Option<String>,
}

/// One entry of `urls`: a string, or `{"url", "ref"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum EntryIn {
    Plain(String),
    WithRef {
        url: String,
        #[serde(rename = "ref", default)]
        reference: Option<String>,
    },
}

/// How the body is written.
enum BodyFormat {
    Json,
    Lines,
}

/// `POST /v1/jobs`.
pub(crate) async fn submit(
    state: web::Data<ApiState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = body_format(request.headers())?;
    let idempotency_key = idempotency_key(request.headers())?;
    let body = read_body(payload, request.headers(), state.settings.max_body_bytes).await?;

    let (entries, options, label) = match format {
        BodyFormat::Json => parse_json(&body)?,
        BodyFormat::Lines => (parse_lines(&body)?, JobOptions::default(), None),
    };
    if entries.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_batch",
            "the batch has no URLs",
        ));
    }
    if entries.len() as u64 > state.settings.max_batch_urls {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch has {} URLs; this server accepts at most {} (api.max_batch_urls)",
                entries.len(),
                state.settings.max_batch_urls
            ),
        ));
    }
    let idempotency = idempotency_key.map(|key| {
        let mut hash = Sha256::new();
        hash.update(
            request
                .headers()
                .get(header::CONTENT_TYPE)
                .map_or(&b""[..], |v| v.as_bytes()),
        );
        hash.update([0]);
        hash.update(&body);
        (key, hex::encode(hash.finalize()))
    });
    drop(body);

    let created = state
        .writer
        .send(CreateJob {
            id: uuid::Uuid::now_v7().to_string(),
            label,
            options: options.clone(),
            entries,
            idempotency,
        })
        .await
        .map_err(ApiError::internal)??;
    match created {
        CreatedJob::Created(row) => {
            if row.view.state.is_active() {
                let job = Arc::new(JobContext {
                    key: row.key,
                    id: row.view.id.clone(),
                    options,
                });
                state.accepted.do_send(JobAccepted { job });
            }
            tracing::info!(job = %row.view.id, urls = row.view.total, "job committed");
            let location = format!("/v1/jobs/{}", row.view.id);
            Ok(HttpResponse::Accepted()
                .insert_header((header::LOCATION, location))
                .json(job_body(&row.view)))
        }
        CreatedJob::Replayed(row) => Ok(HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .insert_header((header::LOCATION, format!("/v1/jobs/{}", row.view.id)))
            .json(job_body(&row.view))),
        CreatedJob::KeyReused => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        )),
    }
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if content_type == "application/json" || content_type.ends_with("+json") {
        Ok(BodyFormat::Json)
    } else if content_type == "text/plain" {
        Ok(BodyFormat::Lines)
    } else {
        let shown = if content_type.is_empty() {
            "none".to_owned()
        } else {
            content_type
        };
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send application/json or text/plain (one URL per line), not {shown}; \
                 with curl use --data-binary and -H 'Content-Type: ...' (-d sends a form)"
            ),
        ))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::invalid_request("Idempotency-Key must be visible ASCII"))?;
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::invalid_request(format!(
            "Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY} characters"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// Reads the body, refusing it by its Content-Length or as soon as it passes `limit`:
/// an oversized body is never held whole.
async fn read_body(
    mut payload: web::Payload,
    headers: &HeaderMap,
    limit: u64,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes (api.max_body_bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::invalid_request(format!("cannot read the request body: {e}")))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn parse_json(body: &[u8]) -> Result<(Vec<NewEntry>, JobOptions, Option<String>), ApiError> {
    let submission: Submission = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::invalid_request(format!("the submission is not valid: {e}"))
        }
        _ => ApiError::invalid_json(format!("the body is not valid JSON: {e}")),
    })?;
    if let Some(label) = &submission.label {
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(ApiError::invalid_request(format!(
                "label is longer than {MAX_LABEL_CHARS} characters"
            )));
        }
    }
    let options = match submission.options {
        None | Some(serde_json::Value::Null) => JobOptions::default(),
        Some(value) => parse_options(value)?,
    };
    let entries = submission
        .urls
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let (url, reference) = match entry {
                EntryIn::Plain(url) => (url, None),
                EntryIn::WithRef { url, reference } => (url, reference),
            };
            if reference
                .as_ref()
                .is_some_and(|r| r.chars().count() > MAX_REF_CHARS)
            {
                return Err(ApiError::invalid_request(format!(
                    "urls[{index}].ref is longer than {MAX_REF_CHARS} characters"
                )));
            }
            Ok(new_entry(url, reference))
        })
        .collect::<Result<_, _>>()?;
    Ok((entries, options, submission.label))
}

fn parse_lines(body: &[u8]) -> Result<Vec<NewEntry>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_request("the text/plain body is not UTF-8"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| new_entry(line.to_owned(), None))
        .collect())
}

/// An entry, marked invalid when the URL is too long, does not parse or is not http(s).
fn new_entry(url: String, reference: Option<String>) -> NewEntry {
    let invalid = if url.len() > MAX_URL_BYTES {
        Some(format!("the URL is longer than {MAX_URL_BYTES} bytes"))
    } else {
        match Url::parse(&url) {
            Err(e) => Some(format!("the URL does not parse: {e}")),
            Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
                Some(format!("scheme {:?} is not http or https", parsed.scheme()))
            }
            Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
                Some("the URL has no host".into())
            }
            Ok(_) => None,
        }
    };
    NewEntry {
        url,
        reference,
        invalid,
    }
}

/// Parses and checks `options`: unknown options, forbidden or malformed headers, zero
/// limits and extraction rules that do not compile are 400 `invalid_option`.
fn parse_options(value: serde_json::Value) -> Result<JobOptions, ApiError> {
    // Each extraction rule is read on its own first, so an error names its rule.
    if let Some(rules) = value.get("extract").and_then(serde_json::Value::as_object) {
        for (name, rule) in rules {
            serde_json::from_value::<ExtractRule>(rule.clone()).map_err(|e| {
                ApiError::invalid_option(format!("extract rule `{name}`: {e}"))
            })?;
        }
    }
    let options: JobOptions = serde_json::from_value(value)
        .map_err(|e| ApiError::invalid_option(format!("invalid options: {e}")))?;
    for (name, value) in &options.headers {
        if JobOptions::FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(ApiError::invalid_option(format!(
                "options.headers may not set {name}"
            )));
        }
        if header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ApiError::invalid_option(format!(
                "options.headers: {name:?} is not a header name"
            )));
        }
        if header::HeaderValue::from_str(value).is_err() {
            return Err(ApiError::invalid_option(format!(
                "options.headers.{name}: the value is not a valid header value"
            )));
        }
    }
    if let Some(agent) = &options.user_agent {
        if header::HeaderValue::from_str(agent).is_err() {
            return Err(ApiError::invalid_option(
                "options.user_agent is not a valid header value",
            ));
        }
    }
    for (name, value) in [
        ("timeout_ms", options.timeout_ms),
        (
            "per_host_concurrency",
            options.per_host_concurrency.map(u64::from),
        ),
    ] {
        if value == Some(0) {
            return Err(ApiError::invalid_option(format!(
                "options.{name} must be at least 1"
            )));
        }
    }
    CompiledRules::compile(&options.extract)
        .map_err(|e| ApiError::invalid_option(e.to_string()))?;
    Ok(options)
}
