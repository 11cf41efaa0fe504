//! [`Api`]: a small awc client for Trawl's admin API, with the waits and reads tests
//! repeat (submit, poll a job until it finishes, follow cursors, read NDJSON and CSV).
//!
//! awc clients are `!Send`: use these helpers inside the test's actix runtime
//! (`#[actix_rt::test]`). Every wait has a deadline; nothing polls forever.

use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::Value;

use crate::process::Trawl;

/// How long one HTTP exchange may take; large NDJSON/CSV reads stay well under it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Largest response body read (the 10,000-record NDJSON is a few MiB).
const BODY_LIMIT: usize = 512 * 1024 * 1024;

/// How often job polls ask again.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// A whole HTTP response: status, headers and body, read into memory.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every header, names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the status and body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected a JSON body ({e}); status {}, body: {}",
                self.status,
                self.text()
            )
        })
    }

    /// Asserts the body is the contract's error shape,
    /// `{"error": {"code": "<snake_case>", "message": "<non-empty>"}}`, and returns the code.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let error = body
            .get("error")
            .unwrap_or_else(|| panic!("no `error` object in {body}"));
        let code = error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.code in {body}"));
        let message = error["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.message in {body}"));
        assert!(
            !code.is_empty()
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "error.code must be snake_case, got {code:?}"
        );
        assert!(
            !message.trim().is_empty(),
            "error.message must be a sentence, got {body}"
        );
        code.to_owned()
    }

    /// The error body's message (after checking the shape as [`Self::error_code`] does).
    pub fn error_message(&self) -> String {
        self.error_code();
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts the status and the error code of a contract error response.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status,
            status,
            "expected {status} {code}, body: {}",
            self.text()
        );
        assert_eq!(self.error_code(), code, "body: {}", self.text());
    }
}

/// A client of one Trawl service's admin API, optionally with a bearer key.
#[derive(Debug, Clone)]
pub struct Api {
    base_url: String,
    bearer: Option<String>,
}

impl Trawl {
    /// A client of this service's API, without a key.
    pub fn api(&self) -> Api {
        Api::new(self.base_url())
    }
}

