//! Politeness per host: `fetcher.per_host_concurrency` and `fetcher.per_host_rps` (and
//! the lower per-job options), a busy host never stalls the others, a redirect hop to
//! another host waits for that host's turn, and a fetcher's queued tasks never push it
//! past `fetcher.concurrency`.
//!
//! The target here is a small threaded HTTP server of this module's own that records,
//! for every request, when it arrived and how many were in flight at once.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trawl_testkit::{json, Value};

use crate::helpers::{spawn_app, SHORT};

/// What the server saw.
#[derive(Default)]
struct Seen {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    arrivals: Mutex<Vec<Instant>>,
}

/// A loopback server: `/sleep/{ms}/{n}` answers `{}` after `ms` milliseconds;
/// `/to/{port}/{rest}` redirects to `http://127.0.0.1:{port}/{rest}`.
struct CountingServer {
    port: u16,
    seen: Arc<Seen>,
}

impl CountingServer {
    fn start() -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = shared.clone();
                std::thread::spawn(move || serve(stream, &seen));
            }
        });
        CountingServer { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn peak(&self) -> usize {
        self.seen.peak.load(Ordering::SeqCst)
    }

    fn arrivals(&self) -> Vec<Instant> {
        let mut arrivals = self.seen.arrivals.lock().unwrap().clone();
        arrivals.sort();
        arrivals
    }
}

/// Serves keep-alive requests on one connection until the client closes it.
fn serve(stream: TcpStream, seen: &Seen) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        let now_in_flight = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.peak.fetch_max(now_in_flight, Ordering::SeqCst);
        seen.arrivals.lock().unwrap().push(Instant::now());
        let parts: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
        let response = match parts.as_slice() {
            ["to", port, rest] => format!(
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/{rest}\r\nContent-Length: 0\r\n\r\n"
            ),
            ["sleep", ms, _] => {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_owned()
            }
            _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
        };
        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn sleeping_urls(server: &CountingServer, n: usize, ms: u64) -> Vec<String> {
    (0..n)
        .map(|i| server.url(&format!("/sleep/{ms}/{i}")))
        .collect()
}

fn all_ok(records: &[Value]) -> bool {
    records.iter().all(|r| r["ok"] == true)
}

/// Runs `n` URLs that answer after `ms` on a service with `env`, checks every record is
/// ok, and returns the most requests the server saw in flight at once.
async fn peak_in_flight(env: &[(&str, &str)], n: usize, ms: u64) -> usize {
    let app = spawn_app(env);
    let server = CountingServer::start();
    let id = app.api.submit_urls(&sleeping_urls(&server, n, ms)).await;
    app.api.wait_until_finished(&id, SHORT).await;
    assert!(all_ok(&app.api.ndjson(&id).await));
    server.peak()
}

#[actix_rt::test]
async fn per_host_concurrency_caps_the_requests_in_flight_to_one_host() {
    let peak = peak_in_flight(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "3")], 24, 100).await;
    assert_eq!(peak, 3, "3 in flight at most, and the limit is used");
}

#[actix_rt::test]
async fn a_fetcher_with_tasks_queued_still_keeps_to_its_concurrency() {
    // One fetcher of 2 slots is assigned a third task, queued until a request ends.
    let env = [
        ("TRAWL__FETCHER__ACTORS", "1"),
        ("TRAWL__FETCHER__CONCURRENCY", "2"),
        ("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "8"),
    ];
    let peak = peak_in_flight(&env, 12, 100).await;
    assert_eq!(peak, 2, "2 requests in flight at most, and both used");
}

#[actix_rt::test]
async fn a_job_may_lower_per_host_concurrency_but_not_raise_it() {
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "4")]);
    let lowered = CountingServer::start();
    let job = app
        .api
        .submit_ok(&json!({"urls": sleeping_urls(&lowered, 12, 100), "options": {"per_host_concurrency": 1}}))
        .await;
    app.api
        .wait_until_finished(job["id"].as_str().unwrap(), SHORT)
        .await;
    assert_eq!(lowered.peak(), 1);

    let raised = CountingServer::start();
    let job = app
        .api
        .submit_ok(&json!({"urls": sleeping_urls(&raised, 24, 100), "options": {"per_host_concurrency": 50}}))
        .await;
    app.api
        .wait_until_finished(job["id"].as_str().unwrap(), SHORT)
        .await;
    assert_eq!(raised.peak(), 4, "the server's value is a ceiling");
}

