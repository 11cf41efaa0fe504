//! Safety defaults: the SSRF guard blocks loopback unless allowed, and API keys guard
//! every `/v1` route (but not the health probes).

use trawl_testkit::{error_kind, job_id, json, temp_dir, Api, TargetServer, Trawl, Value};

use crate::helpers::{spawn_app, spawn_app_with_exact_env, BIN, SHORT};

#[actix_rt::test]
async fn by_default_loopback_targets_are_blocked_and_the_target_sees_no_connection() {
    let app = spawn_app_with_exact_env(&[]);
    let port = app.target.port();
    let urls = [
        app.target.url("/json/1"),
        app.target.url("/redirect/2"),
        format!("http://localhost:{port}/json/3"),
        // Other spellings of loopback that a naive check misses.
        format!("http://0.0.0.0:{port}/json/4"),
        format!("http://2130706433:{port}/json/5"),
        format!("http://[::ffff:127.0.0.1]:{port}/json/6"),
    ];
    let id = job_id(&app.api.submit_ok(&json!({ "urls": urls })).await);
    let job = app.api.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["failed"], urls.len(), "{job}");

    for record in app.api.ndjson(&id).await {
        assert_eq!(error_kind(&record), Some("blocked"), "{record}");
        assert_eq!(record["ok"], false, "{record}");
        assert_eq!(record["status"], Value::Null, "no response: {record}");
    }
    assert_eq!(app.target.hits(), 0, "no request reached the target");
    assert_eq!(
        app.target.connections(),
        0,
        "no connection reached the target"
    );
}

#[actix_rt::test]
async fn allow_addresses_lets_exactly_that_loopback_address_through() {
    // The target exists before the service, to name its port in the allow list.
    let target = TargetServer::start();
    let dir = temp_dir();
    let allow = target.addr();
    let trawl = Trawl::start(
        BIN,
        dir.path(),
        &[("TRAWL__FETCHER__ALLOW_ADDRESSES", allow.as_str())],
    );
    let api = trawl.api();
    let urls = [
        target.url("/json/1"),
        "http://127.0.0.1:1/json/2".to_owned(),
    ];
    let id = job_id(&api.submit_ok(&json!({ "urls": urls })).await);
    api.wait_until_finished(&id, SHORT).await;
    let records = api.ndjson(&id).await;
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0]["ok"], true,
        "the allowed address is fetched: {}",
        records[0]
    );
    assert_eq!(records[0]["json"]["n"], 1, "{}", records[0]);
    assert_eq!(
        error_kind(&records[1]),
        Some("blocked"),
        "another port of loopback stays blocked: {}",
        records[1]
    );
    assert_eq!(target.hits(), 1);
}

#[actix_rt::test]
async fn with_api_keys_v1_needs_a_bearer_key_and_health_probes_do_not() {
    let app = spawn_app(&[("TRAWL__API__API_KEYS", "k1,k2")]);
    let anonymous = &app.api;

    for response in [
        anonymous.get("/v1/jobs").await,
        anonymous
            .submit(&json!({ "urls": [app.target.url("/json/1")] }))
            .await,
        anonymous
            .get("/v1/jobs/01900000-0000-7000-8000-000000000000")
            .await,
        anonymous.get("/v1/nope").await,
        Api::new(app.trawl.base_url())
            .with_key("wrong")
            .get("/v1/jobs")
            .await,
    ] {
        assert_eq!(response.status, 401, "{}", response.text());
        let challenge = response.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "WWW-Authenticate: {challenge:?}"
        );
        response.error_code();
    }
    // 401 is checked before anything else: even a malformed body.
    let malformed = anonymous
        .request(
            "POST",
            "/v1/jobs",
            &[],
            Some(("application/json", b"{".to_vec())),
        )
        .await;
    assert_eq!(malformed.status, 401, "{}", malformed.text());

    for key in ["k1", "k2"] {
        let api = Api::new(app.trawl.base_url()).with_key(key);
        let list = api.get("/v1/jobs").await;
        assert_eq!(list.status, 200, "key {key}: {}", list.text());
    }
    let k1 = Api::new(app.trawl.base_url()).with_key("k1");
    let id = job_id(
        &k1.submit_ok(&json!({ "urls": [app.target.url("/json/1")] }))
            .await,
    );
    let job = k1.wait_until_finished(&id, SHORT).await;
    assert_eq!(job["state"], "completed", "{job}");

    assert_eq!(
        anonymous.get("/healthz").await.status,
        200,
        "/healthz needs no key"
    );
    assert_eq!(
        anonymous.get("/readyz").await.status,
        200,
        "/readyz needs no key"
    );
}
