//! The `trawl` binary's library: the [`Application`] that wires the actors, the store
//! and the admin API together, so tests can build it exactly as `trawl serve` does.
//!
//! # Layout
//! - [`app`]: [`Application::build`] and the graceful shutdown.
//! - [`cli`]: the command line.
//! - [`client`]: the client commands' API client.
//! - [`telemetry`]: logging set-up.
#![deny(missing_docs)]

pub mod app;
pub mod cli;
pub mod client;
pub mod telemetry;

pub use app::Application;
