//! Cancelling and purging jobs.

use std::time::Duration;

use trawl_testkit::{assert_one_record_per_seq, error_kind, job_id, json};

use crate::helpers::{slow_urls, spawn_app, SHORT};

#[actix_rt::test]
async fn cancelling_a_running_job_gives_every_unfinished_url_a_cancelled_record() {
    // 60 URLs × 300 ms, 2 at a time: about 9 s of work, so the job is mid-way when cancelled.
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "2")]);
    let id = app.api.submit_urls(&slow_urls(&app.target, 60, 300)).await;
    app.api
        .wait_until(&id, SHORT, "partly done", |j| {
            j["done"].as_u64().unwrap_or(0) >= 2
        })
        .await;

    let cancel = app.api.delete(&format!("/v1/jobs/{id}")).await;
    assert_eq!(
        cancel.status,
        202,
        "DELETE on an active job answers 202: {}",
        cancel.text()
    );

    let job = app.api.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    assert_eq!(job["total"], 60, "{job}");
    assert_eq!(
        job["done"], 60,
        "a cancelled job has exactly total records: {job}"
    );
    let (succeeded, failed) = (
        job["succeeded"].as_u64().unwrap(),
        job["failed"].as_u64().unwrap(),
    );
    assert_eq!(succeeded + failed, 60, "done = succeeded + failed: {job}");

    let records = app.api.ndjson(&id).await;
    let by_seq = assert_one_record_per_seq(&records, 60);
    let cancelled = records
        .iter()
        .filter(|r| error_kind(r) == Some("cancelled"))
        .count();
    let ok = records.iter().filter(|r| r["ok"] == true).count();
    assert!(cancelled > 0, "unfinished URLs get a `cancelled` record");
    assert!(ok >= 2, "finished results are kept ({ok} ok)");
    assert_eq!(
        ok + cancelled,
        60,
        "every record is either fetched or cancelled"
    );
    for record in by_seq
        .values()
        .filter(|r| error_kind(r) == Some("cancelled"))
    {
        assert_eq!(record["ok"], false, "{record}");
    }
    assert_eq!(failed as usize, cancelled, "{job}");

    // A second DELETE on the finished job: 200, unchanged.
    let again = app.api.delete(&format!("/v1/jobs/{id}")).await;
    assert_eq!(
        again.status,
        200,
        "DELETE on a finished job answers 200: {}",
        again.text()
    );
    let unchanged = app.api.job(&id).await;
    assert_eq!(unchanged["state"], "cancelled");
    assert_eq!(unchanged["done"], 60);

    // The job settles: no record appears after the end.
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.api.ndjson(&id).await.len(), 60);
}

#[actix_rt::test]
async fn purge_removes_a_finished_job_and_is_409_on_an_active_one() {
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "1")]);

    let finished = job_id(
        &app.api
            .submit_ok(&json!({ "urls": [app.target.url("/json/1")] }))
            .await,
    );
    app.api.wait_until_finished(&finished, SHORT).await;

    let active = app.api.submit_urls(&slow_urls(&app.target, 20, 500)).await;
    let conflict = app
        .api
        .delete(&format!("/v1/jobs/{active}?purge=true"))
        .await;
    conflict.assert_error(409, "conflict");
    assert!(
        app.api.job(&active).await["state"].as_str().is_some(),
        "the active job is still there"
    );

    let purged = app
        .api
        .delete(&format!("/v1/jobs/{finished}?purge=true"))
        .await;
    assert_eq!(purged.status, 204, "{}", purged.text());
    assert!(purged.body.is_empty(), "204 has no body");
    app.api
        .get(&format!("/v1/jobs/{finished}"))
        .await
        .assert_error(404, "job_not_found");
    app.api
        .get(&format!("/v1/jobs/{finished}/results"))
        .await
        .assert_error(404, "job_not_found");
    let list = app.api.get("/v1/jobs").await.json();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["id"] != finished.as_str()),
        "a purged job leaves the list: {list}"
    );

    let cancel = app.api.delete(&format!("/v1/jobs/{active}")).await;
    assert_eq!(cancel.status, 202, "{}", cancel.text());
    let job = app.api.wait_until_finished(&active, SHORT).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    let purged = app
        .api
        .delete(&format!("/v1/jobs/{active}?purge=true"))
        .await;
    assert_eq!(
        purged.status,
        204,
        "a cancelled job can be purged: {}",
        purged.text()
    );
}

#[actix_rt::test]
async fn cancelling_an_unknown_job_is_404_job_not_found() {
    let app = spawn_app(&[]);
    app.api
        .delete("/v1/jobs/01900000-0000-7000-8000-000000000000")
        .await
        .assert_error(404, "job_not_found");
}
