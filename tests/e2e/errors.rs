//! Every API error answers the contract's JSON body `{"error": {"code", "message"}}`
//! with its status; none creates a job.

use trawl_testkit::{json, Api};

use crate::helpers::spawn_app;

const UNKNOWN_ID: &str = "01900000-0000-7000-8000-000000000000";

/// Asserts no job was created by the rejected requests.
async fn assert_no_job(api: &Api) {
    let list = api.get("/v1/jobs").await.json();
    assert_eq!(
        list["items"],
        json!([]),
        "a rejected submission creates no job: {list}"
    );
}

#[actix_rt::test]
async fn malformed_json_is_400_invalid_json() {
    let app = spawn_app(&[]);
    for body in [r#"{"urls": ["#, "not json at all", ""] {
        let response = app
            .api
            .request(
                "POST",
                "/v1/jobs",
                &[],
                Some(("application/json", body.as_bytes().to_vec())),
            )
            .await;
        response.assert_error(400, "invalid_json");
    }
    assert_no_job(&app.api).await;
}

#[actix_rt::test]
async fn a_json_body_of_the_wrong_shape_is_400() {
    let app = spawn_app(&[]);
    for body in [
        json!({ "urls": "http://example.com/" }),
        json!([1, 2]),
        json!({ "urls": [5] }),
    ] {
        let response = app.api.submit(&body).await;
        assert_eq!(response.status, 400, "{body} → {}", response.text());
        response.error_code();
    }
    assert_no_job(&app.api).await;
}

#[actix_rt::test]
async fn an_empty_batch_is_400_empty_batch() {
    let app = spawn_app(&[]);
    app.api
        .submit(&json!({ "urls": [] }))
        .await
        .assert_error(400, "empty_batch");
    app.api
        .submit_text("# only a comment\n\n")
        .await
        .assert_error(400, "empty_batch");
    assert_no_job(&app.api).await;
}

#[actix_rt::test]
async fn a_batch_above_max_batch_urls_is_413_batch_too_large() {
    let app = spawn_app(&[("TRAWL__API__MAX_BATCH_URLS", "5")]);
    let urls: Vec<String> = (0..6)
        .map(|n| app.target.url(&format!("/json/{n}")))
        .collect();
    app.api
        .submit(&json!({ "urls": urls }))
        .await
        .assert_error(413, "batch_too_large");
    app.api
        .submit_text(&urls.join("\n"))
        .await
        .assert_error(413, "batch_too_large");
    let five = app.api.submit(&json!({ "urls": urls[..5] })).await;
    assert_eq!(
        five.status,
        202,
        "exactly max_batch_urls is accepted: {}",
        five.text()
    );
    let list = app.api.get("/v1/jobs").await.json();
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "only the 5-URL job: {list}"
    );
}

#[actix_rt::test]
async fn a_body_above_max_body_bytes_is_413_body_too_large() {
    let app = spawn_app(&[("TRAWL__API__MAX_BODY_BYTES", "4096")]);
    let urls: Vec<String> = (0..300)
        .map(|n| app.target.url(&format!("/json/{n}")))
        .collect();
    let body = json!({ "urls": urls });
    assert!(body.to_string().len() > 8192);
    app.api
        .submit(&body)
        .await
        .assert_error(413, "body_too_large");
    app.api
        .submit_text(&urls.join("\n"))
        .await
        .assert_error(413, "body_too_large");
    assert_no_job(&app.api).await;
}

#[actix_rt::test]
async fn a_form_body_as_curl_d_sends_is_415_naming_json_and_text_plain() {
    let app = spawn_app(&[]);
    let response = app
        .api
        .request(
            "POST",
            "/v1/jobs",
            &[],
            Some((
                "application/x-www-form-urlencoded",
                b"urls=http://example.com/".to_vec(),
            )),
        )
        .await;
    response.assert_error(415, "unsupported_media_type");
    let message = response.error_message();
    assert!(
        message.to_lowercase().contains("json"),
        "names JSON: {message}"
    );
    assert!(
        message.contains("text/plain"),
        "names text/plain: {message}"
    );
    assert_no_job(&app.api).await;
}

#[actix_rt::test]
async fn an_unknown_job_is_404_job_not_found() {
    let app = spawn_app(&[]);
    for id in [UNKNOWN_ID, "not-a-job-id"] {
        app.api
            .get(&format!("/v1/jobs/{id}"))
            .await
            .assert_error(404, "job_not_found");
        app.api
            .get(&format!("/v1/jobs/{id}/results"))
            .await
            .assert_error(404, "job_not_found");
        app.api
            .delete(&format!("/v1/jobs/{id}"))
            .await
            .assert_error(404, "job_not_found");
    }
}

#[actix_rt::test]
async fn an_unknown_route_is_404_not_found_in_json() {
    let app = spawn_app(&[]);
    for path in ["/v1/nope", "/nope", "/v1/jobs/x/y/z", "/v2/jobs"] {
        app.api.get(path).await.assert_error(404, "not_found");
    }
}

#[actix_rt::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app(&[]);
    let response = app
        .api
        .request(
            "PUT",
            "/v1/jobs",
            &[],
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
    assert_method_not_allowed(&response, &["GET", "POST"]);

    let response = app
        .api
        .request("POST", &format!("/v1/jobs/{UNKNOWN_ID}"), &[], None)
        .await;
    assert_method_not_allowed(&response, &["GET", "DELETE"]);
}

#[actix_rt::test]
async fn an_unknown_option_is_400_invalid_option_naming_it() {
    let app = spawn_app(&[]);
    let body = json!({ "urls": [app.target.url("/json/1")], "options": { "bogus_option": 1 } });
    let response = app.api.submit(&body).await;
    response.assert_error(400, "invalid_option");
    assert!(
        response.error_message().contains("bogus_option"),
        "{}",
        response.text()
    );
    assert_no_job(&app.api).await;
}

#[actix_rt::test]
async fn a_forbidden_header_option_is_400() {
    let app = spawn_app(&[]);
    for header in ["Host", "content-length", "Connection", "Transfer-Encoding"] {
        let body = json!({
            "urls": [app.target.url("/json/1")],
            "options": { "headers": { header: "x" } }
        });
        let response = app.api.submit(&body).await;
        assert_eq!(response.status, 400, "header {header}: {}", response.text());
        response.error_code();
    }
    assert_no_job(&app.api).await;
    assert_eq!(app.target.hits(), 0);
}

/// A 405 in the contract's JSON form whose `Allow` header names `methods`.
fn assert_method_not_allowed(response: &trawl_testkit::Response, methods: &[&str]) {
    assert_eq!(response.status, 405, "{}", response.text());
    let allow = response
        .header("allow")
        .expect("an Allow header")
        .to_uppercase();
    for method in methods {
        assert!(allow.contains(method), "Allow: {allow}");
    }
    response.error_code();
}
