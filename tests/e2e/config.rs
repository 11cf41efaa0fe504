//! `trawl config` and start-up validation.

use std::time::Duration;

use trawl_testkit::{run_cli, temp_dir};

use crate::helpers::BIN;

const TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn config_prints_an_environment_override_under_its_section() {
    let out = run_cli(
        BIN,
        &["config"],
        &[("TRAWL__FETCHER__ACTORS", "3")],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let fetcher = section(&out.stdout, "fetcher")
        .unwrap_or_else(|| panic!("a [fetcher] section in:\n{}", out.stdout));
    assert!(
        fetcher.lines().any(|l| l.trim() == "actors = 3"),
        "[fetcher] has actors = 3:\n{fetcher}"
    );
    let processor = section(&out.stdout, "processor").expect("a [processor] section");
    assert!(
        processor.lines().any(|l| l.trim() == "actors = 2"),
        "other sections keep defaults"
    );
}

#[test]
fn config_prints_every_section_with_defaults() {
    let out = run_cli(BIN, &["config"], &[], TIMEOUT);
    assert!(out.status.success(), "{}", out.stderr);
    for name in ["api", "fetcher", "processor", "store"] {
        assert!(
            section(&out.stdout, name).is_some(),
            "[{name}] in:\n{}",
            out.stdout
        );
    }
    let fetcher = section(&out.stdout, "fetcher").unwrap();
    assert!(
        fetcher.contains("allow_private_networks = false"),
        "safe by default:\n{fetcher}"
    );
}

#[test]
fn config_with_bad_keys_fails_naming_every_bad_key() {
    let env = [
        ("TRAWL__FETCHER__ACTORZ", "1"),
        ("TRAWL__FETCHER__CONCURRENCY", "lots"),
    ];
    let out = run_cli(BIN, &["config"], &env, TIMEOUT);
    assert!(
        !out.status.success(),
        "bad configuration must fail; stdout:\n{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("fetcher.actorz"),
        "names the unknown key:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("fetcher.concurrency"),
        "names the bad value's key:\n{}",
        out.stderr
    );
}

#[test]
fn serve_with_a_bad_key_exits_non_zero_naming_it() {
    let dir = temp_dir();
    let db = format!("sqlite://{}", dir.path().join("trawl.db").display());
    let env = [
        ("TRAWL__API__BIND", "127.0.0.1:0"),
        ("TRAWL__STORE__URL", db.as_str()),
        ("TRAWL__FETCHER__ACTORZ", "1"),
    ];
    let out = run_cli(BIN, &["serve"], &env, TIMEOUT);
    assert!(
        !out.status.success(),
        "serve must refuse a bad key; stdout:\n{}",
        out.stdout
    );
    assert!(out.stderr.contains("fetcher.actorz"), "{}", out.stderr);
    assert!(
        !out.stdout.contains("trawl listening on"),
        "it never listened"
    );
}

#[test]
fn serve_with_a_config_file_uses_it() {
    let dir = temp_dir();
    let file = dir.path().join("trawl.toml");
    std::fs::write(&file, "[fetcher]\nactors = 5\n").unwrap();
    let path = file.display().to_string();
    let out = run_cli(BIN, &["config", "--config", path.as_str()], &[], TIMEOUT);
    assert!(out.status.success(), "{}", out.stderr);
    let fetcher = section(&out.stdout, "fetcher").expect("a [fetcher] section");
    assert!(
        fetcher.lines().any(|l| l.trim() == "actors = 5"),
        "{fetcher}"
    );

    let out = run_cli(
        BIN,
        &["config", "--config", path.as_str()],
        &[("TRAWL__FETCHER__ACTORS", "7")],
        TIMEOUT,
    );
    let fetcher = section(&out.stdout, "fetcher").expect("a [fetcher] section");
    assert!(
        fetcher.lines().any(|l| l.trim() == "actors = 7"),
        "env wins over the file: {fetcher}"
    );
}

/// The body of `[name]` in a TOML document: the lines up to the next section header.
fn section(toml: &str, name: &str) -> Option<String> {
    let header = format!("[{name}]");
    let mut lines = toml.lines().skip_while(|l| l.trim() != header);
    lines.next()?;
    Some(
        lines
            .take_while(|l| !l.trim_start().starts_with('['))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}
