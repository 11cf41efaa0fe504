//! The SSRF guard: with `fetcher.allow_private_networks` false (the default), loopback in
//! any spelling is `blocked` and the server behind it sees no connection at all, not
//! even through a redirect from an address that is allowed.

use trawl_testkit::{error_kind, json, temp_dir, Api, HostileServer, TempDir, Trawl, Value};

use crate::helpers::{run_job, BIN};
use crate::hostile::assert_error;

/// Loopback spellings of port `port` that a naive check (string match, `Ipv4Addr`
/// parse, `is_loopback`) can miss: short, decimal, hex, octal and zero-padded IPv4,
/// names, IPv4-mapped and -compatible IPv6, the unspecified address (which Linux
/// connects to loopback), userinfo in front of the host, https.
fn loopback_spellings(port: u16) -> Vec<String> {
    [
        "127.0.0.1",
        "127.1",
        "127.0.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "0177.1",
        "127.000.000.001",
        "127.0.0.1.",
        "0x7f.1",
        "localhost",
        "LocalHost",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "0.0.0.0",
        "0",
        "[::]",
        "user:secret@127.0.0.1",
        "example.com@127.0.0.1",
    ]
    .iter()
    .map(|host| format!("http://{host}:{port}/ok/ssrf"))
    .chain([format!("https://127.0.0.1:{port}/ok/ssrf")])
    .collect()
}

/// A service with `env` (and nothing that allows private networks).
struct Guarded {
    trawl: Trawl,
    api: Api,
    _dir: TempDir,
}

fn start(env: &[(&str, &str)]) -> Guarded {
    let dir = temp_dir();
    let trawl = Trawl::start(BIN, dir.path(), env);
    let api = trawl.api();
    Guarded {
        trawl,
        api,
        _dir: dir,
    }
}

impl Guarded {
    async fn fetch_all(&self, urls: &[String]) -> Vec<Value> {
        let records = run_job(&self.trawl, &self.api, &json!({ "urls": urls })).await;
        assert_eq!(records.len(), urls.len(), "one record per URL");
        records
    }
}

#[actix_rt::test]
async fn loopback_in_every_spelling_is_blocked_and_the_server_sees_no_connection() {
    let target = HostileServer::start();
    let app = start(&[]);
    let urls = loopback_spellings(target.port());
    let records = app.fetch_all(&urls).await;
    let mut wrong = Vec::new();
    for (url, record) in urls.iter().zip(&records) {
        if error_kind(record) != Some("blocked") || record["status"] != Value::Null {
            wrong.push(format!("{url}: {record}"));
        }
        assert_eq!(
            record["attempts"], 1,
            "a blocked URL is not retried: {record}"
        );
    }
    assert!(wrong.is_empty(), "not blocked:\n{}", wrong.join("\n"));
    assert_eq!(
        target.connections(),
        0,
        "no connection reached the loopback server"
    );
}

#[actix_rt::test]
async fn a_redirect_from_an_allowed_address_to_loopback_is_blocked_before_connecting() {
    let redirector = HostileServer::start();
    let target = HostileServer::start();
    let allow = redirector.addr();
    let app = start(&[("TRAWL__FETCHER__ALLOW_ADDRESSES", allow.as_str())]);
    let b = target.port();

    // Control: the allowed address is fetched, and its redirects to itself followed.
    let control = redirector.redirect_url("/ok/control");
    let mut locations = loopback_spellings(b);
    locations.extend([
        // Scheme-relative and with the allowed address as userinfo.
        format!("//127.0.0.1:{b}/ok/ssrf"),
        format!("http://{allow}@127.0.0.1:{b}/ok/ssrf"),
    ]);
    let mut urls = vec![control.clone(), target.url("/ok/direct")];
    urls.extend(locations.iter().map(|to| redirector.redirect_url(to)));
    let records = app.fetch_all(&urls).await;

    assert_eq!(
        records[0]["ok"], true,
        "the allowed address is fetched: {}",
        records[0]
    );
    assert_eq!(records[0]["json"], json!({ "ok": true }), "{}", records[0]);
    assert_eq!(
        records[0]["redirects"],
        json!([{ "url": control, "status": 302 }]),
        "{}",
        records[0]
    );
    assert_error(&records[1], "blocked");

    let mut wrong = Vec::new();
    for (to, record) in locations.iter().zip(&records[2..]) {
        if error_kind(record) != Some("blocked") {
            wrong.push(format!("redirect to {to}: {record}"));
        }
    }
    assert!(wrong.is_empty(), "not blocked:\n{}", wrong.join("\n"));
    for to in &locations {
        let path = redirector
            .redirect_url(to)
            .split_off(redirector.url("").len());
        assert_eq!(
            redirector.hits(&path),
            1,
            "the redirector was asked once for {to}"
        );
    }
    assert_eq!(
        target.connections(),
        0,
        "no connection reached the server behind the redirect"
    );
    assert!(
        redirector.connections() >= urls.len() as u64 - 1,
        "connections are counted: the allowed redirector saw {}",
        redirector.connections()
    );
}

#[actix_rt::test]
async fn a_redirect_to_a_scheme_other_than_http_is_a_redirect_error() {
    let redirector = HostileServer::start();
    let target = HostileServer::start();
    let allow = redirector.addr();
    let app = start(&[("TRAWL__FETCHER__ALLOW_ADDRESSES", allow.as_str())]);
    let b = target.port();
    let locations = [
        "file:///etc/passwd".to_owned(),
        format!("ftp://127.0.0.1:{b}/pub"),
        format!("gopher://127.0.0.1:{b}/_GET%20/"),
        "data:text/plain,hello".to_owned(),
        "javascript:alert(1)".to_owned(),
    ];
    let urls: Vec<String> = locations
        .iter()
        .map(|to| redirector.redirect_url(to))
        .collect();
    let records = app.fetch_all(&urls).await;
    for (to, record) in locations.iter().zip(&records) {
        assert_eq!(
            error_kind(record),
            Some("redirect"),
            "redirect to {to}: {record}"
        );
        assert_eq!(record["attempts"], 1, "{record}");
    }
    assert_eq!(
        target.connections(),
        0,
        "no connection reached the server named by ftp:// or gopher://"
    );
}
