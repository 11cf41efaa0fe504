//! `POST /v1/jobs`: read the body within its limit, parse JSON or text/plain, validate
//! options and URLs, commit the job with all its URLs, then tell the coordinator.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use trawl_core::job::{ExtractRule, JobAccepted, JobContext, JobOptions};
use trawl_core::submission::{read_entries, BodyFormat, SubmissionError};
use trawl_processor::CompiledRules;
use trawl_store::{CreateJob, CreatedJob};

use crate::error::ApiError;
use crate::jobs::job_body;
use crate::state::ApiState;

/// Longest `ref`.
const MAX_REF_CHARS: usize = 256;
/// Longest `label`.
const MAX_LABEL_CHARS: usize = 200;
/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// `POST /v1/jobs`.
pub(crate) async fn submit(
    state: web::Data<ApiState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = body_format(request.headers())?;
    let idempotency_key = idempotency_key(request.headers())?;
    let body = read_body(payload, request.headers(), state.settings.max_body_bytes).await?;
    // A million-URL body takes a moment to read through: off the async threads.
    let max_urls = state.settings.max_batch_urls;
    let read = body.clone();
    let (total, label, options) = web::block(move || validate(&read, format, max_urls)).await??;
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

    let created = state
        .writer
        .send(CreateJob {
            id: uuid::Uuid::now_v7().to_string(),
            label,
            options: options.clone(),
            body,
            format,
            total,
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

/// Reads the body once without keeping its entries: counts them (413 above
/// `max_urls`, 400 when none), checks every `ref`, the label and the options.
fn validate(
    body: &[u8],
    format: BodyFormat,
    max_urls: u64,
) -> Result<(u64, Option<String>, JobOptions), ApiError> {
    let mut total = 0u64;
    let head = read_entries(body, format, |entry| {
        if entry
            .reference()
            .is_some_and(|r| r.chars().count() > MAX_REF_CHARS)
        {
            return Err(format!("ref is longer than {MAX_REF_CHARS} characters"));
        }
        total += 1;
        if total > max_urls {
            return Err(BATCH_TOO_LARGE.into());
        }
        Ok(())
    });
    let head = match head {
        Ok(head) => head,
        Err(_) if total > max_urls => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!(
                    "the batch has more than {max_urls} URLs, this server's api.max_batch_urls"
                ),
            ))
        }
        Err(SubmissionError::Syntax(message)) => return Err(ApiError::invalid_json(message)),
        Err(other) => return Err(ApiError::invalid_request(other.to_string())),
    };
    if total == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_batch",
            "the batch has no URLs",
        ));
    }
    if head
        .label
        .as_ref()
        .is_some_and(|label| label.chars().count() > MAX_LABEL_CHARS)
    {
        return Err(ApiError::invalid_request(format!(
            "label is longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    let options = match head.options {
        None | Some(serde_json::Value::Null) => JobOptions::default(),
        Some(value) => parse_options(value)?,
    };
    Ok((total, head.label, options))
}

/// What the entry visitor says when the count passes the limit (the caller answers 413).
const BATCH_TOO_LARGE: &str = "too many URLs";

/// Parses and checks `options`: unknown options, forbidden or malformed headers, zero
/// limits and extraction rules that do not compile are 400 `invalid_option`.
fn parse_options(value: serde_json::Value) -> Result<JobOptions, ApiError> {
    // Each extraction rule is read on its own first, so an error names its rule.
    if let Some(rules) = value.get("extract").and_then(serde_json::Value::as_object) {
        for (name, rule) in rules {
            serde_json::from_value::<ExtractRule>(rule.clone())
                .map_err(|e| ApiError::invalid_option(format!("extract rule `{name}`: {e}")))?;
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
