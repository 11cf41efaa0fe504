//! The processor actor: runs on a `SyncArbiter` (P threads, `processor.actors`) because
//! turning responses into records is CPU work, and answers each batch with one stored
//! record per outcome, in order.

use std::collections::{HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use actix::{Actor, Handler, MessageResult, SyncContext};
use trawl_core::fetch::{FetchOutcome, ProcessBatch};
use trawl_core::job::{JobContext, JobKey};
use trawl_core::record::{Note, Record, RecordError, StoredRecord};
use trawl_core::settings::ProcessorSettings;

use crate::digest::sha256_in_groups;
use crate::record::process;
use crate::rules::CompiledRules;

/// Jobs whose compiled rules one processor thread keeps. Jobs run a few at a time, so
/// a small cache is hit almost always; the oldest entry goes first.
const RULES_CACHE_JOBS: usize = 64;

/// Turns fetch outcomes into stored records.
pub struct Processor {
    settings: ProcessorSettings,
    rules: RulesCache,
}

impl Processor {
    /// A processor with these settings; start it with `SyncArbiter::start`.
    pub fn new(settings: ProcessorSettings) -> Self {
        Processor {
            settings,
            rules: RulesCache::default(),
        }
    }
}

impl Actor for Processor {
    type Context = SyncContext<Self>;
}

impl Processor {
    /// The stored records of `outcomes`, one per outcome, in order: what the actor does
    /// with a [`ProcessBatch`] (public for the benchmark). The bodies are hashed a few
    /// at a time, side by side, which takes a fraction of hashing each on its own, and
    /// each group's outcomes are processed right after it, while their bodies are
    /// still in cache: a batch of 64 pages of 30 KiB does not fit. The HTML bench case
    /// went from 44.1–45.4 to 42.8–44.0 µs a record (best of 40 batches, the four
    /// quietest of ten alternations).
    pub fn process_batch(&mut self, outcomes: Vec<FetchOutcome>) -> Vec<StoredRecord> {
        // The bodies shared (a reference count each), so that each outcome can be taken
        // whole for its record while the digests still come.
        let shared: Vec<_> = outcomes
            .iter()
            .map(|outcome| outcome.body.clone())
            .collect();
        let bodies: Vec<&[u8]> = shared.iter().map(|body| &body[..]).collect();
        let mut outcomes: Vec<Option<FetchOutcome>> = outcomes.into_iter().map(Some).collect();
        let mut records: Vec<Option<StoredRecord>> = outcomes.iter().map(|_| None).collect();
        for (i, sha256) in sha256_in_groups(&bodies) {
            let outcome = outcomes[i].take().expect("one digest per outcome");
            records[i] = Some(self.record(outcome, &sha256));
        }
        records
            .into_iter()
            .map(|record| record.expect("one digest per outcome"))
            .collect()
    }

    /// The stored record of `outcome`, whose body's SHA-256 is `sha256`.
    fn record(&mut self, outcome: FetchOutcome, sha256: &[u8; 32]) -> StoredRecord {
        let job = outcome.task.job.key;
        let rules = self.rules.get(&outcome.task.job);
        let fallback = Fallback::of(&outcome);
        // A bug tripped by one hostile body must not take the thread (and with it the
        // pipeline) down: the URL still gets its record, with a note.
        match panic::catch_unwind(AssertUnwindSafe(|| {
            process(outcome, sha256, &rules, &self.settings)
        })) {
            Ok(record) => record.to_stored(job),
            Err(_) => fallback.record().to_stored(job),
        }
    }
}

impl Handler<ProcessBatch> for Processor {
    type Result = MessageResult<ProcessBatch>;

    fn handle(&mut self, batch: ProcessBatch, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.process_batch(batch.outcomes))
    }
}

/// What a record keeps of its outcome when processing the body panicked: the
/// identity of the URL and how the fetch went, taken before processing (the outcome
/// is gone once a panic unwinds), and kept cheap since it is taken for every record.
struct Fallback {
    job: Arc<JobContext>,
    seq: u64,
    url: String,
    reference: Option<String>,
    status: Option<u16>,
    attempts: u32,
    error: Option<RecordError>,
}

impl Fallback {
    fn of(outcome: &FetchOutcome) -> Fallback {
        let task = &outcome.task;
        Fallback {
            job: Arc::clone(&task.job),
            seq: task.seq,
            url: task.url.clone(),
            reference: task.reference.clone(),
            status: outcome.response.as_ref().map(|r| r.status),
            attempts: outcome.attempts,
            error: outcome.error.clone(),
        }
    }