#[actix_rt::test]
async fn a_slow_host_does_not_stall_the_other_hosts_of_the_job() {
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "1")]);
    let slow = CountingServer::start();
    let fast = CountingServer::start();
    // The slow host's URLs come first: 10 × 500 ms one at a time is 5 s.
    let mut urls = sleeping_urls(&slow, 10, 500);
    urls.extend(sleeping_urls(&fast, 10, 0));
    let id = app.api.submit_urls(&urls).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let fast_done = app
            .api
            .ndjson(&id)
            .await
            .iter()
            .filter(|r| {
                r["url"]
                    .as_str()
                    .unwrap()
                    .contains(&format!(":{}/", fast.port))
            })
            .count();
        if fast_done == 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fast host waited behind the slow one ({fast_done}/10 done)"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let job = app.api.job(&id).await;
    assert_eq!(
        job["state"], "running",
        "the slow host is still going: {job}"
    );
}

#[actix_rt::test]
async fn per_host_rps_spaces_requests_and_a_job_may_lower_it() {
    let app = spawn_app(&[
        ("TRAWL__FETCHER__PER_HOST_RPS", "10"),
        ("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "8"),
    ]);
    let server = CountingServer::start();
    let id = app.api.submit_urls(&sleeping_urls(&server, 30, 0)).await;
    app.api.wait_until_finished(&id, SHORT).await;
    let arrivals = server.arrivals();
    let span = arrivals[29] - arrivals[0];
    // A bucket of 10 per second starts full: 30 requests need at least 2 s.
    assert!(
        span >= Duration::from_millis(1800),
        "30 requests at 10/s took only {span:?}"
    );

    let lowered = CountingServer::start();
    let job = app
        .api
        .submit_ok(&json!({"urls": sleeping_urls(&lowered, 6, 0), "options": {"per_host_rps": 2}}))
        .await;
    app.api
        .wait_until_finished(job["id"].as_str().unwrap(), SHORT)
        .await;
    let arrivals = lowered.arrivals();
    let span = arrivals[5] - arrivals[0];
    assert!(
        span >= Duration::from_millis(1800),
        "6 requests at 2/s took only {span:?}"
    );
}

#[actix_rt::test]
async fn a_redirect_hop_to_another_host_waits_for_that_hosts_turn() {
    let app = spawn_app(&[("TRAWL__FETCHER__PER_HOST_CONCURRENCY", "2")]);
    let redirector = CountingServer::start();
    let target = CountingServer::start();
    // Half the URLs reach the target directly, half through the redirector: without a
    // turn per hop the target would see up to 2 + 2 requests at once.
    let mut urls = sleeping_urls(&target, 10, 150);
    urls.extend((0..10).map(|i| redirector.url(&format!("/to/{}/sleep/150/r{i}", target.port))));
    let id = app.api.submit_urls(&urls).await;
    app.api.wait_until_finished(&id, SHORT).await;
    let records = app.api.ndjson(&id).await;
    assert!(all_ok(&records), "{records:?}");
    let hopped = &records[10];
    assert_eq!(hopped["final_url"], target.url("/sleep/150/r0"));
    assert_eq!(hopped["redirects"][0]["status"], 302);
    assert_eq!(
        hopped["redirects"][0]["url"],
        redirector.url(&format!("/to/{}/sleep/150/r0", target.port))
    );
    assert_eq!(target.peak(), 2, "the target's turns held across hosts");
}
