//! The HTTP server: routes, the JSON forms of actix's own errors, the gate.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::error::ApiError;
use crate::state::ApiState;
use crate::{events, gate, health, jobs, results, submit};

/// Builds the server on an already bound `listener` (port 0 in tests). Signals are
/// left to the caller, which drains the pipeline before stopping the server.
pub fn build_server(state: ApiState, listener: TcpListener) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::invalid_parameter(e.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::invalid_parameter(e.to_string()).into()),
            )
            .wrap(from_fn(gate::gate))
            .configure(routes)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::new(
                    actix_web::http::StatusCode::NOT_FOUND,
                    "not_found",
                    "no such route; the API lives under /v1/jobs",
                ))
            }))
    })
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// Every route, each resource with a JSON 405 for the methods it does not answer.
fn routes(cfg: &mut web::ServiceConfig) {
    fn not_allowed(allow: &'static str) -> actix_web::Route {
        web::to(move || async move {
            Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed(allow))
        })
    }
    cfg.service(
        web::resource("/v1/jobs")
            .route(web::get().to(jobs::list))
            .route(web::post().to(submit::submit))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/v1/jobs/{id}")
            .route(web::get().to(jobs::status))
            .route(web::delete().to(jobs::cancel))
            .default_service(not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/v1/jobs/{id}/results")
            .route(web::get().to(results::results))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(health::healthz))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/jobs/{id}/events")
            .route(web::get().to(events::events))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(health::readyz))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(health::metrics))
            .default_service(not_allowed("GET")),
    );
}
