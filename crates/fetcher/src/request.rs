//! Fetching one task: attempts with deadlines and retries, redirects followed by hand
//! through the SSRF guard, and a body limit enforced while streaming.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::header::{self, HeaderMap};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use trawl_core::clock;
use trawl_core::fetch::{host_key, FetchOutcome, FetchTask, Hops, ResponseHead};
use trawl_core::job::ProcessPart;
use trawl_core::metrics::{Metrics, OutcomeLabel};
use trawl_core::record::{ErrorKind, RecordError, Redirect};
use trawl_core::settings::FetcherSettings;
use url::Url;

use crate::body;
use crate::eof;
use crate::guard::Guard;

/// What every request of one fetcher shares: its client, limits and guard.
pub(crate) struct RequestContext {
    /// The fetcher's own client (awc clients are !Send: one per fetcher thread).
    pub client: awc::Client,
    /// Server-wide limits.
    pub settings: FetcherSettings,
    /// The SSRF guard.
    pub guard: Guard,
    /// Attempt counters and durations.
    pub metrics: Arc<Metrics>,
}

/// The limits of one task: the server's, lowered by its job's options.
struct Limits {
    timeout: Duration,
    retries: u32,
}

impl Limits {
    fn of(task: &FetchTask, settings: &FetcherSettings) -> Limits {
        let options = &task.job.options;
        Limits {
            timeout: Duration::from_millis(
                options
                    .timeout_ms
                    .map_or(settings.timeout_ms, |t| t.min(settings.timeout_ms)),
            ),
            retries: options
                .retries
                .map_or(settings.retries, |r| r.min(settings.retries)),
        }
    }
}

/// What one attempt got before it ended, kept even when its deadline cut it off.
#[derive(Default)]
struct Attempt {
    response: Option<ResponseHead>,
    final_url: Option<Url>,
    redirects: Vec<Redirect>,
    retry_after: Option<Duration>,
}

/// How a dispatch of a task ended.
pub(crate) enum Fetched {
    /// The task is finished; its outcome goes on to the processor.
    Done(FetchOutcome),
    /// A redirect leads to another host: the task (its `target` now the next hop)
    /// goes back to the coordinator to wait for that host's turn.
    Hop(FetchTask),
    /// The attempt failed in a retryable way: dispatch the task again after `wait`
    /// (it waits in the coordinator, holding no fetch slot).
    Retry {
        /// The task, its `attempts` counting this attempt.
        task: FetchTask,
        /// The backoff, or the server's Retry-After.
        wait: Duration,
    },
}

/// One attempt at `task`, with its deadline, redirects and body limit. Returns how it
/// ended and, when the server answered 429 or 503 with a Retry-After, how long its host
/// should rest (capped by `fetcher.max_retry_after`).
pub(crate) async fn fetch(
    ctx: Rc<RequestContext>,
    mut task: FetchTask,
) -> (Fetched, Option<Duration>) {
    let limits = Limits::of(&task, &ctx.settings);
    let hops = match task.hops.take() {
        Some(hops) => *hops,
        None => {
            task.attempts += 1;
            Hops {
                origin: task.target.clone(),
                redirects: Vec::new(),
                spent: Duration::ZERO,
                fetched_at: clock::now(),
            }
        }
    };
    let started = Instant::now();
    let mut attempt = Attempt {
        redirects: hops.redirects,
        ..Attempt::default()
    };
    let budget = limits.timeout.saturating_sub(hops.spent);
    let result =
        match tokio::time::timeout(budget, run_attempt(&ctx, &task, &hops.origin, &mut attempt))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(error(
                ErrorKind::Timeout,
                format!(
                    "no complete response within {} ms",
                    limits.timeout.as_millis()
                ),
            )),
        };
    let elapsed = hops.spent + started.elapsed();
    let elapsed_ms = elapsed.as_millis() as u64;
    let result = match result {
        Ok(AttemptEnd::Hop(next)) => {
            task.host = host_key(&next).expect("the guard admitted the next hop's host");
            task.target = next;
            task.hops = Some(Box::new(Hops {
                origin: hops.origin,
                redirects: attempt.redirects,
                spent: elapsed,
                fetched_at: hops.fetched_at,
            }));
            return (Fetched::Hop(task), None);
        }
        Ok(AttemptEnd::Body(body)) => Ok(body),
        Err(error) => Err(error),
    };
    record_attempt(&ctx.metrics, &result, attempt.response.as_ref(), elapsed);
    let max_retry_after = Duration::from_millis(ctx.settings.max_retry_after);
    let status = attempt.response.as_ref().map(|r| r.status);
    let host_pause = attempt
        .retry_after
        .filter(|_| matches!(status, Some(429 | 503)))
        .map(|after| after.min(max_retry_after));
    if task.attempts <= limits.retries {
        if let Some(wait) = retry_wait(
            &ctx.settings,
            &result,
            status,
            attempt.retry_after,
            task.attempts,
        ) {
            ctx.metrics.retries.inc();
            // Every attempt starts over from the task's own URL.
            task.host = host_key(&hops.origin).expect("the task's URL has a host");
            task.target = hops.origin;
            return (Fetched::Retry { task, wait }, host_pause);
        }
    }
    let (body, error) = match result {
        Ok(body) => (body, None),
        Err(error) => (Bytes::new(), Some(error)),
    };
    let outcome = FetchOutcome {
        final_url: attempt.final_url.map(String::from),
        response: attempt.response,
        redirects: attempt.redirects,
        body,
        error,
        attempts: task.attempts,
        elapsed_ms,
        fetched_at: hops.fetched_at,
        task,
    };
    (Fetched::Done(outcome), host_pause)
}

