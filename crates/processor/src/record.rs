//! [`process`]: one fetch outcome in, one record of the contract out.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};
use trawl_core::fetch::{FetchOutcome, ResponseHead};
use trawl_core::job::ProcessPart;
use trawl_core::record::{Note, Record};
use trawl_core::settings::ProcessorSettings;
use url::Url;

use crate::decode::{decode, is_html, is_json, is_text, sniffs_as_html, Decoded};
use crate::html::{self, Wants};
use crate::json;
use crate::rules::{eval_regex, CompiledRules, RuleKind};
use crate::text::floor_char_boundary;

/// Builds the record of `outcome`, whose body has the SHA-256 `body_sha256` (hashed
/// with the rest of its batch, see [`digest`](crate::digest)). `rules` must be the
/// compiled `extract` rules of the outcome's job. Never fails: anything odd about the
/// body becomes a note.
pub(crate) fn process(
    outcome: FetchOutcome,
    body_sha256: &[u8; 32],
    rules: &CompiledRules,
    settings: &ProcessorSettings,
) -> Record {
    let FetchOutcome {
        task,
        response,
        body,
        error,
        attempts,
        elapsed_ms,
        fetched_at,
        final_url,
        redirects,
    } = outcome;
    let status = response.as_ref().map(|head| head.status);
    let mut record = Record {
        job_id: task.job.id.clone(),
        seq: task.seq,
        url: task.url,
        reference: task.reference,
        final_url,
        status,
        ok: error.is_none() && status.is_some_and(|s| (200..300).contains(&s)),
        error,
        attempts,
        elapsed_ms: Some(elapsed_ms),
        fetched_at: Some(fetched_at),
        content_type: None,
        bytes: None,
        sha256: None,
        redirects,
        json: None,
        html: None,
        text: None,
        headers: None,
        body: None,
        extract: Map::new(),
        notes: Vec::new(),
    };
    let mut values: Vec<Value> = vec![Value::Null; rules.len()];
    if let (Some(head), None) = (&response, &record.error) {
        let options = &task.job.options;
        let body = Body {
            head,
            bytes: &body,
            sha256: body_sha256,
            final_url: record.final_url.clone(),
            target: &task.target,
        };
        body.fill(
            &mut record,
            &mut values,
            |part| options.wants(part),
            rules,
            settings,
        );
    }
    for (_, kind) in rules.iter() {
        if let RuleKind::Broken(message) = kind {
            record
                .notes
                .push(Note::new("invalid_rule", message.clone()));
        }
    }
    record.extract = rules
        .iter()
        .map(|(name, _)| name.to_owned())
        .zip(values)
        .collect();
    record
}

/// A response that arrived whole.
struct Body<'a> {
    head: &'a ResponseHead,
    bytes: &'a [u8],
    /// The SHA-256 of `bytes`.
    sha256: &'a [u8; 32],
    /// The final URL, parsed only for HTML (links resolve against it).
    final_url: Option<String>,
    target: &'a Url,
}

