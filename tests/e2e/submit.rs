//! Submitting jobs: JSON and text/plain bodies, invalid URLs, refs and labels, the 202
//! answer, idempotency; and the records a mixed job produces.

use trawl_testkit::serde_json;
use trawl_testkit::{
    assert_job_keys, assert_one_record_per_seq, assert_record_keys, error_kind, is_rfc3339,
    is_sha256_hex, job_id, json, sha256_hex, TargetServer, Value,
};

use crate::helpers::{spawn_app, SHORT};

#[actix_rt::test]
async fn a_mixed_job_records_json_html_statuses_slow_and_redirects_per_the_contract() {
    let app = spawn_app(&[]);
    let t = &app.target;
    let urls = [
        t.url("/json/1"),
        t.url("/html/2"),
        t.url("/status/404"),
        t.url("/status/500"),
        t.url("/slow/300/5"),
        t.url("/redirect/6"),
    ];
    let accepted = app.api.submit_ok(&json!({ "urls": urls })).await;
    let id = job_id(&accepted);
    assert_eq!(accepted["total"], 6, "{accepted}");

    let job = app.api.wait_until_finished(&id, SHORT).await;
    assert_job_keys(&job);
    assert_eq!(job["id"], id.as_str());
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["total"], 6, "{job}");
    assert_eq!(job["done"], 6, "{job}");
    assert_eq!(
        job["succeeded"], 4,
        "json, html, slow and redirect are 2xx: {job}"
    );
    assert_eq!(
        job["failed"], 2,
        "404 and 500 are results with ok false: {job}"
    );
    for key in ["created_at", "started_at", "finished_at"] {
        assert!(
            is_rfc3339(job[key].as_str().unwrap_or_default()),
            "{key} in {job}"
        );
    }

    let records = app.api.ndjson(&id).await;
    let by_seq = assert_one_record_per_seq(&records, 6);
    for (seq, record) in &by_seq {
        assert_record_keys(record);
        assert_eq!(record["job_id"], id.as_str(), "{record}");
        assert_eq!(
            record["url"],
            urls[*seq as usize].as_str(),
            "url is as submitted: {record}"
        );
        assert_eq!(record["ref"], Value::Null, "{record}");
        assert!(
            record["attempts"].as_u64().is_some_and(|a| a >= 1),
            "attempts >= 1: {record}"
        );
        assert!(
            record["elapsed_ms"].as_u64().is_some(),
            "elapsed_ms: {record}"
        );
        assert!(
            is_rfc3339(record["fetched_at"].as_str().unwrap_or_default()),
            "{record}"
        );
        assert!(record["content_type"].is_string(), "content_type: {record}");
        assert!(record["bytes"].as_u64().is_some(), "bytes: {record}");
        assert!(
            is_sha256_hex(record["sha256"].as_str().unwrap_or_default()),
            "sha256: {record}"
        );
        assert!(record["notes"].is_array(), "notes is a list: {record}");
        assert!(
            record["extract"].is_object(),
            "extract is an object: {record}"
        );
        for part in ["text", "headers", "body"] {
            assert_eq!(
                record[part],
                Value::Null,
                "`{part}` was not requested: {record}"
            );
        }
        let status = record["status"].as_u64().expect("a response arrived");
        assert_eq!(
            record["ok"],
            (200..300).contains(&status),
            "ok means 2xx: {record}"
        );
        assert_eq!(
            record["error"],
            Value::Null,
            "every URL got a response: {record}"
        );
    }

    // JSON: parsed object, exact bytes and hash of the body the target sent.
    let r = &by_seq[&0];
    let body = TargetServer::json_body(1);
    assert_eq!(r["status"], 200);
    assert_eq!(r["final_url"], t.url("/json/1").as_str());
    assert_eq!(
        r["json"],
        serde_json::from_str::<Value>(&body).unwrap(),
        "{r}"
    );
    assert_eq!(r["html"], Value::Null, "{r}");
    assert!(
        r["content_type"]
            .as_str()
            .unwrap()
            .starts_with("application/json"),
        "{r}"
    );
    assert_eq!(r["bytes"], body.len(), "{r}");
    assert_eq!(r["sha256"], sha256_hex(body.as_bytes()).as_str(), "{r}");

    // HTML: title, description, lang, and every link absolute.
    let r = &by_seq[&1];
    assert_eq!(r["status"], 200);
    assert_eq!(r["json"], Value::Null, "{r}");
    assert!(
        r["content_type"].as_str().unwrap().starts_with("text/html"),
        "{r}"
    );
    let html = &r["html"];
    assert_eq!(html["title"], "Page 2 title", "{r}");
    assert_eq!(html["description"], "Description of page 2", "{r}");
    assert_eq!(html["lang"], "en", "{r}");
    let links: Vec<&str> = html["links"]
        .as_array()
        .unwrap_or_else(|| panic!("links are requested by default: {r}"))
        .iter()
        .map(|l| l.as_str().expect("a link is a string"))
        .collect();
    for link in &links {
        assert!(
            link.starts_with("http://") || link.starts_with("https://"),
            "absolute: {link}"
        );
    }
    for expected in [
        t.url("/json/2"),
        t.url("/html/page-2.html"),
        "https://example.com/abs/2".into(),
    ] {
        assert!(
            links.contains(&expected.as_str()),
            "{expected} in {links:?}"
        );
    }
    let body = TargetServer::html_body(2);
    assert_eq!(r["bytes"], body.len(), "{r}");
    assert_eq!(r["sha256"], sha256_hex(body.as_bytes()).as_str(), "{r}");

    // 404 and 500 are results, not errors.
    for (seq, code) in [(2u64, 404u16), (3, 500)] {
        let r = &by_seq[&seq];
        assert_eq!(r["status"], code, "{r}");
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["error"], Value::Null, "{r}");
        let body = TargetServer::status_body(code);
        assert_eq!(r["bytes"], body.len(), "{r}");
        assert_eq!(r["sha256"], sha256_hex(body.as_bytes()).as_str(), "{r}");
    }

    // Slow: elapsed_ms covers the wait.
    let r = &by_seq[&4];
    assert_eq!(r["status"], 200);
    assert_eq!(r["json"]["n"], 5, "{r}");
    assert!(
        r["elapsed_ms"].as_u64().unwrap() >= 290,
        "elapsed_ms covers 300 ms: {r}"
    );

    // Redirect: followed, hop listed, final_url is where it ended.
    let r = &by_seq[&5];
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["final_url"], t.url("/json/6").as_str(), "{r}");
    assert_eq!(r["json"]["n"], 6, "{r}");
    assert_eq!(
        r["redirects"],
        json!([{ "url": t.url("/redirect/6"), "status": 302 }]),
        "{r}"
    );
}

