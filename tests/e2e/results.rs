//! Reading results: JSON pages and cursors, limits, filters, NDJSON, CSV and events.

use std::time::Duration;

use trawl_testkit::serde_json;
use trawl_testkit::{
    assert_one_record_per_seq, error_kind, json, parse_ndjson, Csv, Value, CSV_HEADER,
};

use crate::helpers::{json_urls, slow_urls, spawn_app, SHORT};

#[actix_rt::test]
async fn following_next_with_limit_7_yields_every_seq_once_in_order() {
    let app = spawn_app(&[]);
    let id = app.api.submit_urls(&json_urls(&app.target, 250)).await;
    let job = app.api.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["state"], "completed", "{job}");

    let items = app.api.all_result_pages(&id, "limit=7", SHORT).await;
    assert_one_record_per_seq(&items, 250);

    let first = app.api.get(&format!("/v1/jobs/{id}/results")).await.json();
    assert_eq!(
        first["items"].as_array().map(Vec::len),
        Some(100),
        "limit defaults to 100"
    );
    assert!(first["next"].is_string(), "{}", first["next"]);
    let max = app
        .api
        .get(&format!("/v1/jobs/{id}/results?limit=1000"))
        .await
        .json();
    assert_eq!(
        max["items"].as_array().map(Vec::len),
        Some(250),
        "limit=1000 is allowed"
    );
    assert_eq!(
        max["next"],
        Value::Null,
        "a finished job's last page has next null"
    );
}

#[actix_rt::test]
async fn paging_while_the_job_runs_yields_every_record_once_and_next_stays_set() {
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "4")]);
    let id = app.api.submit_urls(&slow_urls(&app.target, 60, 50)).await;
    let items = app.api.all_result_pages(&id, "limit=7", SHORT).await;
    assert_one_record_per_seq(&items, 60);
    let job = app.api.job(&id).await;
    assert_eq!(
        job["state"], "completed",
        "next is null only once the job is finished: {job}"
    );
}

#[actix_rt::test]
async fn a_bad_cursor_is_400_invalid_cursor() {
    let app = spawn_app(&[]);
    let id = app.api.submit_urls(&json_urls(&app.target, 3)).await;
    app.api.wait_until_finished(&id, SHORT).await;
    for cursor in ["garbage", "AAAA", "%FF%FE"] {
        let response = app
            .api
            .get(&format!("/v1/jobs/{id}/results?cursor={cursor}"))
            .await;
        response.assert_error(400, "invalid_cursor");
    }
}

#[actix_rt::test]
async fn a_limit_outside_1_to_1000_is_400_invalid_parameter() {
    let app = spawn_app(&[]);
    let id = app.api.submit_urls(&json_urls(&app.target, 3)).await;
    app.api.wait_until_finished(&id, SHORT).await;
    for limit in ["0", "1001", "5000", "-1", "many"] {
        let response = app
            .api
            .get(&format!("/v1/jobs/{id}/results?limit={limit}"))
            .await;
        response.assert_error(400, "invalid_parameter");
    }
}

#[actix_rt::test]
async fn ok_and_error_filters_select_the_matching_records() {
    let app = spawn_app(&[]);
    let t = &app.target;
    let urls = json!([
        t.url("/json/0"),
        "ftp://x",
        t.url("/status/404"),
        "not a url",
        t.url("/json/4")
    ]);
    let id = trawl_testkit::job_id(&app.api.submit_ok(&json!({ "urls": urls })).await);
    app.api.wait_until_finished(&id, SHORT).await;

    let seqs = |items: &[Value]| {
        items
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };

    let failed = app.api.all_result_pages(&id, "ok=false", SHORT).await;
    assert_eq!(seqs(&failed), vec![1, 2, 3], "{failed:?}");
    let succeeded = app.api.all_result_pages(&id, "ok=true", SHORT).await;
    assert_eq!(seqs(&succeeded), vec![0, 4], "{succeeded:?}");
    let invalid = app
        .api
        .all_result_pages(&id, "error=invalid_url", SHORT)
        .await;
    assert_eq!(seqs(&invalid), vec![1, 3], "{invalid:?}");
    assert!(invalid.iter().all(|r| error_kind(r) == Some("invalid_url")));

    let paged = app
        .api
        .all_result_pages(&id, "ok=false&limit=1", SHORT)
        .await;
    assert_eq!(seqs(&paged), vec![1, 2, 3], "filters hold across pages");

    let ndjson = app
        .api
        .get(&format!("/v1/jobs/{id}/results?format=ndjson&ok=false"))
        .await;
    assert_eq!(
        seqs(&parse_ndjson(&ndjson.text())),
        vec![1, 2, 3],
        "filters apply to NDJSON"
    );
}