    fn record(self) -> Record {
        tracing::error!(job = %self.job.id, seq = self.seq, url = %self.url, "processing a body panicked");
        Record {
            ok: self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s)),
            error: self.error,
            status: self.status,
            attempts: self.attempts,
            notes: vec![Note::new(
                "processing_failed",
                "Trawl failed to process this body; what it holds is not in the record",
            )],
            ..Record::new(&self.job.id, self.seq, &self.url, self.reference.as_deref())
        }
    }
}

/// Compiled rules by job, so a job's rules compile once, not once per record.
#[derive(Default)]
struct RulesCache {
    by_job: HashMap<JobKey, Arc<CompiledRules>>,
    /// Jobs in insertion order, oldest first.
    order: VecDeque<JobKey>,
}

impl RulesCache {
    fn get(&mut self, job: &JobContext) -> Arc<CompiledRules> {
        if let Some(rules) = self.by_job.get(&job.key) {
            return Arc::clone(rules);
        }
        if self.order.len() == RULES_CACHE_JOBS {
            if let Some(oldest) = self.order.pop_front() {
                self.by_job.remove(&oldest);
            }
        }
        // The API rejected invalid rules at submission; a job stored before a rule became
        // invalid still gets its records, with null values and a note.
        let rules = Arc::new(CompiledRules::compile_lenient(&job.options.extract));
        self.by_job.insert(job.key, Arc::clone(&rules));
        self.order.push_back(job.key);
        rules
    }
}

#[cfg(test)]
mod tests {
    use actix::SyncArbiter;
    use sha2::{Digest, Sha256};
    use trawl_core::fetch::{FetchOutcome, FetchTask, ResponseHead};
    use trawl_core::job::{ExtractRule, JobOptions};

    use super::*;

    fn outcome(job: &Arc<JobContext>, seq: u64, body: &str) -> FetchOutcome {
        FetchOutcome {
            task: FetchTask::new(Arc::clone(job), seq, "http://a.example/".into(), None).unwrap(),
            response: Some(ResponseHead {
                status: 200,
                content_type: Some("text/html".into()),
                headers: Vec::new(),
            }),
            body: body.to_owned().into(),
            error: None,
            attempts: 1,
            elapsed_ms: 1,
            fetched_at: "2026-11-25T10:00:00Z".into(),
            final_url: None,
            redirects: Vec::new(),
        }
    }

    #[test]
    fn a_batch_answers_one_stored_record_per_outcome_in_order() {
        let options = JobOptions {
            extract: [(
                "h".to_owned(),
                ExtractRule {
                    css: Some("h1".into()),
                    ..Default::default()
                },
            )]
            .into(),
            ..Default::default()
        };
        let job = Arc::new(JobContext {
            key: 9,
            id: "j".into(),
            options,
        });
        // Bodies of different lengths, hashed in a group of four and one on its own.
        let bodies: Vec<String> = (0..5)
            .map(|i| format!("<h1>n{i}</h1>{}", " ".repeat(i * 40)))
            .collect();
        let outcomes = (0..5)
            .map(|i| outcome(&job, i as u64, &bodies[i]))
            .collect();
        let records = actix::System::new().block_on(async move {
            let processor = SyncArbiter::start(2, || Processor::new(ProcessorSettings::default()));
            processor.send(ProcessBatch { outcomes }).await.unwrap()
        });
        assert_eq!(records.len(), 5);
        for (i, record) in records.iter().enumerate() {
            assert_eq!((record.job, record.seq, record.ok), (9, i as u64, true));
            assert!(
                record
                    .json
                    .contains(&format!("\"extract\":{{\"h\":\"n{i}\"}}")),
                "{}",
                record.json
            );
            let sha256 = hex::encode(Sha256::digest(&bodies[i]));
            assert!(
                record.json.contains(&format!("\"sha256\":\"{sha256}\"")),
                "{}",
                record.json
            );
        }
    }

    #[test]
    fn the_rules_cache_is_bounded_and_keeps_recent_jobs() {
        let mut cache = RulesCache::default();
        let jobs: Vec<JobContext> = (0..RULES_CACHE_JOBS as i64 + 3)
            .map(|key| JobContext {
                key,
                id: key.to_string(),
                options: JobOptions::default(),
            })
            .collect();
        for job in &jobs {
            cache.get(job);
        }
        assert_eq!(cache.by_job.len(), RULES_CACHE_JOBS);
        assert!(!cache.by_job.contains_key(&0));
        let last = jobs.last().unwrap();
        assert!(Arc::ptr_eq(&cache.get(last), &cache.get(last)));
    }
}
