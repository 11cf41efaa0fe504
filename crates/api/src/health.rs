//! `/healthz` (the process answers), `/readyz` (the store answers, not shutting down)
//! and `/metrics` (Prometheus text).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::ApiState;

/// `GET /healthz`.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`.
pub(crate) async fn readyz(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let not_ready =
        |message: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message);
    if state.is_shutting_down() {
        return Err(not_ready("shutting down".into()));
    }
    let store = state.store.clone();
    web::block(move || store.ping())
        .await?
        .map_err(|e| not_ready(format!("the store does not answer: {e}")))?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}

/// `GET /metrics`: the counters, with the jobs-per-state gauges read from the store.
pub(crate) async fn metrics(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let counts = web::block(move || store.count_jobs_by_state()).await??;
    state.metrics.set_jobs(&counts);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode()))
}