fn record_attempt(
    metrics: &Metrics,
    result: &Result<Bytes, RecordError>,
    response: Option<&ResponseHead>,
    elapsed: Duration,
) {
    let error = result.as_ref().err().map(|e| e.kind);
    let ok = response.is_some_and(|r| (200..300).contains(&r.status));
    metrics
        .attempts
        .get_or_create(&OutcomeLabel::of(ok, error))
        .inc();
    metrics.attempt_seconds.observe(elapsed.as_secs_f64());
}

/// How long to wait before the next attempt, or `None` when the result is final.
/// Connect errors, timeouts, 429, 500, 502, 503 and 504 are retried, with exponential
/// backoff and full jitter, or after the server's Retry-After when it is short enough
/// (a longer one makes the status the result).
fn retry_wait(
    settings: &FetcherSettings,
    result: &Result<Bytes, RecordError>,
    status: Option<u16>,
    retry_after: Option<Duration>,
    attempts: u32,
) -> Option<Duration> {
    let retryable = match result {
        Err(e) => matches!(e.kind, ErrorKind::Connect | ErrorKind::Timeout),
        Ok(_) => matches!(status, Some(429 | 500 | 502 | 503 | 504)),
    };
    if !retryable {
        return None;
    }
    if let Some(after) = retry_after.filter(|_| result.is_ok()) {
        return (after.as_millis() as u64 <= settings.max_retry_after).then_some(after);
    }
    let ceiling = settings
        .backoff_base_ms
        .saturating_mul(1u64 << (attempts - 1).min(20))
        .min(settings.backoff_max_ms);
    Some(Duration::from_millis(fastrand::u64(0..=ceiling)))
}

/// How an attempt's run ended without an error.
enum AttemptEnd {
    /// The final response's decoded body.
    Body(Bytes),
    /// A redirect to another host: the next hop, not yet requested.
    Hop(Url),
}

/// One attempt from `task.target` (the task's URL, or the hop it had reached):
/// request, follow redirects on the same host, read the body. `origin` is the URL the
/// attempt started from, for the cross-origin rule on credentials.
async fn run_attempt(
    ctx: &RequestContext,
    task: &FetchTask,
    origin: &Url,
    attempt: &mut Attempt,
) -> Result<AttemptEnd, RecordError> {
    let settings = &ctx.settings;
    let options = &task.job.options;
    let wants_headers = options.wants(ProcessPart::Headers);
    let mut url = task.target.clone();
    loop {
        let addr = ctx.guard.resolve(&url, task.attempts).await?;
        let same_origin = url.origin() == origin.origin();
        // Bodies are decoded here, not by awc, so a compression bomb stops at the limit.
        let mut request = ctx
            .client
            .get(url.as_str())
            .address(addr)
            .no_decompress()
            .insert_header((header::ACCEPT_ENCODING, body::ACCEPT_ENCODING))
            .insert_header((
                header::USER_AGENT,
                options
                    .user_agent
                    .as_deref()
                    .unwrap_or(&settings.user_agent),
            ));
        for (name, value) in &options.headers {
            let credential =
                name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie");
            if same_origin || !credential {
                request = request.insert_header((name.as_str(), value.as_str()));
            }
        }
        let mut response = request.send().await.map_err(|e| send_error(e, settings))?;
        let status = response.status().as_u16();
        attempt.response = Some(head(status, response.headers(), wants_headers));
        attempt.final_url = Some(url.clone());
        attempt.retry_after = retry_after(response.headers());

        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok());
        if let (true, Some(location)) = (response.status().is_redirection(), location) {
            if settings.max_redirects > 0 {
                let hops = attempt.redirects.len() as u32;
                if hops == settings.max_redirects {
                    return Err(error(
                        ErrorKind::Redirect,
                        format!("more than {hops} redirects"),
                    ));
                }
                let next = url.join(location).map_err(|e| {
                    error(
                        ErrorKind::Redirect,
                        format!("redirect to an invalid location {location:?}: {e}"),
                    )
                })?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(error(
                        ErrorKind::Redirect,
                        format!("redirect to a non-http(s) URL {next}"),
                    ));
                }
                attempt.redirects.push(Redirect {
                    url: url.to_string(),
                    status,
                });
                if next == *origin || attempt.redirects.iter().any(|hop| hop.url == next.as_str()) {
                    return Err(error(
                        ErrorKind::Redirect,
                        format!("redirect loop back to {next}"),
                    ));
                }
                if host_key(&next) != Some(task.host.clone()) {
                    return Ok(AttemptEnd::Hop(next));
                }
                url = next;
                continue;
            }
        }
        let raw = read_body(&mut response, settings.max_body_bytes).await?;
        let encoding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok());
        return body::decode(encoding, raw, settings.max_body_bytes).map(AttemptEnd::Body);
    }
}

