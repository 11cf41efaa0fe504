//! The testkit's own checks: the target server answers what its docs promise and counts
//! it, and the process runner finds the listening line and delivers signals.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use trawl_testkit::{run_cli, sha256_hex, temp_dir, Api, TargetServer, Trawl};

#[actix_rt::test]
async fn target_routes_answer_as_documented_and_are_counted() {
    let target = TargetServer::start();
    let api = Api::new(&format!("http://127.0.0.1:{}", target.port()));

    let json = api.get("/json/7").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.text(), TargetServer::json_body(7));
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.json()["n"], 7);

    let html = api.get("/html/3").await;
    assert!(html.text().contains("<title>Page 3 title</title>"));

    let status = api.get("/status/503").await;
    assert_eq!(status.status, 503);
    assert_eq!(status.text(), TargetServer::status_body(503));

    let started = std::time::Instant::now();
    assert_eq!(api.get("/slow/200/4").await.json()["n"], 4);
    assert!(started.elapsed() >= Duration::from_millis(200));

    let redirect = api.request("GET", "/redirect/5", &[], None).await;
    assert!(
        redirect.status == 302 || redirect.status == 200,
        "{}",
        redirect.status
    );

    assert!(target.hits() >= 5);
    assert_eq!(
        target.hits_for("json"),
        1 + u64::from(redirect.status == 200)
    );
    assert_eq!(target.hits_for("slow"), 1);
    assert!(target.connections() >= 1);
    assert_eq!(sha256_hex(b"").len(), 64);
}

#[test]
fn trawl_start_reads_the_listening_line_and_terminate_signals() {
    let dir = temp_dir();
    let script = dir.path().join("fake-trawl");
    std::fs::write(
        &script,
        // The trap is set before the listening line, as the real binary installs its
        // signal handlers before it says it listens: a SIGTERM right after that line
        // must find it.
        "#!/bin/sh\nif [ \"$1\" = config ]; then echo \"actors = $TRAWL__FETCHER__ACTORS\"; exit 3; fi\n\
         trap 'exit 0' TERM\necho starting >&2\necho \"trawl listening on http://127.0.0.1:4567\"\n\
         while true; do sleep 0.05; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = script.display().to_string();

    let trawl = Trawl::start(&bin, dir.path(), &[]);
    assert_eq!(trawl.base_url(), "http://127.0.0.1:4567");
    let status = trawl.terminate(Duration::from_secs(5));
    assert!(status.success(), "{status}");

    let trawl = Trawl::start(&bin, dir.path(), &[]);
    trawl.kill();

    let out = run_cli(
        &bin,
        &["config"],
        &[("TRAWL__FETCHER__ACTORS", "3")],
        Duration::from_secs(5),
    );
    assert_eq!(out.stdout.trim(), "actors = 3");
    assert_eq!(out.status.code(), Some(3));

    let hangs =
        std::panic::catch_unwind(|| run_cli(&bin, &["serve"], &[], Duration::from_millis(300)));
    assert!(
        hangs.is_err(),
        "run_cli panics when the command outlives its timeout"
    );
}
