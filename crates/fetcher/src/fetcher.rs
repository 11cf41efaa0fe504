//! [`Fetcher`]: one fetcher actor on its own thread, with its own awc client and up to
//! `fetcher.concurrency` requests in flight.
//!
//! The coordinator never assigns more tasks than the fetcher has free slots. A slot is
//! a request on the wire, or a task queued behind them (at most
//! [`FetcherSettings::queued_tasks`]): when a request ends, the next queued task starts
//! at once, without waiting for the coordinator to hear of the free slot and answer.
//! Queued tasks hold their host turns, so per-host limits still hold; tasks of a
//! rate-limited job are never queued (the coordinator sees to it), and a host that asks
//! for a pause gets its queued tasks handed back.
//!
//! Outcomes go to the processor and then to the store writer in batches, and a batch's
//! slots go back with [`TasksFinished`] as it is handed on, as
//! long as the batches being processed and committed hold no more outcomes than the
//! fetcher has slots (and at least [`MIN_BATCHES_IN_PROCESSING`] batches). Past that, a
//! batch keeps its slots until an earlier one is committed:
//! that is the backpressure, so a slow processor or disk slows the fetching and no
//! queue grows without bound. The coordinator learns of commits from
//! [`TasksSettled`].
//! Host turns are politeness towards servers, so they are given back
//! ([`HostTurnsFreed`]) as soon as a request ends, before its record is committed.

use std::collections::{HashMap, VecDeque};
use std::mem;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorFutureExt, Addr, Arbiter, AsyncContext, Context, Handler, Message, Recipient,
    ResponseActFuture, WrapFuture,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use trawl_core::fetch::{
    AbortJob, AssignTasks, Drain, FetchOutcome, FetchTask, FreedSlot, HostKey, HostTurnsFreed,
    PauseHost, ProcessBatch, Retry, ReturnQueued, TasksFinished, TasksSettled,
};
use trawl_core::job::JobKey;
use trawl_core::metrics::Metrics;
use trawl_core::record::StoreRecords;
use trawl_core::settings::FetcherSettings;

use crate::guard::Guard;
use crate::request::{fetch, Fetched, RequestContext};

/// Outcomes handed to the processor in one batch, at most. A batch also goes as soon
/// as the event loop has no more completions to add to it in this turn: under load
/// batches fill up, and a lone outcome never waits for company.
const BATCH: usize = 64;

/// Batches a fetcher may always have in processing and committing whose slots it already
/// gave back; later batches hold their slots until one of these is committed. A fetcher
/// with more slots may have as many batches as it takes to hold one outcome per slot: a
/// whole wave of responses then frees its slots at once instead of waiting for earlier
/// commits (on W2, 512 responses arrive within a few milliseconds: with 4 batches, half
/// of them waited), and what a fetcher holds stays bounded by twice its slots.
pub const MIN_BATCHES_IN_PROCESSING: usize = 4;

/// Where a fetcher sends its results.
#[derive(Clone)]
pub struct FetcherLinks {
    /// The coordinator, told when slots free up.
    pub coordinator: Recipient<TasksFinished>,
    /// The coordinator, told when a batch is committed (or failed to be).
    pub coordinator_settled: Recipient<TasksSettled>,
    /// The coordinator, told when requests end and their host turns are free.
    pub host_turns: Recipient<HostTurnsFreed>,
    /// The coordinator, told when a host asks for a pause.
    pub pause_host: Recipient<PauseHost>,
    /// The processor pool.
    pub processor: Recipient<ProcessBatch>,
    /// The store writer.
    pub store: Recipient<StoreRecords>,
    /// Where attempts and requests in flight are counted.
    pub metrics: Arc<Metrics>,
}

/// A request on the wire.
struct InFlight {
    /// Which request of this fetcher it is.
    number: u64,
    /// The task running it.
    task: JoinHandle<()>,
    /// The host whose turn it holds.
    host: HostKey,
}

/// A request's task ended it. Sent by that task to its fetcher.
#[derive(Message)]
#[rtype(result = "()")]
struct RequestEnded {
    key: (JobKey, u64),
    number: u64,
    fetched: Fetched,
    host_pause: Option<Duration>,
}

