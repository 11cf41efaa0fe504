//! [`StoreWriter`]: the one actor that writes, on its own thread. Records arrive in
//! batches and each batch is one transaction; a job's counters move in the same
//! transaction as its records, and only for rows really inserted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::{Actor, Addr, Handler, Message, MessageResult, Recipient, SyncArbiter, SyncContext};
use bytes::Bytes;
use rusqlite::{params, Connection, Transaction};
use trawl_core::clock;
use trawl_core::job::{FinishedJobs, JobFinished, JobKey, JobOptions, JobState};
use trawl_core::metrics::{Metrics, OutcomeLabel};
use trawl_core::record::{ErrorKind, Record, StoreRecords, StoredRecord};
use trawl_core::submission::{read_entries, url_problem, BodyFormat};

use crate::read::job_by_key;
use crate::{job_rows, row_id, schema, JobRow, Store, StoreError};

/// Records written per transaction when a cancel fills in the missing ones.
const CANCEL_CHUNK: usize = 4096;

/// The store's single writer.
pub struct StoreWriter {
    conn: Connection,
    after_commit: AfterCommit,
}

/// What happens after each commit: counting, and telling the coordinator and the
/// event streams of jobs that finished.
struct AfterCommit {
    finished: Recipient<JobFinished>,
    announce: FinishedJobs,
    metrics: Arc<Metrics>,
}

impl Actor for StoreWriter {
    type Context = SyncContext<Self>;
}

impl StoreWriter {
    /// Starts the writer on its own thread, writing to `store`'s database, telling
    /// `finished` and `announce` whenever a job reaches a final state, counting committed
    /// records in `metrics`.
    pub fn start(
        store: &Store,
        finished: Recipient<JobFinished>,
        announce: FinishedJobs,
        metrics: Arc<Metrics>,
    ) -> Result<Addr<Self>, StoreError> {
        let conn = Mutex::new(Some(schema::connect(store.path())?));
        Ok(SyncArbiter::start(1, move || StoreWriter {
            conn: conn
                .lock()
                .expect("writer connection")
                .take()
                .expect("the writer starts once"),
            after_commit: AfterCommit {
                finished: finished.clone(),
                announce: announce.clone(),
                metrics: metrics.clone(),
            },
        }))
    }
}

impl AfterCommit {
    /// Commits `tx` and only then counts what it inserted and announces the jobs it
    /// finished.
    fn commit(
        &self,
        tx: Transaction<'_>,
        inserted: Inserted,
        finished: &[JobKey],
    ) -> Result<(), StoreError> {
        tx.commit()?;
        for (label, count) in inserted.outcomes {
            self.metrics
                .records_committed
                .get_or_create(&label)
                .inc_by(count);
        }
        let mut any_finished = false;
        for key in inserted
            .completed
            .into_iter()
            .chain(finished.iter().copied())
        {
            self.finished.do_send(JobFinished { key });
            any_finished = true;
        }
        if any_finished {
            self.announce.announce();
        }
        Ok(())
    }
}

/// Counter changes of one job within one transaction.
#[derive(Default)]
struct JobDelta {
    done: i64,
    succeeded: i64,
    failed: i64,
    errors: HashMap<ErrorKind, i64>,
}

/// What one transaction inserted: counts per outcome, and the jobs it completed.
#[derive(Default)]
struct Inserted {
    outcomes: HashMap<OutcomeLabel, u64>,
    completed: Vec<JobKey>,
}

impl Inserted {
    fn add(&mut self, other: Inserted) {
        for (label, count) in other.outcomes {
            *self.outcomes.entry(label).or_default() += count;
        }
        self.completed.extend(other.completed);
    }
}

