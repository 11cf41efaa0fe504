//! The `trawl` client commands, run as a user runs them: `submit --wait`, `status` and
//! `results` against a running service, and `fetch`, the whole pipeline in-process; and
//! the job options both take on the command line.

use std::time::Duration;

use trawl_testkit::{
    assert_one_record_per_seq, parse_ndjson, run_cli, serde_json, temp_dir, Csv, TargetServer,
    TempDir, Value, ALLOW_LOOPBACK, CSV_HEADER,
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

/// A new directory with `urls.txt`: `n` distinct target pages `/html/0 .. /html/{n-1}`,
/// one per line; returns the directory (removed on drop) and the file's path.
fn html_urls_file(target: &TargetServer, n: u64) -> (TempDir, String) {
    let dir = temp_dir();
    let file = dir.path().join("urls.txt");
    let urls: Vec<String> = (0..n).map(|i| target.url(&format!("/html/{i}"))).collect();
    std::fs::write(&file, urls.join("\n")).unwrap();
    (dir, file.to_str().unwrap().to_owned())
}

#[test]
fn fetch_takes_process_and_extract_rules_on_the_command_line() {
    let target = TargetServer::start();
    let (_dir, file) = html_urls_file(&target, 3);

    let out = run_cli(
        BIN,
        &[
            "fetch",
            &file,
            "--process",
            "html,text",
            "--extract",
            "heading=css:h1",
            "--extract",
            r"page=regex:Page (\d+)",
            "--extract",
            r#"links={"css": "a", "attr": "href", "all": true}"#,
        ],
        &[ALLOW_LOOPBACK],
        CLI_TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let records = parse_ndjson(&out.stdout);
    for (n, record) in assert_one_record_per_seq(&records, 3) {
        let links = [
            format!("/json/{n}"),
            format!("page-{n}.html"),
            format!("https://example.com/abs/{n}"),
            "#top".into(),
        ];
        assert_eq!(
            record["extract"],
            serde_json::json!({"heading": format!("Heading {n}"), "page": n.to_string(), "links": links}),
            "{record}"
        );
        assert_eq!(
            record["html"]["title"],
            format!("Page {n} title"),
            "{record}"
        );
        assert_eq!(
            record["html"]["links"],
            Value::Null,
            "links not asked for: {record}"
        );
        let text = record["text"].as_str().expect("text asked for");
        assert!(text.starts_with(&format!("Heading {n} relative")), "{text}");
    }
}

#[test]
fn submit_puts_command_line_options_over_those_of_the_submission_file() {
    let app = spawn_app(&[]);
    let dir = temp_dir();
    let urls: Vec<String> = (0..2)
        .map(|i| app.target.url(&format!("/html/{i}")))
        .collect();
    let submission = dir.path().join("job.json");
    let file_options = serde_json::json!({
        "process": ["json"],
        "extract": {"title": {"css": "title"}, "lang": {"css": "html", "attr": "lang"}},
    });
    std::fs::write(
        &submission,
        serde_json::json!({"urls": urls, "options": file_options}).to_string(),
    )
    .unwrap();
    let options_file = dir.path().join("options.json");
    std::fs::write(&options_file, r#"{"extract": {"heading": {"css": "h1"}}}"#).unwrap();
    let options_arg = format!("@{}", options_file.display());

    let client = |args: &[&str]| {
        let args = [args, &["--server", app.trawl.base_url()]].concat();
        let out = run_cli(BIN, &args, &[], CLI_TIMEOUT);
        assert!(out.status.success(), "trawl {args:?}: {}", out.stderr);
        out.stdout
    };
    let job: Value = serde_json::from_str(&client(&[
        "submit",
        submission.to_str().unwrap(),
        "--wait",
        "--options",
        &options_arg,
        "--process",
        "html",
        "--extract",
        r"title=regex:Page (\d+) title",
    ]))
    .unwrap();
    let id = job["id"].as_str().unwrap();
    let records = parse_ndjson(&client(&["results", id]));
    for (n, record) in assert_one_record_per_seq(&records, 2) {
        // The file's lang rule stays; --extract replaces its title rule and adds to
        // it; --process replaces its process.
        assert_eq!(
            record["extract"],
            serde_json::json!({"title": n.to_string(), "lang": "en", "heading": format!("Heading {n}")}),
            "{record}"
        );
        assert_eq!(
            record["html"]["title"],
            format!("Page {n} title"),
            "{record}"
        );
    }
}

#[test]
fn bad_rules_on_the_command_line_fail_with_a_message_naming_them() {
    let target = TargetServer::start();
    let (_dir, file) = html_urls_file(&target, 1);
    let fetch = |extract: &str| {
        let args = ["fetch", &file, "--extract", extract];
        run_cli(BIN, &args, &[ALLOW_LOOPBACK], CLI_TIMEOUT)
    };

    // The server's check: a 400 that names the rule, and no records.
    let invalid = fetch("cart=css:a +");
    assert_eq!(invalid.status.code(), Some(1), "{}", invalid.stderr);
    assert!(invalid.stderr.contains("400"), "{}", invalid.stderr);
    assert!(invalid.stderr.contains("`cart`"), "{}", invalid.stderr);
    assert!(invalid.stdout.is_empty(), "{}", invalid.stdout);

    // The command line's own: a usage error before anything starts.
    for malformed in ["cart", "=css:a", "cart=xpath://a", "cart=css:", "cart={1}"] {
        let out = fetch(malformed);
        assert_eq!(out.status.code(), Some(2), "{malformed}: {}", out.stderr);
        assert!(
            out.stderr.contains("--extract"),
            "{malformed}: {}",
            out.stderr
        );
    }
}
