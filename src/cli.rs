//! The command line: subcommands and their help. Configuration itself comes
//! from environment variables (see [`crate::config`]).

use clap::{Parser, Subcommand};

use crate::config::ENV_HELP;

/// arksync keeps ARKHITEKTON work items (user stories, defects, epics) and
/// Jira issues in sync, both ways, in near real time, with PostgreSQL as its
/// only dependency.
#[derive(Debug, Parser)]
#[command(name = "arksync", version, about, long_about = None, after_help = ENV_HELP, max_term_width = 80)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and a job worker (the default). With no DATABASE_URL,
    /// starts a private PostgreSQL cluster in $ARKSYNC_DATA_DIR/pg first.
    /// Migrations are applied at start.
    #[command(after_help = ENV_HELP)]
    Serve,
    /// Run only the job worker (no HTTP API), to scale job processing out
    /// as separate processes or containers against one database.
    #[command(after_help = ENV_HELP)]
    Worker,
    /// Apply the database migrations and exit.
    #[command(after_help = ENV_HELP)]
    Migrate,
    /// Exit 0 if the service on $ARKSYNC_LISTEN answers /readyz with 200
    /// (for container health checks).
    Healthcheck,
    /// Serve a simulated Jira (Cloud or Data Center) on its own port, for
    /// tests and demos; with no flags it prints its URL and credentials.
    JiraSim(Box<crate::jira_sim::JiraSimArgs>),
}
