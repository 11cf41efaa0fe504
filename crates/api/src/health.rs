//! `/healthz` (the process answers) and `/readyz` (the store answers, not shutting down).

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
    let not_ready = |message: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message);
    if state.is_shutting_down() {
        return Err(not_ready("shutting down".into()));
    }
    let store = state.store.clone();
    web::block(move || store.ping())
        .await?
        .map_err(|e| not_ready(format!("the store does not answer: {e}")))?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}
