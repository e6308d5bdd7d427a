//! Step outputs read back with the runner's own rules (`FileCommandManager`): every value comes
//! back exactly, whatever it contains.

use ccaf_housekeeping::github::outputs::{format_output, format_output_with, write_step_outputs};
use ccaf_housekeeping::github::Masker;
use ccaf_housekeeping::report::RunReport;
use test_support::{random_secret, TempDir};

use crate::github_support::{parse_runner_file, rebuild_report};

#[test]
fn awkward_values_round_trip() {
    let values = [
        "",
        "plain",
        "[\"a\",\"b\"]",
        "name<<EOF",
        "x<<y\n<<\nEOF\n",
        "line1\nline2",
        "ends with a newline\n",
        "\n\nleading newlines",
        "carriage\r\nreturn\r",
        "a=b=c",
        "ghadelimiter_",
        "ghadelimiter_00000000-0000-0000-0000-000000000000",
        "ghadelimiter_\nghadelimiter_1\n",
        "unicode: ✅ — ü",
    ];
    let mut file = String::new();
    for (i, v) in values.iter().enumerate() {
        file.push_str(&format_output(&format!("out-{i}"), v));
    }
    let parsed = parse_runner_file(&file).unwrap();
    let expected: Vec<(String, String)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("out-{i}"), v.to_string()))
        .collect();
    assert_eq!(parsed, expected);
}

#[test]
fn a_value_containing_the_delimiter_gets_another_one() {
    // The first two candidate delimiters occur in the value (one as a whole line).
    let value = "ghadelimiter_A\nsome ghadelimiter_B text";
    let mut candidates = vec![
        "ghadelimiter_C".to_string(),
        "ghadelimiter_B".to_string(),
        "ghadelimiter_A".to_string(),
    ];
    let entry = format_output_with("report", value, || candidates.pop().unwrap());
    assert!(entry.starts_with("report<<ghadelimiter_C\n"), "{entry}");
    assert_eq!(
        parse_runner_file(&entry).unwrap(),
        vec![("report".to_string(), value.to_string())]
    );
}

#[test]
fn the_parser_rejects_what_the_runner_rejects() {
    assert!(parse_runner_file("x<<EOF\nno end\n").is_err());
    assert!(parse_runner_file("<<EOF\nv\nEOF\n").is_err());
    assert!(parse_runner_file("x<<\nv\n\n").is_err());
    assert!(parse_runner_file("garbage\n").is_err());
    assert_eq!(
        parse_runner_file("a=1\n\nb<<E\n2\nE\n").unwrap(),
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
}

#[test]
fn step_outputs_parse_back_to_what_happened() {
    let dir = TempDir::new("gh-outputs");
    let path = dir.0.join("github_output");
    // An earlier step of the job wrote to the file already: appended, not overwritten.
    std::fs::write(&path, "earlier=1\n").unwrap();
    let report = rebuild_report();
    write_step_outputs(&path, &report, &Masker::new()).unwrap();

    let parsed = parse_runner_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "earlier",
            "torn-down",
            "rebuilt",
            "evolved",
            "unchanged",
            "dropped-tables",
            "failed",
            "report"
        ]
    );
    let get = |name: &str| -> serde_json::Value {
        serde_json::from_str(&parsed.iter().find(|(n, _)| n == name).unwrap().1).unwrap()
    };
    let list = |names: Vec<String>| serde_json::to_value(names).unwrap();
    assert_eq!(get("torn-down"), list(report.torn_down()));
    assert_eq!(get("rebuilt"), list(report.rebuilt()));
    assert_eq!(get("evolved"), list(report.evolved()));
    assert_eq!(get("unchanged"), list(report.unchanged()));
    assert_eq!(get("dropped-tables"), list(report.dropped_tables()));
    assert_eq!(get("failed"), list(report.failed()));
    assert_eq!(
        get("torn-down"),
        serde_json::json!([
            "flight-consolidator-combined-flight-data-5c1e09aa",
            "flight-consolidator-skyone-avro-0b7d33f1",
            "flight-consolidator-sunset-avro-a9e4410c"
        ])
    );
    assert_eq!(
        get("dropped-tables"),
        serde_json::json!(["combined_flights", "skyone_avro"])
    );
    let back: RunReport = serde_json::from_value(get("report")).unwrap();
    assert_eq!(back, report);
}

#[test]
fn outputs_are_masked() {
    let dir = TempDir::new("gh-outputs-mask");
    let path = dir.0.join("github_output");
    let secret = format!("{}\"\\", random_secret(32));
    let mut report = rebuild_report();
    report.notes.push(format!("leaked {secret} here"));
    let mut m = Masker::new();
    m.add(&secret);
    write_step_outputs(&path, &report, &m).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let json_form = serde_json::to_string(&secret).unwrap();
    assert!(!text.contains(&secret));
    assert!(!text.contains(&json_form[1..json_form.len() - 1]));
    let parsed = parse_runner_file(&text).unwrap();
    let report_output = &parsed.iter().find(|(n, _)| n == "report").unwrap().1;
    let back: serde_json::Value = serde_json::from_str(report_output).unwrap();
    assert!(back["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "leaked *** here"));
}