#[actix_rt::test]
async fn text_plain_submission_takes_one_url_per_line_skipping_blanks_and_comments() {
    let app = spawn_app(&[]);
    let t = &app.target;
    let text = format!(
        "# my urls\n{}\n\n   \n  {}  \n# another comment\n{}\n",
        t.url("/json/1"),
        t.url("/json/2"),
        t.url("/html/3")
    );
    let response = app.api.submit_text(&text).await;
    assert_eq!(response.status, 202, "{}", response.text());
    let id = job_id(&response.json());
    let job = app.api.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(
        job["total"], 3,
        "comments and blank lines are skipped: {job}"
    );

    let records = app.api.ndjson(&id).await;
    let by_seq = assert_one_record_per_seq(&records, 3);
    assert_eq!(by_seq[&0]["url"], t.url("/json/1").as_str());
    assert_eq!(
        by_seq[&1]["url"],
        t.url("/json/2").as_str(),
        "lines are trimmed"
    );
    assert_eq!(by_seq[&2]["url"], t.url("/html/3").as_str());
    assert!(records.iter().all(|r| r["ok"] == true), "{records:?}");
}

#[actix_rt::test]
async fn invalid_urls_become_invalid_url_records_and_the_job_still_completes() {
    let app = spawn_app(&[]);
    let t = &app.target;
    let too_long = format!("{}?q={}", t.url("/json/9"), "a".repeat(9 * 1024));
    let urls = vec![
        t.url("/json/1"),
        "ftp://x".to_owned(),
        "not a url".to_owned(),
        too_long.clone(),
        t.url("/json/2"),
    ];
    let id = app.api.submit_urls(&urls).await;
    let job = app.api.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["total"], 5, "invalid entries count in total: {job}");
    assert_eq!(job["done"], 5, "{job}");
    assert_eq!(job["succeeded"], 2, "{job}");
    assert_eq!(job["failed"], 3, "{job}");

    let records = app.api.ndjson(&id).await;
    let by_seq = assert_one_record_per_seq(&records, 5);
    for seq in [1u64, 2, 3] {
        let r = &by_seq[&seq];
        assert_record_keys(r);
        assert_eq!(error_kind(r), Some("invalid_url"), "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{r}"
        );
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(
            r["status"],
            Value::Null,
            "no response for an invalid URL: {r}"
        );
        assert_eq!(
            r["url"],
            urls[seq as usize].as_str(),
            "url is the string as submitted"
        );
    }
    for seq in [0u64, 4] {
        assert_eq!(by_seq[&seq]["ok"], true, "{}", by_seq[&seq]);
    }
}

