//! [`HostileServer`]: a raw-TCP HTTP/1.1 server on loopback that misbehaves on purpose.
//!
//! The well-behaved [`TargetServer`](crate::TargetServer) is built on actix-web, which
//! cannot drip bytes, lie about lengths, break chunked framing or reset a connection
//! mid-body. This one writes every byte by hand, on plain threads (one per connection),
//! so each hostile path does exactly what its row below says, and nothing in it depends
//! on the async runtime of the test.
//!
//! | path | what the server does | the outcome Trawl owes |
//! |---|---|---|
//! | `/ok/{any}` | 200, [`HostileServer::OK_BODY`], `application/json` | ok |
//! | `/drip` | 200 with `Content-Length: 3600`, then one body byte a second | `timeout` |
//! | `/drip-head` | the status line and headers, one byte a second | `timeout` |
//! | `/hang` | reads the request, never answers | `timeout` |
//! | `/endless` | 200, chunked, 64 KiB chunks that never end | `body_too_large` |
//! | `/huge-length` | 200 with `Content-Length: 10 GiB`, then silence | `body_too_large` at once |
//! | `/bomb/{gzip,deflate,br,zstd}` | a small body that decodes to [`BOMB_DECODED`] zero bytes | `body_too_large` |
//! | `/loop/a`, `/loop/b` | 302 to each other | `redirect` |
//! | `/chain/{n}` | 302 to `/chain/{n-1}`; `/chain/0` is 200 | ok after `n` hops |
//! | `/reset` | 200, `Content-Length: 100000`, 8 KiB of body, then a TCP reset | `protocol` |
//! | `/bad-chunk` | chunked framing with a chunk size that is not hex | `protocol` |
//! | `/short` | `Content-Length: 1000`, 100 bytes, then close | `protocol` |
//! | `/chunked-cut` | chunked, one chunk, then close without the last chunk | `protocol` |
//! | `/chunked-ok` | chunked, [`HostileServer::CHUNKED_BODY`] in pieces with pauses, the last chunk split across writes, then close | ok |
//! | `/huge-headers` | 200 with 1,000 headers of 1 KiB each (1 MiB of head) | an error |
//! | `/huge-header` | 200 with one header of 1 MiB | an error |
//! | `/retry-after/{key}` | first request 429 `Retry-After: 1`, then 200 | ok, 2 attempts |
//! | `/retry-after-long/{key}` | always 429 `Retry-After: 3600` | status 429, 1 attempt |
//! | `/flaky/{key}` | 503 twice, then 200 | ok, 3 attempts |
//! | `/redirect?to={percent-encoded}` | 302 to `to`, as given | follows `to` |
//!
//! Every other path is 404. Every response says `Connection: close` and the server
//! closes after it, so connections and requests count one to one (except on paths
//! that never finish a response). It counts accepted connections (an SSRF test wants
//! zero, not just zero requests) and requests per request target, with the instant
//! each arrived (the Retry-After test checks the gap). Stopped on drop: every
//! connection thread ends within a fraction of a second, or when the client goes.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How many zero bytes each compression bomb decodes to (64 MiB): 64 times a 1 MiB
/// body limit, and enough that decoding it whole would show in the process's RSS.
pub const BOMB_DECODED: usize = 64 * 1024 * 1024;

/// The compression bombs served under `/bomb/{name}`: (path segment, Content-Encoding).
pub const BOMBS: [(&str, &str); 4] = [
    ("gzip", "gzip"),
    ("deflate", "deflate"),
    ("br", "br"),
    ("zstd", "zstd"),
];

/// The longest a misbehaving connection is kept going, whatever the client does.
const MAX_MISBEHAVIOUR: Duration = Duration::from_secs(120);

/// How often a waiting connection thread looks at the stop flag.
const TICK: Duration = Duration::from_millis(100);

