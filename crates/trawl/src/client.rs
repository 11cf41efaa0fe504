//! The client commands: talk to a running server over its API.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use awc::http::header;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};

use crate::cli::{ResultsFormat, ServerArgs};

/// How long `--wait` waits before opening a broken event stream again.
const RECONNECT: Duration = Duration::from_millis(500);

/// An API client for one server.
pub struct Client {
    http: awc::Client,
    base: String,
    api_key: Option<String>,
}

impl Client {
    /// A client for `server`.
    pub fn new(server: &ServerArgs) -> Client {
        Client {
            // Large submissions and long exports: no overall deadline.
            http: awc::Client::builder()
                .timeout(Duration::from_secs(3600))
                .finish(),
            base: server.server.trim_end_matches('/').to_owned(),
            api_key: server.api_key.clone(),
        }
    }

    fn request(&self, method: awc::http::Method, path: &str) -> awc::ClientRequest {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.api_key {
            Some(key) => request.insert_header((header::AUTHORIZATION, format!("Bearer {key}"))),
            None => request,
        }
    }

    async fn json(
        &self,
        request: awc::ClientRequest,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Value> {
        let sent = match body {
            Some((content_type, bytes)) => request
                .insert_header((header::CONTENT_TYPE, content_type))
                .send_body(bytes),
            None => request.send(),
        };
        let mut response = sent
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.base))?;
        let bytes = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .context("cannot read the answer")?;
        let value: Value =
            serde_json::from_slice(&bytes).context("the server did not answer JSON")?;
        if !response.status().is_success() {
            let message = value["error"]["message"].as_str().unwrap_or("no message");
            bail!(
                "{} {}: {message}",
                response.status().as_u16(),
                value["error"]["code"].as_str().unwrap_or("error")
            );
        }
        Ok(value)
    }

    /// Submits the URLs of `file`, with a `label` and `options` over the file's own (for
    /// a JSON submission), and returns the job object.
    pub async fn submit(
        &self,
        file: &Path,
        label: Option<&str>,
        options: Option<Map<String, Value>>,
    ) -> anyhow::Result<Value> {
        let bytes = read_input(file)?;
        let is_json = file.extension().is_some_and(|e| e == "json");
        let (content_type, body) = if is_json || label.is_some() || options.is_some() {
            let mut submission = if is_json {
                match serde_json::from_slice(&bytes).context("the file is not JSON")? {
                    Value::Object(submission) => submission,
                    _ => bail!("the file is not a JSON submission (an object with urls)"),
                }
            } else {
                let text = String::from_utf8(bytes).context("the file is not UTF-8")?;
                let urls: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .collect();
                Map::from_iter([("urls".to_owned(), urls.into())])
            };
            if let Some(label) = label {
                submission.insert("label".into(), label.into());
            }
            if let Some(options) = options {
                let mut merged = match submission.remove("options") {
                    Some(Value::Object(own)) => own,
                    Some(_) => bail!("the submission's options are not an object"),
                    None => Map::new(),
                };
                overlay_options(&mut merged, options);
                submission.insert("options".into(), merged.into());
            }
            ("application/json", serde_json::to_vec(&submission)?)
        } else {
            ("text/plain", bytes)
        };
        self.json(
            self.request(awc::http::Method::POST, "/v1/jobs"),
            Some((content_type, body)),
        )
        .await
    }

    /// The job object of `id`.
    pub async fn status(&self, id: &str) -> anyhow::Result<Value> {
        self.json(
            self.request(awc::http::Method::GET, &format!("/v1/jobs/{id}")),
            None,
        )
        .await
    }

    /// Follows the event stream of `id` with a progress bar until the job reaches a
    /// final state; returns the final job object. A stream that breaks off (a restart
    /// of the server) is opened again.
    pub async fn wait(&self, id: &str) -> anyhow::Result<Value> {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} URLs  {per_sec:0}  eta {eta}  {msg}",
            )
            .expect("the template is valid"),
        );
        let show = |job: &Value| {
            bar.set_length(job["total"].as_u64().unwrap_or(0));
            bar.set_position(job["done"].as_u64().unwrap_or(0));
            bar.set_message(format!("{} failed", job["failed"]));
        };
        loop {
            if let Some(job) = self.follow_events(id, &show).await? {
                bar.finish();
                return Ok(job);
            }
            let job = self.status(id).await?;
            show(&job);
            if !matches!(job["state"].as_str(), Some("queued" | "running")) {
                bar.finish();
                return Ok(job);
            }
            actix_rt::time::sleep(RECONNECT).await;
        }
    }

    /// Reads the event stream of `id`, calling `show` with each job object; returns the
    /// final one from the `end` event, or `None` when the stream broke off before it.
    async fn follow_events(
        &self,
        id: &str,
        show: &impl Fn(&Value),
    ) -> anyhow::Result<Option<Value>> {
        let Ok(mut response) = self
            .request(awc::http::Method::GET, &format!("/v1/jobs/{id}/events"))
            .send()
            .await
        else {
            return Ok(None);
        };
        if !response.status().is_success() {
            let body = response.body().await.unwrap_or_default();
            bail!("{}: {}", response.status(), String::from_utf8_lossy(&body));
        }
        let mut events = EventReader::default();
        while let Some(Ok(chunk)) = response.next().await {
            for event in events.push(&chunk) {
                let job: Value =
                    serde_json::from_str(&event.data).context("an event is not JSON")?;
                show(&job);
                if event.name == "end" {
                    return Ok(Some(job));
                }
            }
        }
        Ok(None)
    }

    /// Streams the records of `id` to `out`.
    pub async fn results(
        &self,
        id: &str,
        format: ResultsFormat,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        let path = format!("/v1/jobs/{id}/results?format={}", format.as_query());
        let mut response = self
            .request(awc::http::Method::GET, &path)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.base))?;
        if !response.status().is_success() {
            let body = response.body().await.unwrap_or_default();
            bail!("{}: {}", response.status(), String::from_utf8_lossy(&body));
        }
        while let Some(chunk) = response.next().await {
            out.write_all(&chunk.context("the export broke off")?)?;
        }
        out.flush()?;
        Ok(())
    }
}

