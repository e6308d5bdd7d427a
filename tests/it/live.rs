//! Runs you can watch: step lines as the steps finish (inside their stage's group in Actions),
//! a heartbeat for steps still waiting, no workflow command outside Actions, and the report as
//! JSON on stdout for scripts.

use std::time::Duration;

use serde_json::Value;
use test_support::{wait_until, SimOptions, StackEnv};

use crate::harness::{write, App, Cloud, Tables};

fn runner_env() -> Vec<(String, String)> {
    vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("CCAF_HEARTBEAT".into(), "1s".into()),
    ]
}

fn no_command_lines(what: &str, text: &str) {
    let bad: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    assert!(
        bad.is_empty(),
        "{what} has workflow commands: {bad:?}\n{text}"
    );
}

#[tokio::test]
async fn a_slow_teardown_shows_each_step_as_it_finishes_inside_its_group() {
    let stack = StackEnv::load();
    // Deletes take seconds, one step at a time: the run lasts well past its first step.
    let cloud = Cloud::private(SimOptions {
        pending_ms: 50,
        stopping_ms: 50,
        deleting_ms: 2_500,
        ..Default::default()
    });
    let mut app = App::in_cloud("live", stack, cloud);
    app.inputs.insert("concurrency".into(), "1".into());
    write(&app, &Tables::new().statements());
    app.run("buildup", &[]).expect(0);

    let mut started = app.start("teardown", &[], &runner_env());
    let prefix = format!("delete {}-", app.name);
    let first = wait_until("the first step line", Duration::from_secs(60), || {
        let out = started.stdout_so_far();
        let found = out
            .lines()
            .position(|l| l.starts_with(&prefix) && l.contains(" done in "));
        async move { found.map(|i| (i, out)) }
    })
    .await;
    // Seen while the teardown is still under way: statements are left to delete (lines printed
    // only at the end would come after the last of them is gone).
    let left = app.app_statements().await;
    assert!(
        started.running() && !left.is_empty(),
        "the first step line came only once the teardown was over"
    );
    let (line, out) = first;
    let lines: Vec<&str> = out.lines().collect();
    // The step line is inside the teardown group, opened before it and not closed yet.
    let opened = lines[..line]
        .iter()
        .rposition(|l| *l == "::group::teardown")
        .unwrap_or_else(|| panic!("no teardown group before the step line:\n{out}"));
    assert!(
        !lines[opened..line].contains(&"::endgroup::"),
        "the group was closed before the step line:\n{out}"
    );
    let run = started.finish().expect(0);
    let stdout = run.stdout();
    assert!(
        stdout.contains("still waiting after")
            && stdout.contains("the statement to stop or be deleted"),
        "no heartbeat for the slow deletes:\n{stdout}"
    );
    // Groups never nest: every group is closed before the next opens, and the last is closed.
    let mut open = false;
    for l in stdout.lines() {
        if l.starts_with("::group::") {
            assert!(!open, "nested group:\n{stdout}");
            open = true;
        } else if l == "::endgroup::" {
            assert!(open, "endgroup without a group:\n{stdout}");
            open = false;
        }
    }
    assert!(!open, "a group left open:\n{stdout}");
}

#[tokio::test]
async fn outside_actions_no_line_is_a_command_and_json_output_is_the_report() {
    let app = App::new("plain");
    write(&app, &Tables::new().statements());
    let env = [("CCAF_HEARTBEAT".to_string(), "1s".to_string())];

    let run = app
        .run_with("buildup", &[("output", "json")], &env)
        .expect(0);
    no_command_lines("stdout", &run.stdout());
    no_command_lines("stderr", &run.stderr());
    let printed: Value = serde_json::from_str(run.stdout().trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON report: {e}\n{}", run.stdout()));
    assert_eq!(printed, run.report());
    assert!(
        run.stderr().contains(&format!("create {}-", app.name)),
        "the step lines go to stderr with json output:\n{}",
        run.stderr()
    );

    // No job summary and no runner: the step lines and a plain table on stdout.
    let out = app
        .command("teardown", &[("drop-tables", "true")])
        .output()
        .expect("running ccaf-housekeeping");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    no_command_lines("stdout", &stdout);
    no_command_lines("stderr", &String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains(&format!("delete {}-", app.name)),
        "no step lines:\n{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("stage") && l.contains("status") && l.contains("duration")),
        "no plain summary table:\n{stdout}"
    );
    assert!(
        !stdout.contains("| "),
        "a Markdown table on stdout:\n{stdout}"
    );
}

#[tokio::test]
async fn at_a_terminal_a_status_line_is_redrawn_under_the_step_lines() {
    let stack = StackEnv::load();
    let cloud = Cloud::private(SimOptions {
        pending_ms: 50,
        stopping_ms: 50,
        deleting_ms: 1_000,
        ..Default::default()
    });
    let mut app = App::in_cloud("live-tty", stack, cloud);
    app.inputs.insert("concurrency".into(), "1".into());
    write(&app, &Tables::new().statements());
    app.run("buildup", &[]).expect(0);

    // The run on a pseudo-terminal, as a person starts it: `script` gives it one.
    let inner = app.command("teardown", &[]);
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qfec", crate::harness::BIN, "/dev/null"])
        .env_clear()
        .current_dir(inner.get_current_dir().expect("the app's workspace"));
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    // bash keeps the runner's hyphenated INPUT_ names in the environment; dash drops them.
    cmd.env("TERM", "xterm").env("SHELL", "/bin/bash");
    let out = cmd.output().expect("script runs the binary on a terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}:\n{text}", out.status);
    // The status line, drawn and cleared again in place (not a line of its own in the log).
    assert!(text.contains(" in flight · "), "no status line:\n{text}");
    assert!(
        text.contains("\u{1b}[2K") || text.contains('\r'),
        "never redrawn:\n{text}"
    );
    // The step lines are there all the same, and nothing is a workflow command.
    let prefix = format!("delete {}-", app.name);
    assert!(
        text.lines()
            .any(|l| l.contains(&prefix) && l.contains(" done in ")),
        "{text}"
    );
    no_command_lines("the terminal", &text);
}
