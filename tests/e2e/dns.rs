//! Host names: each fetcher looks a name up once and reuses the answer for the URLs
//! that follow (`trawl_dns_lookups_total` counts the lookups), and a name that cannot
//! be resolved gives each of its URLs a `dns` error record.
//!
//! The names here never leave the machine: `localhost` comes from `/etc/hosts`, and a
//! label longer than 63 bytes is refused by the C library before any DNS server is
//! asked.

use trawl_testkit::{json, Api, Value};

use crate::helpers::{run_job, spawn_app};
use crate::hostile::assert_error;

/// The number the service's `/metrics` gives for `trawl_dns_lookups_total`.
async fn dns_lookups(api: &Api) -> u64 {
    let metrics = api.get("/metrics").await.text();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("trawl_dns_lookups_total "))
        .unwrap_or_else(|| panic!("/metrics has trawl_dns_lookups_total:\n{metrics}"))
        .trim()
        .parse()
        .expect("a count")
}

#[actix_rt::test]
async fn a_named_host_is_looked_up_once_per_fetcher_not_once_per_url() {
    let fetchers = 2;
    let app = spawn_app(&[("TRAWL__FETCHER__ACTORS", &fetchers.to_string())]);
    let port = app.target.port();
    let urls: Vec<String> = (0..60)
        .map(|i| format!("http://localhost:{port}/json/{i}"))
        .collect();

    let records = run_job(&app.trawl, &app.api, &json!({ "urls": urls })).await;
    assert_eq!(records.len(), 60);
    for record in &records {
        assert_eq!(record["ok"], true, "{record}");
    }
    let after_first_job = dns_lookups(&app.api).await;
    assert!(
        (1..=fetchers).contains(&after_first_job),
        "60 URLs on one name took {after_first_job} lookups with {fetchers} fetchers"
    );

    let records = run_job(&app.trawl, &app.api, &json!({ "urls": urls })).await;
    assert!(records.iter().all(|r| r["ok"] == true));
    assert_eq!(
        dns_lookups(&app.api).await,
        after_first_job,
        "a second job on the same name is answered from the fetchers' caches"
    );
}

#[actix_rt::test]
async fn a_name_that_does_not_resolve_gives_each_url_a_dns_error() {
    let app = spawn_app(&[]);
    let host = format!("{}.example", "a".repeat(64));
    let urls: Vec<String> = (0..3).map(|i| format!("http://{host}/{i}")).collect();

    let records = run_job(&app.trawl, &app.api, &json!({ "urls": urls })).await;
    assert_eq!(records.len(), 3);
    for record in &records {
        let message = assert_error(record, "dns");
        assert!(
            message.contains(&host),
            "the message names the host: {message}"
        );
        assert_eq!(record["status"], Value::Null, "{record}");
    }
}
