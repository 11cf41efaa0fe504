//! Jobs: what a submission carries, the options of the contract, a job's state and the
//! job object the API returns, and the messages about jobs that cross actors.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use actix::Message;
use serde::{Deserialize, Serialize};

/// A job's public id (a UUIDv7, so ids sort by creation time).
pub type JobId = String;

/// The store's compact integer key of a job; never shown to users.
pub type JobKey = i64;

/// Where a job is in its life: queued → running → completed | cancelled | failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted and committed; no URL dispatched yet.
    Queued,
    /// URLs are being fetched.
    Running,
    /// Every URL has its record (`done == total`), whatever the outcomes.
    Completed,
    /// Cancelled by a user; URLs without a record got a `cancelled` one.
    Cancelled,
    /// Trawl itself could not finish the job (a store fault).
    Failed,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Completed,
        JobState::Cancelled,
        JobState::Failed,
    ];

    /// The state's name in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Cancelled => "cancelled",
            JobState::Failed => "failed",
        }
    }

    /// True while the job still has work: queued or running.
    pub fn is_active(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown job state `{s}`"))
    }
}

/// What a record carries (`options.process`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessPart {
    /// The parsed body of a JSON response.
    Json,
    /// Title, description, canonical and lang of an HTML page.
    Html,
    /// The absolute links of an HTML page (inside `html`).
    Links,
    /// The visible text of an HTML page, or a text body.
    Text,
    /// The response headers.
    Headers,
    /// The raw body (base64 when it is not text).
    Body,
}

impl ProcessPart {
    /// The parts a record carries when a job names none.
    pub const DEFAULT: [ProcessPart; 3] =
        [ProcessPart::Json, ProcessPart::Html, ProcessPart::Links];
}

/// One extraction rule of `options.extract`: exactly one of `css`, `json`, `regex`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRule {
    /// A CSS selector over HTML; the first match's text, or `attr`'s value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub css: Option<String>,
    /// With `css`: take this attribute's value instead of the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attr: Option<String>,
    /// A JSON Pointer over a JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// A regular expression over the decoded text: first capture group, else the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// With `css` or `regex`: every match, as a list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// A job's overrides of the server defaults (`options` in a submission).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    /// Total deadline per attempt, at most the server's `fetcher.timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Extra attempts, at most the server's `fetcher.retries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Requests in flight per host, at most the server's ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_host_concurrency: Option<u32>,
    /// Requests per second per host, at most the server's ceiling (0 = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_host_rps: Option<u32>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The User-Agent of this job's requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// What records carry; [`ProcessPart::DEFAULT`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Vec<ProcessPart>>,
    /// Named extraction rules; their values land in each record's `extract`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extract: BTreeMap<String, ExtractRule>,
}

impl JobOptions {
    /// Request headers a job may not set: they belong to the HTTP framing.
    pub const FORBIDDEN_HEADERS: [&'static str; 4] =
        ["host", "content-length", "connection", "transfer-encoding"];

    /// Whether records of this job carry `part`.
    pub fn wants(&self, part: ProcessPart) -> bool {
        match &self.process {
            Some(parts) => parts.contains(&part),
            None => ProcessPart::DEFAULT.contains(&part),
        }
    }
}

/// One submitted entry: a URL as the user wrote it, and the caller's reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEntry {
    /// The URL string exactly as submitted.
    pub url: String,
    /// The caller's own id for this URL, copied into its record.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
}

/// What every task of a job shares: its ids and options. Built once per job.
#[derive(Debug)]
pub struct JobContext {
    /// The store's key of the job.
    pub key: JobKey,
    /// The public id, copied into every record.
    pub id: JobId,
    /// The job's options as submitted.
    pub options: JobOptions,
}

/// The job object of the API (`GET /v1/jobs/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// Public id.
    pub id: JobId,
    /// The caller's label.
    pub label: Option<String>,
    /// Current state.
    pub state: JobState,
    /// Entries accepted, invalid ones included.
    pub total: u64,
    /// Records committed.
    pub done: u64,
    /// Records with `ok` true.
    pub succeeded: u64,
    /// Records with `ok` false.
    pub failed: u64,
    /// Records per error kind.
    pub errors: BTreeMap<String, u64>,
    /// When the job was accepted.
    pub created_at: String,
    /// When its first URL was dispatched.
    pub started_at: Option<String>,
    /// When it reached a final state.
    pub finished_at: Option<String>,
    /// Records per second since it started.
    pub urls_per_sec: Option<f64>,
    /// Why a `failed` job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A job was committed and can be dispatched. Sent by the API to the coordinator.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct JobAccepted {
    /// The job's ids and options.
    pub job: Arc<JobContext>,
}

/// Cancel a job. Sent by the API to the coordinator; answers whether it was active, or
/// why the store could not record the cancellation.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, String>")]
pub struct CancelJob {
    /// The job to cancel.
    pub key: JobKey,
}

/// Announces to any number of waiters (the API's event streams) that jobs reached a
/// final state: a counter that moves on every announcement, so a waiter that was busy
/// when it moved still sees it.
#[derive(Clone, Debug)]
pub struct FinishedJobs(Arc<tokio::sync::watch::Sender<u64>>);

impl Default for FinishedJobs {
    fn default() -> Self {
        FinishedJobs(Arc::new(tokio::sync::watch::Sender::new(0)))
    }
}

impl FinishedJobs {
    /// Says that some jobs just reached a final state (after the commit that did it).
    pub fn announce(&self) {
        self.0.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver whose `changed()` resolves at the next announcement.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// A job reached a final state in the store. Sent by the store writer to the coordinator.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct JobFinished {
    /// The job that finished.
    pub key: JobKey,
}
