//! Fetch tasks and their outcomes, and the messages that move them between the
//! coordinator, the fetchers and the processor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Message;
use bytes::Bytes;
use url::Url;

use crate::job::{JobContext, JobKey};
use crate::record::{RecordError, Redirect, StoredRecord};

/// The politeness key of a URL: `host:port`, the port explicit.
pub type HostKey = Arc<str>;

/// The [`HostKey`] of a URL, or `None` when it has no host.
pub fn host_key(url: &Url) -> Option<HostKey> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(Arc::from(format!("{host}:{port}")))
}

/// One URL of one job to fetch.
#[derive(Debug, Clone)]
pub struct FetchTask {
    /// The job's ids and options, shared by all its tasks.
    pub job: Arc<JobContext>,
    /// Position in the submission.
    pub seq: u64,
    /// The URL string as submitted (copied into the record).
    pub url: String,
    /// The parsed URL to request.
    pub target: Url,
    /// The caller's reference.
    pub reference: Option<String>,
    /// The politeness key of `target`.
    pub host: HostKey,
    /// Attempts already made: a retry carries its count from one dispatch to the next.
    pub attempts: u32,
    /// Set while an attempt is between redirect hops: `target` is then the next hop,
    /// and `host` its host, so the hop waits for its own host's turn.
    pub hops: Option<Box<Hops>>,
}

impl FetchTask {
    /// The first dispatch of URL number `seq` of `job`. When `url` does not parse to a
    /// URL with a host, `url` and `reference` are given back.
    pub fn new(
        job: Arc<JobContext>,
        seq: u64,
        url: String,
        reference: Option<String>,
    ) -> Result<FetchTask, (String, Option<String>)> {
        let Some((target, host)) = Url::parse(&url)
            .ok()
            .and_then(|target| host_key(&target).map(|host| (target, host)))
        else {
            return Err((url, reference));
        };
        Ok(FetchTask {
            job,
            seq,
            url,
            target,
            reference,
            host,
            attempts: 0,
            hops: None,
        })
    }
}

/// An attempt in the middle of its redirects.
#[derive(Debug, Clone)]
pub struct Hops {
    /// The URL the attempt started from: the task's own URL.
    pub origin: Url,
    /// Hops followed so far.
    pub redirects: Vec<Redirect>,
    /// Time the attempt has spent on requests so far (waiting for turns excluded).
    pub spent: Duration,
    /// When the attempt started.
    pub fetched_at: String,
}

/// The head of the final response.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// HTTP status.
    pub status: u16,
    /// Content-Type, if sent.
    pub content_type: Option<String>,
    /// Every header, lower-case names, in arrival order; empty unless the job's
    /// records carry headers.
    pub headers: Vec<(String, String)>,
}

/// What fetching one task gave: a response, an error, or both (a response whose body
/// then broke a limit).
#[derive(Debug)]
pub struct FetchOutcome {
    /// The task fetched.
    pub task: FetchTask,
    /// The final response's head, when one arrived.
    pub response: Option<ResponseHead>,
    /// The decoded body read (empty when none).
    pub body: Bytes,
    /// Why no usable response came, if so.
    pub error: Option<RecordError>,
    /// Requests actually made.
    pub attempts: u32,
    /// Duration of the final attempt with all its hops.
    pub elapsed_ms: u64,
    /// When the final attempt started.
    pub fetched_at: String,
    /// The URL of the final response.
    pub final_url: Option<String>,
    /// Redirect hops followed.
    pub redirects: Vec<Redirect>,
}

/// Fetch these tasks. Sent by the coordinator to a fetcher, never more than the
/// fetcher's free slots.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AssignTasks {
    /// Tasks to start now.
    pub tasks: Vec<FetchTask>,
}

/// Hand every queued task back, unstarted (as a retry due now, which the stopping
/// coordinator keeps): sent by the coordinator to every fetcher at shutdown, when no new
/// request may start. The URLs resume at the next start.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReturnQueued;

/// Abort every in-flight request of a job and start no new one. Sent by the coordinator
/// to every fetcher.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AbortJob {
    /// The job cancelled.
    pub key: JobKey,
}

/// A task that left its fetch slot.
#[derive(Debug, Clone)]
pub struct FreedSlot {
    /// The task's job.
    pub job: JobKey,
    /// Set when the task goes on later: a retry after its backoff, or the next hop of
    /// a redirect to another host. It waits in the coordinator, holding no fetch slot.
    pub retry: Option<Retry>,
}

/// A task to dispatch again at `not_before`: a retry once its backoff is over, or a
/// redirect hop at once (under its new host's turn).
#[derive(Debug, Clone)]
pub struct Retry {
    /// The task, its `attempts` counting the attempts made so far.
    pub task: FetchTask,
    /// Not to be dispatched before this instant.
    pub not_before: Instant,
}

/// A host answered 429 or 503 with a Retry-After: no request may start to it before
/// `until`. Sent by a fetcher to the coordinator.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PauseHost {
    /// The host.
    pub host: HostKey,
    /// End of the pause (already capped by `fetcher.max_retry_after`).
    pub until: Instant,
}

/// These tasks left their fetch slots: their outcomes went on to be processed, they
/// were handed back (retry, redirect hop) or aborted. Sent by a fetcher to the
/// coordinator, which frees the slots. A fetcher gives slots back only while few of
/// its batches are still being processed and committed, so a slow processor or disk
/// slows the fetching.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct TasksFinished {
    /// Index of the fetcher reporting.
    pub fetcher: usize,
    /// One entry per task.
    pub slots: Vec<FreedSlot>,
}

/// The requests to these hosts ended (one entry per request): their turns are free
/// again. Sent by a fetcher to the coordinator as soon as requests end, before their
/// records are committed, so politeness counts requests on the wire and nothing else.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct HostTurnsFreed {
    /// One host per ended request.
    pub hosts: Vec<HostKey>,
}

/// The batch holding these tasks was processed and committed, or failed to be (their
/// URLs then have no record and are read from the store again): either way nothing of
/// them is on its way any more. Sent by a fetcher to the coordinator, which tells from
/// it when a job has nothing left in flight.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct TasksSettled {
    /// The job of each task, one entry per task.
    pub jobs: Vec<JobKey>,
}

/// Answers once every batch the fetcher handed on is committed. Sent at shutdown, after
/// the coordinator stopped dispatching and in-flight requests had their grace period.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Drain;

/// Turn these outcomes into stored records. Sent by fetchers to the processor pool.
#[derive(Debug, Message)]
#[rtype(result = "Vec<StoredRecord>")]
pub struct ProcessBatch {
    /// Outcomes to process.
    pub outcomes: Vec<FetchOutcome>,
}
