//! Helpers for Trawl's end-to-end tests, which drive the real `trawl` binary over HTTP
//! against a real target server on loopback.
//!
//! # Layout
//!
//! - [`TargetServer`] (`target`): the HTTP server Trawl fetches from, with predictable
//!   routes (`/json/{n}`, `/html/{n}`, `/status/{code}`, `/slow/{ms}/{n}`,
//!   `/redirect/{n}`) and request/connection counters.
//! - [`HostileServer`] (`hostile`): a raw-TCP server that misbehaves on purpose (drips,
//!   hangs, endless and lying bodies, compression bombs, resets, redirect loops,
//!   Retry-After, flaky 503s), counting connections and requests per target.
//! - [`Trawl`] (`process`): `trawl serve` as a child process on port 0 with its own
//!   SQLite file; SIGKILL, SIGTERM, and kill on drop. [`run_cli`] for `trawl config`.
//! - [`Api`] (`http`): an awc client of the admin API with bounded waits (poll a job until
//!   it finishes, follow cursors, read NDJSON).
//! - `contract`: the contract's fixed words ([`RECORD_KEYS`], [`JOB_KEYS`],
//!   [`CSV_HEADER`]) and shared checks.
//!
//! A typical test:
//!
//! ```no_run
//! # async fn example() {
//! use trawl_testkit::{temp_dir, TargetServer, Trawl, ALLOW_LOOPBACK};
//! let target = TargetServer::start();
//! let dir = temp_dir();
//! let trawl = Trawl::start("path/to/trawl", dir.path(), &[ALLOW_LOOPBACK]);
//! let api = trawl.api();
//! let id = api.submit_urls(&[target.url("/json/1")]).await;
//! let job = api.wait_until_finished(&id, std::time::Duration::from_secs(30)).await;
//! assert_eq!(job["state"], "completed");
//! # }
//! ```
//!
//! Set `TEST_LOG=1` to see the service's logs on the test's stderr.
#![deny(missing_docs)]

mod contract;
mod hostile;
mod http;
mod process;
mod target;

pub use contract::{
    assert_job_keys, assert_one_record_per_seq, assert_record_keys, error_kind, is_rfc3339,
    is_sha256_hex, sha256_hex, Csv, CSV_HEADER, JOB_KEYS, RECORD_KEYS,
};
pub use hostile::{bombs, refused_port, HostileServer, BOMBS, BOMB_DECODED};
pub use http::{is_finished, job_id, parse_ndjson, percent_encode, Api, Response};
pub use process::{run_cli, CliOutput, Trawl};
pub use serde_json::{self, json, Value};
pub use target::TargetServer;
pub use tempfile::TempDir;

/// The environment entry that lets Trawl fetch from loopback (the target server). Every
/// test passes it, except the one proving that the default blocks private networks.
pub const ALLOW_LOOPBACK: (&str, &str) = ("TRAWL__FETCHER__ALLOW_PRIVATE_NETWORKS", "true");

/// A fresh temporary directory (for a service's SQLite file), removed on drop.
pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("trawl-e2e-")
        .tempdir()
        .expect("create a temp dir")
}
