//! Connection set-up and versioned schema migrations, applied at start.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::StoreError;

/// Migrations in order; `user_version` records how many are applied.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, their URLs, their records and per-kind error counters.
    "CREATE TABLE jobs (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        label TEXT,
        state TEXT NOT NULL,
        total INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        succeeded INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        options TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        error TEXT,
        idempotency_key TEXT UNIQUE,
        request_hash TEXT
     );
     CREATE INDEX jobs_by_state ON jobs(state, key);
     CREATE TABLE job_errors (
        job INTEGER NOT NULL,
        kind TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (job, kind)
     ) WITHOUT ROWID;
     CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT NOT NULL, ref TEXT);
     CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        ok INTEGER NOT NULL,
        error_kind TEXT,
        record TEXT NOT NULL
     );",
];

/// Opens a connection with Trawl's pragmas: 16 KiB pages, WAL, NORMAL sync (durable
/// across process crashes, which is what a kill -9 is), a busy timeout for the rare
/// writer overlap.
///
/// The page size takes effect only when the file is created (it must precede the switch
/// to WAL); on an existing file it is a no-op. A record is about 1–10 KiB of JSON:
/// with 4 KiB pages the writer made four times the page writes and checkpoint copies,
/// and 16 KiB pages cut Trawl's CPU per URL by about 10 % on the W1 benchmark.
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "page_size", 16384)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

/// Creates the file's folder if needed, opens it and applies pending migrations.
pub(crate) fn open_and_migrate(path: &Path) -> Result<Connection, StoreError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
            path: folder.display().to_string(),
            source,
        })?;
    }
    let mut conn = connect(path)?;
    let applied: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if applied > known {
        return Err(StoreError::NewerSchema {
            found: applied,
            known,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "store schema migrated");
    }
    Ok(conn)
}
