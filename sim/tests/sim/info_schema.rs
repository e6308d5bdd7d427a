//! What Confluent's Table API plugin needs of the statements API, checked with the very SQL it
//! sends (recorded from plugin 1.20.56, under `plugin/`): `INFORMATION_SCHEMA` queries answered
//! with rows and typed columns, `/results` paged, dry runs classified, a stop PUT without a name,
//! and all of it over HTTPS.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{self, json_of, unique, SimOptions, StackEnv};

/// A recorded query of the plugin's, for this simulator's environment, cluster and `table`.
fn plugin_sql(file: &str, sim: &support::Sim, table: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sim/plugin");
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .replace("{env}", &sim.sim.env_id)
        .replace("{cluster}", &sim.sim.kafka_cluster_id)
        .replace("{table}", table)
}

/// Run a query to COMPLETED; its result columns (name → type JSON) and every row, read page by
/// page by following `metadata.next` as the plugin does.
async fn query(sim: &support::Sim, sql: &str) -> (Vec<(String, Value)>, Vec<Vec<Value>>) {
    let name = unique("query");
    let done = sim.run(&name, sql, "COMPLETED").await;
    let columns = done["status"]["traits"]["schema"]["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no schema: {done:#}"))
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["type"].clone()))
        .collect();
    let mut rows = Vec::new();
    let mut path = format!("{name}/results");
    loop {
        let page: Value = json_of(sim.flink(Method::GET, &path).send().await.unwrap()).await;
        assert_eq!(page["kind"], "StatementResult", "{page:#}");
        for r in page["results"]["data"].as_array().unwrap() {
            assert_eq!(r["op"], 0);
            rows.push(r["row"].as_array().unwrap().clone());
        }
        let next = page["metadata"]["next"].as_str().unwrap_or_default();
        if next.trim().is_empty() {
            break;
        }
        let token = next
            .split("page_token=")
            .nth(1)
            .expect("a page_token in next");
        path = format!("{name}/results?page_token={token}");
    }
    (columns, rows)
}

fn by_name(columns: &[(String, Value)], row: &[Value]) -> BTreeMap<String, Value> {
    columns
        .iter()
        .map(|(n, _)| n.clone())
        .zip(row.iter().cloned())
        .collect()
}

