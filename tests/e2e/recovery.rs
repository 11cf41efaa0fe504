//! Crashes and restarts: a job interrupted by SIGKILL or SIGTERM resumes on the same
//! database at the next start and ends with exactly one record per URL.

use std::time::Duration;

use trawl_testkit::{
    assert_one_record_per_seq, temp_dir, Api, TargetServer, Trawl, ALLOW_LOOPBACK,
};

use crate::helpers::{slow_urls, BIN, FAST_BACKOFF};

/// 200 URLs × 100 ms, 4 at a time per host: about 5 s of work.
const URLS: u64 = 200;

/// 4 requests in flight per host keeps the job running long enough to interrupt it.
const ENV: [(&str, &str); 5] = [
    ALLOW_LOOPBACK,
    FAST_BACKOFF[0],
    FAST_BACKOFF[1],
    ("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "4"),
    ("TRAWL__FETCHER__SHUTDOWN_GRACE_MS", "3000"),
];

/// Submits the slow job and waits until it is partly done; returns its id and `done`.
async fn start_slow_job(api: &Api, target: &TargetServer) -> (String, u64) {
    let id = api.submit_urls(&slow_urls(target, URLS, 100)).await;
    let job = api
        .wait_until(&id, Duration::from_secs(30), "partly done", |j| {
            j["done"].as_u64().unwrap_or(0) >= 30
        })
        .await;
    let done = job["done"].as_u64().unwrap();
    assert!(
        done < URLS,
        "the job must be mid-way when interrupted: {job}"
    );
    assert_eq!(job["state"], "running", "{job}");
    (id, done)
}

/// Restarts on `dir`, waits for the job to complete, and checks one record per URL.
async fn assert_resumes_to_completion(dir: &std::path::Path, id: &str, done_before: u64) {
    let trawl = Trawl::start(BIN, dir, &ENV);
    let api = trawl.api();
    let job = api.job(id).await;
    assert!(
        job["done"].as_u64().unwrap() >= done_before,
        "committed work is kept across the restart ({done_before} before): {job}"
    );
    let job = api.wait_until_finished(id, Duration::from_secs(60)).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["total"], URLS, "{job}");
    assert_eq!(job["done"], URLS, "{job}");
    assert_eq!(
        job["succeeded"], URLS,
        "every URL was fetched in the end: {job}"
    );
    assert_eq!(job["failed"], 0, "{job}");

    let records = api.ndjson(id).await;
    let by_seq = assert_one_record_per_seq(&records, URLS);
    for (seq, record) in &by_seq {
        assert_eq!(record["ok"], true, "{record}");
        assert_eq!(
            record["json"]["n"], *seq,
            "record {seq} holds its own URL's body: {record}"
        );
    }
    let pages = api
        .all_result_pages(id, "limit=1000", Duration::from_secs(30))
        .await;
    assert_one_record_per_seq(&pages, URLS);
}

#[actix_rt::test]
async fn a_job_killed_with_sigkill_resumes_at_restart_with_one_record_per_url() {
    let target = TargetServer::start();
    let dir = temp_dir();
    let trawl = Trawl::start(BIN, dir.path(), &ENV);
    let (id, done) = start_slow_job(&trawl.api(), &target).await;
    trawl.kill();
    assert_resumes_to_completion(dir.path(), &id, done).await;
    assert!(
        target.hits_for("slow") >= URLS,
        "every URL reached the target"
    );
}

#[actix_rt::test]
async fn a_job_stopped_with_sigterm_shuts_down_gracefully_and_resumes_at_restart() {
    let target = TargetServer::start();
    let dir = temp_dir();
    let trawl = Trawl::start(BIN, dir.path(), &ENV);
    let (id, done) = start_slow_job(&trawl.api(), &target).await;
    let status = trawl.terminate(Duration::from_secs(20));
    assert!(
        status.success(),
        "a graceful shutdown exits 0, got {status}"
    );
    assert_resumes_to_completion(dir.path(), &id, done).await;
}

#[actix_rt::test]
async fn a_finished_job_and_its_records_survive_a_restart() {
    let target = TargetServer::start();
    let dir = temp_dir();
    let trawl = Trawl::start(BIN, dir.path(), &ENV);
    let urls: Vec<String> = (0..10).map(|n| target.url(&format!("/json/{n}"))).collect();
    let id = trawl.api().submit_urls(&urls).await;
    let before = trawl
        .api()
        .wait_until_finished(&id, Duration::from_secs(30))
        .await;
    let records_before = trawl.api().ndjson(&id).await;
    let hits = target.hits();
    trawl.terminate(Duration::from_secs(20));

    let trawl = Trawl::start(BIN, dir.path(), &ENV);
    let after = trawl.api().job(&id).await;
    assert_eq!(after, before, "a finished job is unchanged by a restart");
    assert_eq!(trawl.api().ndjson(&id).await, records_before);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(target.hits(), hits, "a finished job is not fetched again");
}
