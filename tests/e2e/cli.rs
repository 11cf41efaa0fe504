//! The `trawl` client commands, run as a user runs them: `submit --wait`, `status` and
//! `results` against a running service, and `fetch`, the whole pipeline in-process.

use std::time::Duration;

use trawl_testkit::{
    assert_one_record_per_seq, parse_ndjson, run_cli, serde_json, temp_dir, Csv, Value,
    ALLOW_LOOPBACK, CSV_HEADER,
};

use crate::helpers::{json_urls, slow_urls, spawn_app, BIN};

/// Longest a client command may take here.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn submit_wait_status_and_results_against_a_running_service() {
    let app = spawn_app(&[]);
    let dir = temp_dir();
    let file = dir.path().join("urls.txt");
    // Slow answers keep the job running for a while, so --wait follows progress
    // before the end rather than finding the job finished.
    let urls = slow_urls(&app.target, 20, 300);
    std::fs::write(&file, format!("# a comment\n{}\n", urls.join("\n"))).unwrap();
    // Runs a client command against the service; it must succeed; returns its stdout.
    let client = |args: &[&str]| {
        let args = [args, &["--server", app.trawl.base_url()]].concat();
        let out = run_cli(BIN, &args, &[], CLI_TIMEOUT);
        assert!(out.status.success(), "trawl {args:?}: {}", out.stderr);
        out.stdout
    };

    let submitted = client(&["submit", file.to_str().unwrap(), "--wait"]);
    let job: Value = serde_json::from_str(&submitted).expect("submit prints the job");
    assert_eq!(
        (
            job["state"].as_str(),
            job["done"].as_u64(),
            job["succeeded"].as_u64()
        ),
        (Some("completed"), Some(20), Some(20)),
        "--wait returns the final job: {job}"
    );
    let id = job["id"].as_str().unwrap();

    let again: Value = serde_json::from_str(&client(&["status", id])).unwrap();
    assert_eq!(again["state"], "completed", "{again}");

    let records = parse_ndjson(&client(&["results", id, "--format", "ndjson"]));
    let by_seq = assert_one_record_per_seq(&records, 20);
    for (seq, record) in by_seq {
        assert_eq!(record["url"], urls[seq as usize], "{record}");
        assert_eq!(record["ok"], true, "{record}");
    }

    let csv = Csv::parse(&client(&["results", id, "--format", "csv"]));
    assert_eq!(csv.header.join(","), CSV_HEADER);
    assert_eq!(csv.rows.len(), 20);
}

#[test]
fn status_of_an_unknown_job_fails_with_the_api_error() {
    let app = spawn_app(&[]);
    let out = run_cli(
        BIN,
        &["status", "no-such-job", "--server", app.trawl.base_url()],
        &[],
        CLI_TIMEOUT,
    );
    assert!(!out.status.success());
    assert!(out.stderr.contains("404"), "{}", out.stderr);
}

#[test]
fn fetch_runs_the_whole_pipeline_in_process_and_prints_ndjson() {
    let app = spawn_app(&[]);
    let dir = temp_dir();
    let file = dir.path().join("urls.txt");
    let urls = json_urls(&app.target, 50);
    std::fs::write(&file, urls.join("\n")).unwrap();

    let out = run_cli(
        BIN,
        &["fetch", file.to_str().unwrap()],
        &[ALLOW_LOOPBACK],
        CLI_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let records = parse_ndjson(&out.stdout);
    let by_seq = assert_one_record_per_seq(&records, 50);
    for (seq, record) in by_seq {
        assert_eq!(record["json"]["n"], seq, "{record}");
    }
}
