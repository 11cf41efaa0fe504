//! `GET /v1/jobs`: newest first, state filter, limit and cursor paging; and the service
//! endpoints (`/healthz`, `/readyz`, `/metrics`).

use std::time::Duration;

use trawl_testkit::{job_id, json, Value};

use crate::helpers::{spawn_app, SHORT};

#[actix_rt::test]
async fn listing_jobs_is_newest_first_filters_by_state_and_pages_with_next() {
    let app = spawn_app(&[]);
    let mut ids = Vec::new();
    for n in 0..3 {
        let job =
            app.api.submit_ok(&json!({ "urls": [app.target.url(&format!("/json/{n}"))], "label": format!("list-{n}") })).await;
        let id = job_id(&job);
        app.api.wait_until_finished(&id, SHORT).await;
        ids.push(id);
        // Distinct creation times, so "newest first" has one answer.
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    // One job that stays running while the list is read.
    let running = job_id(
        &app.api
            .submit_ok(&json!({ "urls": [app.target.url("/slow/8000/1")], "label": "slow" }))
            .await,
    );
    app.api
        .wait_until(&running, SHORT, "running", |j| j["state"] == "running")
        .await;
    ids.push(running.clone());
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let list = app.api.get("/v1/jobs").await;
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    assert_eq!(ids_of(&list), newest_first, "newest first: {list}");
    assert_eq!(list["next"], Value::Null, "one page holds 4 jobs: {list}");
    assert_eq!(list["items"][0]["label"], "slow", "{list}");

    let completed = app.api.get("/v1/jobs?state=completed").await.json();
    assert_eq!(
        ids_of(&completed),
        newest_first[1..].to_vec(),
        "only completed: {completed}"
    );
    assert!(completed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["state"] == "completed"));

    let running_only = app.api.get("/v1/jobs?state=running").await.json();
    assert_eq!(
        ids_of(&running_only),
        vec![running.clone()],
        "{running_only}"
    );

    let page = app.api.get("/v1/jobs?limit=2").await.json();
    assert_eq!(ids_of(&page), newest_first[..2].to_vec(), "limit=2: {page}");
    assert!(
        page["next"].is_string(),
        "more jobs remain, so next is set: {page}"
    );

    let all = app.api.follow_pages("/v1/jobs", "limit=1", SHORT).await;
    let paged: Vec<String> = all.iter().map(job_id).collect();
    assert_eq!(
        paged, newest_first,
        "following next yields every job once, newest first"
    );

    let cancel = app.api.delete(&format!("/v1/jobs/{running}")).await;
    assert_eq!(cancel.status, 202, "{}", cancel.text());
}

#[actix_rt::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app(&[]);
    assert_eq!(app.api.get("/healthz").await.status, 200);
    assert_eq!(app.api.get("/readyz").await.status, 200);
    let metrics = app.api.get("/metrics").await;
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    let content_type = metrics.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus text, got {content_type:?}"
    );
}

fn ids_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list has items: {list}"))
        .iter()
        .map(job_id)
        .collect()
}
