//! ccaf-housekeeping: the action's binary. Parses and checks the inputs, dispatches on the typed
//! command, and maps the outcome to an exit code; the commands live in the library
//! (`ccaf_housekeeping::commands`).
//!
//! Exit codes: 0 done, 1 an operation failed, 2 bad input or configuration, 3 another run holds
//! the lease (or the run lost it), 130 / 143 cancelled by SIGINT / SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::EnvFilter;

use ccaf_housekeeping::cancel::{Cancel, Signals};
use ccaf_housekeeping::cli::{Cli, Invocation, RunEnv};
use ccaf_housekeeping::commands::{self, CommandError};
use ccaf_housekeeping::github;
use ccaf_housekeeping::text::{escape_line, stderr_lines};

fn main() -> ExitCode {
    // Before anything can panic: a panic's message may quote input, so it is escaped too.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{}", escape_line(&format!("panic: {info}")));
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    // The environment is read once, here, before anything else: a malformed value is bad input.
    let env = match RunEnv::read() {
        Ok(env) => env,
        Err(e) => return fail(CommandError::from(e), false),
    };
    init_logging(env.log.as_deref());
    tracing::debug!("started");
    let actions = env.actions;
    if actions {
        ccaf_housekeeping::secrets::mask_with(github::commands::print_add_mask);
    }
    ccaf_housekeeping::secrets::install_crypto_provider();
    let invocation = match cli.invocation(&env) {
        Ok(i) => i,
        Err(e) => return fail(CommandError::from(e), actions),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "{}",
                escape_line(&format!("error: starting the async runtime failed: {e}"))
            );
            return ExitCode::from(1);
        }
    };
    let cancel = Cancel::new(env.cancel_grace);
    let outcome = runtime.block_on(async {
        let mut signals = Signals::install();
        // The housekeeping commands stop cooperatively (and still report); `status` only reads,
        // so a signal ends it where it is; `track` releases a lease it holds.
        let command = async {
            match invocation {
                Invocation::Run {
                    checked,
                    spec,
                    reporting,
                } => commands::housekeeping::run(checked, spec, reporting, cancel.clone()).await,
                Invocation::Status { checked, json } => {
                    tokio::select! {
                        r = commands::status::run(checked, json) => r.map(|()| 0),
                        s = cancel.until_requested() => Err(CommandError::Cancelled(s)),
                    }
                }
                Invocation::Export { checked, manifest } => {
                    tokio::select! {
                        r = commands::export::run(checked, manifest) => r.map(|()| 0),
                        s = cancel.until_requested() => Err(CommandError::Cancelled(s)),
                    }
                }
                Invocation::Track { checked, command } => {
                    commands::track::run(checked, command, &env, cancel.clone())
                        .await
                        .map(|()| 0)
                }
            }
        };
        tokio::pin!(command);
        loop {
            tokio::select! {
                outcome = &mut command => break outcome,
                signal = signals.next() => {
                    tracing::warn!(
                        signal = %signal,
                        "cancelled: starting no more steps; steps in flight finish or record where they stand"
                    );
                    cancel.request(signal);
                }
            }
        }
    });
    tracing::debug!("command finished");
    // A thread still blocked on standard input (`track lease`) must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    tracing::debug!("runtime shut down");
    match outcome {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => fail(e, actions),
    }
}

/// Help and version as clap prints them; a usage error (exit 2) line by line through the escaping
/// rule, since it quotes what was given.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    for line in e.render().to_string().lines() {
        eprintln!("{}", escape_line(line));
    }
    ExitCode::from(2)
}

/// Print the error with its causes (and, in Actions, an annotation); the exit code it means.
fn fail(e: CommandError, in_github_actions: bool) -> ExitCode {
    let code = e.exit_code();
    let title = match e.input_name() {
        Some(input) => format!("Invalid input `{input}`"),
        None if code == 3 => "Another run holds the lease".to_string(),
        None => "ccaf-housekeeping failed".to_string(),
    };
    let message = format!("{:#}", anyhow::Error::new(e));
    if in_github_actions {
        // An annotation on the run's page, naming the input when there is one.
        let at = github::commands::Annotation::titled(title);
        println!("{}", github::commands::error(&message, &at));
    }
    eprintln!("{}", escape_line(&format!("error: {message}")));
    ExitCode::from(code as u8)
}

/// Logs go to stderr (stdout carries the command's output), one escaped line per event
/// (`text::EscapedLines`): no field, message or dependency's log line can start a workflow
/// command. No colours: their escape codes would be escaped too, and the runner is no terminal.
/// `CCAF_LOG` takes an `EnvFilter` directive; default: this crate's info and everyone's warnings.
/// Dependencies are capped (`DEPENDENCY_CAPS`) whatever `CCAF_LOG` says.
fn init_logging(directive: Option<&str>) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter = directive
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new("warn,ccaf_housekeeping=info"));
    let caps = DEPENDENCY_CAPS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |caps, (target, level)| caps.with_target(*target, *level),
    );
    let log = tracing_subscriber::fmt::layer()
        .with_writer(stderr_lines)
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter)
        // A second filter, not directives: a more specific `CCAF_LOG` target cannot lift it.
        .with_filter(caps);
    let _ = tracing_subscriber::registry().with(log).try_init();
}

/// The most a dependency may log. At debug and trace these print HTTP headers (`Authorization:
/// Basic …`, AWS's signature), request and response bodies (a secret's value) or TLS details; at
/// info they print none of it. The `rdkafka` crate's own trace lines name clients and threads,
/// never the configuration; librdkafka logs only what its `debug` property asks for, which the
/// action never sets; this crate's logs never carry a credential (`secrets::Secret`).
const DEPENDENCY_CAPS: &[(&str, LevelFilter)] = &[
    ("reqwest", LevelFilter::INFO),
    ("hyper", LevelFilter::INFO),
    ("hyper_util", LevelFilter::INFO),
    ("h2", LevelFilter::INFO),
    ("http_body_util", LevelFilter::INFO),
    ("tower", LevelFilter::INFO),
    ("tower_http", LevelFilter::INFO),
    ("rustls", LevelFilter::INFO),
    ("aws_config", LevelFilter::INFO),
    ("aws_credential_types", LevelFilter::INFO),
    ("aws_runtime", LevelFilter::INFO),
    ("aws_sdk_secretsmanager", LevelFilter::INFO),
    ("aws_sigv4", LevelFilter::INFO),
    ("aws_smithy_http_client", LevelFilter::INFO),
    ("aws_smithy_runtime", LevelFilter::INFO),
    ("aws_smithy_runtime_api", LevelFilter::INFO),
    ("aws_smithy_types", LevelFilter::INFO),
    ("octocrab", LevelFilter::INFO),
    ("librdkafka", LevelFilter::INFO),
];
