//! The floor of Trawl's HTTP stack, for `scripts/bench`: awc alone, with nothing of
//! Trawl's pipeline around it. `THREADS` threads, each with its own awc client built as
//! a fetcher builds its own (a connection limit of `IN_FLIGHT`, no awc timeout, no
//! redirects, no decompression), keep `IN_FLIGHT` GETs in flight over their share of
//! the URLs and read every body whole. Nothing is parsed, stored or counted beyond the
//! status.
//!
//! Usage: `awc_floor URL_FILE THREADS IN_FLIGHT` (one URL per line). Prints one JSON
//! line: `{"n", "ok", "wall_s"}`, wall time from the first request to the last body.
//! The bench measures the process's CPU time and peak RSS around it.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

/// Largest body read, as Trawl's default `fetcher.max_body_bytes`.
const MAX_BODY: usize = 10 * 1024 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, threads, in_flight] = &args[..] else {
        eprintln!("usage: awc_floor URL_FILE THREADS IN_FLIGHT");
        std::process::exit(2);
    };
    let threads: usize = threads.parse().expect("THREADS is a number");
    let in_flight: usize = in_flight.parse().expect("IN_FLIGHT is a number");
    let urls: Vec<String> = std::fs::read_to_string(file)
        .expect("URL_FILE is readable")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let share = urls.len().div_ceil(threads.max(1));

    let started = Instant::now();
    let workers: Vec<_> = urls
        .chunks(share.max(1))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            std::thread::spawn(move || fetch_all(chunk, in_flight))
        })
        .collect();
    let ok: usize = workers
        .into_iter()
        .map(|w| w.join().expect("a worker thread panicked"))
        .sum();
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{{\"n\": {}, \"ok\": {ok}, \"wall_s\": {wall:.4}}}",
        urls.len()
    );
}

/// Fetches `urls` on this thread, `in_flight` at a time; returns how many answered 200.
fn fetch_all(urls: Vec<String>, in_flight: usize) -> usize {
    actix_rt::System::new().block_on(async move {
        let connector = awc::Connector::new()
            .limit(in_flight)
            .timeout(Duration::from_secs(3));
        let client = awc::Client::builder()
            .connector(connector)
            .disable_timeout()
            .disable_redirects()
            .finish();
        let client = &client;
        futures_util::stream::iter(urls)
            .map(|url| async move {
                let Ok(mut response) = client.get(url).no_decompress().send().await else {
                    return false;
                };
                response.body().limit(MAX_BODY).await.is_ok() && response.status() == 200
            })
            .buffer_unordered(in_flight)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await
    })
}
