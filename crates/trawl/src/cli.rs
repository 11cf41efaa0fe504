//! The command line: `serve` and `config`, and the client commands `submit`, `status`,
//! `results` and `fetch`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use crate::client::overlay_options;

/// Fetch large batches of URLs concurrently and keep a structured record of every response.
#[derive(Debug, Parser)]
#[command(name = "trawl", version, about)]
pub struct Cli {
    /// A TOML configuration file (layered over the defaults, under TRAWL__* variables).
    #[arg(long, global = true, env = "TRAWL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: admin API, fetchers, processors and the store.
    Serve,
    /// Print the effective configuration as TOML.
    Config,
    /// Submit a file of URLs (one per line, or a JSON submission) to a running server.
    Submit {
        /// The file; `-` reads standard input. A `.json` file is sent as a JSON submission.
        file: PathBuf,
        /// A label for the job.
        #[arg(long)]
        label: Option<String>,
        /// Wait for the job to finish, with a progress bar.
        #[arg(long)]
        wait: bool,
        /// What the job's records carry.
        #[command(flatten)]
        job: JobArgs,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a job's state and counters.
    Status {
        /// The job id.
        id: String,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Write a job's records to standard output.
    Results {
        /// The job id.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ResultsFormat::Ndjson)]
        format: ResultsFormat,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Fetch a file of URLs with the whole pipeline in this process (no server) and
    /// write the records as NDJSON to standard output.
    Fetch {
        /// The file, one URL per line; `-` reads standard input. A `.json` file is a JSON
        /// submission.
        file: PathBuf,
        /// What the job's records carry.
        #[command(flatten)]
        job: JobArgs,
    },
}

/// A job's options given on the command line: those of the API's submission
/// (DESIGN.md's job options), whole or a key at a time.
#[derive(Debug, Clone, Default, Args)]
pub struct JobArgs {
    /// The job's options as JSON, as the API takes them, or `@FILE` to read them from a
    /// file; `--process` and `--extract` go over them.
    #[arg(long, value_name = "JSON|@FILE")]
    pub options: Option<String>,
    /// What each record carries, comma-separated (the server's default:
    /// json,html,links).
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = ["json", "html", "links", "text", "headers", "body"],
    )]
    pub process: Vec<String>,
    /// An extraction rule, repeatable: `NAME=css:SELECTOR`, `NAME=json:POINTER`,
    /// `NAME=regex:PATTERN`, or `NAME={...}`, the rule as JSON (for `attr` and `all`:
    /// `'links={"css": "a", "attr": "href", "all": true}'`).
    #[arg(long, value_name = "NAME=RULE", value_parser = parse_extract)]
    pub extract: Vec<(String, Value)>,
}

impl JobArgs {
    /// The options these arguments give, `None` when they give none. The server checks
    /// what they say (an invalid selector is its 400, naming the rule).
    pub fn options(&self) -> anyhow::Result<Option<Map<String, Value>>> {
        let mut options = match &self.options {
            None => Map::new(),
            Some(text) => {
                let json = match text.strip_prefix('@') {
                    Some(file) => std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read the options file {file}"))?,
                    None => text.clone(),
                };
                match serde_json::from_str(&json).context("--options is not JSON")? {
                    Value::Object(options) => options,
                    _ => anyhow::bail!("--options is not a JSON object"),
                }
            }
        };
        let mut flags = Map::new();
        if !self.process.is_empty() {
            flags.insert("process".into(), self.process.clone().into());
        }
        if !self.extract.is_empty() {
            let rules = self.extract.iter().cloned().collect::<Map<_, _>>();
            flags.insert("extract".into(), rules.into());
        }
        overlay_options(&mut options, flags);
        Ok((self.options.is_some() || !options.is_empty()).then_some(options))
    }
}

/// Parses an `--extract` argument (see [`JobArgs::extract`]) into the rule's name and
/// its JSON.
fn parse_extract(argument: &str) -> Result<(String, Value), String> {
    const FORMS: &str = "NAME=css:SELECTOR, NAME=json:POINTER, NAME=regex:PATTERN or NAME={...}";
    let (name, rule) = argument
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("expected {FORMS}"))?;
    let rule = if rule.starts_with('{') {
        match serde_json::from_str(rule) {
            Ok(Value::Object(rule)) => Value::Object(rule),
            _ => return Err(format!("the rule of {name} is not a JSON object")),
        }
    } else {
        match rule.split_once(':') {
            Some((kind @ ("css" | "json" | "regex"), text)) if !text.is_empty() => {
                serde_json::json!({ kind: text })
            }
            _ => return Err(format!("the rule of {name}: expected {FORMS}")),
        }
    };
    Ok((name.to_owned(), rule))
}

/// How to reach a running server.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "TRAWL_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The API key, when the server requires one.
    #[arg(long, env = "TRAWL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Formats `trawl results` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultsFormat {
    /// One JSON record per line.
    Ndjson,
    /// CSV with a header row.
    Csv,
}

impl ResultsFormat {
    /// The `format` query value.
    pub fn as_query(self) -> &'static str {
        match self {
            ResultsFormat::Ndjson => "ndjson",
            ResultsFormat::Csv => "csv",
        }
    }
}
