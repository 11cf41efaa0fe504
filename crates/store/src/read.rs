//! [`Store`]: the read side, shared by the API and the coordinator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Row};
use trawl_core::clock;
use trawl_core::job::{JobKey, JobOptions, JobState, JobView};
use trawl_core::record::ErrorKind;

use crate::{job_rows, row_id, schema, StoreError};

/// Most rows one results page looks at, so a filter that matches little cannot turn
/// one request into a scan of a million rows.
const PAGE_SCAN_CAP: usize = 10_000;

/// Read connections kept open for reuse.
const IDLE_CONNECTIONS: usize = 8;

/// A cheap, cloneable handle for reading the store from any thread. Each call borrows a
/// pooled connection for one short statement, so WAL checkpoints never wait on a reader.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Pool>,
}

struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A job as stored: its key, its API object and its options.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// The store key.
    pub key: JobKey,
    /// The API's job object.
    pub view: JobView,
    /// Options as submitted.
    pub options: JobOptions,
}

/// A submitted URL that has no record yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUrl {
    /// Position in the submission.
    pub seq: u64,
    /// The URL as submitted.
    pub url: String,
    /// The caller's reference.
    pub reference: Option<String>,
}

/// A stored record: its position and its contract JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// Position in the submission.
    pub seq: u64,
    /// The record as contract JSON.
    pub json: String,
}

/// Which records a read returns (`?ok=` and `?error=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Only records with this `ok`.
    pub ok: Option<bool>,
    /// Only records with this error kind.
    pub error_kind: Option<ErrorKind>,
}

impl RecordFilter {
    fn matches(&self, ok: bool, kind: Option<&str>) -> bool {
        self.ok.is_none_or(|want| want == ok)
            && self
                .error_kind
                .is_none_or(|want| kind == Some(want.as_str()))
    }
}

/// One page of the committed prefix of a job's records.
#[derive(Debug, Clone, Default)]
pub struct PrefixPage {
    /// Matching records, in seq order.
    pub items: Vec<RecordRow>,
    /// The last seq looked at; the next page starts after it.
    pub scanned_through: Option<u64>,
    /// True when no record follows `scanned_through` at all (yet).
    pub exhausted: bool,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = schema::open_and_migrate(path)?;
        Ok(Store {
            inner: Arc::new(Pool {
                path: path.to_owned(),
                idle: Mutex::new(vec![conn]),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.inner.idle.lock().expect("pool lock").pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::connect(&self.inner.path)?,
        };
        let result = f(&conn);
        let mut idle = self.inner.idle.lock().expect("pool lock");
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(conn);
        }
        result
    }

    /// Checks that the database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    /// The job with public id `id`.
    pub fn job_by_id(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        self.with_conn(|conn| {
            let row = conn
                .query_row(
                    &format!("{JOB_SELECT} WHERE id = ?1"),
                    [id],
                    RawJob::from_row,
                )
                .optional()?;
            row.map(|raw| raw.into_job(conn)).transpose()
        })
    }

    /// The job with store key `key`.
    pub fn job_by_key(&self, key: JobKey) -> Result<Option<JobRow>, StoreError> {
        self.with_conn(|conn| job_by_key(conn, key))
    }

    /// Jobs newest first, optionally only in `states` and with `label`, starting below
    /// the key `before`.
    pub fn list_jobs(
        &self,
        states: &[JobState],
        label: Option<&str>,
        before: Option<JobKey>,
        limit: usize,
    ) -> Result<Vec<JobRow>, StoreError> {
        self.with_conn(|conn| {
            let states: Vec<&str> = if states.is_empty() {
                JobState::ALL.iter().map(|s| s.as_str()).collect()
            } else {
                states.iter().map(|s| s.as_str()).collect()
            };
            let placeholders = vec!["?"; states.len()].join(",");
            let sql = format!(
                "{JOB_SELECT} WHERE key < ? AND state IN ({placeholders}) \
                 AND (? IS NULL OR label = ?) ORDER BY key DESC LIMIT ?"
            );
            let mut values: Vec<rusqlite::types::Value> = vec![before.unwrap_or(i64::MAX).into()];
            values.extend(
                states
                    .iter()
                    .map(|s| rusqlite::types::Value::from(s.to_string())),
            );
            values.push(label.map(str::to_owned).into());
            values.push(label.map(str::to_owned).into());
            values.push((limit as i64).into());
            let mut stmt = conn.prepare(&sql)?;
            let raws = stmt
                .query_map(rusqlite::params_from_iter(values), RawJob::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            raws.into_iter().map(|raw| raw.into_job(conn)).collect()
        })
    }

    /// How many jobs are in each state.
    pub fn count_jobs_by_state(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT state, count(*) FROM jobs GROUP BY state")?;
            let rows = stmt.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            let mut counts = Vec::new();
            for row in rows {
                let (state, count) = row?;
                counts.push((state.parse().map_err(StoreError::Corrupt)?, count as u64));
            }
            Ok(counts)
        })
    }

