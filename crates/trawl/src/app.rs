//! [`Application`]: one process running the whole local pipeline.
//!
//! ```text
//! HTTP -> api -> StoreWriter (commit) -> Coordinator -> Fetcher x K -> Processor x P
//!                    ^                                      |
//!                    +---------- StoreRecords (batched) ----+
//! ```

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, AsyncContext, Context, SyncArbiter};
use actix_web::dev::Server;
use anyhow::Context as _;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::Notify;
use trawl_api::ApiState;
use trawl_coordinator::{Coordinator, CoordinatorLinks, FetcherHandle, Shutdown};
use trawl_core::fetch::Drain;
use trawl_core::job::FinishedJobs;
use trawl_core::metrics::Metrics;
use trawl_core::Settings;
use trawl_fetcher::{Fetcher, FetcherLinks};
use trawl_processor::Processor;
use trawl_store::{Flush, Store, StoreWriter};

/// The running service: store, actors and the bound admin API.
pub struct Application {
    server: Server,
    local_addr: SocketAddr,
    coordinator: Addr<Coordinator>,
    writer: Addr<StoreWriter>,
    fetchers: Vec<Addr<Fetcher>>,
    shutting_down: Arc<AtomicBool>,
    stop_requested: Arc<Notify>,
    /// Registered in `build`, before anyone can learn the address: a SIGTERM sent as
    /// soon as the service says it listens is already a graceful stop.
    signals: Signals,
}

/// The shutdown signals, listened for from start-up on.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    fn listen() -> anyhow::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {},
            _ = self.interrupt.recv() => {},
        }
    }
}

/// How long shutdown waits for batches already handed on to be committed.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Asks a running [`Application`] to shut down as a signal would.
#[derive(Clone)]
pub struct Stopper(Arc<Notify>);

impl Stopper {
    /// Starts the graceful shutdown.
    pub fn stop(&self) {
        self.0.notify_one();
    }
}

impl Application {
    /// Opens the store, starts every actor and binds the API. Call inside an actix
    /// `System`. Unfinished jobs in the store resume at once.
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        let path = settings
            .store
            .sqlite_path()
            .context("store.url must be sqlite://PATH")?;
        let store = Store::open(&path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;

        // The coordinator's address exists before it starts, so the writer and the
        // fetchers, which it needs, can be given their way back to it.
        let coordinator_context = Context::<Coordinator>::new();
        let coordinator_addr = coordinator_context.address();
        let metrics = Arc::new(Metrics::default());
        let finished_jobs = FinishedJobs::default();
        let writer = StoreWriter::start(
            &store,
            coordinator_addr.clone().recipient(),
            finished_jobs.clone(),
            metrics.clone(),
        )?;
        let processor_settings = settings.processor.clone();
        let processor = SyncArbiter::start(settings.processor.actors, move || {
            Processor::new(processor_settings.clone())
        });
        let fetchers: Vec<Addr<Fetcher>> = (0..settings.fetcher.actors)
            .map(|index| {
                let links = FetcherLinks {
                    coordinator: coordinator_addr.clone().recipient(),
                    coordinator_settled: coordinator_addr.clone().recipient(),
                    host_turns: coordinator_addr.clone().recipient(),
                    pause_host: coordinator_addr.clone().recipient(),
                    processor: processor.clone().recipient(),
                    store: writer.clone().recipient(),
                    metrics: metrics.clone(),
                };
                Fetcher::start_on_own_thread(index, settings.fetcher.clone(), links)
            })
            .collect();
        let links = CoordinatorLinks {
            fetchers: fetchers
                .iter()
                .map(|f| FetcherHandle {
                    assign: f.clone().recipient(),
                    abort: f.clone().recipient(),
                    return_queued: f.clone().recipient(),
                })
                .collect(),
            mark_started: writer.clone().recipient(),
            finish_cancelled: writer.clone().recipient(),
            store_records: writer.clone().recipient(),
        };
        let coordinator = coordinator_context.run(Coordinator::new(
            settings.fetcher.clone(),
            store.clone(),
            links,
        ));

        let listener = TcpListener::bind(settings.bind_addr())
            .with_context(|| format!("cannot listen on {}", settings.api.bind))?;
        let local_addr = listener.local_addr()?;
        let shutting_down = Arc::new(AtomicBool::new(false));
        let state = ApiState {
            settings: Arc::new(settings.api.clone()),
            store,
            writer: writer.clone(),
            accepted: coordinator.clone().recipient(),
            cancel: coordinator.clone().recipient(),
            shutting_down: shutting_down.clone(),
            finished_jobs,
            metrics,
        };
        let server = trawl_api::build_server(state, listener)?;
        tracing::info!(
            %local_addr,
            store = %path.display(),
            fetchers = settings.fetcher.actors,
            concurrency = settings.fetcher.concurrency,
            processors = settings.processor.actors,
            "trawl is up"
        );
        Ok(Application {
            server,
            local_addr,
            coordinator,
            writer,
            fetchers,
            shutting_down,
            stop_requested: Arc::new(Notify::new()),
            signals: Signals::listen()?,
        })
    }

    /// The address the API listens on (its port is the real one when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that shuts the application down without a signal.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop_requested.clone())
    }

    /// Serves until SIGTERM, SIGINT or [`Stopper::stop`], then shuts down gracefully:
    /// the API answers 503, no new request starts, in-flight requests get
    /// `fetcher.shutdown_grace_ms` to finish and be committed, and whatever is left
    /// resumes at the next start.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = actix_rt::spawn(self.server);
        tokio::select! {
            _ = self.signals.recv() => {},
            _ = self.stop_requested.notified() => {},
        }
        tracing::info!("shutting down: draining in-flight requests");
        self.shutting_down.store(true, Ordering::Relaxed);
        self.coordinator
            .send(Shutdown)
            .await
            .context("coordinator stopped early")?;
        // Outcomes already handed on are processed and committed before the store's
        // last flush; a drain that outlasts DRAIN_LIMIT is given up (those URLs resume).
        let drains = self.fetchers.iter().map(|fetcher| fetcher.send(Drain));
        if tokio::time::timeout(DRAIN_LIMIT, futures_util::future::join_all(drains))
            .await
            .is_err()
        {
            tracing::warn!("fetchers still had batches in processing: they resume at next start");
        }
        self.writer
            .send(Flush)
            .await
            .context("store writer stopped early")?;
        handle.stop(true).await;
        let _ = server.await;
        tracing::info!("stopped");
        Ok(())
    }
}