/// What the server counted. Shared between its threads and the test.
#[derive(Debug, Default)]
struct Counters {
    /// TCP connections accepted.
    connections: AtomicU64,
    /// Requests whose head was read, any target.
    requests: AtomicU64,
    /// When each request arrived, per request target (path and query).
    per_target: Mutex<HashMap<String, Vec<Instant>>>,
}

/// State shared by the accept thread and every connection thread.
struct Shared {
    counters: Counters,
    /// Set on drop: every thread winds down.
    stop: AtomicBool,
}

/// A misbehaving HTTP/1.1 server on `127.0.0.1`, port chosen by the OS. See the module
/// documentation for its paths.
pub struct HostileServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl HostileServer {
    /// The exact body `/ok/{any}` and the successful ends of `/chain`, `/retry-after`
    /// and `/flaky` answer.
    pub const OK_BODY: &'static str = r#"{"ok":true}"#;

    /// The body `/chunked-ok` sends in chunks.
    pub const CHUNKED_BODY: &'static str = "chunks, in pieces";

    /// Binds `127.0.0.1:0` and starts accepting on a thread of its own. The
    /// compression bombs are built (once per process) before this returns.
    pub fn start() -> HostileServer {
        bombs();
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            stop: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("hostile-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("spawn the hostile server's accept thread");
        HostileServer { addr, shared }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:PORT`, the form `fetcher.allow_addresses` takes.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The absolute URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The URL of a redirect (302) from this server to `location`, sent as given.
    pub fn redirect_url(&self, location: &str) -> String {
        self.url(&format!("/redirect?to={}", crate::percent_encode(location)))
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.counters.connections.load(Ordering::SeqCst)
    }

    /// Requests received so far, any target.
    pub fn requests(&self) -> u64 {
        self.shared.counters.requests.load(Ordering::SeqCst)
    }

    /// Requests received so far for exactly `target` (a path, with its query if any).
    pub fn hits(&self, target: &str) -> u64 {
        self.request_times(target).len() as u64
    }

    /// When each request for exactly `target` arrived, in order.
    pub fn request_times(&self, target: &str) -> Vec<Instant> {
        self.shared
            .counters
            .per_target
            .lock()
            .expect("counter lock")
            .get(target)
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so its thread sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// A port on loopback with nothing listening (bound, then released): connecting to
/// it is refused.
pub fn refused_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("bound").port()
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        shared.counters.connections.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("hostile-conn".into())
            .spawn(move || {
                // A client that goes away mid-response is what these paths provoke:
                // the write error that follows only ends the thread.
                let _ = serve(stream, &shared);
            });
        if spawned.is_err() {
            // Out of threads: the connection is dropped, which the client sees as a reset.
            continue;
        }
    }
}

/// Reads one request head and answers it as its path says.
fn serve(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))?;
    let Some(target) = read_head(&mut stream, shared)? else {
        return Ok(());
    };
    let hits = {
        let mut per_target = shared.counters.per_target.lock().expect("counter lock");
        let times = per_target.entry(target.clone()).or_default();
        times.push(Instant::now());
        times.len()
    };
    shared.counters.requests.fetch_add(1, Ordering::SeqCst);

    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut conn = Conn { stream, shared };
    match segments.as_slice() {
        ["ok", ..] => conn.ok(),
        ["drip"] => conn.drip_body(),
        ["drip-head"] => conn.drip_head(),
        ["hang"] => conn.hang(),
        ["endless"] => conn.endless(),
        ["huge-length"] => {
            conn.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                         Content-Length: 10737418240\r\n\r\n",
            )?;
            conn.hang()
        }
        ["bomb", name] => match bombs().get(*name) {
            Some((encoding, body)) => conn.respond(
                "200 OK",
                &[
                    ("Content-Type", "text/plain"),
                    ("Content-Encoding", encoding),
                ],
                body,
            ),
            None => conn.not_found(),
        },
        ["loop", "a"] => conn.redirect("/loop/b"),
        ["loop", "b"] => conn.redirect("/loop/a"),
        ["chain", n] => match n.parse::<u32>() {
            Ok(0) => conn.ok(),
            Ok(n) => conn.redirect(&format!("/chain/{}", n - 1)),
            Err(_) => conn.not_found(),
        },
        ["reset"] => conn.reset(),
        ["bad-chunk"] => {
            conn.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
                         Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n",
            )?;
            conn.hang()
        }
        ["short"] => {
            let mut response =
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
                    .to_vec();
            response.extend_from_slice(&[b's'; 100]);
            conn.write(&response)?;
            conn.stream.shutdown(Shutdown::Write)
        }
        ["chunked-ok"] => {
            let pieces: [&[u8]; 5] = [
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nchunks",
                b"\r\n5\r\n, in",
                b" \r\n6\r\npieces\r\n0\r",
                b"\n",
                b"\r\n",
            ];
            for piece in pieces {
                conn.write(piece)?;
                thread::sleep(Duration::from_millis(30));
            }
            conn.stream.shutdown(Shutdown::Write)
        }
        ["chunked-cut"] => {
            conn.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
                         Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            )?;
            conn.stream.shutdown(Shutdown::Write)
        }
        ["huge-headers"] => {
            let value = "h".repeat(1000);
            let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
            for i in 0..1000 {
                head.push_str(&format!("X-Pad-{i}: {value}\r\n"));
            }
            conn.finish_head_and_body(head)
        }
        ["huge-header"] => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Huge: {}\r\n",
                "h".repeat(1024 * 1024)
            );
            conn.finish_head_and_body(head)
        }
        ["retry-after", _] if hits == 1 => conn.respond(
            "429 Too Many Requests",
            &[("Retry-After", "1")],
            b"slow down\n",
        ),
        ["retry-after", _] => conn.ok(),
        ["retry-after-long", _] => conn.respond(
            "429 Too Many Requests",
            &[("Retry-After", "3600")],
            b"come back in an hour\n",
        ),
        ["flaky", _] if hits <= 2 => conn.respond("503 Service Unavailable", &[], b"flaky\n"),
        ["flaky", _] => conn.ok(),
        ["redirect"] => match query.strip_prefix("to=") {
            Some(to) => conn.redirect(&percent_decode(to)),
            None => conn.not_found(),
        },
        _ => conn.not_found(),
    }
}

/// Reads up to the end of the request head; returns its request target, or `None`
/// when the client left (or the server stopped) before sending one.
fn read_head(stream: &mut TcpStream, shared: &Shared) -> std::io::Result<Option<String>> {
    let started = Instant::now();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if shared.stop.load(Ordering::SeqCst)
            || started.elapsed() > MAX_MISBEHAVIOUR
            || head.len() > 64 * 1024
        {
            return Ok(None);
        }
        match stream.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/");
    Ok(Some(target.to_owned()))
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One accepted connection, with the behaviours its path picks.
struct Conn<'a> {
    stream: TcpStream,
    shared: &'a Shared,
}

impl Conn<'_> {
    fn stopped(&self, since: Instant) -> bool {
        self.shared.stop.load(Ordering::SeqCst) || since.elapsed() > MAX_MISBEHAVIOUR
    }

    /// Writes all of `bytes`, riding out write timeouts (a client slow to read) until
    /// the server stops; a client that is gone ends it with an error.
    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let since = Instant::now();
        while !bytes.is_empty() {
            if self.stopped(since) {
                return Err(ErrorKind::Interrupted.into());
            }
            match self.stream.write(bytes) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sleeps `duration`, or less when the server stops; false when it stopped.
    fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            if self.shared.stop.load(Ordering::SeqCst) {
                return false;
            }
            thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
        }
        true
    }

    /// A complete response with `Content-Length` and `Connection: close`.
    fn respond(
        &mut self,
        status: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {status}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        let mut response = head.into_bytes();
        response.extend_from_slice(body);
        self.write(&response)?;
        self.stream.shutdown(Shutdown::Write)
    }

    fn ok(&mut self) -> std::io::Result<()> {
        self.respond(
            "200 OK",
            &[("Content-Type", "application/json")],
            HostileServer::OK_BODY.as_bytes(),
        )
    }

    fn not_found(&mut self) -> std::io::Result<()> {
        self.respond(
            "404 Not Found",
            &[("Content-Type", "text/plain")],
            b"no such hostile path\n",
        )
    }

    fn redirect(&mut self, location: &str) -> std::io::Result<()> {
        self.respond("302 Found", &[("Location", location)], b"")
    }

    /// Ends a head built by the caller with a small JSON body.
    fn finish_head_and_body(&mut self, mut head: String) -> std::io::Result<()> {
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            HostileServer::OK_BODY.len(),
            HostileServer::OK_BODY
        ));
        self.write(head.as_bytes())?;
        self.stream.shutdown(Shutdown::Write)
    }

    /// Keeps the connection open and silent until the client leaves or the server stops.
    fn hang(&mut self) -> std::io::Result<()> {
        let since = Instant::now();
        let mut buf = [0u8; 1024];
        while !self.stopped(since) {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A valid head announcing 3600 bytes, then one byte a second.
    fn drip_body(&mut self) -> std::io::Result<()> {
        self.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3600\r\n\r\n")?;
        for _ in 0..3600 {
            self.write(b"d")?;
            if !self.sleep(Duration::from_secs(1)) {
                break;
            }
        }
        Ok(())
    }

    /// The head itself, one byte a second.
    fn drip_head(&mut self) -> std::io::Result<()> {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
        for byte in head {
            self.write(&[*byte])?;
            if !self.sleep(Duration::from_secs(1)) {
                break;
            }
        }
        Ok(())
    }

    /// Chunked, 64 KiB chunks, until the client leaves or the server stops.
    fn endless(&mut self) -> std::io::Result<()> {
        self.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        let mut chunk = b"10000\r\n".to_vec();
        chunk.extend_from_slice(&[b'e'; 0x10000]);
        chunk.extend_from_slice(b"\r\n");
        loop {
            self.write(&chunk)?;
        }
    }

    /// Part of the announced body, then a TCP reset (SO_LINGER 0, then close).
    fn reset(&mut self) -> std::io::Result<()> {
        let mut response =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
                .to_vec();
        response.extend_from_slice(&[b'r'; 8192]);
        self.write(&response)?;
        self.sleep(Duration::from_millis(200));
        set_linger_zero(&self.stream)?;
        Ok(())
        // Dropping the stream now sends RST instead of FIN.
    }
}

/// SO_LINGER {on, 0}: closing the socket then resets the connection.
fn set_linger_zero(stream: &TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this thread owns, with a pointer to a live
    // `linger` and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Decodes `%XX` escapes (and nothing else).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The compression bombs, by path segment: (Content-Encoding, body). Built once per
/// process: each is small and decodes to [`BOMB_DECODED`] zero bytes.
pub fn bombs() -> &'static HashMap<&'static str, (&'static str, Vec<u8>)> {
    static BOMBS_BUILT: OnceLock<HashMap<&'static str, (&'static str, Vec<u8>)>> = OnceLock::new();
    BOMBS_BUILT.get_or_init(|| {
        HashMap::from([
            ("gzip", ("gzip", gzip_bomb())),
            ("deflate", ("deflate", zlib_bomb())),
            ("br", ("br", brotli_bomb())),
            ("zstd", ("zstd", zstd_bomb())),
        ])
    })
}

/// Concatenated gzip members (RFC 1952 allows many per stream), each 4 MiB of zeros:
/// one member alone already passes a 1 MiB limit, so a decoder that stops after the
/// first member is caught too.
fn gzip_bomb() -> Vec<u8> {
    const MEMBER: usize = 4 * 1024 * 1024;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(&vec![0u8; MEMBER])
        .expect("write to a Vec");
    let member = encoder.finish().expect("finish a gzip member");
    member.repeat(BOMB_DECODED / MEMBER)
}

/// A zlib stream (RFC 1950, what RFC 9110 calls deflate) of [`BOMB_DECODED`] zeros,
/// built without compressing all of it: one sync-flushed block of 1 MiB of zeros only
/// refers back to zeros, so it can be repeated; the Adler-32 of n zeros is
/// `(n mod 65521) << 16 | 1`.
fn zlib_bomb() -> Vec<u8> {
    const BLOCK: usize = 1024 * 1024;
    let zeros = vec![0u8; BLOCK];
    let mut compress = flate2::Compress::new(flate2::Compression::best(), true);
    let mut first = Vec::with_capacity(BLOCK);
    compress
        .compress_vec(&zeros, &mut first, flate2::FlushCompress::Sync)
        .expect("compress");
    let mut repeated = Vec::with_capacity(BLOCK);
    compress
        .compress_vec(&zeros, &mut repeated, flate2::FlushCompress::Sync)
        .expect("compress");
    let mut stream = first;
    for _ in 0..(BOMB_DECODED / BLOCK - 1) {
        stream.extend_from_slice(&repeated);
    }
    // A final, empty fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block), byte-aligned.
    stream.extend_from_slice(&[0x03, 0x00]);
    let adler = ((BOMB_DECODED as u32 % 65521) << 16) | 1;
    stream.extend_from_slice(&adler.to_be_bytes());
    stream
}

/// A brotli stream of [`BOMB_DECODED`] zeros (quality 1: quick to build even unoptimised).
fn brotli_bomb() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 1 << 16, 1, 22);
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..BOMB_DECODED / zeros.len() {
            writer.write_all(&zeros).expect("write to a Vec");
        }
        writer.flush().expect("flush to a Vec");
    }
    out
}

/// A zstd frame of Run-Length blocks (RFC 8878 §3.1.1.2: one byte repeated up to 128 KiB
/// per 4-byte block) decoding to [`BOMB_DECODED`] zeros.
fn zstd_bomb() -> Vec<u8> {
    const BLOCK: usize = 128 * 1024;
    let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
    // Frame header: no content size, no checksum, not single-segment; then a window
    // descriptor of 2^(10+7) = 128 KiB, the largest block size.
    frame.extend_from_slice(&[0x00, 7 << 3]);
    let blocks = BOMB_DECODED / BLOCK;
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((BLOCK as u32) << 3);
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.push(0);
    }
    frame
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn decoded_len(reader: impl Read) -> usize {
        let mut total = 0;
        let mut reader = reader;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).expect("a valid stream");
            if n == 0 {
                return total;
            }
            assert!(buf[..n].iter().all(|b| *b == 0));
            total += n;
        }
    }

    #[test]
    fn every_bomb_is_small_and_decodes_to_bomb_decoded_zeros() {
        let bombs = bombs();
        for (name, (_, body)) in bombs {
            assert!(
                body.len() < 512 * 1024,
                "{name} bomb is small: {} bytes",
                body.len()
            );
        }
        assert_eq!(
            decoded_len(flate2::read::MultiGzDecoder::new(&bombs["gzip"].1[..])),
            BOMB_DECODED
        );
        assert_eq!(
            decoded_len(flate2::read::ZlibDecoder::new(&bombs["deflate"].1[..])),
            BOMB_DECODED
        );
        assert_eq!(
            decoded_len(brotli::Decompressor::new(&bombs["br"].1[..], 8192)),
            BOMB_DECODED
        );
        let zstd =
            ruzstd::decoding::StreamingDecoder::new(&bombs["zstd"].1[..]).expect("a zstd frame");
        assert_eq!(decoded_len(zstd), BOMB_DECODED);
    }

    #[test]
    fn percent_decoding_undoes_percent_encoding() {
        let url = "http://[::ffff:127.0.0.1]:80/a b?c=d&e=%";
        assert_eq!(percent_decode(&crate::percent_encode(url)), url);
    }
}