/// Inserts `records` (a (job, seq) already present is skipped) and moves the counters
/// of their jobs by what was really inserted.
fn insert_records<'a>(
    tx: &Transaction<'_>,
    records: impl IntoIterator<Item = &'a StoredRecord>,
) -> Result<Inserted, StoreError> {
    let mut deltas: HashMap<JobKey, JobDelta> = HashMap::new();
    let mut inserted = Inserted::default();
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO records (id, ok, error_kind, record) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for record in records {
            let kind = record.error_kind.map(|k| k.as_str());
            if insert.execute(params![
                row_id(record.job, record.seq),
                record.ok,
                kind,
                record.json
            ])? == 0
            {
                continue;
            }
            *inserted
                .outcomes
                .entry(OutcomeLabel::of(record.ok, record.error_kind))
                .or_default() += 1;
            let delta = deltas.entry(record.job).or_default();
            delta.done += 1;
            if record.ok {
                delta.succeeded += 1;
            } else {
                delta.failed += 1;
            }
            if let Some(kind) = record.error_kind {
                *delta.errors.entry(kind).or_default() += 1;
            }
        }
    }
    let now = clock::now_millis();
    let mut counters = tx.prepare_cached(
        "UPDATE jobs SET done = done + ?2, succeeded = succeeded + ?3, failed = failed + ?4 WHERE key = ?1",
    )?;
    let mut errors = tx.prepare_cached(
        "INSERT INTO job_errors (job, kind, count) VALUES (?1, ?2, ?3) \
         ON CONFLICT (job, kind) DO UPDATE SET count = count + excluded.count",
    )?;
    let mut complete = tx.prepare_cached(
        "UPDATE jobs SET state = 'completed', finished_at = ?2, started_at = COALESCE(started_at, ?2) \
         WHERE key = ?1 AND done >= total AND state IN ('queued', 'running')",
    )?;
    for (job, delta) in deltas {
        counters.execute(params![job, delta.done, delta.succeeded, delta.failed])?;
        for (kind, count) in delta.errors {
            errors.execute(params![job, kind.as_str(), count])?;
        }
        if complete.execute(params![job, now])? > 0 {
            inserted.completed.push(job);
        }
    }
    Ok(inserted)
}

/// The state of each job in `keys`, as stored now.
fn states(
    tx: &Transaction<'_>,
    keys: impl IntoIterator<Item = JobKey>,
) -> Result<HashMap<JobKey, JobState>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT state FROM jobs WHERE key = ?1")?;
    let mut states = HashMap::new();
    for key in keys {
        if states.contains_key(&key) {
            continue;
        }
        let state: Option<String> = stmt.query_row([key], |row| row.get(0)).ok();
        if let Some(state) = state {
            states.insert(key, state.parse().map_err(StoreError::Corrupt)?);
        }
    }
    Ok(states)
}

impl Handler<StoreRecords> for StoreWriter {
    type Result = ();

    fn handle(&mut self, msg: StoreRecords, _: &mut Self::Context) {
        match self.store_records(&msg.records) {
            Ok(()) => {}
            Err(error) => {
                tracing::error!(%error, records = msg.records.len(), "cannot commit records: failing their jobs");
                let mut jobs: Vec<JobKey> = msg.records.iter().map(|r| r.job).collect();
                jobs.dedup();
                for key in jobs {
                    self.fail_job(key, &format!("the store could not commit records: {error}"));
                }
            }
        }
    }
}

impl StoreWriter {
    fn store_records(&mut self, records: &[StoredRecord]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        // A record of a job that ended meanwhile (cancelled, failed, purged) is dropped.
        let states = states(&tx, records.iter().map(|r| r.job))?;
        let live = records
            .iter()
            .filter(|r| states.get(&r.job).is_some_and(|s| s.is_active()));
        let inserted = insert_records(&tx, live)?;
        self.after_commit.commit(tx, inserted, &[])
    }

    /// Marks an active job `failed` with `reason`, best effort: the store is already
    /// in trouble when this runs.
    fn fail_job(&mut self, key: JobKey, reason: &str) {
        let failed = self.conn.execute(
            "UPDATE jobs SET state = 'failed', error = ?2, finished_at = ?3 \
             WHERE key = ?1 AND state IN ('queued', 'running')",
            params![key, reason, clock::now_millis()],
        );
        if let Err(error) = failed {
            tracing::error!(%error, job = key, "cannot mark the job failed either");
        }
        self.after_commit.finished.do_send(JobFinished { key });
        self.after_commit.announce.announce();
    }
}

