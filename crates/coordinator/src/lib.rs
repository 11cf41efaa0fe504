//! Trawl's coordinator: the one actor that knows every active job. It feeds fetchers
//! with tasks read from the store in pages, never more than their free slots and never
//! more than a host's turn allows, shares fetchers fairly between jobs, cancels jobs,
//! resumes unfinished jobs at start, and drains in-flight work on shutdown.
//!
//! # Layout
//! - [`coordinator`]: the [`Coordinator`] actor and its messages.
//! - `queue`: one job's buffer of tasks, grouped by host.
//! - `hosts`: per-host turns, Retry-After pauses and rate buckets, shared by all jobs.
#![deny(missing_docs)]

pub mod coordinator;
mod hosts;
mod queue;

pub use coordinator::{Coordinator, CoordinatorLinks, FetcherHandle, Shutdown};
