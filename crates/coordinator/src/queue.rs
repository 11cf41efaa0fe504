//! One active job's dispatch state: a bounded buffer of its pending tasks, grouped by
//! host so dispatch can look past busy hosts, refilled from the store page by page.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use trawl_core::fetch::{FetchTask, HostKey, Retry};
use trawl_core::job::JobContext;
use trawl_store::{PendingUrl, Store, StoreError};

use crate::hosts::HostTurns;

/// URLs read from the store per page.
const PAGE: usize = 1024;

/// Tasks buffered per job at most: a million-URL job never sits in memory whole.
const BUFFER: usize = 4 * PAGE;

/// One job's dispatch state.
pub(crate) struct JobQueue {
    /// The job's ids and options.
    pub(crate) job: Arc<JobContext>,
    /// The job's turn limit per host: the server's, or lower if the job asks.
    per_host_limit: u32,
    /// The request rates per host this job's requests must fit: the server's ceiling
    /// and the job's own, lower one.
    rates: Vec<NonZeroU32>,
    by_host: HashMap<HostKey, VecDeque<FetchTask>>,
    buffered: usize,
    /// Tasks waiting for their backoff, soonest first; they hold no fetch slot.
    retries: BinaryHeap<Reverse<Waiting>>,
    /// The last seq read from the store.
    read_through: Option<u64>,
    /// The store has no pending URL after `read_through`.
    exhausted: bool,
    /// Tasks of this job dispatched and neither committed nor handed back yet.
    pub(crate) in_flight: usize,
    /// The job has been marked running.
    pub(crate) started: bool,
}

impl JobQueue {
    pub(crate) fn new(job: Arc<JobContext>, server_per_host: u32, server_rps: u32) -> JobQueue {
        let per_host_limit = job
            .options
            .per_host_concurrency
            .map_or(server_per_host, |n| n.clamp(1, server_per_host));
        let job_rps = job
            .options
            .per_host_rps
            .filter(|rps| server_rps == 0 || *rps < server_rps);
        let rates = [
            NonZeroU32::new(server_rps),
            job_rps.and_then(NonZeroU32::new),
        ]
        .into_iter()
        .flatten()
        .collect();
        JobQueue {
            job,
            per_host_limit,
            rates,
            by_host: HashMap::new(),
            buffered: 0,
            retries: BinaryHeap::new(),
            read_through: None,
            exhausted: false,
            in_flight: 0,
            started: false,
        }
    }

    /// Whether a request rate applies to this job's hosts: its tasks must start as soon
    /// as they are assigned, never wait in a fetcher's queue, or their starts could
    /// bunch up.
    pub(crate) fn is_rate_limited(&self) -> bool {
        !self.rates.is_empty()
    }

    /// Nothing buffered, nothing in flight, nothing more to read: every dispatched task
    /// of this job has been committed or aborted.
    pub(crate) fn is_idle(&self) -> bool {
        self.exhausted && self.buffered == 0 && self.in_flight == 0 && self.retries.is_empty()
    }

    /// Keeps a task for another attempt once its backoff is over.
    pub(crate) fn retry_later(&mut self, retry: Retry) {
        self.retries.push(Reverse(Waiting(retry)));
    }

    /// When the next waiting retry is due.
    pub(crate) fn next_retry(&self) -> Option<Instant> {
        self.retries
            .peek()
            .map(|Reverse(Waiting(retry))| retry.not_before)
    }

    /// Moves retries whose backoff is over to the front of their host's queue.
    fn promote_due_retries(&mut self, now: Instant) {
        while self.next_retry().is_some_and(|due| due <= now) {
            let Reverse(Waiting(retry)) = self.retries.pop().expect("peeked");
            self.by_host
                .entry(retry.task.host.clone())
                .or_default()
                .push_front(retry.task);
            self.buffered += 1;
        }
    }

    /// Reads the store again from the start, for URLs whose records never arrived.
    pub(crate) fn rescan(&mut self) {
        self.read_through = None;
        self.exhausted = false;
    }

    /// Reads one page of pending URLs from the store into the buffer, if the buffer has
    /// room for it and the store may have more; `None` when it read nothing. One page
    /// per call keeps each dispatch short: the first tasks of a new job leave after one
    /// page, and the buffer fills up over the next dispatches. URLs that no longer parse
    /// (the store was edited by hand) are returned for an `invalid_url` record.
    pub(crate) fn refill(&mut self, store: &Store) -> Result<Option<Vec<PendingUrl>>, StoreError> {
        if self.exhausted || self.buffered + PAGE > BUFFER {
            return Ok(None);
        }
        let mut unparsable = Vec::new();
        let page = store.pending_urls(self.job.key, self.read_through, PAGE)?;
        self.exhausted = page.len() < PAGE;
        for pending in page {
            self.read_through = Some(pending.seq);
            let (seq, url, reference) = (pending.seq, pending.url, pending.reference);
            match FetchTask::new(self.job.clone(), seq, url, reference) {
                Ok(task) => {
                    self.by_host
                        .entry(task.host.clone())
                        .or_default()
                        .push_back(task);
                    self.buffered += 1;
                }
                Err((url, reference)) => unparsable.push(PendingUrl {
                    seq,
                    url,
                    reference,
                }),
            }
        }
        Ok(Some(unparsable))
    }

    /// Takes up to `max` tasks whose hosts have a free turn and a rate token, taking
    /// them. Returns the tasks, and whether some host was held back by its rate.
    pub(crate) fn take(
        &mut self,
        max: usize,
        turns: &mut HostTurns,
        now: Instant,
    ) -> (Vec<FetchTask>, bool) {
        self.promote_due_retries(now);
        let mut taken = Vec::new();
        let mut rate_limited = false;
        let (limit, rates) = (self.per_host_limit, &self.rates);
        self.by_host.retain(|host, tasks| {
            let room = (turns.room(host, limit, now) as usize).min(max - taken.len());
            for _ in 0..room.min(tasks.len()) {
                if !turns.admit(host, rates) {
                    rate_limited = true;
                    break;
                }
                turns.take(host);
                taken.push(tasks.pop_front().expect("counted"));
            }
            !tasks.is_empty()
        });
        self.buffered -= taken.len();
        self.in_flight += taken.len();
        (taken, rate_limited)
    }
}

/// A retry ordered by when it is due.
struct Waiting(Retry);

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.0.not_before == other.0.not_before
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.not_before.cmp(&other.0.not_before)
    }
}
