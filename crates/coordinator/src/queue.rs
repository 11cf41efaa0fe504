//! One active job's dispatch state: a bounded buffer of its pending tasks, grouped by
//! host so dispatch can look past busy hosts, refilled from the store page by page.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use trawl_core::fetch::{host_key, FetchTask, HostKey};
use trawl_core::job::JobContext;
use trawl_store::{PendingUrl, Store, StoreError};
use url::Url;

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
    by_host: HashMap<HostKey, VecDeque<FetchTask>>,
    buffered: usize,
    /// The last seq read from the store.
    read_through: Option<u64>,
    /// The store has no pending URL after `read_through`.
    exhausted: bool,
    /// Tasks of this job in fetch slots now.
    pub(crate) in_flight: usize,
    /// The job has been marked running.
    pub(crate) started: bool,
}

impl JobQueue {
    pub(crate) fn new(job: Arc<JobContext>, server_per_host: u32) -> JobQueue {
        let per_host_limit = job.options.per_host_concurrency.map_or(server_per_host, |n| n.clamp(1, server_per_host));
        JobQueue {
            job,
            per_host_limit,
            by_host: HashMap::new(),
            buffered: 0,
            read_through: None,
            exhausted: false,
            in_flight: 0,
            started: false,
        }
    }

    /// Nothing buffered, nothing in flight, nothing more to read: every dispatched task
    /// of this job has been committed or aborted.
    pub(crate) fn is_idle(&self) -> bool {
        self.exhausted && self.buffered == 0 && self.in_flight == 0
    }

    /// Reads the store again from the start, for URLs whose records never arrived.
    pub(crate) fn rescan(&mut self) {
        self.read_through = None;
        self.exhausted = false;
    }

    /// Tops the buffer up from the store when it runs low. URLs that no longer parse
    /// (the store was edited by hand) are returned for an `invalid_url` record.
    pub(crate) fn refill(&mut self, store: &Store) -> Result<Vec<PendingUrl>, StoreError> {
        let mut unparsable = Vec::new();
        while !self.exhausted && self.buffered + PAGE <= BUFFER {
            let page = store.pending_urls(self.job.key, self.read_through, PAGE)?;
            self.exhausted = page.len() < PAGE;
            for pending in page {
                self.read_through = Some(pending.seq);
                match Url::parse(&pending.url).ok().and_then(|url| host_key(&url).map(|host| (url, host))) {
                    Some((target, host)) => {
                        let task = FetchTask {
                            job: self.job.clone(),
                            seq: pending.seq,
                            url: pending.url,
                            target,
                            reference: pending.reference,
                            host: host.clone(),
                        };
                        self.by_host.entry(host).or_default().push_back(task);
                        self.buffered += 1;
                    }
                    None => unparsable.push(pending),
                }
            }
        }
        Ok(unparsable)
    }

    /// Takes up to `max` tasks whose hosts have a free turn, taking the turns.
    pub(crate) fn take(&mut self, max: usize, turns: &mut HostTurns) -> Vec<FetchTask> {
        let mut taken = Vec::new();
        let limit = self.per_host_limit;
        self.by_host.retain(|host, tasks| {
            let room = (turns.room(host, limit) as usize).min(max - taken.len());
            for task in tasks.drain(..room.min(tasks.len())) {
                turns.take(host);
                taken.push(task);
            }
            !tasks.is_empty()
        });
        self.buffered -= taken.len();
        self.in_flight += taken.len();
        taken
    }
}
