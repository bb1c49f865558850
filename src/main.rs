use clap::Parser;

use arksync::cli::{Cli, Command};
use arksync::config::Config;

/// mimalloc rather than glibc's allocator: the sync's many short-lived JSON
/// values made malloc and free a fifth of the process's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("arksync: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    arksync::telemetry::init(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => arksync::app::serve(config).await,
        Command::Worker => arksync::app::run_worker(config).await,
        Command::Migrate => arksync::app::migrate(config).await,
        Command::Healthcheck => arksync::healthcheck::check(config.listen),
        Command::JiraSim(args) => arksync::jira_sim::run(*args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "arksync stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