/// What this turn of the event loop gathered leaves: finished outcomes to the
/// processor, freed host turns to the coordinator. Sent by a fetcher to itself.
#[derive(Message)]
#[rtype(result = "()")]
struct EndOfTurn;

/// A fetcher actor.
pub struct Fetcher {
    index: usize,
    settings: FetcherSettings,
    links: FetcherLinks,
    /// Built in `started`, on the fetcher's own thread: awc clients are !Send.
    requests: Option<Rc<RequestContext>>,
    /// Requests in flight, each on a task of its own.
    in_flight: HashMap<(JobKey, u64), InFlight>,
    /// Assigned tasks waiting for a request to end, oldest first; only ever non-empty
    /// while `concurrency` requests are in flight.
    queued: VecDeque<FetchTask>,
    /// Numbers the requests, so a late [`RequestEnded`] of an aborted one is known.
    requests_started: u64,
    finished: Vec<FetchOutcome>,
    /// Host turns freed since the last report; reported once per turn of the event
    /// loop, so a burst of completions costs one message.
    freed_hosts: Vec<HostKey>,
    /// An [`EndOfTurn`] is on its way.
    end_of_turn_armed: bool,
    /// Batches handed on and not yet committed.
    batches_in_processing: usize,
    /// How many of those give their slots back as they are handed on.
    max_batches_in_processing: usize,
    /// Slots of the batches beyond `max_batches_in_processing`, oldest first, given back
    /// as earlier batches are committed.
    held_slots: VecDeque<Vec<FreedSlot>>,
    /// Answered once nothing handed on is still being processed or committed.
    drained: Vec<oneshot::Sender<()>>,
}

impl Fetcher {
    /// Starts fetcher number `index` on a new thread of its own.
    pub fn start_on_own_thread(
        index: usize,
        settings: FetcherSettings,
        links: FetcherLinks,
    ) -> Addr<Fetcher> {
        let arbiter = Arbiter::new();
        let max_batches_in_processing = settings
            .concurrency
            .div_ceil(BATCH)
            .max(MIN_BATCHES_IN_PROCESSING);
        Fetcher::start_in_arbiter(&arbiter.handle(), move |_| Fetcher {
            index,
            settings,
            links,
            requests: None,
            in_flight: HashMap::new(),
            queued: VecDeque::new(),
            requests_started: 0,
            finished: Vec::new(),
            freed_hosts: Vec::new(),
            end_of_turn_armed: false,
            batches_in_processing: 0,
            max_batches_in_processing,
            held_slots: VecDeque::new(),
            drained: Vec::new(),
        })
    }

    /// Hands finished outcomes to the processor and then the store, giving their slots
    /// back now or, past `max_batches_in_processing`, once an earlier batch is committed.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.finished.is_empty() {
            return;
        }
        let outcomes = mem::take(&mut self.finished);
        let jobs: Vec<JobKey> = outcomes.iter().map(|o| o.task.job.key).collect();
        let slots: Vec<FreedSlot> = jobs
            .iter()
            .map(|job| FreedSlot {
                job: *job,
                retry: None,
            })
            .collect();
        self.batches_in_processing += 1;
        if self.batches_in_processing <= self.max_batches_in_processing {
            self.give_back(slots);
        } else {
            self.held_slots.push_back(slots);
        }
        let links = self.links.clone();
        let committing = async move {
            match links.processor.send(ProcessBatch { outcomes }).await {
                Ok(records) => {
                    if let Err(error) = links.store.send(StoreRecords { records }).await {
                        tracing::warn!(%error, "store writer gone: these URLs will be fetched again");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "processor gone: these URLs will be fetched again")
                }
            }
            links.coordinator_settled.do_send(TasksSettled { jobs });
        };
        ctx.spawn(committing.into_actor(self).map(|(), fetcher, _| {
            fetcher.batches_in_processing -= 1;
            if let Some(slots) = fetcher.held_slots.pop_front() {
                fetcher.give_back(slots);
            }
            fetcher.answer_drained_if_idle();
        }));
    }

    fn give_back(&self, slots: Vec<FreedSlot>) {
        self.links.coordinator.do_send(TasksFinished {
            fetcher: self.index,
            slots,
        });
    }

    /// Answers [`Drain`] once every batch handed on is settled. Requests still in
    /// flight are not waited for: the coordinator gave them their grace period already,
    /// and what they would have fetched resumes at the next start.
    fn answer_drained_if_idle(&mut self) {
        if self.finished.is_empty() && self.batches_in_processing == 0 {
            for waiter in self.drained.drain(..) {
                let _ = waiter.send(());
            }
        }
    }
}

