//! Servers that misbehave on purpose: each hostile behaviour gets the right per-URL
//! outcome within the configured limits, and the service stays healthy and small.
//!
//! The limits are set small (2 s per attempt, 1 MiB bodies, millisecond backoffs) so
//! each case ends in a few seconds; the assertions check the outcome is due to those
//! limits (an elapsed time near the deadline, an error long before it).

use std::time::Duration;

use trawl_testkit::{
    assert_one_record_per_seq, assert_record_keys, error_kind, json, refused_port, sha256_hex,
    temp_dir, Api, HostileServer, TempDir, Trawl, Value, ALLOW_LOOPBACK, BOMBS,
};

use crate::helpers::{run_job, BIN};

/// Per-attempt deadline.
pub const TIMEOUT_MS: u64 = 2000;
/// Body limit (decoded bytes).
pub const MAX_BODY: u64 = 1024 * 1024;
/// Redirects followed.
pub const MAX_REDIRECTS: u32 = 3;
/// Extra attempts after a retryable failure.
pub const RETRIES: u32 = 2;
/// Longest Retry-After honoured.
pub const MAX_RETRY_AFTER_MS: u64 = 2000;
/// The peak RSS the service must stay under, whatever the servers do.
const RSS_CEILING: u64 = 256 * 1024 * 1024;

