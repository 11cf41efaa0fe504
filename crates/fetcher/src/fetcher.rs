//! [`Fetcher`]: one fetcher actor on its own thread, with its own awc client and up to
//! `fetcher.concurrency` requests in flight.
//!
//! The coordinator never assigns more tasks than the fetcher has free slots. A slot
//! stays taken until its task's record is committed (or the task is aborted): outcomes
//! go to the processor and then to the store writer in batches, and only then does the
//! fetcher hand the slots back with [`TasksFinished`]. That chain is the backpressure:
//! a slow processor or disk slows the fetching, and no queue grows without bound.
//! Host turns are politeness towards servers, so they are given back
//! ([`HostTurnsFreed`]) as soon as a request ends, before its record is committed.

use std::collections::HashMap;
use std::mem;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorFutureExt, Addr, Arbiter, AsyncContext, Context, Handler, Recipient, SpawnHandle,
    WrapFuture,
};
use trawl_core::fetch::{
    AbortJob, AssignTasks, FetchOutcome, FetchTask, FreedSlot, HostKey, HostTurnsFreed, PauseHost,
    ProcessBatch, Retry, TasksFinished,
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

/// Where a fetcher sends its results.
#[derive(Clone)]
pub struct FetcherLinks {
    /// The coordinator, told when slots free up.
    pub coordinator: Recipient<TasksFinished>,
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

/// A fetcher actor.
pub struct Fetcher {
    index: usize,
    settings: FetcherSettings,
    links: FetcherLinks,
    /// Built in `started`, on the fetcher's own thread: awc clients are !Send.
    requests: Option<Rc<RequestContext>>,
    /// Requests in flight, with the host each holds a turn of.
    in_flight: HashMap<(JobKey, u64), (SpawnHandle, HostKey)>,
    finished: Vec<FetchOutcome>,
    /// Host turns freed since the last report; reported once per turn of the event
    /// loop, so a burst of completions costs one message.
    freed_hosts: Vec<HostKey>,
}

impl Fetcher {
    /// Starts fetcher number `index` on a new thread of its own.
    pub fn start_on_own_thread(
        index: usize,
        settings: FetcherSettings,
        links: FetcherLinks,
    ) -> Addr<Fetcher> {
        let arbiter = Arbiter::new();
        Fetcher::start_in_arbiter(&arbiter.handle(), move |_| Fetcher {
            index,
            settings,
            links,
            requests: None,
            in_flight: HashMap::new(),
            finished: Vec::new(),
            freed_hosts: Vec::new(),
        })
    }

    /// Hands finished outcomes to the processor and then the store; when the store has
    /// committed them, gives their slots back to the coordinator.
    fn flush(&mut self) {
        if self.finished.is_empty() {
            return;
        }
        let outcomes = mem::take(&mut self.finished);
        let slots: Vec<FreedSlot> = outcomes
            .iter()
            .map(|o| FreedSlot {
                job: o.task.job.key,
                retry: None,
            })
            .collect();
        let links = self.links.clone();
        let fetcher = self.index;
        actix_rt::spawn(async move {
            match links.processor.send(ProcessBatch { outcomes }).await {
                Ok(records) => {
                    if let Err(error) = links.store.send(StoreRecords { records }).await {
                        tracing::warn!(%error, "store writer gone: records will be fetched again at next start");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "processor gone: records will be fetched again at next start")
                }
            }
            links.coordinator.do_send(TasksFinished { fetcher, slots });
        });
    }
}

impl Fetcher {
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
        }
        self.free_host_turn(host, ctx);
        match fetched {
            Fetched::Retry { task, wait } => self.hand_back(task, Instant::now() + wait),
            Fetched::Hop(task) => self.hand_back(task, Instant::now()),
            Fetched::Done(outcome) => {
                if self.finished.is_empty() {
                    ctx.run_later(Duration::ZERO, |fetcher, _| fetcher.flush());
                }
                self.finished.push(outcome);
                if self.finished.len() >= BATCH {
                    self.flush();
                }
            }
        }
    }

    /// Frees the slot of `task`, giving the task back to the coordinator to be
    /// dispatched again at `not_before`: its retry, or its next redirect hop.
    fn hand_back(&mut self, task: FetchTask, not_before: Instant) {
        let slot = FreedSlot {
            job: task.job.key,
            retry: Some(Retry { task, not_before }),
        };
        self.links.coordinator.do_send(TasksFinished {
            fetcher: self.index,
            slots: vec![slot],
        });
    }

    /// Queues `host`'s turn for the next report, arming the report if needed.
    fn free_host_turn(&mut self, host: HostKey, ctx: &mut Context<Self>) {
        if self.freed_hosts.is_empty() {
            ctx.run_later(Duration::ZERO, |fetcher, _| {
                let hosts = mem::take(&mut fetcher.freed_hosts);
                fetcher.links.host_turns.do_send(HostTurnsFreed { hosts });
            });
        }
        self.freed_hosts.push(host);
    }
}

impl Actor for Fetcher {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        self.requests = Some(Rc::new(RequestContext {
            client: crate::client::build(&self.settings),
            guard: Guard::new(&self.settings),
            settings: self.settings.clone(),
            metrics: self.links.metrics.clone(),
        }));
    }
}

impl Handler<AssignTasks> for Fetcher {
    type Result = ();

    fn handle(&mut self, msg: AssignTasks, ctx: &mut Self::Context) {
        let requests = self.requests.clone().expect("started before any message");
        for task in msg.tasks {
            let key = (task.job.key, task.seq);
            let host = task.host.clone();
            let handle = ctx.spawn(fetch(requests.clone(), task).into_actor(self).map(
                move |(fetched, host_pause), fetcher, ctx| {
                    if let Some((_, host)) = fetcher.in_flight.remove(&key) {
                        fetcher.links.metrics.in_flight.dec();
                        fetcher.on_fetched(fetched, host_pause, host, ctx);
                    }
                },
            ));
            self.in_flight.insert(key, (handle, host));
            self.links.metrics.in_flight.inc();
        }
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
        let mut slots = Vec::with_capacity(aborted.len());
        for key in aborted {
            if let Some((handle, host)) = self.in_flight.remove(&key) {
                // Dropping the request future closes its connection.
                ctx.cancel_future(handle);
                self.links.metrics.in_flight.dec();
                self.free_host_turn(host, ctx);
                slots.push(FreedSlot {
                    job: msg.key,
                    retry: None,
                });
            }
        }
        if !slots.is_empty() {
            tracing::debug!(
                job = msg.key,
                requests = slots.len(),
                "aborted in-flight requests"
            );
            self.links.coordinator.do_send(TasksFinished {
                fetcher: self.index,
                slots,
            });
        }
    }
}

/// Builds the TLS configuration once per process: webpki's roots with ring.
pub(crate) fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
