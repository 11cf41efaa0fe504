//! `trawl`: see `trawl --help`.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use trawl::cli::{Cli, Command, JobArgs, ResultsFormat, ServerArgs};
use trawl::client::Client;
use trawl::{telemetry, Application};
use trawl_core::settings::{self, Settings};

// Records are built on processor threads and freed on the writer's: glibc's malloc is
// slow at cross-thread frees, mimalloc is not (DESIGN.md's measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    trawl_core::memory::disable_transparent_huge_pages();
    let Cli { config, command } = Cli::parse();
    let load = || {
        settings::load(config.as_deref(), std::env::vars())
            .map_err(|e| Failure::Config(Box::new(e)))
    };
    let result = match command {
        Command::Config => load().map(|settings| print!("{}", settings.to_toml())),
        Command::Serve => load().and_then(|settings| {
            telemetry::init();
            actix::System::new()
                .block_on(serve(settings))
                .map_err(Failure::Run)
        }),
        Command::Fetch { file, job } => load().and_then(|settings| {
            telemetry::init();
            actix::System::new()
                .block_on(fetch_here(settings, file, job))
                .map_err(Failure::Run)
        }),
        Command::Submit {
            file,
            label,
            wait,
            job,
            server,
        } => run_client(async move {
            let client = Client::new(&server);
            let job = client
                .submit(&file, label.as_deref(), job.options()?)
                .await?;
            let id = job["id"]
                .as_str()
                .context("the answer has no job id")?
                .to_owned();
            let job = if wait { client.wait(&id).await? } else { job };
            println!("{}", serde_json::to_string_pretty(&job)?);
            Ok(())
        }),
        Command::Status { id, server } => run_client(async move {
            let job = Client::new(&server).status(&id).await?;
            println!("{}", serde_json::to_string_pretty(&job)?);
            Ok(())
        }),
        Command::Results { id, format, server } => run_client(async move {
            Client::new(&server)
                .results(&id, format, &mut std::io::stdout().lock())
                .await
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(error)) => {
            eprintln!("trawl: {error}");
            ExitCode::from(2)
        }
        Err(Failure::Run(error)) => {
            eprintln!("trawl: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed: its configuration (exit 2) or its work (exit 1).
enum Failure {
    Config(Box<settings::SettingsError>),
    Run(anyhow::Error),
}

fn run_client(work: impl std::future::Future<Output = anyhow::Result<()>>) -> Result<(), Failure> {
    actix::System::new().block_on(work).map_err(Failure::Run)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings)?;
    // Scripts and tests read the bound address from this line (port 0 picks a free one).
    println!("trawl listening on http://{}", app.local_addr());
    app.run_until_stopped().await
}

/// `trawl fetch`: the whole pipeline in this process, on a private database and a
/// loopback port, driven through its own API; records go to standard output.
async fn fetch_here(
    mut settings: Settings,
    file: std::path::PathBuf,
    job: JobArgs,
) -> anyhow::Result<()> {
    // Bad options stop the command before the service starts.
    let options = job.options()?;
    let workdir = std::env::temp_dir().join(format!("trawl-fetch-{}", std::process::id()));
    settings.store.url = format!("sqlite://{}", workdir.join("trawl.db").display());
    settings.api.bind = "127.0.0.1:0".into();
    settings.api.api_keys.clear();
    let app = Application::build(settings)?;
    let server = ServerArgs {
        server: format!("http://{}", app.local_addr()),
        api_key: None,
    };
    let stopper = app.stopper();
    let running = actix_rt::spawn(app.run_until_stopped());
    let outcome = async {
        let client = Client::new(&server);
        let job = client.submit(&file, None, options).await?;
        let id = job["id"]
            .as_str()
            .context("the answer has no job id")?
            .to_owned();
        client.wait(&id).await?;
        client
            .results(&id, ResultsFormat::Ndjson, &mut std::io::stdout().lock())
            .await
    }
    .await;
    stopper.stop();
    let _ = running.await;
    let _ = std::fs::remove_dir_all(&workdir);
    outcome
}
