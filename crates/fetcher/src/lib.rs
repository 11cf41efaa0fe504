//! Trawl's fetcher actors: each runs on its own thread with its own awc client and
//! fetches the tasks the coordinator assigns it, politely and within every limit.
//!
//! # Layout
//! - [`fetcher`]: the [`Fetcher`] actor, its slots and the batching of outcomes.
//! - `request`: one task's attempts, retries, redirects and body limit.
//! - [`guard`]: the SSRF [`Guard`]: which addresses may be connected to.
//! - `dns`: each fetcher's cache of host name lookups, which the guard resolves with.
//! - `body`: content decoding, bounded so compression bombs stop at the limit.
//! - `client`: the awc client (TLS, connection limits, deadlines).
//! - `eof`: telling a chunked body cut short from one that ended.
#![deny(missing_docs)]

mod body;
mod client;
mod dns;
mod eof;
pub mod fetcher;
pub mod guard;
mod request;

pub use fetcher::{Fetcher, FetcherLinks};
pub use guard::Guard;
