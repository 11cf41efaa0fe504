//! [`Coordinator`]: job lifecycle and dispatch.
//!
//! Flow control is by credit: the coordinator knows each fetcher's free slots (its
//! `concurrency` plus the few tasks it may hold queued, see
//! [`FetcherSettings::queued_tasks`]), assigns no more tasks than that, and gets the
//! slots back with [`TasksFinished`] once the
//! tasks' records are committed (or the tasks come back for a retry or a redirect hop,
//! which then wait here, holding no slot). Tasks come from each job's bounded buffer,
//! refilled from the store in pages, and only for hosts with a free turn, a rate token
//! and no Retry-After pause; turns come back with [`HostTurnsFreed`] as requests end.

use std::collections::BTreeMap;
use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, Recipient, ResponseActFuture,
    WrapFuture,
};
use tokio::sync::oneshot;
use trawl_core::fetch::{
    AbortJob, AssignTasks, HostTurnsFreed, PauseHost, ReturnQueued, TasksFinished, TasksSettled,
};
use trawl_core::job::{CancelJob, JobAccepted, JobContext, JobFinished, JobKey};
use trawl_core::record::{ErrorKind, Record, StoreRecords};
use trawl_core::settings::FetcherSettings;
use trawl_store::{FinishCancelled, MarkStarted, Store};

use crate::hosts::HostTurns;
use crate::queue::JobQueue;

/// Tasks one job may take per round before the next job's turn: fairness between jobs.
const ROUND_QUANTUM: usize = 64;

/// How often idle jobs are checked and dispatch is retried without a trigger.
const TICK: Duration = Duration::from_secs(1);

/// How soon dispatch looks again at a host held back by its request rate.
const RATE_RECHECK: Duration = Duration::from_millis(20);

/// The recipients of one fetcher.
#[derive(Clone)]
pub struct FetcherHandle {
    /// Takes assigned tasks.
    pub assign: Recipient<AssignTasks>,
    /// Aborts a cancelled job's requests.
    pub abort: Recipient<AbortJob>,
    /// Hands queued tasks back at shutdown.
    pub return_queued: Recipient<ReturnQueued>,
}

/// Where the coordinator sends its commands.
#[derive(Clone)]
pub struct CoordinatorLinks {
    /// Every fetcher, by index.
    pub fetchers: Vec<FetcherHandle>,
    /// The store writer: marks jobs running.
    pub mark_started: Recipient<MarkStarted>,
    /// The store writer: finishes cancellations.
    pub finish_cancelled: Recipient<FinishCancelled>,
    /// The store writer: records for URLs that cannot be dispatched.
    pub store_records: Recipient<StoreRecords>,
}

/// The coordinator actor.
pub struct Coordinator {
    settings: FetcherSettings,
    store: Store,
    links: CoordinatorLinks,
    /// Free fetch slots per fetcher.
    free_slots: Vec<usize>,
    turns: HostTurns,
    jobs: BTreeMap<JobKey, JobQueue>,
    /// Jobs before and including this key have had their turn in the current round.
    round_after: JobKey,
    /// Set on shutdown: no new dispatch; answered when every slot is free.
    draining: Option<oneshot::Sender<()>>,
    stopping: bool,
    /// The earliest timer armed to dispatch again (a retry or pause ending).
    wakeup: Option<Instant>,
}

impl Coordinator {
    /// A coordinator over `store`, feeding `links.fetchers`.
    pub fn new(settings: FetcherSettings, store: Store, links: CoordinatorLinks) -> Coordinator {
        let free_slots = vec![settings.assignable_tasks(); links.fetchers.len()];
        Coordinator {
            settings,
            store,
            links,
            free_slots,
            turns: HostTurns::default(),
            jobs: BTreeMap::new(),
            round_after: JobKey::MIN,
            draining: None,
            stopping: false,
            wakeup: None,
        }
    }

    fn add_job(&mut self, job: Arc<JobContext>) {
        let queue = JobQueue::new(
            job,
            self.settings.per_host_concurrency,
            self.settings.per_host_rps,
        );
        self.jobs.insert(queue.job.key, queue);
    }