/// Reads the body as sent (possibly compressed), refusing it up front when Content-Length is above `limit` and
/// stopping the moment the bytes read pass it.
async fn read_body<S>(
    response: &mut awc::ClientResponse<S>,
    limit: u64,
) -> Result<Bytes, RecordError>
where
    S: futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let too_large = || {
        error(
            ErrorKind::BodyTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let chunked = response
        .headers()
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let (read, hit_end_of_file) = eof::watch(async {
        let mut body = BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit) as usize);
        while let Some(chunk) = response.next().await {
            let chunk = chunk
                .map_err(|e| error(ErrorKind::Protocol, format!("the body broke off: {e}")))?;
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
    .await;
    let body = read?;
    if chunked && hit_end_of_file {
        return Err(error(
            ErrorKind::Protocol,
            format!(
                "the connection closed after {} bytes, before the chunked body's last chunk",
                body.len()
            ),
        ));
    }
    // awc ends the body stream quietly when the connection closes early, so a body
    // shorter than its Content-Length is caught here (204 and 304 carry no body).
    let bodiless = matches!(response.status().as_u16(), 204 | 304);
    if let Some(declared) = declared.filter(|n| *n != body.len() as u64 && !bodiless) {
        return Err(error(
            ErrorKind::Protocol,
            format!(
                "the connection closed after {} of the {declared} bytes its Content-Length announced",
                body.len()
            ),
        ));
    }
    Ok(body.freeze())
}

/// The head of a response; every header is copied only when the job's records carry
/// them (the processor needs just the content type otherwise).
fn head(status: u16, headers: &HeaderMap, all_headers: bool) -> ResponseHead {
    ResponseHead {
        status,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers: if all_headers {
            headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A Retry-After in seconds or as an HTTP date (a date in the past means now).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A record's error of `kind`.
pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> RecordError {
    RecordError {
        kind,
        message: message.into(),
    }
}

/// Maps awc's send errors onto the contract's kinds.
fn send_error(e: SendRequestError, settings: &FetcherSettings) -> RecordError {
    match e {
        SendRequestError::Url(e) => error(ErrorKind::InvalidUrl, format!("invalid URL: {e}")),
        SendRequestError::Connect(ConnectError::Timeout) => error(
            ErrorKind::Connect,
            format!("no connection within {} ms", settings.connect_timeout_ms),
        ),
        SendRequestError::Connect(
            e @ (ConnectError::Resolver(_) | ConnectError::NoRecords | ConnectError::Unresolved),
        ) => error(ErrorKind::Dns, format!("cannot resolve the host: {e}")),
        SendRequestError::Connect(ConnectError::SslIsNotSupported) => {
            error(ErrorKind::Tls, "TLS is not supported by this build")
        }
        SendRequestError::Connect(ConnectError::Io(e))
            if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            error(ErrorKind::Tls, format!("TLS handshake failed: {e}"))
        }
        SendRequestError::Connect(e) => error(ErrorKind::Connect, format!("cannot connect: {e}")),
        SendRequestError::Timeout => error(
            ErrorKind::Timeout,
            format!("no response within {} ms", settings.timeout_ms),
        ),
        e => error(ErrorKind::Protocol, format!("the exchange failed: {e}")),
    }
}