/// One server-sent event.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    name: String,
    data: String,
}

/// Splits a server-sent event stream, fed in arbitrary chunks, into events. Comments
/// (`: ping`) and events without data are skipped.
#[derive(Default)]
struct EventReader {
    pending: Vec<u8>,
}

impl EventReader {
    /// Adds `chunk` and returns the events it completed.
    fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            let mut event = Event {
                name: "message".into(),
                data: String::new(),
            };
            for line in String::from_utf8_lossy(&block).lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event.name = name.trim().to_owned();
                } else if let Some(data) = line.strip_prefix("data:") {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(data.strip_prefix(' ').unwrap_or(data));
                }
            }
            if !event.data.is_empty() {
                events.push(event);
            }
        }
        events
    }
}

/// Puts the job options `top` over `base`: each key of `top` replaces `base`'s, except
/// `extract`, whose rules are added to `base`'s one by one (a rule of the same name
/// replaced).
pub(crate) fn overlay_options(base: &mut Map<String, Value>, top: Map<String, Value>) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(rules)), Value::Object(more)) if key == "extract" => {
                rules.extend(more);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn read_input(file: &Path) -> anyhow::Result<Vec<u8>> {
    if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_comments_skipped() {
        let mut reader = EventReader::default();
        assert!(reader.push(b"event: progress\ndata: {\"done\"").is_empty());
        let events = reader.push(b": 1}\n\n: ping\n\nevent: end\ndata: {}\n\nevent: pro");
        assert_eq!(
            events,
            [
                Event {
                    name: "progress".into(),
                    data: "{\"done\": 1}".into()
                },
                Event {
                    name: "end".into(),
                    data: "{}".into()
                }
            ]
        );
        assert!(reader.push(b"gress\n").is_empty());
        assert_eq!(reader.push(b"data: x\n\n")[0].name, "progress");
    }
}
