//! [`TargetServer`]: the HTTP server Trawl fetches from in tests.
//!
//! It runs on its own thread with its own actix `System`, so it keeps answering while
//! a test blocks (waiting for a child process, sending it a signal): a graceful
//! shutdown of Trawl needs its in-flight requests to finish.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer};

/// What the target server counted. Shared between its worker and the test.
#[derive(Debug, Default)]
struct Counters {
    /// Requests received, any path.
    total: AtomicU64,
    /// TCP connections accepted: an SSRF test wants zero, not just zero requests.
    connections: AtomicU64,
    /// Requests per first path segment (`"json"`, `"slow"`, ...).
    per_prefix: Mutex<HashMap<String, u64>>,
}

/// A real HTTP server on `127.0.0.1`, port chosen by the OS, with routes whose answers a
/// test can predict:
///
/// | route | answer |
/// |---|---|
/// | `/json/{n}` | 200, [`TargetServer::json_body`]`(n)`, `application/json` |
/// | `/html/{n}` | 200, [`TargetServer::html_body`]`(n)`, `text/html; charset=utf-8` |
/// | `/status/{code}` | that status, [`TargetServer::status_body`]`(code)`, `text/plain` |
/// | `/slow/{ms}/{n}` | after `ms` milliseconds, the same as `/json/{n}` |
/// | `/redirect/{n}` | 302 to `/json/{n}` (relative `Location`) |
///
/// It counts every request and every accepted connection. Stopped on drop.
pub struct TargetServer {
    port: u16,
    counters: Arc<Counters>,
    handle: ServerHandle,
}

impl TargetServer {
    /// Starts the server on its own thread and returns once it listens.
    pub fn start() -> TargetServer {
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::channel::<(u16, ServerHandle)>();
        let thread_counters = Arc::clone(&counters);
        thread::Builder::new()
            .name("target-server".into())
            .spawn(move || {
                let system = actix_rt::System::new();
                system.block_on(async move {
                    let (server, port) = build(thread_counters);
                    tx.send((port, server.handle()))
                        .expect("the test waits for the port");
                    // A stopped server is the normal end; an I/O error here only ends the thread.
                    let _ = server.await;
                });
            })
            .expect("spawn the target server thread");
        let (port, handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the target server starts within 10 s");
        TargetServer {
            port,
            counters,
            handle,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, the form `fetcher.allow_addresses` takes.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The absolute URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Requests received so far, on any path.
    pub fn hits(&self) -> u64 {
        self.counters.total.load(Ordering::SeqCst)
    }

    /// Requests received so far whose first path segment is `prefix` (`"json"`, `"slow"`).
    pub fn hits_for(&self, prefix: &str) -> u64 {
        let prefix = prefix.trim_matches('/');
        self.counters
            .per_prefix
            .lock()
            .expect("counter lock")
            .get(prefix)
            .copied()
            .unwrap_or(0)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// The exact body `/json/{n}` (and `/slow/{ms}/{n}`) answers.
    pub fn json_body(n: u64) -> String {
        format!(r#"{{"n":{n},"name":"item-{n}","tags":["a","b"],"nested":{{"value":{n}}}}}"#)
    }

    /// The exact body `/html/{n}` answers: a title and meta description naming `n`, a
    /// relative link (`/json/{n}`), a sibling-relative link (`page-{n}.html`), an absolute
    /// link (`https://example.com/abs/{n}`) and a fragment-only link (`#top`).
    pub fn html_body(n: u64) -> String {
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Page {n} title</title>\
             <meta name=\"description\" content=\"Description of page {n}\">\
             </head><body><h1 id=\"top\">Heading {n}</h1>\
             <p><a href=\"/json/{n}\">relative</a> \
             <a href=\"page-{n}.html\">sibling</a> \
             <a href=\"https://example.com/abs/{n}\">absolute</a> \
             <a href=\"#top\">fragment</a></p></body></html>\n"
        )
    }

    /// The exact body `/status/{code}` answers.
    pub fn status_body(code: u16) -> String {
        format!("status {code}\n")
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

/// Binds the server on port 0 and returns it with the port it got.
fn build(counters: Arc<Counters>) -> (Server, u16) {
    let on_connect_counters = Arc::clone(&counters);
    let server = HttpServer::new(move || {
        let counters = Arc::clone(&counters);
        App::new()
            .wrap_fn(move |req, srv| {
                counters.total.fetch_add(1, Ordering::SeqCst);
                let prefix = req
                    .path()
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("");
                *counters
                    .per_prefix
                    .lock()
                    .expect("counter lock")
                    .entry(prefix.to_owned())
                    .or_default() += 1;
                srv.call(req)
            })
            .route("/json/{n}", web::get().to(json))
            .route("/html/{n}", web::get().to(html))
            .route("/status/{code}", web::get().to(status))
            .route("/slow/{ms}/{n}", web::get().to(slow))
            .route("/redirect/{n}", web::get().to(redirect))
    })
    .on_connect(move |_, _| {
        on_connect_counters
            .connections
            .fetch_add(1, Ordering::SeqCst);
    })
    // Two workers: the 10,000-URL test keeps 64+ connections busy.
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(("127.0.0.1", 0))
    .expect("bind the target server on 127.0.0.1:0");
    let port = server.addrs()[0].port();
    (server.run(), port)
}

async fn json(n: web::Path<u64>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(TargetServer::json_body(*n))
}

async fn html(n: web::Path<u64>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(TargetServer::html_body(*n))
}

async fn status(code: web::Path<u16>) -> HttpResponse {
    let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("text/plain")
        .body(TargetServer::status_body(*code))
}

async fn slow(path: web::Path<(u64, u64)>) -> HttpResponse {
    let (ms, n) = path.into_inner();
    actix_rt::time::sleep(Duration::from_millis(ms)).await;
    HttpResponse::Ok()
        .content_type("application/json")
        .body(TargetServer::json_body(n))
}

async fn redirect(n: web::Path<u64>) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", format!("/json/{n}")))
        .finish()
}
