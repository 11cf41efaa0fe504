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
/// | `/fixture/{name}` | 200, [`TargetServer::fixture`]`(name)`: bodies in several charsets, broken HTML, link kinds, deep and invalid JSON |
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

    /// The Content-Type and body `/fixture/{name}` answers, or `None` (404):
    ///
    /// - `latin1`: `text/html; charset=ISO-8859-1`, title `Café crème`, `<h1>Crème brûlée</h1>`.
    /// - `sjis`: `text/html` without charset, Shift_JIS declared by `<meta>`, title `日本語のページ`.
    /// - `utf16`: `text/html` without charset, UTF-16LE with a BOM, title `Grüße`, a link to `/ü`.
    /// - `broken`: unclosed and malformed tags, title `Broken <b>page`, `li.x` items `1`, `2`.
    /// - `links`: `<base href="/base/">`, relative, absolute, protocol-relative, fragment,
    ///   `mailto:`, `javascript:` and duplicate links, a link inside a script, a
    ///   `.price[data-value=12.50]`, `li.tag` items and `SKU-123`, `SKU-456`.
    /// - `data`: JSON, `{"data": {"user": {"id": 42, "name": "Ada"}, ...}, "sku": "SKU-77"}`.
    /// - `deep`: JSON nested 5,000 levels deep.
    /// - `invalid`: `application/json` that is not JSON.
    pub fn fixture(name: &str) -> Option<(&'static str, Vec<u8>)> {
        let html = "text/html";
        Some(match name {
            "latin1" => (
                "text/html; charset=ISO-8859-1",
                b"<html><head><title>Caf\xe9 cr\xe8me</title></head><body><h1>Cr\xe8me br\xfbl\xe9e</h1></body></html>".to_vec(),
            ),
            "sjis" => (
                html,
                // 日本語のページ and こんにちは in Shift_JIS.
                [
                    &b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\"><title>"[..],
                    b"\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x79\x81\x5b\x83\x57",
                    b"</title></head><body><h1>\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd</h1></body></html>",
                ]
                .concat(),
            ),
            "utf16" => (
                html,
                [0xFF, 0xFE]
                    .into_iter()
                    .chain(
                        "<html><head><title>Grüße</title></head><body><h1>Straße</h1><a href=\"/ü\">x</a></body></html>"
                            .encode_utf16()
                            .flat_map(u16::to_le_bytes),
                    )
                    .collect(),
            ),
            "broken" => (
                html,
                b"<html><title>Broken <b>page</title><div><a href=/a>a<a href=/b x y=>b</div>\
                  <p <a href=\"/c\">c</a><h1>Still <i>here</h1><li class=x>1<li class=x>2</ul></unknown><a href=/d"
                    .to_vec(),
            ),
            "links" => (
                html,
                br##"<!DOCTYPE html><html lang="en-GB"><head><title>Links &amp; more</title>
<meta name="description" content="A page  of links"><link rel="canonical" href="canonical?x=1&amp;y=2">
<base href="/base/"><script>var s = "<a href='/in-script'>";</script></head><body>
<h1 class="t">Hello <b>world</b></h1>
<a href="rel/one">one</a> <a href="/abs#frag">abs</a> <a href="https://other.example/x#y">other</a>
<a href="rel/one#again">dup</a> <a href="mailto:a@b.example">mail</a> <a href="javascript:void(0)">js</a>
<a href="#top">top</a> <a href="  ../up?a=1&amp;b=2  ">up</a> <map><area href="//proto.example/area"></map>
<div class="price" data-value="12.50"><span>12,50 EUR</span></div>
<ul><li class="tag">a</li><li class="tag">b <i>c</i></li></ul><p>SKU-123 and SKU-456</p>
</body></html>"##
                    .to_vec(),
            ),
            "data" => (
                "application/json",
                br#"{"data": {"user": {"id": 42, "name": "Ada"}, "tags": ["x", "y"]}, "a/b": true, "sku": "SKU-77"}"#.to_vec(),
            ),
            "deep" => (
                "application/json",
                ["[".repeat(5000), "1".into(), "]".repeat(5000)].concat().into_bytes(),
            ),
            "invalid" => ("application/json", b"{\"oops\": ".to_vec()),
            _ => return None,
        })
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
            .route("/fixture/{name}", web::get().to(fixture))
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

async fn fixture(name: web::Path<String>) -> HttpResponse {
    match TargetServer::fixture(&name) {
        Some((content_type, body)) => HttpResponse::Ok()
            .insert_header(("Content-Type", content_type))
            .body(body),
        None => HttpResponse::NotFound().finish(),
    }
}
