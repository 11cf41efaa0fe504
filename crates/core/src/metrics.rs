//! The service's Prometheus metrics, shared by the actors that count and the API that
//! serves them (`GET /metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::job::JobState;
use crate::record::ErrorKind;

/// An `outcome` label: `ok`, `http_error` (a non-2xx status) or an error kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// The outcome.
    pub outcome: &'static str,
}

impl OutcomeLabel {
    /// The label of a record or attempt with this `ok` and error kind.
    pub fn of(ok: bool, error: Option<ErrorKind>) -> OutcomeLabel {
        let outcome = match (ok, error) {
            (_, Some(kind)) => kind.as_str(),
            (true, None) => "ok",
            (false, None) => "http_error",
        };
        OutcomeLabel { outcome }
    }
}

/// A `state` label of a job.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// The job state.
    pub state: &'static str,
}

/// Every metric Trawl exports.
pub struct Metrics {
    registry: Registry,
    /// Records committed, by outcome (counted once per record, on its real insert).
    pub records_committed: Family<OutcomeLabel, Counter>,
    /// Fetch attempts made, by outcome of the attempt.
    pub attempts: Family<OutcomeLabel, Counter>,
    /// Attempts handed back for a retry.
    pub retries: Counter,
    /// Duration of attempts, in seconds.
    pub attempt_seconds: Histogram,
    /// Requests in flight now.
    pub in_flight: Gauge,
    /// Host names looked up through the system resolver (the fetchers' caches answer
    /// the rest).
    pub dns_lookups: Counter,
    /// Jobs per state, refreshed from the store at each scrape.
    pub jobs: Family<StateLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("trawl");
        let metrics = Metrics {
            records_committed: Family::default(),
            attempts: Family::default(),
            retries: Counter::default(),
            attempt_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            in_flight: Gauge::default(),
            dns_lookups: Counter::default(),
            jobs: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "records_committed",
            "Records committed to the store, by outcome",
            metrics.records_committed.clone(),
        );
        registry.register(
            "attempts",
            "HTTP attempts made, by outcome",
            metrics.attempts.clone(),
        );
        registry.register(
            "retries",
            "Attempts that will be retried after a backoff",
            metrics.retries.clone(),
        );
        registry.register(
            "attempt_seconds",
            "Duration of HTTP attempts",
            metrics.attempt_seconds.clone(),
        );
        registry.register(
            "in_flight_requests",
            "HTTP requests in flight",
            metrics.in_flight.clone(),
        );
        registry.register(
            "dns_lookups",
            "Host names looked up through the system resolver",
            metrics.dns_lookups.clone(),
        );
        registry.register("jobs", "Jobs by state", metrics.jobs.clone());
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Sets the jobs-per-state gauges; states absent from `counts` read 0.
    pub fn set_jobs(&self, counts: &[(JobState, u64)]) {
        for state in JobState::ALL {
            let count = counts
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            self.jobs
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(count as i64);
        }
    }

    /// The metrics in the Prometheus/OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
