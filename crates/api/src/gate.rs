//! The middleware in front of `/v1`: API keys first (401), then shutdown (503).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::error::ApiError;
use crate::state::ApiState;

/// Rejects `/v1` requests without an accepted bearer key (when keys are configured),
/// and every `/v1` request once shutdown has begun. `/healthz` and `/readyz` pass.
pub(crate) async fn gate(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if request.path().starts_with("/v1") {
        let state = request
            .app_data::<web::Data<ApiState>>()
            .expect("state is registered")
            .clone();
        let keys = state.settings.keys();
        if !keys.is_empty() {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            if !presented.is_some_and(|key| keys.iter().any(|k| k == key)) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send an API key as `Authorization: Bearer <key>`",
                )
                .with_header(header::WWW_AUTHENTICATE, "Bearer")
                .into());
            }
        }
        if state.is_shutting_down() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "Trawl is shutting down; try again shortly",
            )
            .with_header(header::RETRY_AFTER, "5")
            .into());
        }
    }
    next.call(request).await
}