/// The limits above as the service's environment.
pub fn limits_env() -> Vec<(&'static str, String)> {
    vec![
        ("TRAWL__FETCHER__TIMEOUT_MS", TIMEOUT_MS.to_string()),
        ("TRAWL__FETCHER__CONNECT_TIMEOUT_MS", "1000".into()),
        ("TRAWL__FETCHER__MAX_BODY_BYTES", MAX_BODY.to_string()),
        ("TRAWL__FETCHER__MAX_REDIRECTS", MAX_REDIRECTS.to_string()),
        ("TRAWL__FETCHER__RETRIES", RETRIES.to_string()),
        ("TRAWL__FETCHER__BACKOFF_BASE_MS", "10".into()),
        ("TRAWL__FETCHER__BACKOFF_MAX_MS", "50".into()),
        (
            "TRAWL__FETCHER__MAX_RETRY_AFTER",
            MAX_RETRY_AFTER_MS.to_string(),
        ),
        // Every hostile path is on one host:port; the default of 8 would queue them.
        ("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "64".into()),
    ]
}

/// A hostile server and a service with small limits that may fetch from loopback.
pub struct HostileApp {
    /// The service (dropped first).
    pub trawl: Trawl,
    /// A client of its API.
    pub api: Api,
    /// What it fetches from.
    pub hostile: HostileServer,
    /// Holds the SQLite file.
    pub _dir: TempDir,
}

/// Starts a hostile server and a service with [`limits_env`] and `env` on top.
pub fn spawn_hostile(env: &[(&str, &str)]) -> HostileApp {
    let hostile = HostileServer::start();
    let dir = temp_dir();
    let limits = limits_env();
    let mut all: Vec<(&str, &str)> = vec![ALLOW_LOOPBACK];
    all.extend(limits.iter().map(|(k, v)| (*k, v.as_str())));
    all.extend_from_slice(env);
    let trawl = Trawl::start(BIN, dir.path(), &all);
    let api = trawl.api();
    HostileApp {
        trawl,
        api,
        hostile,
        _dir: dir,
    }
}

impl HostileApp {
    /// Submits `urls` (with job `options`), waits for the job to complete, and returns
    /// its records, one per URL, in seq order.
    pub async fn fetch_all(&self, urls: &[String], options: Value) -> Vec<Value> {
        let body = json!({ "urls": urls, "options": options });
        let records = run_job(&self.trawl, &self.api, &body).await;
        let by_seq = assert_one_record_per_seq(&records, urls.len() as u64);
        for record in by_seq.values() {
            assert_record_keys(record);
        }
        by_seq.into_values().collect()
    }

    /// The record of one URL fetched alone.
    pub async fn fetch_one(&self, url: String, options: Value) -> Value {
        self.fetch_all(&[url], options).await.remove(0)
    }

    /// Asserts `/healthz` answers 200 and the peak RSS is under the ceiling.
    pub async fn assert_healthy(&self) {
        let health = self.api.get("/healthz").await;
        assert_eq!(health.status, 200, "/healthz: {}", health.text());
        if let Some(peak) = self.trawl.peak_rss_bytes() {
            assert!(
                peak < RSS_CEILING,
                "peak RSS {} MiB is over {} MiB",
                peak >> 20,
                RSS_CEILING >> 20
            );
        }
    }
}

/// Asserts `record` failed with error kind `kind`, and returns its message.
#[track_caller]
pub fn assert_error(record: &Value, kind: &str) -> String {
    assert_eq!(
        error_kind(record),
        Some(kind),
        "expected error kind {kind}: {record}"
    );
    assert_eq!(record["ok"], false, "{record}");
    let message = record["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "the error has a message: {record}"
    );
    message.to_owned()
}

fn elapsed_ms(record: &Value) -> u64 {
    record["elapsed_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("elapsed_ms: {record}"))
}

/// Asserts the final attempt was cut at the deadline: not before it, not long after.
#[track_caller]
fn assert_cut_at_deadline(record: &Value) {
    let elapsed = elapsed_ms(record);
    assert!(
        (TIMEOUT_MS - 100..TIMEOUT_MS + 1500).contains(&elapsed),
        "cut at the {TIMEOUT_MS} ms deadline, took {elapsed} ms: {record}"
    );
}

/// Asserts the record failed fast: long before the deadline, so no limit was waited on.
#[track_caller]
fn assert_fast(record: &Value) {
    let elapsed = elapsed_ms(record);
    assert!(
        elapsed < TIMEOUT_MS / 2,
        "failed at once, took {elapsed} ms: {record}"
    );
}

const NO_RETRY: fn() -> Value = || json!({ "retries": 0 });

#[actix_rt::test]
async fn a_body_dripping_one_byte_a_second_is_cut_at_the_timeout() {
    let app = spawn_hostile(&[]);
    let record = app.fetch_one(app.hostile.url("/drip"), NO_RETRY()).await;
    assert_error(&record, "timeout");
    assert_cut_at_deadline(&record);
    assert_eq!(record["attempts"], 1, "{record}");
    assert_eq!(record["status"], 200, "the head had arrived: {record}");
    app.assert_healthy().await;
}

#[actix_rt::test]
async fn a_head_dripping_one_byte_a_second_is_cut_at_the_timeout() {
    let app = spawn_hostile(&[]);
    let record = app
        .fetch_one(app.hostile.url("/drip-head"), NO_RETRY())
        .await;
    assert_error(&record, "timeout");
    assert_cut_at_deadline(&record);
    assert_eq!(record["status"], Value::Null, "no head arrived: {record}");
}

#[actix_rt::test]
async fn a_server_that_never_answers_times_out_on_every_attempt() {
    let app = spawn_hostile(&[]);
    let record = app.fetch_one(app.hostile.url("/hang"), json!({})).await;
    assert_error(&record, "timeout");
    assert_cut_at_deadline(&record);
    assert_eq!(
        record["attempts"],
        RETRIES + 1,
        "timeouts are retried: {record}"
    );
    assert_eq!(
        app.hostile.hits("/hang"),
        u64::from(RETRIES + 1),
        "one request per attempt"
    );
    app.assert_healthy().await;
}

#[actix_rt::test]
async fn an_endless_chunked_body_stops_at_the_body_limit() {
    let app = spawn_hostile(&[]);
    let record = app.fetch_one(app.hostile.url("/endless"), json!({})).await;
    let message = assert_error(&record, "body_too_large");
    assert_fast(&record);
    assert_eq!(
        record["status"], 200,
        "status is set when a response arrived: {record}"
    );
    assert_eq!(
        record["attempts"], 1,
        "body_too_large is not retried: {record}"
    );
    assert!(
        message.contains(&MAX_BODY.to_string()),
        "the message names the limit: {message}"
    );
    app.assert_healthy().await;
}

#[actix_rt::test]
async fn a_content_length_above_the_limit_is_refused_without_reading_the_body() {
    let app = spawn_hostile(&[]);
    // The server announces 10 GiB and then sends nothing: reading would time out.
    let record = app
        .fetch_one(app.hostile.url("/huge-length"), json!({}))
        .await;
    assert_error(&record, "body_too_large");
    assert_fast(&record);
    assert_eq!(record["status"], 200, "{record}");
    assert_eq!(record["attempts"], 1, "{record}");
}

async fn assert_bomb_stops_at_the_limit(name: &str) {
    let app = spawn_hostile(&[]);
    let record = app
        .fetch_one(app.hostile.url(&format!("/bomb/{name}")), json!({}))
        .await;
    assert_error(&record, "body_too_large");
    assert_eq!(record["status"], 200, "{name}: {record}");
    assert_eq!(record["attempts"], 1, "{name}: {record}");
    app.assert_healthy().await;
}

#[actix_rt::test]
async fn a_gzip_bomb_stops_at_the_limit() {
    assert_bomb_stops_at_the_limit("gzip").await;
}

#[actix_rt::test]
async fn a_deflate_bomb_stops_at_the_limit() {
    assert_bomb_stops_at_the_limit("deflate").await;
}

#[actix_rt::test]
async fn a_brotli_bomb_stops_at_the_limit() {
    assert_bomb_stops_at_the_limit("br").await;
}

#[actix_rt::test]
async fn a_zstd_bomb_stops_at_the_limit() {
    assert_bomb_stops_at_the_limit("zstd").await;
}

#[actix_rt::test]
async fn a_redirect_loop_is_a_redirect_error() {
    let app = spawn_hostile(&[]);
    let record = app.fetch_one(app.hostile.url("/loop/a"), json!({})).await;
    assert_error(&record, "redirect");
    assert_eq!(record["attempts"], 1, "{record}");
    // The loop is caught when it comes back, not after max_redirects hops of it.
    assert_eq!(app.hostile.hits("/loop/a"), 1);
    assert_eq!(app.hostile.hits("/loop/b"), 1);
}

#[actix_rt::test]
async fn a_chain_of_exactly_max_redirects_succeeds_and_one_more_fails() {
    let app = spawn_hostile(&[]);
    let max = MAX_REDIRECTS;
    let urls = [
        app.hostile.url(&format!("/chain/{max}")),
        app.hostile.url(&format!("/chain/{}", max + 1)),
    ];
    let records = app.fetch_all(&urls, json!({})).await;

    let ok = &records[0];
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(ok["json"], json!({ "ok": true }), "{ok}");
    assert_eq!(ok["final_url"], app.hostile.url("/chain/0"), "{ok}");
    let hops: Vec<Value> = (1..=max)
        .rev()
        .map(|n| json!({ "url": app.hostile.url(&format!("/chain/{n}")), "status": 302 }))
        .collect();
    assert_eq!(
        ok["redirects"],
        Value::Array(hops),
        "every hop in order: {ok}"
    );

    let too_many = &records[1];
    assert_error(too_many, "redirect");
    assert_eq!(too_many["attempts"], 1, "{too_many}");
    assert_eq!(
        app.hostile.hits("/chain/0"),
        1,
        "the longer chain stopped before its last hop"
    );
}

#[actix_rt::test]
async fn a_reset_mid_body_is_a_protocol_error_never_a_truncated_success() {
    let app = spawn_hostile(&[]);
    let record = app.fetch_one(app.hostile.url("/reset"), NO_RETRY()).await;
    assert_error(&record, "protocol");
    assert_eq!(
        record["bytes"],
        Value::Null,
        "no truncated body is kept: {record}"
    );
    assert_eq!(record["sha256"], Value::Null, "{record}");
}

#[actix_rt::test]
async fn malformed_chunked_encoding_is_a_protocol_error() {
    let app = spawn_hostile(&[]);
    let record = app
        .fetch_one(app.hostile.url("/bad-chunk"), NO_RETRY())
        .await;
    assert_error(&record, "protocol");
    assert_fast(&record);
    assert_eq!(record["bytes"], Value::Null, "{record}");
}

#[actix_rt::test]
async fn a_content_length_that_lies_is_a_protocol_error() {
    let app = spawn_hostile(&[]);
    let record = app.fetch_one(app.hostile.url("/short"), NO_RETRY()).await;
    assert_error(&record, "protocol");
    assert_fast(&record);
    assert_eq!(record["bytes"], Value::Null, "{record}");
}

#[actix_rt::test]
async fn a_complete_chunked_body_in_pieces_then_close_is_a_success() {
    let app = spawn_hostile(&[]);
    let record = app
        .fetch_one(app.hostile.url("/chunked-ok"), NO_RETRY())
        .await;
    assert_eq!(record["ok"], true, "{record}");
    assert_eq!(
        record["bytes"],
        HostileServer::CHUNKED_BODY.len(),
        "{record}"
    );
    assert_eq!(
        record["sha256"],
        sha256_hex(HostileServer::CHUNKED_BODY.as_bytes()),
        "{record}"
    );
}

#[actix_rt::test]
async fn a_chunked_body_cut_before_its_last_chunk_is_a_protocol_error() {
    let app = spawn_hostile(&[]);
    let record = app
        .fetch_one(app.hostile.url("/chunked-cut"), NO_RETRY())
        .await;
    assert_error(&record, "protocol");
    assert_fast(&record);
    assert_eq!(record["bytes"], Value::Null, "{record}");
}

#[actix_rt::test]
async fn huge_response_headers_are_an_error_and_the_service_stays_up() {
    let app = spawn_hostile(&[]);
    let urls = [
        app.hostile.url("/huge-headers"),
        app.hostile.url("/huge-header"),
    ];
    let records = app.fetch_all(&urls, NO_RETRY()).await;
    for record in &records {
        assert_error(record, "protocol");
        assert_fast(record);
    }
    app.assert_healthy().await;
    // And it still fetches.
    let ok = app.fetch_one(app.hostile.url("/ok/after"), json!({})).await;
    assert_eq!(ok["ok"], true, "{ok}");
}

#[actix_rt::test]
async fn a_429_with_a_short_retry_after_is_retried_after_that_long() {
    let app = spawn_hostile(&[]);
    let record = app
        .fetch_one(app.hostile.url("/retry-after/x"), json!({}))
        .await;
    assert_eq!(record["ok"], true, "{record}");
    assert_eq!(record["status"], 200, "{record}");
    assert_eq!(record["attempts"], 2, "{record}");
    let times = app.hostile.request_times("/retry-after/x");
    assert_eq!(times.len(), 2, "two requests");
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_millis(950),
        "the second request waited for Retry-After: 1, came after {gap:?}"
    );
}

#[actix_rt::test]
async fn a_retry_after_pause_holds_back_the_hosts_queued_tasks_too() {
    // One slot: the second URL waits queued in the fetcher while the first gets its 429.
    let app = spawn_hostile(&[
        ("TRAWL__FETCHER__ACTORS", "1"),
        ("TRAWL__FETCHER__CONCURRENCY", "1"),
    ]);
    let urls = [
        app.hostile.url("/retry-after/paused"),
        app.hostile.url("/ok/queued"),
    ];
    let records = app.fetch_all(&urls, json!({})).await;
    assert!(records.iter().all(|r| r["ok"] == true), "{records:?}");
    let paused_at = app.hostile.request_times("/retry-after/paused")[0];
    let queued_at = app.hostile.request_times("/ok/queued")[0];
    let gap = queued_at - paused_at;
    assert!(
        gap >= Duration::from_millis(950),
        "the queued request waited for the host's Retry-After: 1, came after {gap:?}"
    );
}

#[actix_rt::test]
async fn a_429_with_a_retry_after_above_the_cap_ends_with_its_status() {
    let app = spawn_hostile(&[]);
    let record = app
        .fetch_one(app.hostile.url("/retry-after-long/x"), json!({}))
        .await;
    assert_eq!(record["status"], 429, "{record}");
    assert_eq!(record["ok"], false, "{record}");
    assert_eq!(
        record["error"],
        Value::Null,
        "a status is a result, not an error: {record}"
    );
    assert_eq!(record["attempts"], 1, "no retry: {record}");
    assert_fast(&record);
    assert_eq!(app.hostile.hits("/retry-after-long/x"), 1);
}

#[actix_rt::test]
async fn a_flaky_503_succeeds_on_the_third_attempt() {
    let app = spawn_hostile(&[]);
    let record = app.fetch_one(app.hostile.url("/flaky/x"), json!({})).await;
    assert_eq!(record["ok"], true, "{record}");
    assert_eq!(record["json"], json!({ "ok": true }), "{record}");
    assert_eq!(record["attempts"], 3, "{record}");
    assert_eq!(app.hostile.hits("/flaky/x"), 3);
}

#[actix_rt::test]
async fn a_refused_connection_is_connect_after_every_attempt() {
    let app = spawn_hostile(&[]);
    let url = format!("http://127.0.0.1:{}/", refused_port());
    let record = app.fetch_one(url, json!({})).await;
    assert_error(&record, "connect");
    assert_eq!(
        record["attempts"],
        RETRIES + 1,
        "connect errors are retried: {record}"
    );
    assert_eq!(record["status"], Value::Null, "{record}");
}

/// One hostile URL and the outcome it owes.
struct Case {
    path: String,
    /// `Err(kind)` for an error record, `Ok(status)` for a result.
    outcome: Result<u16, &'static str>,
    attempts: u32,
}

fn case(path: &str, outcome: Result<u16, &'static str>, attempts: u32) -> Case {
    Case {
        path: path.to_owned(),
        outcome,
        attempts,
    }
}

/// Fetches every hostile URL in one job; asserts one record per URL, `/healthz`, the
/// peak RSS, and each outcome.
async fn every_hostile_url_in_one_job() {
    let app = spawn_hostile(&[]);
    let retried = RETRIES + 1;
    let mut cases = vec![
        case("/ok/all", Ok(200), 1),
        case("/drip", Err("timeout"), retried),
        case("/drip-head", Err("timeout"), retried),
        case("/hang", Err("timeout"), retried),
        case("/endless", Err("body_too_large"), 1),
        case("/huge-length", Err("body_too_large"), 1),
        case("/loop/a", Err("redirect"), 1),
        case(&format!("/chain/{MAX_REDIRECTS}"), Ok(200), 1),
        case(&format!("/chain/{}", MAX_REDIRECTS + 1), Err("redirect"), 1),
        case("/reset", Err("protocol"), 1),
        case("/bad-chunk", Err("protocol"), 1),
        case("/short", Err("protocol"), 1),
        case("/chunked-cut", Err("protocol"), 1),
        case("/chunked-ok", Ok(200), 1),
        case("/huge-headers", Err("protocol"), 1),
        case("/huge-header", Err("protocol"), 1),
        case("/retry-after/all", Ok(200), 2),
        case("/retry-after-long/all", Ok(429), 1),
        case("/flaky/all", Ok(200), 3),
    ];
    for (name, _) in BOMBS {
        cases.push(case(&format!("/bomb/{name}"), Err("body_too_large"), 1));
    }
    let mut urls: Vec<String> = cases.iter().map(|c| app.hostile.url(&c.path)).collect();
    urls.push(format!("http://127.0.0.1:{}/", refused_port()));
    cases.push(case("(refused)", Err("connect"), retried));

    let started = std::time::Instant::now();
    let records = app.fetch_all(&urls, json!({})).await;
    let took = started.elapsed();

    let health = app.api.get("/healthz").await;
    assert_eq!(health.status, 200, "/healthz: {}", health.text());
    let peak = app
        .trawl
        .peak_rss_bytes()
        .expect("VmHWM of the service in /proc");
    eprintln!(
        "{} hostile URLs in one job: {took:?}; peak RSS of the service {} MiB",
        urls.len(),
        peak >> 20
    );
    assert!(
        peak < RSS_CEILING,
        "peak RSS {} MiB is over 256 MiB",
        peak >> 20
    );

    let mut wrong = Vec::new();
    for (case, record) in cases.iter().zip(&records) {
        let got_kind = error_kind(record);
        let right = match case.outcome {
            Err(kind) => got_kind == Some(kind) && record["ok"] == false,
            Ok(status) => got_kind.is_none() && record["status"] == status,
        } && record["attempts"] == case.attempts;
        if !right {
            wrong.push(format!(
                "{}: expected {:?} after {} attempts, got {record}",
                case.path, case.outcome, case.attempts
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong outcomes:\n{}", wrong.join("\n"));
}

#[actix_rt::test]
async fn a_job_of_every_hostile_url_gives_each_its_outcome_in_bounded_memory() {
    every_hostile_url_in_one_job().await;
}
