//! The command line: `serve` and `config`, and the client commands `submit`, `status`,
//! `results` and `fetch`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
        /// The file, one URL per line; `-` reads standard input.
        file: PathBuf,
    },
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
