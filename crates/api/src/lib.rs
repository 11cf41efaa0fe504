//! Trawl's admin HTTP API, per the contract in DESIGN.md: submit jobs, list them,
//! watch them, read their records as JSON pages, NDJSON or CSV, cancel and purge them.
//! Every error is the contract's JSON body, including actix's own (unknown routes,
//! wrong methods, bad query strings).
//!
//! # Layout
//! - [`server`]: builds the HTTP server on a bound listener.
//! - `submit`: `POST /v1/jobs`: parsing, validation, commit, idempotency.
//! - `jobs`: list, status, cancel and purge.
//! - `results`: record pages, NDJSON and CSV streams.
//! - `events`: server-sent progress events.
//! - `cursor`: the opaque cursors of paged reads.
//! - `gate`: API keys and the shutdown 503.
//! - `health`: `/healthz`, `/readyz` and `/metrics`.
//! - [`error`]: [`ApiError`] and the JSON error body.
#![deny(missing_docs)]

mod cursor;
pub mod error;
mod events;
mod gate;
mod health;
mod jobs;
mod results;
pub mod server;
mod state;
mod submit;

pub use error::ApiError;
pub use server::build_server;
pub use state::ApiState;
