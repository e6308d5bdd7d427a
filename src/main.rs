//! ccaf-housekeeping: the action's binary. Parsing and exit codes only; the commands live in
//! the library (`ccaf_housekeeping::cli`).
//!
//! Exit codes: 0 done, 1 an operation failed, 2 bad input or configuration, 3 another run holds
//! the lease.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use ccaf_housekeeping::cli::{self, Cli};
use ccaf_housekeeping::github;

fn main() -> ExitCode {
    // Usage errors exit 2 from clap itself.
    let cli = Cli::parse();
    init_logging();
    if in_github_actions() {
        ccaf_housekeeping::secrets::enable_github_masking();
    }
    ccaf_housekeeping::secrets::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime failed: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            let code = e.exit_code();
            if in_github_actions() {
                // An annotation on the run's page, naming the input when there is one.
                let title = match &e {
                    cli::CliError::Config(c) => format!("Invalid input `{}`", c.input_name()),
                    _ if code == 3 => "Another run holds the lease".to_string(),
                    _ => "ccaf-housekeeping failed".to_string(),
                };
                let at = github::commands::Annotation::titled(title);
                println!("{}", github::commands::error(&e.to_string(), &at));
            }
            let e = anyhow::Error::new(e);
            eprintln!("error: {e:#}");
            ExitCode::from(code as u8)
        }
    }
}

fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Logs go to stderr (stdout carries the command's output). `CCAF_LOG` takes an `EnvFilter`
/// directive; default: this crate's info and everyone's warnings.
fn init_logging() {
    let filter = EnvFilter::try_from_env("CCAF_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,ccaf_housekeeping=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
