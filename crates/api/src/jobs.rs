//! Jobs: `GET /v1/jobs` (list), `GET /v1/jobs/{id}` (status), `DELETE /v1/jobs/{id}`
//! (cancel, or purge with `?purge=true`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use trawl_core::job::{CancelJob, JobState, JobView};
use trawl_store::{JobRow, PurgeJob};

use crate::cursor;
use crate::error::ApiError;
use crate::state::ApiState;

/// Jobs per list page by default, and at most.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 200;

/// The job object with its `links`, as submit, status and list answer it.
pub(crate) fn job_body(view: &JobView) -> Value {
    let mut body = serde_json::to_value(view).expect("a job view always serializes");
    let base = format!("/v1/jobs/{}", view.id);
    body["links"] = json!({
        "self": base,
        "results": format!("{base}/results"),
        "events": format!("{base}/events"),
    });
    body
}

/// Looks a job up by its public id, off the async threads.
pub(crate) async fn find_job(state: &ApiState, id: &str) -> Result<JobRow, ApiError> {
    let store = state.store.clone();
    let key = id.to_owned();
    web::block(move || store.job_by_id(&key))
        .await??
        .ok_or_else(|| ApiError::job_not_found(id))
}

/// A `limit` query value within `1..=max`, or `default` when absent.
pub(crate) fn limit(
    query: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match query.get("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!("limit must be a whole number from 1 to {max}"))
            }),
    }
}

/// `GET /v1/jobs?state=a,b&label=&limit=&cursor=`.
pub(crate) async fn list(
    state: web::Data<ApiState>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit(&query, LIST_DEFAULT, LIST_MAX)?;
    let states = match query.get("state") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<JobState>()
                    .map_err(ApiError::invalid_parameter)
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let before = query
        .get("cursor")
        .map(|c| cursor::decode('j', c))
        .transpose()?
        .flatten();
    let label = query.get("label").cloned();
    let store = state.store.clone();
    let mut rows =
        web::block(move || store.list_jobs(&states, label.as_deref(), before, limit + 1)).await??;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        cursor::encode('j', rows.last().map(|row| row.key))
    });
    let items: Vec<Value> = rows.iter().map(|row| job_body(&row.view)).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next": next})))
}

/// `GET /v1/jobs/{id}`.
pub(crate) async fn status(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = find_job(&state, &id).await?;
    Ok(HttpResponse::Ok().json(job_body(&job.view)))
}

/// `DELETE /v1/jobs/{id}[?purge=true]`: an active job is cancelled (202); a finished
/// one is left as it is (200), or removed with its records when purged (204).
pub(crate) async fn cancel(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let purge = match query.get("purge").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "purge must be true or false, not {other:?}"
            )))
        }
    };
    let job = find_job(&state, &id).await?;
    if purge {
        let purged = state
            .writer
            .send(PurgeJob { key: job.key })
            .await
            .map_err(ApiError::internal)??;
        return if purged {
            tracing::info!(job = %job.view.id, "job purged");
            Ok(HttpResponse::NoContent().finish())
        } else {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the job is still active: cancel it first, then purge it",
            ))
        };
    }
    if !job.view.state.is_active() {
        return Ok(HttpResponse::Ok().json(job_body(&job.view)));
    }
    let was_active = state
        .cancel
        .send(CancelJob { key: job.key })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let job = find_job(&state, &id).await?;
    tracing::info!(job = %job.view.id, "job cancelled");
    let status = if was_active {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(job_body(&job.view)))
}
