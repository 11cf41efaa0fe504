//! Processing over real loopback pages: titles in every charset, absolute links,
//! extraction rules of every type on HTML and JSON, notes instead of failures for broken
//! bodies, and invalid rules rejected at submission.

use std::collections::BTreeMap;

use trawl_testkit::{json, Value};

use crate::helpers::{spawn_app, SHORT};

const FIXTURES: [&str; 8] = [
    "latin1", "sjis", "utf16", "broken", "links", "data", "deep", "invalid",
];

#[actix_rt::test]
async fn a_job_with_process_and_extract_reads_every_charset_link_and_rule() {
    let app = spawn_app(&[]);
    let urls: Vec<String> = FIXTURES
        .iter()
        .map(|name| app.target.url(&format!("/fixture/{name}")))
        .collect();
    let job = app
        .api
        .submit_ok(&json!({
            "urls": urls,
            "options": {
                "process": ["json", "html", "links"],
                "extract": {
                    "heading": {"css": "h1"},
                    "price": {"css": "div.price", "attr": "data-value"},
                    "tags": {"css": "ul > li.tag", "all": true},
                    "user_id": {"json": "/data/user/id"},
                    "slash": {"json": "/a~1b"},
                    "sku": {"regex": "SKU-(\\d+)"},
                    "skus": {"regex": "SKU-\\d+", "all": true}
                }
            }
        }))
        .await;
    let id = trawl_testkit::job_id(&job);
    let done = app.api.wait_until_finished(&id, SHORT).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(
        done["failed"], 0,
        "broken bodies are notes, not failures: {done}"
    );

    let records = app.api.all_result_pages(&id, "", SHORT).await;
    assert_eq!(records.len(), FIXTURES.len());
    let by_name: BTreeMap<&str, &Value> = FIXTURES.iter().copied().zip(records.iter()).collect();
    for (name, record) in &by_name {
        assert_eq!(record["ok"], true, "{name}: {record}");
        assert_eq!(record["status"], 200, "{name}: {record}");
        assert_eq!(record["error"], Value::Null, "{name}: {record}");
    }
    let origin = app.target.url("");
    let title = |name: &str| by_name[name]["html"]["title"].clone();
    let extract = |name: &str, rule: &str| by_name[name]["extract"][rule].clone();
    let notes = |name: &str| -> Vec<String> {
        by_name[name]["notes"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: notes is a list"))
            .iter()
            .map(|n| n["code"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    // Every charset: by header, by <meta>, by BOM.
    assert_eq!(title("latin1"), "Café crème");
    assert_eq!(extract("latin1", "heading"), "Crème brûlée");
    assert_eq!(title("sjis"), "日本語のページ");
    assert_eq!(extract("sjis", "heading"), "こんにちは");
    assert_eq!(title("utf16"), "Grüße");
    assert_eq!(extract("utf16", "heading"), "Straße");
    assert_eq!(
        by_name["utf16"]["html"]["links"],
        json!([format!("{origin}/%C3%BC")])
    );
    for name in ["latin1", "sjis", "utf16", "links", "data"] {
        assert!(notes(name).is_empty(), "{name}: {}", by_name[name]);
    }

    // Links: absolute, against <base href>, without fragments, http(s) only, deduplicated.
    let links = &by_name["links"]["html"];
    assert_eq!(links["title"], "Links & more");
    assert_eq!(links["description"], "A page of links");
    assert_eq!(links["lang"], "en-GB");
    assert_eq!(
        links["canonical"],
        format!("{origin}/base/canonical?x=1&y=2")
    );
    assert_eq!(
        links["links"],
        json!([
            format!("{origin}/base/rel/one"),
            format!("{origin}/abs"),
            "https://other.example/x",
            format!("{origin}/up?a=1&b=2"),
            "http://proto.example/area",
        ])
    );

    // Rules of every type on HTML; a rule of the wrong kind is null.
    let html_rules = &by_name["links"]["extract"];
    assert_eq!(
        html_rules,
        &json!({
            "heading": "Hello world", "price": "12.50", "tags": ["a", "b c"],
            "user_id": null, "slash": null, "sku": "123", "skus": ["SKU-123", "SKU-456"]
        })
    );
    // ... and on JSON.
    assert_eq!(
        by_name["data"]["extract"],
        json!({
            "heading": null, "price": null, "tags": null,
            "user_id": 42, "slash": true, "sku": "77", "skus": ["SKU-77"]
        })
    );
    assert_eq!(by_name["data"]["json"]["data"]["user"]["name"], "Ada");
    assert_eq!(by_name["data"]["html"], Value::Null);

    // Broken HTML still gives a summary, links and rule values.
    assert_eq!(title("broken"), "Broken <b>page");
    let broken_links = by_name["broken"]["html"]["links"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        broken_links.contains(&json!(format!("{origin}/a"))),
        "{broken_links:?}"
    );
    assert!(
        broken_links.contains(&json!(format!("{origin}/b"))),
        "{broken_links:?}"
    );
    assert_eq!(extract("broken", "heading"), "Still here");

    // Deep and invalid JSON: no tree, a note, the record still ok.
    for (name, code) in [("deep", "json_too_deep"), ("invalid", "invalid_json")] {
        assert_eq!(by_name[name]["json"], Value::Null, "{name}");
        assert_eq!(notes(name), [code], "{name}: {}", by_name[name]);
        assert_eq!(extract(name, "user_id"), Value::Null, "{name}");
    }
}

#[actix_rt::test]
async fn invalid_extraction_rules_are_rejected_with_the_rule_named() {
    let app = spawn_app(&[]);
    let url = app.target.url("/fixture/links");
    // Nested deep enough to overflow the selector parser's stack, which used to abort
    // the whole service; the requests after it show that it lives on.
    let deep = format!("{}a{}", ":not(".repeat(20_000), ")".repeat(20_000));
    for (rule, body, names) in [
        ("deep_selector", json!({ "css": deep }), "nests parentheses"),
        ("bad_selector", json!({"css": "a["}), "bad_selector"),
        ("bad_pointer", json!({"json": "data/user"}), "bad_pointer"),
        ("bad_regex", json!({"regex": "SKU-("}), "bad_regex"),
        ("bad_type", json!({"xpath": "//a"}), "bad_type"),
    ] {
        let response = app
            .api
            .submit(&json!({"urls": [url], "options": {"extract": {rule: body}}}))
            .await;
        response.assert_error(400, "invalid_option");
        let message = response.error_message();
        assert!(message.contains(names), "{rule}: {message}");
    }
    assert_eq!(app.target.hits(), 0, "a rejected job fetches nothing");
}

#[actix_rt::test]
async fn headers_and_body_are_in_the_record_only_when_asked_for() {
    let app = spawn_app(&[]);
    let url = app.target.url("/json/7");
    let asked = app
        .api
        .submit_ok(&json!({"urls": [url], "options": {"process": ["headers", "body"]}}))
        .await;
    let plain = app.api.submit_ok(&json!({"urls": [url]})).await;
    for job in [&asked, &plain] {
        app.api
            .wait_until_finished(job["id"].as_str().unwrap(), SHORT)
            .await;
    }
    let asked = app
        .api
        .ndjson(asked["id"].as_str().unwrap())
        .await
        .remove(0);
    let headers = asked["headers"].as_object().expect("headers asked for");
    assert!(
        headers["content-type"]
            .as_str()
            .unwrap()
            .starts_with("application/json"),
        "{asked}"
    );
    assert_eq!(
        asked["body"],
        trawl_testkit::TargetServer::json_body(7),
        "{asked}"
    );
    assert_eq!(
        asked["json"],
        Value::Null,
        "json was not asked for: {asked}"
    );

    let plain = app
        .api
        .ndjson(plain["id"].as_str().unwrap())
        .await
        .remove(0);
    assert_eq!(plain["headers"], Value::Null, "{plain}");
    assert_eq!(plain["body"], Value::Null, "{plain}");
}
