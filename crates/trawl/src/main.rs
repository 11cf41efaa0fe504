//! `trawl`: see `trawl --help`.

use std::process::ExitCode;

use clap::Parser;
use trawl::cli::{Cli, Command};
use trawl::{telemetry, Application};
use trawl_core::settings::{self, Settings};

// Records are built on processor threads and freed on the writer's: glibc's malloc is
// slow at cross-thread frees, mimalloc is not (DESIGN.md's measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match settings::load(cli.config.as_deref(), std::env::vars()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("trawl: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Config => {
            print!("{}", settings.to_toml());
            ExitCode::SUCCESS
        }
        Command::Serve => {
            telemetry::init();
            match actix::System::new().block_on(serve(settings)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("trawl: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings)?;
    // Scripts and tests read the bound address from this line (port 0 picks a free one).
    println!("trawl listening on http://{}", app.local_addr());
    app.run_until_stopped().await
}
