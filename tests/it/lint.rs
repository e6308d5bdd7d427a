//! The action's packaging passes the linters GitHub users would run: hadolint on the Dockerfile,
//! actionlint on the workflows, and `action.yml` against the GitHub Action JSON schema (the
//! schema is vendored inside check-jsonschema: no network). The tools come from the stack's
//! Python venv (`scripts/stack`). And the release profile unwinds on a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::StackEnv;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> PathBuf {
    let venv = StackEnv::load().tools_venv.unwrap_or_else(|| {
        panic!(
            "CCAF_TOOLS_VENV is not set: run the tests through scripts/test (it installs {name})"
        )
    });
    let bin = venv.join("bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing; scripts/stack up installs it",
        bin.display()
    );
    bin
}

fn run(bin: &Path, args: &[&str]) {
    // The venv's bin first: actionlint checks `run:` scripts with the shellcheck found there.
    let venv_bin = bin.parent().unwrap_or(Path::new("."));
    let path = std::env::join_paths(std::iter::once(venv_bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let out = Command::new(bin)
        .args(args)
        .current_dir(repo())
        .env("PATH", path)
        // No update checks or other network use.
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "{} {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        bin.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hadolint_passes_the_dockerfile() {
    run(
        &tool("hadolint"),
        &["--failure-threshold", "info", "Dockerfile"],
    );
}

#[test]
fn actionlint_passes_the_workflows() {
    let workflows: Vec<String> = std::fs::read_dir(repo().join(".github/workflows"))
        .expect(".github/workflows exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .map(|p| p.strip_prefix(repo()).unwrap().display().to_string())
        .collect();
    assert!(workflows.len() >= 2, "{workflows:?}");
    let mut args = vec!["-no-color"];
    args.extend(workflows.iter().map(String::as_str));
    run(&tool("actionlint"), &args);
}

/// The copy-paste workflows of `docs/usage.md` are valid workflows too.
#[test]
fn actionlint_passes_the_usage_docs_workflows() {
    let doc = std::fs::read_to_string(repo().join("docs/usage.md")).expect("docs/usage.md");
    let dir = test_support::TempDir::new("usage-workflows");
    let mut files = Vec::new();
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + 8..];
        let end = body.find("\n```").expect("a closed yaml block");
        let path = dir.0.join(format!("usage-{}.yml", files.len() + 1));
        std::fs::write(&path, &body[..end + 1]).unwrap();
        files.push(path.display().to_string());
        rest = &body[end..];
    }
    assert!(
        files.len() >= 3,
        "workflows found in docs/usage.md: {files:?}"
    );
    let mut args = vec!["-no-color"];
    args.extend(files.iter().map(String::as_str));
    run(&tool("actionlint"), &args);
}

#[test]
fn action_yml_matches_the_github_action_schema() {
    run(
        &tool("check-jsonschema"),
        &["--builtin-schema", "vendor.github-actions", "action.yml"],
    );
}

/// The release profile unwinds: with `panic = "abort"` a panic would skip the engine's catch
/// (engine::caught), and with it the lease's release and the report.
#[test]
fn the_release_profile_unwinds_on_a_panic() {
    let manifest: toml::Value = toml::from_str(include_str!("../../Cargo.toml")).unwrap();
    let panic = manifest
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.get("panic"))
        .and_then(toml::Value::as_str);
    assert!(matches!(panic, None | Some("unwind")), "{panic:?}");
}

/// `scripts/lib/module_cycles.py` on `dir`: its exit code and what it printed.
fn module_cycles(dir: &Path) -> (i32, String) {
    let out = Command::new("python3")
        .arg(repo().join("scripts/lib/module_cycles.py"))
        .arg(dir)
        .output()
        .expect("python3 runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_module_graph_has_no_circle() {
    // Module dependencies point one way (docs/ARCHITECTURE.md): between siblings at every
    // level, no module imports one that imports it back.
    let (code, printed) = module_cycles(&repo().join("src"));
    assert_eq!(code, 0, "circles in the module graph:\n{printed}");
    // The check sees one when there is one.
    let dir = test_support::TempDir::new("module-cycles");
    let src = dir.0.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod x;\nmod y;\n").unwrap();
    std::fs::write(src.join("a/x.rs"), "use super::y::Y;\npub struct X;\n").unwrap();
    std::fs::write(
        src.join("a/y.rs"),
        "use crate::b::B;\npub struct Y(super::x::X);\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "pub struct B;\n#[cfg(test)]\nmod t { use crate::a; }\n",
    )
    .unwrap();
    let (code, printed) = module_cycles(&src);
    assert_eq!(code, 1, "{printed}");
    assert!(
        printed.contains("a::x -> a::y") && printed.contains("a::y -> a::x"),
        "{printed}"
    );
    assert!(
        !printed.contains("'b'"),
        "test-only and one-way edges are no circle: {printed}"
    );
}
