//! Trawl's shared vocabulary: the domain types and actor messages that cross crate
//! boundaries, and the service settings.
//!
//! # Layout
//! - [`settings`]: the typed configuration (`configs/default.toml`), its layered
//!   loading (defaults, file, `TRAWL__*` environment) and validation.
//! - [`job`]: submissions, job options, job state and the job object of the API.
//! - [`fetch`]: fetch tasks, fetch outcomes and the messages between the coordinator,
//!   the fetchers and the processor.
//! - [`record`]: the record schema of the contract and the rows the store keeps.
//! - [`submission`]: reading a submission body entry by entry.
//! - [`clock`]: timestamps in the contract's format.
//! - [`memory`]: how the process takes memory from the kernel.
//! - [`metrics`]: the Prometheus metrics.
#![deny(missing_docs)]

pub mod clock;
pub mod fetch;
pub mod job;
pub mod memory;
pub mod metrics;
pub mod record;
pub mod settings;
pub mod submission;

pub use settings::Settings;