impl Fetcher {
    /// Starts the request of `task` on a task of its own. Not a future in the actor's
    /// context: the context polls every future it holds whenever any of them wakes, and
    /// a fetcher holds hundreds.
    fn start(&mut self, task: FetchTask, ctx: &mut Context<Self>) {
        let requests = self.requests.clone().expect("started before any message");
        let fetcher = ctx.address();
        let key = (task.job.key, task.seq);
        self.requests_started += 1;
        let number = self.requests_started;
        let host = task.host.clone();
        let request = fetch(requests, task);
        let task = actix_rt::spawn(async move {
            let (fetched, host_pause) = request.await;
            fetcher.do_send(RequestEnded {
                key,
                number,
                fetched,
                host_pause,
            });
        });
        self.in_flight.insert(key, InFlight { number, task, host });
        self.links.metrics.in_flight.inc();
    }

    /// Starts queued tasks while requests are fewer than `concurrency`.
    fn start_queued(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight.len() < self.settings.concurrency {
            let Some(task) = self.queued.pop_front() else {
                break;
            };
            self.start(task, ctx);
        }
    }

    /// Takes the queued tasks that `pick` selects out of the queue and gives their host
    /// turns back; their slots are the caller's to give back.
    fn take_queued(
        &mut self,
        pick: impl Fn(&FetchTask) -> bool,
        ctx: &mut Context<Self>,
    ) -> Vec<FetchTask> {
        let (taken, kept): (VecDeque<FetchTask>, VecDeque<FetchTask>) =
            mem::take(&mut self.queued).into_iter().partition(pick);
        self.queued = kept;
        for task in &taken {
            self.free_host_turn(task.host.clone(), ctx);
        }
        taken.into()
    }

    /// A dispatch to `host` ended: a retry or a hop to another host goes straight
    /// back to the coordinator (its slot is free at once); a finished outcome joins the
    /// batch for the processor and keeps its slot until committed.
    fn on_fetched(
        &mut self,
        fetched: Fetched,
        host_pause: Option<Duration>,
        host: HostKey,
        ctx: &mut Context<Self>,
    ) {
        if let Some(pause) = host_pause {
            let until = Instant::now() + pause;
            self.links.pause_host.do_send(PauseHost {
                host: host.clone(),
                until,
            });
            // The coordinator holds them until the pause is over.
            let queued = self.take_queued(|task| task.host == host, ctx);
            self.hand_back(queued, Instant::now());
        }
        self.free_host_turn(host, ctx);
        match fetched {
            Fetched::Retry { task, wait } => self.hand_back([task], Instant::now() + wait),
            Fetched::Hop(task) => self.hand_back([task], Instant::now()),
            Fetched::Done(outcome) => {
                self.arm_end_of_turn(ctx);
                self.finished.push(outcome);
                if self.finished.len() >= BATCH {
                    self.flush(ctx);
                }
            }
        }
    }

    /// Frees the slots of `tasks`, giving them back to the coordinator (in one message)
    /// to be dispatched again at `not_before`: a retry, a next redirect hop, or tasks
    /// that were queued and never started.
    fn hand_back(&mut self, tasks: impl IntoIterator<Item = FetchTask>, not_before: Instant) {
        let slots: Vec<FreedSlot> = tasks
            .into_iter()
            .map(|task| FreedSlot {
                job: task.job.key,
                retry: Some(Retry { task, not_before }),
            })
            .collect();
        if !slots.is_empty() {
            self.give_back(slots);
        }
    }

