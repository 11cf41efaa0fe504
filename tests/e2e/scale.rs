//! Volume: a large loopback batch completes with every record, in every format.

use std::time::Duration;

use trawl_testkit::{assert_one_record_per_seq, parse_ndjson, Csv, CSV_HEADER};

use crate::helpers::{json_urls, spawn_app};

const URLS: u64 = 10_000;

#[actix_rt::test]
async fn ten_thousand_loopback_urls_complete_with_one_record_each_in_ndjson_and_csv() {
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "64")]);
    let id = app.api.submit_urls(&json_urls(&app.target, URLS)).await;
    let job = app
        .api
        .wait_until_finished(&id, Duration::from_secs(120))
        .await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["total"], URLS, "{job}");
    assert_eq!(job["done"], URLS, "{job}");
    assert_eq!(job["succeeded"], URLS, "{job}");
    assert_eq!(job["failed"], 0, "{job}");

    let ndjson = app
        .api
        .get(&format!("/v1/jobs/{id}/results?format=ndjson"))
        .await;
    assert_eq!(ndjson.status, 200);
    let text = ndjson.text();
    assert_eq!(
        text.lines().count() as u64,
        URLS,
        "one NDJSON line per record"
    );
    let records = parse_ndjson(&text);
    let by_seq = assert_one_record_per_seq(&records, URLS);
    for (seq, record) in &by_seq {
        assert_eq!(
            record["json"]["n"], *seq,
            "record {seq} holds /json/{seq}: {record}"
        );
    }

    let csv = app
        .api
        .get(&format!("/v1/jobs/{id}/results?format=csv"))
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.text();
    assert_eq!(
        text.lines().count() as u64,
        URLS + 1,
        "a header row and one row per record"
    );
    assert_eq!(text.lines().next(), Some(CSV_HEADER));
    assert_eq!(Csv::parse(&text).rows.len() as u64, URLS);

    assert!(
        app.target.hits_for("json") >= URLS,
        "every URL reached the target"
    );
}
