//! `spawn_app`: one target server and one `trawl serve` with its own temp database, per
//! test, so tests run in parallel without sharing anything.

use std::time::Duration;

use trawl_testkit::{job_id, temp_dir, Api, TargetServer, TempDir, Trawl, Value, ALLOW_LOOPBACK};

/// The binary under test; only integration tests see this variable.
pub const BIN: &str = env!("CARGO_BIN_EXE_trawl");

/// How long a small job may take to finish.
pub const SHORT: Duration = Duration::from_secs(30);

/// Retries back off for milliseconds, not seconds, so a 500 (retried) keeps tests quick.
pub const FAST_BACKOFF: [(&str, &str); 2] = [
    ("TRAWL__FETCHER__BACKOFF_BASE_MS", "10"),
    ("TRAWL__FETCHER__BACKOFF_MAX_MS", "50"),
];

/// A target server, a running service and a client of its API.
pub struct App {
    /// The service (dropped first: it is killed before its directory goes away).
    pub trawl: Trawl,
    /// A client of the service's API.
    pub api: Api,
    /// What the service fetches from.
    pub target: TargetServer,
    /// Holds the SQLite file; removed when the app is dropped.
    pub _dir: TempDir,
}

/// Starts a target server and a service allowed to fetch from loopback, with `env` on top.
pub fn spawn_app(env: &[(&str, &str)]) -> App {
    let mut all = vec![ALLOW_LOOPBACK];
    all.extend(FAST_BACKOFF);
    all.extend_from_slice(env);
    spawn_app_with_exact_env(&all)
}

/// Starts a target server and a service with exactly `env` (no loopback permission).
pub fn spawn_app_with_exact_env(env: &[(&str, &str)]) -> App {
    let target = TargetServer::start();
    let dir = temp_dir();
    let trawl = Trawl::start(BIN, dir.path(), env);
    let api = trawl.api();
    App {
        trawl,
        api,
        target,
        _dir: dir,
    }
}

/// `n` distinct target URLs `/json/0 .. /json/{n-1}`.
pub fn json_urls(target: &TargetServer, n: u64) -> Vec<String> {
    (0..n).map(|i| target.url(&format!("/json/{i}"))).collect()
}

/// `n` distinct target URLs that each answer after `ms` milliseconds.
pub fn slow_urls(target: &TargetServer, n: u64, ms: u64) -> Vec<String> {
    (0..n)
        .map(|i| target.url(&format!("/slow/{ms}/{i}")))
        .collect()
}

/// Submits `body` to the service, waits [`SHORT`] for its job to complete (failing with
/// the service's last log lines if it does not), and returns the job's NDJSON records.
pub async fn run_job(trawl: &Trawl, api: &Api, body: &Value) -> Vec<Value> {
    let id = job_id(&api.submit_ok(body).await);
    let job = api.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["state"], "completed", "{job}\n{}", trawl.stderr_tail());
    api.ndjson(&id).await
}