impl Body<'_> {
    /// Sets the response fields and the requested parts of `record`, and the values of
    /// the rules (by position) in `values`.
    fn fill(
        &self,
        record: &mut Record,
        values: &mut [Value],
        wants: impl Fn(ProcessPart) -> bool,
        rules: &CompiledRules,
        settings: &ProcessorSettings,
    ) {
        let content_type = self.head.content_type.as_deref();
        record.content_type = content_type.map(str::to_owned);
        record.bytes = Some(self.bytes.len() as u64);
        let mut sha256 = [0; 64];
        hex::encode_to_slice(self.sha256, &mut sha256).expect("64 hex digits");
        record.sha256 = Some(
            std::str::from_utf8(&sha256)
                .expect("hex is ASCII")
                .to_owned(),
        );
        if wants(ProcessPart::Headers) {
            record.headers = Some(headers(self.head));
        }

        let html = content_type.is_some_and(is_html) || sniffs_as_html(content_type, self.bytes);
        let json = content_type.is_some_and(is_json);
        let textual = html
            || json
            || content_type.map_or_else(|| simdutf8::basic::from_utf8(self.bytes).is_ok(), is_text);
        let has_css = rules.any(|k| matches!(k, RuleKind::Css(_)));
        let has_json = rules.any(|k| matches!(k, RuleKind::Json(_)));
        let has_regex = rules.any(|k| matches!(k, RuleKind::Regex { .. }));
        let html_wants = Wants {
            summary: wants(ProcessPart::Html),
            links: wants(ProcessPart::Links),
            text: wants(ProcessPart::Text),
        };
        let run_html =
            html && (html_wants.summary || html_wants.links || html_wants.text || has_css);
        let run_json = json && (wants(ProcessPart::Json) || has_json);
        let needs_text = run_html
            || run_json
            || has_regex
            || (textual && (wants(ProcessPart::Text) || wants(ProcessPart::Body)));
        let Some(decoded) = needs_text.then(|| decode(self.bytes, content_type, html)) else {
            if wants(ProcessPart::Body) {
                record.body = Some(self.stored_body(None, settings, &mut record.notes));
            }
            return;
        };
        if decoded.lossy && textual {
            record.notes.push(Note::new(
                "undecodable_bytes",
                format!(
                    "some bytes are not valid {} and were replaced with U+FFFD",
                    decoded.encoding.name()
                ),
            ));
        }
        let max_text = usize::try_from(settings.max_text_bytes).unwrap_or(usize::MAX);

        if run_json {
            match json::parse(&decoded.text, has_json) {
                Ok(document) => {
                    for (i, (_, kind)) in rules.iter().enumerate() {
                        if let RuleKind::Json(pointer) = kind {
                            values[i] = document.pointer(pointer);
                        }
                    }
                    if wants(ProcessPart::Json) {
                        record.json = Some(document.text);
                    }
                }
                Err(note) => record.notes.push(note),
            }
        }
        if run_html {
            let page_url = self.final_url.as_deref().and_then(|u| Url::parse(u).ok());
            let page_url = page_url.as_ref().unwrap_or(self.target);
            let found = html::analyze(&decoded.text, page_url, html_wants, rules, max_text);
            if let Some(error) = found.error {
                record.notes.push(Note::new(
                    "html_parse_error",
                    format!("the HTML parser stopped early: {error}"),
                ));
            }
            record.html = found
                .summary
                .filter(|_| html_wants.summary || html_wants.links);
            if let Some((text, truncated)) = found.text {
                if truncated {
                    record.notes.push(text_truncated(max_text));
                }
                record.text = Some(text);
            }
            for (i, value, truncated) in found.css {
                if truncated {
                    record.notes.push(extract_truncated(rules, i));
                }
                values[i] = value;
            }
        } else if textual && wants(ProcessPart::Text) {
            let cut = floor_char_boundary(&decoded.text, max_text);
            if cut < decoded.text.len() {
                record.notes.push(text_truncated(max_text));
            }
            record.text = Some(decoded.text[..cut].to_owned());
        }
        if has_regex {
            for (i, (_, kind)) in rules.iter().enumerate() {
                if let RuleKind::Regex { regex, all } = kind {
                    let (value, truncated) = eval_regex(regex, *all, &decoded.text);
                    if truncated {
                        record.notes.push(extract_truncated(rules, i));
                    }
                    values[i] = value;
                }
            }
        }
        if wants(ProcessPart::Body) {
            let text = textual.then_some(&decoded);
            record.body = Some(self.stored_body(text, settings, &mut record.notes));
        }
    }

    /// The `body` part: the decoded text when the body is text, else base64; both cut
    /// at `max_stored_body_bytes`.
    fn stored_body(
        &self,
        text: Option<&Decoded<'_>>,
        settings: &ProcessorSettings,
        notes: &mut Vec<Note>,
    ) -> String {
        let max = usize::try_from(settings.max_stored_body_bytes).unwrap_or(usize::MAX);
        let (stored, kept, total) = match text {
            Some(decoded) => {
                let cut = floor_char_boundary(&decoded.text, max);
                (decoded.text[..cut].to_owned(), cut, decoded.text.len())
            }
            None => {
                notes.push(Note::new(
                    "body_base64",
                    "the body is not text: it is stored as base64",
                ));
                let cut = self.bytes.len().min(max);
                (
                    base64::engine::general_purpose::STANDARD.encode(&self.bytes[..cut]),
                    cut,
                    self.bytes.len(),
                )
            }
        };
        if kept < total {
            notes.push(Note::new(
                "body_truncated",
                format!("the stored body keeps the first {kept} of {total} bytes (processor.max_stored_body_bytes)"),
            ));
        }
        stored
    }
}