    /// Every job still queued or running, oldest first: the work to resume at start.
    pub fn active_jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        let mut jobs = self.list_jobs(
            &[JobState::Queued, JobState::Running],
            None,
            None,
            usize::MAX >> 1,
        )?;
        jobs.reverse();
        Ok(jobs)
    }

    /// Up to `limit` URLs of `job` after seq `after` that have no record yet, in order.
    pub fn pending_urls(
        &self,
        job: JobKey,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<PendingUrl>, StoreError> {
        self.with_conn(|conn| {
            let (first, last) = job_rows(job);
            let from = after.map_or(first, |seq| row_id(job, seq) + 1);
            let mut stmt = conn.prepare_cached(
                "SELECT u.id, u.url, u.ref FROM urls u WHERE u.id >= ?1 AND u.id <= ?2 \
                 AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = u.id) ORDER BY u.id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![from, last, limit as i64], |row| {
                Ok(PendingUrl {
                    seq: (row.get::<_, i64>(0)? & 0xFFFF_FFFF) as u64,
                    url: row.get(1)?,
                    reference: row.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Visits up to `limit` committed records of `job` after seq `after` (from the
    /// first when `None`) that match `filter`, in seq order, as `(seq, record JSON)`;
    /// returns how many it visited. The JSON is borrowed from SQLite's row, so a
    /// caller that only copies it (an export) allocates nothing per record.
    pub fn visit_records_after(
        &self,
        job: JobKey,
        after: Option<u64>,
        limit: usize,
        filter: &RecordFilter,
        mut visit: impl FnMut(u64, &str),
    ) -> Result<usize, StoreError> {
        self.with_conn(|conn| {
            let (first, last) = job_rows(job);
            let from = after.map_or(first, |seq| row_id(job, seq) + 1);
            let mut stmt = conn.prepare_cached(
                "SELECT id, record FROM records WHERE id >= ?1 AND id <= ?2 \
                 AND (?3 IS NULL OR ok = ?3) AND (?4 IS NULL OR error_kind = ?4) \
                 ORDER BY id LIMIT ?5",
            )?;
            let mut rows = stmt.query(params![
                from,
                last,
                filter.ok,
                filter.error_kind.map(|k| k.as_str()),
                limit as i64
            ])?;
            let mut visited = 0;
            while let Some(row) = rows.next()? {
                let seq = (row.get::<_, i64>(0)? & 0xFFFF_FFFF) as u64;
                let json = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
                visit(seq, json);
                visited += 1;
            }
            Ok(visited)
        })
    }

    /// One page of the committed prefix after seq `after`: it stops before the first
    /// seq without a record, so following pages yields every record exactly once even
    /// while the job runs.
    pub fn prefix_page(
        &self,
        job: JobKey,
        after: Option<u64>,
        limit: usize,
        filter: &RecordFilter,
    ) -> Result<PrefixPage, StoreError> {
        self.with_conn(|conn| {
            let (first, last) = job_rows(job);
            let mut expected = after.map_or(0, |seq| seq + 1);
            let mut stmt = conn.prepare_cached(
                "SELECT id, ok, error_kind, record FROM records WHERE id >= ?1 AND id <= ?2 \
                 ORDER BY id LIMIT ?3",
            )?;
            let mut rows =
                stmt.query(params![first + expected as i64, last, PAGE_SCAN_CAP as i64])?;
            let mut page = PrefixPage {
                scanned_through: after,
                ..PrefixPage::default()
            };
            let mut scanned = 0;
            loop {
                let Some(row) = rows.next()? else {
                    page.exhausted = true;
                    break;
                };
                let seq = (row.get::<_, i64>(0)? & 0xFFFF_FFFF) as u64;
                if seq != expected {
                    break;
                }
                let ok: bool = row.get(1)?;
                let kind = row
                    .get_ref(2)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?;
                if filter.matches(ok, kind) {
                    page.items.push(RecordRow {
                        seq,
                        json: row.get(3)?,
                    });
                }
                page.scanned_through = Some(seq);
                expected += 1;
                scanned += 1;
                if page.items.len() == limit || scanned == PAGE_SCAN_CAP {
                    break;
                }
            }
            Ok(page)
        })
    }
}

pub(crate) fn job_by_key(conn: &Connection, key: JobKey) -> Result<Option<JobRow>, StoreError> {
    let row = conn
        .query_row(
            &format!("{JOB_SELECT} WHERE key = ?1"),
            [key],
            RawJob::from_row,
        )
        .optional()?;
    row.map(|raw| raw.into_job(conn)).transpose()
}

const JOB_SELECT: &str = "SELECT key, id, label, state, total, done, succeeded, failed, options, \
     created_at, started_at, finished_at, error FROM jobs";

/// A `jobs` row as read, before its error counters and options are decoded.
struct RawJob {
    key: JobKey,
    id: String,
    label: Option<String>,
    state: String,
    total: i64,
    done: i64,
    succeeded: i64,
    failed: i64,
    options: String,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    error: Option<String>,
}

impl RawJob {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawJob> {
        Ok(RawJob {
            key: row.get(0)?,
            id: row.get(1)?,
            label: row.get(2)?,
            state: row.get(3)?,
            total: row.get(4)?,
            done: row.get(5)?,
            succeeded: row.get(6)?,
            failed: row.get(7)?,
            options: row.get(8)?,
            created_at: row.get(9)?,
            started_at: row.get(10)?,
            finished_at: row.get(11)?,
            error: row.get(12)?,
        })
    }

    fn into_job(self, conn: &Connection) -> Result<JobRow, StoreError> {
        let state: JobState = self.state.parse().map_err(StoreError::Corrupt)?;
        let options: JobOptions = serde_json::from_str(&self.options)
            .map_err(|e| StoreError::Corrupt(format!("options of job {}: {e}", self.id)))?;
        let mut stmt = conn.prepare_cached("SELECT kind, count FROM job_errors WHERE job = ?1")?;
        let errors = stmt
            .query_map([self.key], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        let urls_per_sec = self.started_at.map(|started| {
            let end = self.finished_at.unwrap_or_else(clock::now_millis);
            let seconds = (end - started).max(1) as f64 / 1000.0;
            (self.done as f64 / seconds * 10.0).round() / 10.0
        });
        Ok(JobRow {
            key: self.key,
            options,
            view: JobView {
                id: self.id,
                label: self.label,
                state,
                total: self.total as u64,
                done: self.done as u64,
                succeeded: self.succeeded as u64,
                failed: self.failed as u64,
                errors,
                created_at: clock::format_millis(self.created_at),
                started_at: self.started_at.map(clock::format_millis),
                finished_at: self.finished_at.map(clock::format_millis),
                urls_per_sec,
                error: self.error,
            },
        })
    }
}