    /// Assigns as many tasks as free slots and host turns allow, one job after another
    /// in rounds of [`ROUND_QUANTUM`] tasks.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let now = Instant::now();
        let mut rate_limited = false;
        let mut assigned: Vec<Vec<trawl_core::fetch::FetchTask>> =
            vec![Vec::new(); self.free_slots.len()];
        let mut free: usize = self.free_slots.iter().sum();
        let mut progressed = true;
        while free > 0 && progressed {
            progressed = false;
            let keys: Vec<JobKey> = self
                .jobs
                .range(self.round_after.saturating_add(1)..)
                .chain(self.jobs.range(..=self.round_after))
                .map(|(key, _)| *key)
                .collect();
            for key in keys {
                if free == 0 {
                    break;
                }
                self.round_after = key;
                let free_request_slots = self.free_request_slots();
                let Some(queue) = self.jobs.get_mut(&key) else {
                    continue;
                };
                let page_read = match queue.refill(&self.store) {
                    Ok(Some(unparsable)) => {
                        let records = unparsable
                            .iter()
                            .map(|p| {
                                Record::failed(
                                    &queue.job.id,
                                    p.seq,
                                    &p.url,
                                    p.reference.as_deref(),
                                    ErrorKind::InvalidUrl,
                                    "the stored URL does not parse",
                                )
                                .to_stored(key)
                            })
                            .collect::<Vec<_>>();
                        if !records.is_empty() {
                            self.links.store_records.do_send(StoreRecords { records });
                        }
                        true
                    }
                    Ok(None) => false,
                    Err(error) => {
                        tracing::error!(%error, job = key, "cannot read pending URLs");
                        continue;
                    }
                };
                // A rate-limited task only goes where it starts at once: a fetcher with
                // a slot left outside its queue (the fullest such fetcher is picked below).
                let room = if queue.is_rate_limited() {
                    free_request_slots
                } else {
                    free
                };
                let (tasks, held_back) = queue.take(room.min(ROUND_QUANTUM), &mut self.turns, now);
                rate_limited |= held_back;
                if tasks.is_empty() {
                    // Every buffered host is busy: the next page may hold other hosts.
                    progressed |= page_read;
                    continue;
                }
                if !queue.started {
                    queue.started = true;
                    self.links.mark_started.do_send(MarkStarted { key });
                }
                progressed = true;
                free -= tasks.len();
                for task in tasks {
                    let fetcher = (0..self.free_slots.len())
                        .max_by_key(|i| self.free_slots[*i])
                        .expect("at least one fetcher");
                    self.free_slots[fetcher] -= 1;
                    assigned[fetcher].push(task);
                }
            }
            // Each round's tasks leave at once: the fetchers start on them while the
            // next round reads its page.
            for (fetcher, tasks) in assigned.iter_mut().enumerate() {
                if !tasks.is_empty() {
                    self.links.fetchers[fetcher].assign.do_send(AssignTasks {
                        tasks: mem::take(tasks),
                    });
                }
            }
        }
        // Wake for what becomes possible later. What is due already but waits for a
        // slot or a turn is dispatched when one comes back (TasksFinished,
        // HostTurnsFreed), so it must not arm a timer: that would spin.
        let next_retry = self
            .jobs
            .values()
            .filter_map(JobQueue::next_retry)
            .filter(|due| *due > now)
            .min();
        let next_rate_check = rate_limited.then(|| now + RATE_RECHECK);
        if let Some(at) = [next_retry, self.turns.next_unpause(now), next_rate_check]
            .into_iter()
            .flatten()
            .min()
        {
            self.wake_at(at, ctx);
        }
    }

    /// Arms a timer to dispatch at `at`, unless one is armed for no later.
    fn wake_at(&mut self, at: Instant, ctx: &mut Context<Self>) {
        if self.wakeup.is_some_and(|armed| armed <= at) {
            return;
        }
        self.wakeup = Some(at);
        ctx.run_later(
            at.saturating_duration_since(Instant::now()),
            move |coordinator, ctx| {
                if coordinator.wakeup == Some(at) {
                    coordinator.wakeup = None;
                }
                coordinator.dispatch(ctx);
            },
        );
    }

    /// Jobs with nothing left in flight or buffered but no completion yet lost a record
    /// on the way (a processor or store failure): read their pending URLs again.
    fn rescan_idle_jobs(&mut self) {
        for queue in self.jobs.values_mut().filter(|q| q.is_idle()) {
            queue.rescan();
        }
    }

    fn all_slots_free(&self) -> bool {
        self.free_slots
            .iter()
            .all(|free| *free == self.settings.assignable_tasks())
    }

    /// Tasks the fetchers would start at once, without queueing them.
    fn free_request_slots(&self) -> usize {
        let queued = self.settings.queued_tasks();
        self.free_slots
            .iter()
            .map(|free| free.saturating_sub(queued))
            .sum()
    }
}