/// Commit a new job with all its URLs. Sent by the API, which has read the body
/// once to validate it; the writer reads it again entry by entry as it inserts, so no
/// list of the URLs is ever built. Answers after the commit.
#[derive(Debug, Message)]
#[rtype(result = "Result<CreatedJob, StoreError>")]
pub struct CreateJob {
    /// Public id for the new job.
    pub id: String,
    /// The caller's label.
    pub label: Option<String>,
    /// Validated options.
    pub options: JobOptions,
    /// The submission body, already validated by the API.
    pub body: Bytes,
    /// How many entries the API counted in `body`.
    pub total: u64,
    /// How the body is written.
    pub format: BodyFormat,
    /// The `Idempotency-Key` header, with a hash of the request it came with.
    pub idempotency: Option<(String, String)>,
}

/// What [`CreateJob`] did.
#[derive(Debug)]
pub enum CreatedJob {
    /// A new job was committed.
    Created(JobRow),
    /// The idempotency key names this job, submitted with the same request.
    Replayed(JobRow),
    /// The idempotency key was used before with a different request.
    KeyReused,
}

impl Handler<CreateJob> for StoreWriter {
    type Result = Result<CreatedJob, StoreError>;

    fn handle(&mut self, msg: CreateJob, _: &mut Self::Context) -> Self::Result {
        let tx = self.conn.transaction()?;
        if let Some((key, hash)) = &msg.idempotency {
            let existing: Option<(JobKey, Option<String>)> = tx
                .query_row(
                    "SELECT key, request_hash FROM jobs WHERE idempotency_key = ?1",
                    [key],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .ok();
            if let Some((job, stored_hash)) = existing {
                if stored_hash.as_deref() != Some(hash.as_str()) {
                    return Ok(CreatedJob::KeyReused);
                }
                let row = job_by_key(&tx, job)?
                    .ok_or_else(|| StoreError::Corrupt("job vanished".into()))?;
                return Ok(CreatedJob::Replayed(row));
            }
        }
        let options = serde_json::to_string(&msg.options).expect("options always serialize");
        tx.execute(
            "INSERT INTO jobs (id, label, state, total, options, created_at, idempotency_key, request_hash) \
             VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7)",
            params![
                msg.id,
                msg.label,
                msg.total as i64,
                options,
                clock::now_millis(),
                msg.idempotency.as_ref().map(|(k, _)| k),
                msg.idempotency.as_ref().map(|(_, h)| h),
            ],
        )?;
        let job = tx.last_insert_rowid();
        let (total, inserted) = insert_entries(&tx, job, &msg.id, &msg.body, msg.format)?;
        if total != msg.total {
            return Err(StoreError::Corrupt(format!(
                "the submission read back with {total} entries, not the {} counted",
                msg.total
            )));
        }
        let row =
            job_by_key(&tx, job)?.ok_or_else(|| StoreError::Corrupt("job vanished".into()))?;
        self.after_commit.commit(tx, inserted, &[])?;
        Ok(CreatedJob::Created(row))
    }
}

/// Invalid URLs' records written per statement batch while a job is inserted.
const INVALID_CHUNK: usize = 1024;

/// Inserts every entry of `body` as a URL row of `job`, and an `invalid_url` record for
/// each URL that cannot be fetched. Returns the number of entries.
fn insert_entries(
    tx: &Transaction<'_>,
    job: JobKey,
    job_id: &str,
    body: &[u8],
    format: BodyFormat,
) -> Result<(u64, Inserted), StoreError> {
    let mut insert_url =
        tx.prepare_cached("INSERT INTO urls (id, url, ref) VALUES (?1, ?2, ?3)")?;
    let mut seq = 0u64;
    let mut invalid = Vec::new();
    let mut inserted = Inserted::default();
    let mut failure = None;
    let read = read_entries(body, format, |entry| {
        let result = (|| {
            insert_url.execute(params![row_id(job, seq), entry.url(), entry.reference()])?;
            if let Some(reason) = url_problem(entry.url()) {
                let record = Record::failed(
                    job_id,
                    seq,
                    entry.url(),
                    entry.reference(),
                    ErrorKind::InvalidUrl,
                    reason,
                );
                invalid.push(record.to_stored(job));
                if invalid.len() == INVALID_CHUNK {
                    inserted.add(insert_records(tx, &invalid)?);
                    invalid.clear();
                }
            }
            seq += 1;
            Ok::<_, StoreError>(())
        })();
        result.map_err(|e| {
            let message = e.to_string();
            failure = Some(e);
            message
        })
    });
    if let Some(error) = failure {
        return Err(error);
    }
    read.map_err(|e| {
        StoreError::Corrupt(format!("a validated submission does not read back: {e}"))
    })?;
    inserted.add(insert_records(tx, &invalid)?);
    Ok((seq, inserted))
}

/// Record that a job's first URL was dispatched. Sent by the coordinator.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct MarkStarted {
    /// The job.
    pub key: JobKey,
}