#[actix_rt::test]
async fn ndjson_is_served_for_the_accept_header_and_for_format_ndjson() {
    let app = spawn_app(&[]);
    let id = app.api.submit_urls(&json_urls(&app.target, 25)).await;
    app.api.wait_until_finished(&id, SHORT).await;

    let by_accept = app
        .api
        .get_with(
            &format!("/v1/jobs/{id}/results"),
            &[("Accept", "application/x-ndjson")],
        )
        .await;
    let by_format = app
        .api
        .get(&format!("/v1/jobs/{id}/results?format=ndjson"))
        .await;
    for response in [&by_accept, &by_format] {
        assert_eq!(response.status, 200, "{}", response.text());
        let content_type = response.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/x-ndjson"),
            "got {content_type:?}"
        );
        let text = response.text();
        assert_eq!(
            text.lines().filter(|l| !l.is_empty()).count(),
            25,
            "one line per record"
        );
        assert_one_record_per_seq(&parse_ndjson(&text), 25);
    }

    // `?format=` overrides Accept.
    let json_page = app
        .api
        .get_with(
            &format!("/v1/jobs/{id}/results?format=json"),
            &[("Accept", "application/x-ndjson")],
        )
        .await;
    assert_eq!(json_page.status, 200, "{}", json_page.text());
    assert!(
        json_page.json()["items"].is_array(),
        "format=json wins over Accept"
    );
}

#[actix_rt::test]
async fn csv_has_the_contract_header_and_one_row_per_record() {
    let app = spawn_app(&[]);
    let t = &app.target;
    let urls = json!([
        { "url": t.url("/html/0"), "ref": "r,0" },
        t.url("/json/1"),
        "not a url",
        t.url("/status/404"),
    ]);
    let id = trawl_testkit::job_id(&app.api.submit_ok(&json!({ "urls": urls })).await);
    app.api.wait_until_finished(&id, SHORT).await;

    let response = app
        .api
        .get(&format!("/v1/jobs/{id}/results?format=csv"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let text = response.text();
    assert_eq!(
        text.lines().next(),
        Some(CSV_HEADER),
        "the header row, exactly"
    );

    let csv = Csv::parse(&text);
    assert_eq!(csv.rows.len(), 4, "one row per record");
    let seqs: Vec<&str> = csv.rows.iter().map(|row| csv.cell(row, "seq")).collect();
    assert_eq!(seqs, ["0", "1", "2", "3"]);
    let row = &csv.rows[0];
    assert_eq!(
        csv.cell(row, "ref"),
        "r,0",
        "a comma in a cell is quoted per RFC 4180"
    );
    assert_eq!(csv.cell(row, "status"), "200");
    assert_eq!(csv.cell(row, "ok"), "true");
    assert_eq!(csv.cell(row, "title"), "Page 0 title");
    assert_eq!(csv.cell(row, "error_kind"), "", "null is an empty cell");
    assert_eq!(csv.cell(&csv.rows[1], "ref"), "", "null is an empty cell");
    assert_eq!(csv.cell(&csv.rows[2], "error_kind"), "invalid_url");
    assert_eq!(csv.cell(&csv.rows[2], "url"), "not a url");
    assert_eq!(csv.cell(&csv.rows[3], "status"), "404");
    assert_eq!(csv.cell(&csv.rows[3], "ok"), "false");
}

#[actix_rt::test]
async fn events_of_a_finished_job_end_at_once_with_the_final_object() {
    let app = spawn_app(&[]);
    let id = app.api.submit_urls(&json_urls(&app.target, 2)).await;
    app.api.wait_until_finished(&id, SHORT).await;

    let response = actix_rt::time::timeout(
        Duration::from_secs(10),
        app.api.get_with(
            &format!("/v1/jobs/{id}/events"),
            &[("Accept", "text/event-stream")],
        ),
    )
    .await
    .expect("a finished job's event stream ends at once");
    assert_eq!(response.status, 200, "{}", response.text());
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/event-stream"),
        "got {content_type:?}"
    );
    let text = response.text();
    let end = text
        .split("\n\n")
        .find(|event| event.lines().any(|l| l.trim() == "event: end"));
    let end = end.unwrap_or_else(|| panic!("an `end` event in {text:?}"));
    let data: String = end
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n");
    let job: Value =
        serde_json::from_str(&data).unwrap_or_else(|e| panic!("end data ({e}): {data}"));
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["done"], 2, "{job}");
}

#[actix_rt::test]
async fn results_of_an_unknown_job_are_404_job_not_found() {
    let app = spawn_app(&[]);
    for format in ["", "?format=ndjson", "?format=csv"] {
        let response = app
            .api
            .get(&format!(
                "/v1/jobs/01900000-0000-7000-8000-000000000000/results{format}"
            ))
            .await;
        response.assert_error(404, "job_not_found");
    }
}

#[actix_rt::test]
async fn events_stream_progress_while_running_then_end_and_close() {
    // 30 URLs × 200 ms, 2 at a time: about 3 s, so at least one progress event is due.
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "2")]);
    let id = app.api.submit_urls(&slow_urls(&app.target, 30, 200)).await;
    let response = actix_rt::time::timeout(
        Duration::from_secs(30),
        app.api.get_with(
            &format!("/v1/jobs/{id}/events"),
            &[("Accept", "text/event-stream")],
        ),
    )
    .await
    .expect("the event stream closes after the end event");
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter_map(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(str::trim)
        })
        .collect();
    assert!(
        events.contains(&"progress"),
        "progress while running: {events:?}"
    );
    assert_eq!(
        events.last(),
        Some(&"end"),
        "the last event is end: {events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| **e == "end").count(),
        1,
        "{events:?}"
    );
}

#[actix_rt::test]
async fn events_of_an_unknown_job_are_404_job_not_found() {
    let app = spawn_app(&[]);
    app.api
        .get("/v1/jobs/01900000-0000-7000-8000-000000000000/events")
        .await
        .assert_error(404, "job_not_found");
}