impl Actor for Coordinator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        match self.store.active_jobs() {
            Ok(jobs) => {
                if !jobs.is_empty() {
                    tracing::info!(jobs = jobs.len(), "resuming unfinished jobs");
                }
                for row in jobs {
                    self.add_job(Arc::new(JobContext {
                        key: row.key,
                        id: row.view.id,
                        options: row.options,
                    }));
                }
            }
            Err(error) => tracing::error!(%error, "cannot read unfinished jobs"),
        }
        ctx.run_interval(TICK, |coordinator, ctx| {
            coordinator.rescan_idle_jobs();
            coordinator.turns.forget_idle();
            coordinator.dispatch(ctx);
        });
        self.dispatch(ctx);
    }
}

impl Handler<JobAccepted> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: JobAccepted, ctx: &mut Self::Context) {
        tracing::info!(job = %msg.job.id, "job accepted");
        self.add_job(msg.job);
        self.dispatch(ctx);
    }
}

impl Handler<TasksFinished> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: TasksFinished, ctx: &mut Self::Context) {
        self.free_slots[msg.fetcher] += msg.slots.len();
        for slot in msg.slots {
            // A task handed back is no longer in flight; one handed on to be processed
            // stays in flight for its job until its batch is settled (TasksSettled).
            if let (Some(queue), Some(retry)) = (self.jobs.get_mut(&slot.job), slot.retry) {
                queue.in_flight -= 1;
                queue.retry_later(retry);
            }
        }
        if self.draining.is_some() && self.all_slots_free() {
            if let Some(done) = self.draining.take() {
                let _ = done.send(());
            }
        }
        self.dispatch(ctx);
    }
}

impl Handler<TasksSettled> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: TasksSettled, _: &mut Self::Context) {
        for job in msg.jobs {
            if let Some(queue) = self.jobs.get_mut(&job) {
                queue.in_flight -= 1;
            }
        }
    }
}

impl Handler<HostTurnsFreed> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: HostTurnsFreed, ctx: &mut Self::Context) {
        for host in &msg.hosts {
            self.turns.release(host);
        }
        self.dispatch(ctx);
    }
}

impl Handler<PauseHost> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: PauseHost, ctx: &mut Self::Context) {
        tracing::debug!(host = %msg.host, "host asked for a pause (Retry-After)");
        self.turns.pause(msg.host, msg.until);
        self.wake_at(msg.until, ctx);
    }
}

impl Handler<JobFinished> for Coordinator {
    type Result = ();

    fn handle(&mut self, msg: JobFinished, _: &mut Self::Context) {
        if self.jobs.remove(&msg.key).is_some() {
            tracing::info!(job = msg.key, "job finished");
        }
    }
}

impl Handler<CancelJob> for Coordinator {
    type Result = ResponseActFuture<Self, Result<bool, String>>;

    fn handle(&mut self, msg: CancelJob, _: &mut Self::Context) -> Self::Result {
        self.jobs.remove(&msg.key);
        for fetcher in &self.links.fetchers {
            fetcher.abort.do_send(AbortJob { key: msg.key });
        }
        let finish = self
            .links
            .finish_cancelled
            .send(FinishCancelled { key: msg.key });
        Box::pin(
            async move {
                match finish.await {
                    Ok(Ok(was_active)) => Ok(was_active),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(error) => Err(format!("store writer unavailable: {error}")),
                }
            }
            .into_actor(self),
        )
    }
}

/// Stop dispatching and answer once no request is in flight (every fetch slot is
/// back), or when the grace period `fetcher.shutdown_grace_ms` is over. Sent once, at
/// shutdown; the fetchers are drained ([`trawl_core::fetch::Drain`]) after it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Coordinator {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        for fetcher in &self.links.fetchers {
            fetcher.return_queued.do_send(ReturnQueued);
        }
        let (done, drained) = oneshot::channel();
        if self.all_slots_free() {
            let _ = done.send(());
        } else {
            self.draining = Some(done);
        }
        let grace = self.settings.shutdown_grace();
        ctx.run_later(grace, |coordinator, _| {
            if let Some(done) = coordinator.draining.take() {
                tracing::warn!(
                    "shutdown grace period over: unfinished requests resume at next start"
                );
                let _ = done.send(());
            }
        });
        Box::pin(
            async move {
                let _ = drained.await;
            }
            .into_actor(self)
            .map(|_, _, _| ()),
        )
    }
}
