//! The command line: `trawl serve` and `trawl config`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
}