impl Api {
    /// A client of the API at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> Api {
        Api {
            base_url: base_url.trim_end_matches('/').to_owned(),
            bearer: None,
        }
    }

    /// The same client, sending `Authorization: Bearer <key>` with every request.
    pub fn with_key(mut self, key: &str) -> Api {
        self.bearer = Some(key.to_owned());
        self
    }

    /// The absolute URL of `path_or_url` (a path starting with `/`, or already absolute).
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{}", self.base_url, path_or_url)
        }
    }

    /// Sends one request: `method` (`"GET"`, `"PUT"`...), a path or absolute URL, extra
    /// headers, and an optional `(content type, body)`. Panics when no response comes.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Response {
        let client = awc::Client::builder().timeout(REQUEST_TIMEOUT).finish();
        let method = Method::from_bytes(method.as_bytes()).expect("a valid HTTP method");
        let url = self.url(path);
        let mut request = client.request(method.clone(), &url);
        if let Some(key) = &self.bearer {
            request = request.insert_header(("Authorization", format!("Bearer {key}")));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        let sent = match body {
            Some((content_type, bytes)) => {
                request
                    .insert_header(("Content-Type", content_type))
                    .send_body(bytes)
                    .await
            }
            None => request.send().await,
        };
        let mut response =
            sent.unwrap_or_else(|e| panic!("{method} {url}: no response from trawl: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body()
            .limit(BODY_LIMIT)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: reading the body failed: {e}"))
            .to_vec();
        Response {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None).await
    }

    /// `GET path` with extra headers (`Accept`, ...).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers, None).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[], None).await
    }

    /// `POST /v1/jobs` with `body` as JSON.
    pub async fn submit(&self, body: &Value) -> Response {
        self.submit_with(body, &[]).await
    }

    /// `POST /v1/jobs` with `body` as JSON and extra headers (`Idempotency-Key`, ...).
    pub async fn submit_with(&self, body: &Value, headers: &[(&str, &str)]) -> Response {
        let bytes = serde_json::to_vec(body).expect("serialize the submission");
        self.request(
            "POST",
            "/v1/jobs",
            headers,
            Some(("application/json", bytes)),
        )
        .await
    }

    /// `POST /v1/jobs` with a `text/plain` body, one URL per line.
    pub async fn submit_text(&self, text: &str) -> Response {
        let bytes = text.as_bytes().to_vec();
        self.request("POST", "/v1/jobs", &[], Some(("text/plain", bytes)))
            .await
    }

    /// Submits `body`, asserts `202 Accepted`, and returns the job object.
    pub async fn submit_ok(&self, body: &Value) -> Value {
        let response = self.submit(body).await;
        assert_eq!(
            response.status,
            202,
            "submission not accepted: {}",
            response.text()
        );
        response.json()
    }

    /// Submits `urls` as a plain JSON batch and returns the new job's id.
    pub async fn submit_urls(&self, urls: &[String]) -> String {
        let job = self.submit_ok(&serde_json::json!({ "urls": urls })).await;
        job_id(&job)
    }

    /// `GET /v1/jobs/{id}`, asserting 200, as JSON.
    pub async fn job(&self, id: &str) -> Value {
        let response = self.get(&format!("/v1/jobs/{id}")).await;
        assert_eq!(response.status, 200, "GET job {id}: {}", response.text());
        response.json()
    }

    /// Polls the job until `done(job)` holds; panics with the last job object when
    /// `timeout` passes first.
    pub async fn wait_until(
        &self,
        id: &str,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(id).await;
            if done(&job) {
                return job;
            }
            if Instant::now() > deadline {
                panic!("job {id}: still not {what} after {timeout:?}; last: {job}");
            }
            actix_rt::time::sleep(POLL_EVERY).await;
        }
    }

    /// Polls the job until it is `completed`, `cancelled` or `failed`, and returns it.
    pub async fn wait_until_finished(&self, id: &str, timeout: Duration) -> Value {
        self.wait_until(id, timeout, "finished", is_finished).await
    }

    /// Every record of the job as NDJSON (`?format=ndjson`), asserting the content type.
    pub async fn ndjson(&self, id: &str) -> Vec<Value> {
        let response = self
            .get(&format!("/v1/jobs/{id}/results?format=ndjson"))
            .await;
        assert_eq!(response.status, 200, "NDJSON of {id}: {}", response.text());
        let content_type = response.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/x-ndjson"),
            "NDJSON content type, got {content_type:?}"
        );
        parse_ndjson(&response.text())
    }

    /// Follows the JSON pages of `/v1/jobs/{id}/results?{query}` (query without `cursor`)
    /// until `next` is null, and returns every item in order. Each page must be 200 and
    /// hold at most `limit` items when `query` sets one. While the job runs, an empty page
    /// with a `next` is retried after a pause; `timeout` bounds the whole walk.
    pub async fn all_result_pages(&self, id: &str, query: &str, timeout: Duration) -> Vec<Value> {
        self.follow_pages(&format!("/v1/jobs/{id}/results"), query, timeout)
            .await
    }

    /// Follows `{path}?{query}` pages of `{"items", "next"}` until `next` is null; see
    /// [`Self::all_result_pages`].
    pub async fn follow_pages(&self, path: &str, query: &str, timeout: Duration) -> Vec<Value> {
        let limit: Option<usize> = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("limit="))
            .and_then(|l| l.parse().ok());
        let deadline = Instant::now() + timeout;
        let mut items = Vec::new();
        let mut next_url = join_query(path, query);
        loop {
            let response = self.get(&next_url).await;
            assert_eq!(response.status, 200, "GET {next_url}: {}", response.text());
            let page = response.json();
            let page_items = page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("no items array in {page}"));
            if let Some(limit) = limit {
                assert!(
                    page_items.len() <= limit,
                    "a page holds at most limit={limit} items"
                );
            }
            items.extend(page_items.iter().cloned());
            match &page["next"] {
                Value::Null => return items,
                Value::String(next) => {
                    next_url = next_page_url(path, query, next);
                    if page_items.is_empty() {
                        actix_rt::time::sleep(POLL_EVERY).await;
                    }
                }
                other => panic!("`next` must be a string or null, got {other}"),
            }
            if Instant::now() > deadline {
                panic!("paging {path}?{query} did not reach next=null within {timeout:?}");
            }
        }
    }
}

/// True when the job object's state is `completed`, `cancelled` or `failed`.
pub fn is_finished(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("completed" | "cancelled" | "failed")
    )
}

/// The `id` of a job object.
#[track_caller]
pub fn job_id(job: &Value) -> String {
    job["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a job object has a string id: {job}"))
        .to_owned()
}

/// One JSON value per non-empty line; panics naming the line that is not JSON.
pub fn parse_ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("NDJSON line {i} is not JSON ({e}): {line}"))
        })
        .collect()
}

/// `path?query` (or `path` when `query` is empty).
fn join_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The URL of the page after this one. The contract calls `next` an opaque cursor; a
/// server that hands out a link instead (`/v1/...` or absolute) is followed as is.
fn next_page_url(path: &str, query: &str, next: &str) -> String {
    if next.starts_with('/') || next.starts_with("http://") || next.starts_with("https://") {
        return next.to_owned();
    }
    let cursor = percent_encode(next);
    join_query(
        path,
        &if query.is_empty() {
            format!("cursor={cursor}")
        } else {
            format!("{query}&cursor={cursor}")
        },
    )
}

/// Percent-encodes everything outside RFC 3986's unreserved set.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