#[actix_rt::test]
async fn a_batch_of_only_invalid_urls_is_accepted_and_completes_at_once() {
    let app = spawn_app(&[]);
    let response = app
        .api
        .submit(&json!({ "urls": ["ftp://x", "not a url", "http://"] }))
        .await;
    assert_eq!(response.status, 202, "{}", response.text());
    let id = job_id(&response.json());
    let job = app
        .api
        .wait_until_finished(&id, std::time::Duration::from_secs(5))
        .await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(
        (job["total"].as_u64(), job["done"].as_u64()),
        (Some(3), Some(3)),
        "{job}"
    );
    assert_eq!(job["failed"], 3, "{job}");
    let records = app.api.ndjson(&id).await;
    assert_one_record_per_seq(&records, 3);
    assert!(
        records.iter().all(|r| error_kind(r) == Some("invalid_url")),
        "{records:?}"
    );
    assert_eq!(app.target.hits(), 0, "nothing was fetched");
}

#[actix_rt::test]
async fn refs_are_copied_into_records_and_the_202_carries_label_links_and_location() {
    let app = spawn_app(&[]);
    let t = &app.target;
    let body = json!({
        "label": "nightly-prices",
        "urls": [
            { "url": t.url("/json/1"), "ref": "sku-1" },
            t.url("/json/2"),
            { "url": t.url("/json/3"), "ref": "sku-3" },
            { "url": "not a url", "ref": "sku-bad" },
        ]
    });
    let response = app.api.submit(&body).await;
    assert_eq!(response.status, 202, "{}", response.text());
    let accepted = response.json();
    assert_job_keys(&accepted);
    let id = job_id(&accepted);
    assert_eq!(accepted["label"], "nightly-prices", "{accepted}");
    assert_eq!(accepted["total"], 4, "{accepted}");
    assert!(
        matches!(
            accepted["state"].as_str(),
            Some("queued" | "running" | "completed")
        ),
        "{accepted}"
    );
    let links = &accepted["links"];
    for (name, suffix) in [("self", ""), ("results", "/results"), ("events", "/events")] {
        let link = links[name]
            .as_str()
            .unwrap_or_else(|| panic!("links.{name} in {accepted}"));
        assert!(
            link.ends_with(&format!("/v1/jobs/{id}{suffix}")),
            "links.{name} = {link}"
        );
    }
    let location = response.header("location").expect("a Location header");
    assert!(
        location.ends_with(&format!("/v1/jobs/{id}")),
        "Location = {location}"
    );

    let job = app.api.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["label"], "nightly-prices", "{job}");
    let records = app.api.ndjson(&id).await;
    let by_seq = assert_one_record_per_seq(&records, 4);
    assert_eq!(by_seq[&0]["ref"], "sku-1");
    assert_eq!(by_seq[&1]["ref"], Value::Null);
    assert_eq!(by_seq[&2]["ref"], "sku-3");
    assert_eq!(
        by_seq[&3]["ref"], "sku-bad",
        "invalid entries keep their ref too"
    );
    assert_eq!(error_kind(&by_seq[&3]), Some("invalid_url"));
}

#[actix_rt::test]
async fn the_same_idempotency_key_replays_the_job_and_a_different_body_is_rejected() {
    let app = spawn_app(&[]);
    let body = json!({ "urls": [app.target.url("/json/1")], "label": "idem" });
    let key = [("Idempotency-Key", "order-42")];

    let first = app.api.submit_with(&body, &key).await;
    assert_eq!(first.status, 202, "{}", first.text());
    let id = job_id(&first.json());

    let again = app.api.submit_with(&body, &key).await;
    assert_eq!(again.status, 200, "a replay answers 200: {}", again.text());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        job_id(&again.json()),
        id,
        "the same key returns the same job"
    );

    let other = json!({ "urls": [app.target.url("/json/2")], "label": "idem" });
    app.api
        .submit_with(&other, &key)
        .await
        .assert_error(422, "idempotency_key_reused");

    let list = app.api.get("/v1/jobs").await.json();
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "one job only: {list}"
    );
}