impl Handler<MarkStarted> for StoreWriter {
    type Result = ();

    fn handle(&mut self, msg: MarkStarted, _: &mut Self::Context) {
        let result = self.conn.execute(
            "UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?2) \
             WHERE key = ?1 AND state = 'queued'",
            params![msg.key, clock::now_millis()],
        );
        if let Err(error) = result {
            tracing::error!(%error, job = msg.key, "cannot mark the job running");
        }
    }
}

/// Give every URL of an active job that has no record a `cancelled` one, and mark the
/// job `cancelled`, in one transaction. Sent by the coordinator; answers whether the
/// job was active.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct FinishCancelled {
    /// The job.
    pub key: JobKey,
}

impl Handler<FinishCancelled> for StoreWriter {
    type Result = Result<bool, StoreError>;

    fn handle(&mut self, msg: FinishCancelled, _: &mut Self::Context) -> Self::Result {
        let tx = self.conn.transaction()?;
        let Some(job) = job_by_key(&tx, msg.key)? else {
            return Ok(false);
        };
        if !job.view.state.is_active() {
            return Ok(false);
        }
        let (first, last) = job_rows(msg.key);
        let mut after = first - 1;
        let mut inserted = Inserted::default();
        loop {
            let missing: Vec<(i64, String, Option<String>)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT u.id, u.url, u.ref FROM urls u WHERE u.id > ?1 AND u.id <= ?2 \
                     AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = u.id) ORDER BY u.id LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![after, last, CANCEL_CHUNK as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let Some((last_id, _, _)) = missing.last() else {
                break;
            };
            after = *last_id;
            let records: Vec<StoredRecord> = missing
                .iter()
                .map(|(id, url, reference)| {
                    Record::failed(
                        &job.view.id,
                        (id & 0xFFFF_FFFF) as u64,
                        url,
                        reference.as_deref(),
                        ErrorKind::Cancelled,
                        "the job was cancelled before this URL was fetched",
                    )
                    .to_stored(msg.key)
                })
                .collect();
            inserted.add(insert_records(&tx, &records)?);
        }
        let now = clock::now_millis();
        tx.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?2 WHERE key = ?1",
            params![msg.key, now],
        )?;
        self.after_commit.commit(tx, inserted, &[msg.key])?;
        Ok(true)
    }
}

/// Delete a finished job and its records. Sent by the API; answers false when the
/// job is still active (nothing is deleted then).
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct PurgeJob {
    /// The job.
    pub key: JobKey,
}

impl Handler<PurgeJob> for StoreWriter {
    type Result = Result<bool, StoreError>;

    fn handle(&mut self, msg: PurgeJob, _: &mut Self::Context) -> Self::Result {
        let tx = self.conn.transaction()?;
        let Some(job) = job_by_key(&tx, msg.key)? else {
            return Ok(false);
        };
        if job.view.state.is_active() {
            return Ok(false);
        }
        let (first, last) = job_rows(msg.key);
        tx.execute(
            "DELETE FROM records WHERE id >= ?1 AND id <= ?2",
            params![first, last],
        )?;
        tx.execute(
            "DELETE FROM urls WHERE id >= ?1 AND id <= ?2",
            params![first, last],
        )?;
        tx.execute("DELETE FROM job_errors WHERE job = ?1", [msg.key])?;
        tx.execute("DELETE FROM jobs WHERE key = ?1", [msg.key])?;
        tx.commit()?;
        Ok(true)
    }
}

/// Answers once every message sent to the writer before it has been handled.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Flush;

impl Handler<Flush> for StoreWriter {
    type Result = MessageResult<Flush>;

    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> Self::Result {
        MessageResult(())
    }
}