/// Response headers by lower-case name, repeated names joined with ", ".
fn headers(head: &ResponseHead) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &head.headers {
        map.entry(name.to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    map
}

fn text_truncated(max: usize) -> Note {
    Note::new(
        "text_truncated",
        format!("the text was cut at {max} bytes (processor.max_text_bytes)"),
    )
}

fn extract_truncated(rules: &CompiledRules, index: usize) -> Note {
    let name = rules.names().nth(index).unwrap_or_default();
    Note::new(
        "extract_truncated",
        format!(
            "extract rule `{name}` was cut: a list keeps at most {} values, {} MiB of \
             text, and {} values one inside another; the rest were dropped",
            crate::rules::MAX_ALL_VALUES,
            crate::rules::MAX_ALL_BYTES >> 20,
            crate::capture::MAX_OPEN_ELEMENTS,
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use trawl_core::fetch::FetchTask;
    use trawl_core::job::{ExtractRule, JobContext, JobOptions};
    use trawl_core::record::{ErrorKind, RecordError};

    use super::*;
    use crate::digest::sha256_each;

    const URL: &str = "https://shop.example/dir/page.html?q=1";

    fn outcome(
        options: JobOptions,
        content_type: Option<&str>,
        status: u16,
        body: &[u8],
    ) -> FetchOutcome {
        let job = Arc::new(JobContext {
            key: 7,
            id: "job-7".into(),
            options,
        });
        let task = FetchTask::new(job, 3, URL.into(), Some("my-ref".into())).unwrap();
        FetchOutcome {
            task,
            response: Some(ResponseHead {
                status,
                content_type: content_type.map(str::to_owned),
                headers: vec![
                    (
                        "content-type".into(),
                        content_type.unwrap_or_default().into(),
                    ),
                    ("set-cookie".into(), "a=1".into()),
                    ("set-cookie".into(), "b=2".into()),
                ],
            }),
            body: body.to_vec().into(),
            error: None,
            attempts: 1,
            elapsed_ms: 12,
            fetched_at: "2026-11-25T10:00:00Z".into(),
            final_url: Some(URL.into()),
            redirects: Vec::new(),
        }
    }

    /// [`process`] on an outcome hashed on its own.
    fn process_alone(
        outcome: FetchOutcome,
        rules: &CompiledRules,
        settings: &ProcessorSettings,
    ) -> Record {
        let sha256 = sha256_each(&[&outcome.body])[0];
        process(outcome, &sha256, rules, settings)
    }

    fn run(options: JobOptions, content_type: Option<&str>, status: u16, body: &[u8]) -> Record {
        let rules = CompiledRules::compile(&options.extract).unwrap();
        process_alone(
            outcome(options, content_type, status, body),
            &rules,
            &ProcessorSettings::default(),
        )
    }

    fn with_parts(parts: &[ProcessPart]) -> JobOptions {
        JobOptions {
            process: Some(parts.to_vec()),
            ..Default::default()
        }
    }

    fn with_rules(rules: &[(&str, ExtractRule)]) -> JobOptions {
        JobOptions {
            extract: rules
                .iter()
                .map(|(n, r)| (n.to_string(), r.clone()))
                .collect(),
            ..Default::default()
        }
    }

    fn codes(record: &Record) -> Vec<&str> {
        record.notes.iter().map(|n| n.code.as_str()).collect()
    }

    fn css(selector: &str) -> ExtractRule {
        ExtractRule {
            css: Some(selector.into()),
            ..Default::default()
        }
    }

    const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en-GB"><head>
  <title>  Caf&eacute; &amp;
     Bar  </title>
  <meta name="Description" content="Best  coffee &amp; more">
  <link rel="stylesheet" href="/s.css">
  <link rel="canonical" href="/canonical?x=1&amp;y=2">
  <base href="https://cdn.example/base/">
  <script>var s = "<a href='/in-script'>";</script>
  <style>p { color: red }</style>
</head><body>
  <h1 class="t" id="main"> Hello <b>world</b> </h1>
  <a href="rel/one">one</a>
  <a href="/abs#frag">abs</a>
  <a href="https://other.example/x#y">other</a>
  <a href="rel/one#again">dup</a>
  <a href="mailto:a@b.example">mail</a>
  <a href="javascript:void(0)">js</a>
  <a href="#top">top</a>
  <a href="  ../up?a=1&amp;b=2  ">up</a>
  <map><area href="//proto.example/area"></map>
  <div class="price" data-value="12.50"><span>12,50 €</span></div>
  <ul><li class="tag">a</li><li class="tag">b <i>c</i></li></ul>
  <noscript>enable js</noscript><template><p>hidden</p></template>
  <p>SKU-123 and SKU-456</p>
</body></html>"##;

    #[test]
    fn record_copies_the_outcome() {
        let r = run(JobOptions::default(), Some("text/plain"), 200, b"hi");
        assert_eq!(
            (r.job_id.as_str(), r.seq, r.url.as_str()),
            ("job-7", 3, URL)
        );
        assert_eq!(r.reference.as_deref(), Some("my-ref"));
        assert_eq!(
            (r.status, r.ok, r.attempts, r.elapsed_ms),
            (Some(200), true, 1, Some(12))
        );
        assert_eq!(r.bytes, Some(2));
        assert_eq!(
            r.sha256.as_deref(),
            Some("8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4")
        );
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
        assert!(r.json.is_none() && r.html.is_none() && r.text.is_none() && r.body.is_none());
    }

    #[test]
    fn json_body_is_kept_as_its_original_text() {
        let body = br#"{"data": {"user": {"id": 42}}, "n": 1.50}"#;
        let r = run(JobOptions::default(), Some("application/json"), 200, body);
        assert_eq!(
            r.json.as_ref().unwrap().get(),
            std::str::from_utf8(body).unwrap()
        );
        assert!(r.notes.is_empty());
        let stored: Value = serde_json::from_str(&r.to_stored(7).json).unwrap();
        assert_eq!(stored["json"]["data"]["user"]["id"], 42);
        assert_eq!(stored["extract"], json!({}));
    }

    #[test]
    fn invalid_json_is_a_note_and_keeps_the_status() {
        let r = run(
            JobOptions::default(),
            Some("application/problem+json"),
            500,
            b"{oops",
        );
        assert!(r.json.is_none());
        assert_eq!((r.status, r.ok), (Some(500), false));
        assert_eq!(codes(&r), ["invalid_json"]);
    }

    #[test]
    fn deep_json_is_a_note() {
        let body = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        let r = run(
            JobOptions::default(),
            Some("application/json"),
            200,
            body.as_bytes(),
        );
        assert!(r.json.is_none());
        assert_eq!(codes(&r), ["json_too_deep"]);
    }

    #[test]
    fn html_summary_and_links() {
        let r = run(
            JobOptions::default(),
            Some("text/html"),
            200,
            PAGE.as_bytes(),
        );
        let html = r.html.unwrap();
        assert_eq!(html.title.as_deref(), Some("Caf\u{e9} & Bar"));
        assert_eq!(html.description.as_deref(), Some("Best coffee & more"));
        assert_eq!(
            html.canonical.as_deref(),
            Some("https://cdn.example/canonical?x=1&y=2")
        );
        assert_eq!(html.lang.as_deref(), Some("en-GB"));
        assert_eq!(
            html.links.unwrap().iter().collect::<Vec<_>>(),
            [
                "https://cdn.example/base/rel/one",
                "https://cdn.example/abs",
                "https://other.example/x",
                "https://cdn.example/up?a=1&b=2",
                "https://proto.example/area",
            ]
        );
        assert!(r.text.is_none());
        assert!(r.notes.is_empty(), "{:?}", r.notes);
    }

    #[test]
    fn html_without_a_content_type_is_sniffed_as_browsers_do() {
        let page = b"\n<!DOCTYPE html><title>Untyped</title><a href=x>x</a>";
        let r = run(JobOptions::default(), None, 200, page);
        assert_eq!(r.content_type, None, "the record says what the server sent");
        let html = r.html.expect("sniffed as HTML");
        assert_eq!(html.title.as_deref(), Some("Untyped"));
        assert_eq!(
            html.links.unwrap().iter().collect::<Vec<_>>(),
            ["https://shop.example/dir/x"]
        );
        let r = run(JobOptions::default(), Some("text/plain"), 200, page);
        assert!(r.html.is_none(), "a declared type is not second-guessed");
    }

    #[test]
    fn links_resolve_against_the_final_url_without_base() {
        let page = b"<a href=x>1</a><a href='/y#f'>2</a><a href=x>3</a><a href=''>self</a>";
        let r = run(JobOptions::default(), Some("text/html"), 200, page);
        assert_eq!(
            r.html.unwrap().links.unwrap().iter().collect::<Vec<_>>(),
            ["https://shop.example/dir/x", "https://shop.example/y"]
        );
    }

    #[test]
    fn links_are_null_unless_requested() {
        let r = run(
            with_parts(&[ProcessPart::Html]),
            Some("text/html"),
            200,
            PAGE.as_bytes(),
        );
        let html = r.html.unwrap();
        assert!(html.links.is_none());
        assert!(html.title.is_some());
        let r = run(
            with_parts(&[ProcessPart::Json]),
            Some("text/html"),
            200,
            PAGE.as_bytes(),
        );
        assert!(r.html.is_none());
    }

    #[test]
    fn visible_text_skips_scripts_styles_and_templates() {
        let r = run(
            with_parts(&[ProcessPart::Text]),
            Some("text/html"),
            200,
            PAGE.as_bytes(),
        );
        let text = r.text.unwrap();
        assert!(text.starts_with("Hello world one abs"), "{text}");
        assert!(text.ends_with("a b c SKU-123 and SKU-456"), "{text}");
        for hidden in ["var s", "color", "enable js", "hidden", "Caf"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert!(r.html.is_none());
    }

    #[test]
    fn visible_text_breaks_words_where_a_block_starts_or_ends_not_at_inline_tags() {
        let page = "<h1>Widget</h1><span class=price>12,50</span><ul><li>one<li>two</ul>\
                    after<div><p>closed by the div</div>next <b>bo</b>ld";
        let r = run(
            with_parts(&[ProcessPart::Text]),
            Some("text/html"),
            200,
            page.as_bytes(),
        );
        assert_eq!(
            r.text.as_deref(),
            Some("Widget 12,50 one two after closed by the div next bold")
        );
    }

    #[test]
    fn css_values_break_words_where_a_block_inside_starts_or_ends() {
        let page = "<article><h2>Part 1</h2><p>First<br>line, <em>stressed</em>.</p>\
                    <table><tr><td>a</td><td>b</td></tr></table></article>";
        let mut options = with_parts(&[ProcessPart::Html]);
        for (name, css) in [("article", "article"), ("row", "tr"), ("p", "p")] {
            let rule = ExtractRule {
                css: Some(css.into()),
                ..Default::default()
            };
            options.extract.insert(name.into(), rule);
        }
        let r = run(options, Some("text/html"), 200, page.as_bytes());
        assert_eq!(
            Value::Object(r.extract),
            json!({
                "article": "Part 1 First line, stressed. a b",
                "row": "a b",
                "p": "First line, stressed.",
            })
        );
    }

    #[test]
    fn lists_are_cut_at_their_value_and_byte_limits_with_a_note() {
        use crate::rules::{MAX_ALL_BYTES, MAX_ALL_VALUES};
        let list = |r: &Record, name: &str| -> (usize, usize) {
            let values = r.extract[name].as_array().expect("a list");
            let bytes = values.iter().map(|v| v.as_str().unwrap().len()).sum();
            (values.len(), bytes)
        };
        let many = "<i>x</i>".repeat(MAX_ALL_VALUES + 5);
        let rule = ExtractRule {
            all: true,
            ..css("i")
        };
        let r = run(
            with_rules(&[("i", rule)]),
            Some("text/html"),
            200,
            many.as_bytes(),
        );
        assert_eq!(list(&r, "i").0, MAX_ALL_VALUES);
        assert_eq!(codes(&r), ["extract_truncated"]);
        assert!(r.notes[0].message.contains("`i`"), "{:?}", r.notes);

        // 3,000 words of 600 bytes: 1.8 MB, past MAX_ALL_BYTES after about 1,750.
        let long = format!("v{} ", "w".repeat(599)).repeat(3000);
        let rule = ExtractRule {
            regex: Some(r"v\w+".into()),
            all: true,
            ..Default::default()
        };
        let r = run(
            with_rules(&[("v", rule)]),
            Some("text/plain"),
            200,
            long.as_bytes(),
        );
        let (values, bytes) = list(&r, "v");
        assert!(values < 3000, "{values} values");
        assert!(
            (MAX_ALL_BYTES..MAX_ALL_BYTES + 600).contains(&bytes),
            "{bytes} bytes"
        );
        assert_eq!(codes(&r), ["extract_truncated"]);
    }

    #[test]
    fn visible_text_is_capped_with_a_note() {
        let options = with_parts(&[ProcessPart::Text]);
        let rules = CompiledRules::compile(&options.extract).unwrap();
        let settings = ProcessorSettings {
            max_text_bytes: 10,
            ..Default::default()
        };
        let r = process_alone(
            outcome(
                options,
                Some("text/html"),
                200,
                "<p>ééééé ééééé</p>".as_bytes(),
            ),
            &rules,
            &settings,
        );
        assert_eq!(r.text.as_deref(), Some("ééééé"));
        assert_eq!(codes(&r), ["text_truncated"]);
    }

    #[test]
    fn iso_8859_1_by_header() {
        let r = run(
            JobOptions::default(),
            Some("text/html; charset=ISO-8859-1"),
            200,
            b"<title>Caf\xe9 cr\xe8me</title>",
        );
        assert_eq!(r.html.unwrap().title.as_deref(), Some("Café crème"));
        assert!(r.notes.is_empty());
        assert_eq!(r.bytes, Some(25));
    }

    #[test]
    fn shift_jis_by_meta() {
        let (encoded, _, _) = encoding_rs::SHIFT_JIS.encode("<html><head><meta charset=\"Shift_JIS\"><title>日本語のページ</title></head><p>こんにちは</p>");
        let options = with_parts(&[ProcessPart::Html, ProcessPart::Text]);
        let r = run(options, Some("text/html"), 200, &encoded);
        assert_eq!(r.html.unwrap().title.as_deref(), Some("日本語のページ"));
        assert_eq!(r.text.as_deref(), Some("こんにちは"));
        assert!(r.notes.is_empty());
    }

    #[test]
    fn utf16_with_bom() {
        let mut body = vec![0xFF, 0xFE];
        body.extend(
            "<title>Grüße</title><a href=\"/ü\">x</a>"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        let r = run(JobOptions::default(), Some("text/html"), 200, &body);
        let html = r.html.unwrap();
        assert_eq!(html.title.as_deref(), Some("Grüße"));
        assert_eq!(
            html.links.unwrap().iter().collect::<Vec<_>>(),
            ["https://shop.example/%C3%BC"]
        );
    }

    #[test]
    fn undecodable_bytes_are_a_note() {
        let r = run(
            with_parts(&[ProcessPart::Text]),
            Some("text/plain"),
            200,
            b"ok \xff\xfe",
        );
        assert_eq!(r.text.as_deref(), Some("ok \u{FFFD}\u{FFFD}"));
        assert_eq!(codes(&r), ["undecodable_bytes"]);
    }

    #[test]
    fn broken_html_still_yields_a_summary() {
        let page = b"<html><title>Broken <b>page</title><div><a href=/a>a<a href=/b x y=>b</div>\
                     <p <a href=\"/c\">c</a><li class=x>1<li class=x>2</ul></unknown><a href=/d";
        let options = with_rules(&[(
            "items",
            ExtractRule {
                css: Some("li.x".into()),
                all: true,
                ..Default::default()
            },
        )]);
        let r = run(options, Some("text/html"), 200, page);
        let html = r.html.unwrap();
        assert_eq!(html.title.as_deref(), Some("Broken <b>page"));
        assert!(html
            .links
            .unwrap()
            .iter()
            .any(|link| link == "https://shop.example/a"));
        assert_eq!(r.extract["items"], json!(["1", "2"]));
    }

    #[test]
    fn css_rules_on_html() {
        let options = with_rules(&[
            ("title", css("h1")),
            ("by_id", css("#main > b")),
            (
                "tags",
                ExtractRule {
                    css: Some("ul li.tag".into()),
                    all: true,
                    ..Default::default()
                },
            ),
            (
                "price",
                ExtractRule {
                    css: Some("div.price".into()),
                    attr: Some("data-value".into()),
                    ..Default::default()
                },
            ),
            ("price_text", css("div[data-value] span")),
            ("missing", css("table")),
            (
                "missing_all",
                ExtractRule {
                    css: Some("table".into()),
                    all: true,
                    ..Default::default()
                },
            ),
            (
                "sku",
                ExtractRule {
                    regex: Some(r"SKU-(\d+)".into()),
                    ..Default::default()
                },
            ),
            (
                "skus",
                ExtractRule {
                    regex: Some(r"SKU-\d+".into()),
                    all: true,
                    ..Default::default()
                },
            ),
            (
                "pointer",
                ExtractRule {
                    json: Some("/a".into()),
                    ..Default::default()
                },
            ),
        ]);
        let r = run(options, Some("text/html"), 200, PAGE.as_bytes());
        assert_eq!(
            Value::Object(r.extract),
            json!({
                "title": "Hello world", "by_id": "world", "tags": ["a", "b c"], "price": "12.50",
                "price_text": "12,50 €", "missing": null, "missing_all": null,
                "sku": "123", "skus": ["SKU-123", "SKU-456"], "pointer": null,
            })
        );
    }

    #[test]
    fn rules_on_json() {
        let options = with_rules(&[
            (
                "id",
                ExtractRule {
                    json: Some("/data/user/id".into()),
                    ..Default::default()
                },
            ),
            (
                "tags",
                ExtractRule {
                    json: Some("/data/tags".into()),
                    ..Default::default()
                },
            ),
            (
                "slash",
                ExtractRule {
                    json: Some("/a~1b".into()),
                    ..Default::default()
                },
            ),
            (
                "missing",
                ExtractRule {
                    json: Some("/nope/0".into()),
                    ..Default::default()
                },
            ),
            ("css", css("a")),
            (
                "name",
                ExtractRule {
                    regex: Some(r#""name":\s*"([^"]+)""#.into()),
                    ..Default::default()
                },
            ),
        ]);
        let body =
            br#"{"data": {"user": {"id": 42, "name": "Ada"}, "tags": ["x", "y"]}, "a/b": true}"#;
        let r = run(options, Some("application/json"), 200, body);
        assert_eq!(
            Value::Object(r.extract),
            json!({"id": 42, "tags": ["x", "y"], "slash": true, "missing": null, "css": null, "name": "Ada"})
        );
        assert!(r.json.is_some());
    }

    #[test]
    fn json_rules_work_without_the_json_part() {
        let mut options = with_rules(&[(
            "id",
            ExtractRule {
                json: Some("/id".into()),
                ..Default::default()
            },
        )]);
        options.process = Some(vec![ProcessPart::Html]);
        let r = run(options, Some("application/json"), 200, br#"{"id": "x"}"#);
        assert!(r.json.is_none());
        assert_eq!(r.extract["id"], "x");
    }

    #[test]
    fn rules_run_on_error_statuses() {
        let options = with_rules(&[("h", css("h1"))]);
        let r = run(options, Some("text/html"), 404, b"<h1>Not found</h1>");
        assert!(!r.ok);
        assert_eq!(r.extract["h"], "Not found");
    }

    #[test]
    fn failed_fetch_has_no_content_but_every_rule_key() {
        let options = with_rules(&[("h", css("h1"))]);
        let rules = CompiledRules::compile(&options.extract).unwrap();
        let mut o = outcome(options, Some("text/html"), 200, b"<h1>partial");
        o.error = Some(RecordError {
            kind: ErrorKind::BodyTooLarge,
            message: "too big".into(),
        });
        let r = process_alone(o, &rules, &ProcessorSettings::default());
        assert_eq!((r.status, r.ok), (Some(200), false));
        assert!(
            r.content_type.is_none() && r.bytes.is_none() && r.sha256.is_none() && r.html.is_none()
        );
        assert_eq!(Value::Object(r.extract), json!({"h": null}));
    }

    #[test]
    fn headers_and_text_body() {
        let options = with_parts(&[ProcessPart::Headers, ProcessPart::Body]);
        let r = run(
            options,
            Some("text/plain; charset=iso-8859-1"),
            200,
            b"caf\xe9",
        );
        let headers = r.headers.unwrap();
        assert_eq!(headers["set-cookie"], "a=1, b=2");
        assert_eq!(r.body.as_deref(), Some("café"));
        assert!(r.notes.is_empty());
    }

    #[test]
    fn binary_body_is_base64_and_truncated() {
        let options = with_parts(&[ProcessPart::Body]);
        let rules = CompiledRules::compile(&options.extract).unwrap();
        let settings = ProcessorSettings {
            max_stored_body_bytes: 3,
            ..Default::default()
        };
        let r = process_alone(
            outcome(
                options,
                Some("image/png"),
                200,
                &[0x89, b'P', b'N', b'G', 0],
            ),
            &rules,
            &settings,
        );
        assert_eq!(r.body.as_deref(), Some("iVBO"));
        assert_eq!(codes(&r), ["body_base64", "body_truncated"]);
        assert_eq!(r.bytes, Some(5));
    }

    #[test]
    fn broken_rules_give_null_and_a_note() {
        let options = with_rules(&[("bad", css("a["))]);
        let rules = CompiledRules::compile_lenient(&options.extract);
        let r = process_alone(
            outcome(options, Some("text/html"), 200, b"<a>x</a>"),
            &rules,
            &ProcessorSettings::default(),
        );
        assert_eq!(r.extract["bad"], Value::Null);
        assert_eq!(codes(&r), ["invalid_rule"]);
    }

    #[test]
    fn stored_record_has_every_contract_key() {
        let r = run(
            JobOptions::default(),
            Some("text/html"),
            200,
            PAGE.as_bytes(),
        );
        let stored = r.to_stored(7);
        assert_eq!((stored.job, stored.seq, stored.ok), (7, 3, true));
        let value: Value = serde_json::from_str(&stored.json).unwrap();
        assert_eq!(value.as_object().unwrap().len(), 22);
        assert_eq!(value["ref"], "my-ref");
    }
}