#[tokio::test]
async fn the_catalog_answers_the_plugins_queries() {
    let sim = support::start();
    let table = unique("flights").replace('-', "_");
    sim.run(
        &unique("ddl"),
        &plugin_sql("create_table.sql", &sim, &table),
        "COMPLETED",
    )
    .await;

    let (cols, rows) = query(&sim, &plugin_sql("catalogs.sql", &sim, &table)).await;
    assert_eq!(cols.len(), 2);
    assert_eq!(
        cols[0].1,
        json!({"type": "VARCHAR", "nullable": true, "length": 2147483647})
    );
    assert_eq!(
        rows,
        vec![vec![json!(sim.sim.env_id), json!(sim.sim.env_name)]]
    );

    let (_, rows) = query(&sim, &plugin_sql("schemata.sql", &sim, &table)).await;
    assert_eq!(
        rows,
        vec![vec![
            json!(sim.sim.kafka_cluster_id),
            json!(sim.sim.kafka_cluster_name)
        ]]
    );

    // Every topic of the cluster is a table: ours among them.
    let (_, rows) = query(&sim, &plugin_sql("tables.sql", &sim, &table)).await;
    assert!(rows.contains(&vec![json!(table)]), "{rows:?}");

    // The per-table UNION: one T row, a C row per column ($rowtime included), K rows for the
    // primary key (none here), an O row per option.
    let (cols, rows) = query(&sim, &plugin_sql("table.sql", &sim, &table)).await;
    assert_eq!(cols.len(), 22);
    let ty = |name: &str| cols.iter().find(|(n, _)| n == name).unwrap().1["type"].clone();
    for int in [
        "T_DISTRIBUTION_BUCKETS",
        "C_ORDINAL_POSITION",
        "C_DISTRIBUTION_ORDINAL_POSITION",
        "K_ORDINAL_POSITION",
    ] {
        assert_eq!(ty(int), "INTEGER", "{int}");
    }
    assert_eq!(
        cols.last().unwrap().1,
        json!({"type": "CHAR", "nullable": false, "length": 1})
    );
    let rows: Vec<BTreeMap<String, Value>> = rows.iter().map(|r| by_name(&cols, r)).collect();
    let kind = |k: &str| rows.iter().filter(|r| r["KIND"] == k).collect::<Vec<_>>();
    let t = kind("T");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["T_TABLE_TYPE"], "BASE TABLE");
    assert_eq!(t[0]["T_DISTRIBUTION_BUCKETS"], "1", "values are strings");
    let c = kind("C");
    assert_eq!(c.len(), 8, "{c:#?}");
    assert_eq!(c[0]["C_COLUMN_NAME"], "email_address");
    assert_eq!(c[0]["C_ORDINAL_POSITION"], "1");
    assert_eq!(c[0]["C_FULL_DATA_TYPE"], "VARCHAR(2147483647)");
    assert_eq!(c[0]["C_IS_NULLABLE"], "YES");
    assert_eq!(c[0]["C_DISTRIBUTION_ORDINAL_POSITION"], "1");
    let rowtime = c.iter().find(|r| r["C_COLUMN_NAME"] == "$rowtime").unwrap();
    assert_eq!(
        rowtime["C_FULL_DATA_TYPE"],
        "TIMESTAMP(3) WITH LOCAL TIME ZONE"
    );
    assert_eq!(rowtime["C_IS_NULLABLE"], "NO");
    assert_eq!(rowtime["C_IS_METADATA"], "YES");
    assert_eq!(rowtime["C_IS_PERSISTED"], "NO");
    assert!(kind("K").is_empty());
    let options: BTreeMap<String, String> = kind("O")
        .iter()
        .map(|r| {
            (
                r["O_OPTION_KEY"].as_str().unwrap().to_string(),
                r["O_OPTION_VALUE"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(options["key.format"], "avro-registry");
    assert_eq!(options["connector"], "confluent");

    // A table that does not exist has no rows at all (the plugin's "not found").
    let (_, rows) = query(&sim, &plugin_sql("table.sql", &sim, "no_such_table")).await;
    assert!(rows.is_empty(), "{rows:?}");

    sim.run(&unique("drop"), &format!("DROP TABLE {table}"), "COMPLETED")
        .await;
}

#[tokio::test]
async fn a_primary_key_and_many_rows_come_back_paged() {
    let sim = support::start();
    let table = unique("keyed").replace('-', "_");
    let columns: Vec<String> = (0..150).map(|i| format!("c{i} STRING")).collect();
    sim.run(
        &unique("ddl"),
        &format!(
            "CREATE TABLE {table} ({}, PRIMARY KEY (c1, c0) NOT ENFORCED)",
            columns.join(", ")
        ),
        "COMPLETED",
    )
    .await;
    // The columns show in the catalog a while after the create (the catalog lags).
    let sql = plugin_sql("table.sql", &sim, &table);
    let rows = support::wait_until(
        "the columns to show",
        std::time::Duration::from_secs(20),
        || async {
            let (cols, rows) = query(&sim, &sql).await;
            let rows: Vec<BTreeMap<String, Value>> =
                rows.iter().map(|r| by_name(&cols, r)).collect();
            rows.iter().any(|r| r["KIND"] == "C").then_some(rows)
        },
    )
    .await;
    // 150 columns and $rowtime: more than one page.
    assert_eq!(rows.iter().filter(|r| r["KIND"] == "C").count(), 151);
    let keys: Vec<(Value, Value)> = rows
        .iter()
        .filter(|r| r["KIND"] == "K")
        .map(|r| (r["K_COLUMN_NAME"].clone(), r["K_ORDINAL_POSITION"].clone()))
        .collect();
    assert_eq!(
        keys,
        vec![(json!("c1"), json!("1")), (json!("c0"), json!("2"))]
    );
    sim.run(&unique("drop"), &format!("DROP TABLE {table}"), "COMPLETED")
        .await;
}

#[tokio::test]
async fn a_dry_run_is_classified_and_changes_nothing() {
    let sim = support::start();
    let table = unique("dry").replace('-', "_");
    let dry = |sql: String| {
        let name = unique("dry");
        let body = json!({
            "name": name,
            "spec": {
                "statement": sql,
                "properties": {
                    "sql.current-catalog": sim.sim.env_id,
                    "sql.current-database": sim.sim.kafka_cluster_id,
                    "sql.dry-run": "true"
                }
            }
        });
        (name, body)
    };
    let (name, body) = dry(format!("CREATE TABLE {table} (id STRING)"));
    let resp = sim
        .flink(Method::POST, "")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let done = sim.wait_phase(&name, "COMPLETED").await;
    assert_eq!(done["status"]["traits"]["sql_kind"], "CREATE_TABLE");
    assert!(!sim.topic_exists(&table), "a dry run creates nothing");
    // What the real statement would fail on, the dry run fails on.
    let (name, body) = dry(format!("INSERT INTO {table} SELECT * FROM {table}"));
    sim.flink(Method::POST, "")
        .json(&body)
        .send()
        .await
        .unwrap();
    let failed = sim.wait_phase(&name, "FAILED").await;
    assert!(
        failed["status"]["detail"]
            .as_str()
            .unwrap()
            .contains(&table),
        "{failed:#}"
    );
}

#[tokio::test]
async fn the_plugins_stop_without_a_name_is_accepted_and_every_api_speaks_https() {
    let stack = StackEnv::load();
    let sim = support::start_with(SimOptions {
        tls: Some((stack.tls_cert.clone(), stack.tls_key.clone())),
        ..Default::default()
    });
    let https = sim.sim.https_url.clone().expect("an HTTPS listener");
    let ca = std::fs::read(&stack.tls_ca).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
        .build()
        .unwrap();
    let base = format!(
        "{https}/sql/v1/organizations/{}/environments/{}/statements",
        sim.sim.org_id, sim.sim.env_id
    );
    let auth = (&sim.sim.flink_api_key, &sim.sim.flink_api_secret);
    let table = unique("https").replace('-', "_");
    sim.run(
        &unique("ddl"),
        &format!("CREATE TABLE {table} (id STRING)"),
        "COMPLETED",
    )
    .await;
    let name = unique("https");
    let created: Value = client
        .post(&base)
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"name": name, "spec": {"statement": format!("SELECT * FROM {table}"), "properties": sim.props()}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        created["metadata"]["self"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "links keep the scheme the client used: {created:#}"
    );
    // GET until RUNNING, then stop it the plugin's way: metadata and spec only.
    let running = sim.wait_phase(&name, "RUNNING").await;
    let mut spec = running["spec"].clone();
    spec["stopped"] = json!(true);
    let resp = client
        .put(format!("{base}/{name}"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"metadata": running["metadata"], "spec": spec}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    sim.wait_phase(&name, "STOPPED").await;
    // Schema Registry and Kafka REST over HTTPS too.
    let sr = client
        .get(format!("{https}/subjects"))
        .basic_auth(&sim.sim.sr_api_key, Some(&sim.sim.sr_api_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(sr.status(), 200);
    // A client that does not trust the CA gets no answer at all.
    let untrusting = reqwest::Client::new();
    assert!(untrusting.get(&base).send().await.is_err());
    sim.run(&unique("drop"), &format!("DROP TABLE {table}"), "COMPLETED")
        .await;
}

/// §F.10: right after a table is declared, `INFORMATION_SCHEMA.COLUMNS` lists none of its
/// columns yet (the table itself is listed); a while later it does.
#[tokio::test]
async fn a_new_tables_columns_show_in_the_catalog_a_while_after_its_create() {
    let sim = support::start_with(support::SimOptions {
        catalog_lag_ms: 2000,
        ..Default::default()
    });
    let table = unique("lagging").replace('-', "_");
    // From before the create: the lag counts from when the table was declared.
    let created = std::time::Instant::now();
    sim.run(
        &unique("ddl"),
        &format!("CREATE TABLE `{table}` (id INT, v STRING)"),
        "COMPLETED",
    )
    .await;
    let env = &sim.sim.env_id;
    let columns_sql = format!(
        "SELECT `COLUMN_NAME` FROM `{env}`.`INFORMATION_SCHEMA`.`COLUMNS` WHERE `TABLE_NAME` = '{table}'"
    );
    let tables_sql = format!(
        "SELECT `TABLE_NAME` FROM `{env}`.`INFORMATION_SCHEMA`.`TABLES` WHERE `TABLE_NAME` = '{table}'"
    );
    let (_, rows) = query(&sim, &columns_sql).await;
    if created.elapsed() < std::time::Duration::from_millis(1500) {
        assert!(rows.is_empty(), "listed at once: {rows:?}");
    }
    let (_, tables) = query(&sim, &tables_sql).await;
    assert_eq!(tables.len(), 1, "the table is known: {tables:?}");
    let rows = support::wait_until(
        "the columns to show",
        std::time::Duration::from_secs(20),
        || async {
            let (_, rows) = query(&sim, &columns_sql).await;
            (!rows.is_empty()).then_some(rows)
        },
    )
    .await;
    assert!(created.elapsed() >= std::time::Duration::from_millis(2000));
    let names: Vec<&str> = rows.iter().filter_map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["id", "v", "$rowtime"]);
}