    /// Queues `host`'s turn for the report at the end of this turn.
    fn free_host_turn(&mut self, host: HostKey, ctx: &mut Context<Self>) {
        self.arm_end_of_turn(ctx);
        self.freed_hosts.push(host);
    }

    /// Makes sure an [`EndOfTurn`] runs once the messages already waiting are handled.
    /// It is a message to self, not a zero-length timer: a timer waits for the next
    /// millisecond tick of the runtime's clock.
    fn arm_end_of_turn(&mut self, ctx: &mut Context<Self>) {
        if !self.end_of_turn_armed {
            self.end_of_turn_armed = true;
            ctx.notify(EndOfTurn);
        }
    }
}

impl Actor for Fetcher {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        self.requests = Some(Rc::new(RequestContext {
            client: crate::client::build(&self.settings),
            guard: Guard::new(&self.settings, self.links.metrics.clone()),
            settings: self.settings.clone(),
            metrics: self.links.metrics.clone(),
        }));
    }
}

impl Handler<AssignTasks> for Fetcher {
    type Result = ();

    fn handle(&mut self, msg: AssignTasks, ctx: &mut Self::Context) {
        self.queued.extend(msg.tasks);
        self.start_queued(ctx);
    }
}

impl Handler<RequestEnded> for Fetcher {
    type Result = ();

    fn handle(&mut self, msg: RequestEnded, ctx: &mut Self::Context) {
        // A request aborted with its job may still have ended first: its end is
        // ignored, and so is the entry of a later request for the same URL.
        if self
            .in_flight
            .get(&msg.key)
            .is_none_or(|request| request.number != msg.number)
        {
            return;
        }
        let request = self.in_flight.remove(&msg.key).expect("checked above");
        self.links.metrics.in_flight.dec();
        self.on_fetched(msg.fetched, msg.host_pause, request.host, ctx);
        self.start_queued(ctx);
        self.answer_drained_if_idle();
    }
}

impl Handler<EndOfTurn> for Fetcher {
    type Result = ();

    fn handle(&mut self, _: EndOfTurn, ctx: &mut Self::Context) {
        self.end_of_turn_armed = false;
        if !self.freed_hosts.is_empty() {
            let hosts = mem::take(&mut self.freed_hosts);
            self.links.host_turns.do_send(HostTurnsFreed { hosts });
        }
        self.flush(ctx);
    }
}

impl Handler<AbortJob> for Fetcher {
    type Result = ();

    fn handle(&mut self, msg: AbortJob, ctx: &mut Self::Context) {
        let aborted: Vec<(JobKey, u64)> = self
            .in_flight
            .keys()
            .filter(|(job, _)| *job == msg.key)
            .copied()
            .collect();
        let unstarted = self.take_queued(|task| task.job.key == msg.key, ctx);
        let mut slots: Vec<FreedSlot> = unstarted
            .iter()
            .map(|_| FreedSlot {
                job: msg.key,
                retry: None,
            })
            .collect();
        for key in aborted {
            if let Some(request) = self.in_flight.remove(&key) {
                // Aborting the task drops the request future, which closes its
                // connection.
                request.task.abort();
                self.links.metrics.in_flight.dec();
                self.free_host_turn(request.host, ctx);
                slots.push(FreedSlot {
                    job: msg.key,
                    retry: None,
                });
            }
        }
        if !slots.is_empty() {
            tracing::debug!(
                job = msg.key,
                requests = slots.len() - unstarted.len(),
                queued = unstarted.len(),
                "aborted in-flight and queued requests"
            );
            self.give_back(slots);
            self.start_queued(ctx);
            self.answer_drained_if_idle();
        }
    }
}

impl Handler<ReturnQueued> for Fetcher {
    type Result = ();

    fn handle(&mut self, _: ReturnQueued, ctx: &mut Self::Context) {
        let queued = self.take_queued(|_| true, ctx);
        self.hand_back(queued, Instant::now());
    }
}

impl Handler<Drain> for Fetcher {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) -> Self::Result {
        self.flush(ctx);
        let (done, drained) = oneshot::channel();
        self.drained.push(done);
        self.answer_drained_if_idle();
        Box::pin(
            async move {
                let _ = drained.await;
            }
            .into_actor(self),
        )
    }
}
