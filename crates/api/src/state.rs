//! [`ApiState`]: what every handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::{Addr, Recipient};
use trawl_core::job::{CancelJob, FinishedJobs, JobAccepted};
use trawl_core::metrics::Metrics;
use trawl_core::settings::ApiSettings;
use trawl_store::{Store, StoreWriter};

/// Shared by every handler of every HTTP worker.
#[derive(Clone)]
pub struct ApiState {
    /// API limits and keys.
    pub settings: Arc<ApiSettings>,
    /// Reads.
    pub store: Store,
    /// Writes (new jobs, purges).
    pub writer: Addr<StoreWriter>,
    /// Told of every committed job.
    pub accepted: Recipient<JobAccepted>,
    /// Cancels jobs.
    pub cancel: Recipient<CancelJob>,
    /// Set once shutdown begins: `/v1` answers 503.
    pub shutting_down: Arc<AtomicBool>,
    /// Moves whenever jobs finish: event streams send `end` without waiting for their
    /// next look.
    pub finished_jobs: FinishedJobs,
    /// What `/metrics` serves.
    pub metrics: Arc<Metrics>,
}

impl ApiState {
    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}
