//! The durable store of jobs, their URLs and their records, in SQLite (WAL mode).
//!
//! Writes go through one [`StoreWriter`] actor on its own thread, which commits records
//! in batched transactions; reads go through [`Store`], a cheap handle over a small pool
//! of read connections that any thread may use.
//!
//! # Layout
//! - `schema`: connection set-up and versioned migrations.
//! - `read`: [`Store`] and its queries (jobs, pending tasks, record pages).
//! - `writer`: [`StoreWriter`] and the write commands it takes.
//!
//! Rows of `urls` and `records` are keyed by one integer, `job << 32 | seq`, so a job's
//! rows are one contiguous range of the table's own B-tree: paging, exports and the
//! uniqueness of (job, seq) need no extra index.
#![deny(missing_docs)]

mod read;
mod schema;
mod writer;

pub use read::{JobRow, PendingUrl, PrefixPage, RecordFilter, RecordRow, Store};
pub use writer::{
    CreateJob, CreatedJob, FinishCancelled, Flush, MarkStarted, PurgeJob, StoreWriter,
};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file's folder could not be created.
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer Trawl.
    #[error("database schema version {found} is newer than this build knows ({known})")]
    NewerSchema {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A stored value does not read back (a corrupt or hand-edited row).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// The row id of (job, seq) in `urls` and `records`.
pub(crate) fn row_id(job: trawl_core::job::JobKey, seq: u64) -> i64 {
    (job << 32) | seq as i64
}

/// The first and last possible row ids of a job.
pub(crate) fn job_rows(job: trawl_core::job::JobKey) -> (i64, i64) {
    (job << 32, (job << 32) | 0xFFFF_FFFF)
}
